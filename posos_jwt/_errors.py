"""Exceptions raised by posos-jwt.

Every error that posos-jwt raises on purpose derives from :class:`PososJWTError`,
so a caller can catch that one class. Each phase of the flow has its own base,
and the command line maps each base to one exit code::

    PososJWTError
    ├── ConfigurationError (ValueError)           exit 3
    │   └── KeyFileError
    │       ├── KeyFileNotFoundError
    │       ├── KeyFileFormatError                invalid JSON
    │       ├── KeyFileTypeError                  not a service-account key
    │       ├── KeyFileFieldError                 missing or empty field
    │       └── PrivateKeyError                   not a usable RSA key
    ├── ConfigFileError                       invalid profile file
    │   └── ProfileNotFoundError              no such profile
    ├── RequestTargetError                    URL rejected for a request
    └── TokenCacheError                       cache directory unusable
    ├── TokenEndpointError                        exit 4
    ├── TransportError                            exit 5
    │   ├── TLSError
    │   └── RequestTimeoutError
    └── TokenCheckError                           exit 6

Messages are built from non-secret attributes only: a path, a field name, a
host, a status, Google's ``error`` code. A private key, a signed assertion or an
ID token never reaches an exception, so every message is safe to log.
"""

from __future__ import annotations

from typing import ClassVar, Final

__all__ = [
    "ConfigFileError",
    "ConfigurationError",
    "KeyFileError",
    "KeyFileFieldError",
    "KeyFileFormatError",
    "KeyFileNotFoundError",
    "KeyFileTypeError",
    "PososJWTError",
    "PrivateKeyError",
    "ProfileNotFoundError",
    "RequestTargetError",
    "RequestTimeoutError",
    "TLSError",
    "TokenCacheError",
    "TokenCheckError",
    "TokenEndpointError",
    "TransportError",
]

EXCERPT_LENGTH: Final = 200
"""Characters of a response body quoted in a message: enough to recognise an
HTML error page, short enough to keep a log line readable."""


def excerpt(text: str, limit: int = EXCERPT_LENGTH) -> str:
    """Shorten ``text`` to one line of at most ``limit`` characters."""
    one_line = " ".join(text.split())
    if len(one_line) <= limit:
        return one_line
    return one_line[: limit - 3] + "..."


class PososJWTError(Exception):
    """Base class of every error raised by posos-jwt.

    Attributes:
        exit_code: The exit status of the ``posos-jwt`` command for this error.
    """

    exit_code: ClassVar[int] = 1


class ConfigurationError(PososJWTError, ValueError):
    """An input is invalid before any network call: a client ID, a URL, a path."""

    exit_code = 3


class KeyFileError(ConfigurationError):
    """The service-account key file cannot be used.

    Attributes:
        path: The key file's path, or ``None`` for a key given as a mapping.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        where = f"key file {path}" if path is not None else "service-account key"
        super().__init__(f"{where}: {message}")


class KeyFileNotFoundError(KeyFileError):
    """The key file does not exist or cannot be read."""


class KeyFileFormatError(KeyFileError):
    """The key file is not valid JSON, or not a JSON object.

    Attributes:
        line: The 1-based line of the first syntax error, if known.
        column: The 1-based column of the first syntax error, if known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.line = line
        self.column = column
        super().__init__(message, path=path)


class KeyFileTypeError(KeyFileError):
    """The key file is a credential of another kind than a service-account key.

    Attributes:
        key_type: The ``type`` value found in the file.
    """

    def __init__(self, message: str, *, path: str | None, key_type: str) -> None:
        self.key_type = key_type
        super().__init__(message, path=path)


class KeyFileFieldError(KeyFileError):
    """A required field of the key file is missing, empty or of the wrong type.

    Attributes:
        field: The name of the field. Its value is never shown.
    """

    def __init__(self, message: str, *, path: str | None, field: str) -> None:
        self.field = field
        super().__init__(message, path=path)


class PrivateKeyError(KeyFileError):
    """The ``private_key`` field is not an unencrypted RSA key in PEM of 2048 bits
    or more.

    Attributes:
        reason: One of ``"encrypted"``, ``"not_rsa"``, ``"not_pem"``,
            ``"too_small"`` or ``"invalid"``.
    """

    def __init__(self, message: str, *, path: str | None, reason: str) -> None:
        self.reason = reason
        super().__init__(message, path=path)


class ConfigFileError(ConfigurationError):
    """The profile configuration file is missing or invalid.

    Attributes:
        path: The configuration file's path.
        line: The 1-based line of the problem, when known.
        column: The 1-based column of a TOML syntax error, when known.
        profile: The profile concerned, if any.
        key: The key concerned, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str,
        line: int | None = None,
        column: int | None = None,
        profile: str | None = None,
        key: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.profile = profile
        self.key = key
        where = f"config file {path}"
        if line is not None:
            where += f", line {line}"
        super().__init__(f"{where}: {message}")


class ProfileNotFoundError(ConfigFileError):
    """The configuration file has no profile of the requested name.

    Attributes:
        known: The names of the profiles that the file defines, in file order.
    """

    def __init__(
        self, message: str, *, path: str, profile: str, known: tuple[str, ...]
    ) -> None:
        self.known = known
        super().__init__(message, path=path, profile=profile)


class RequestTargetError(ConfigurationError):
    """A request URL or path was rejected before any token was sent with it.

    Attributes:
        target: The rejected target, with any ``user:password@`` masked.
        base_url: The base URL it was resolved against, if any.
        reason: A short code: ``"other_host"``, ``"userinfo"``, ``"scheme"``,
            ``"scheme_relative"``, ``"relative_path"``, ``"dot_segment"``,
            ``"backslash"``, ``"control_character"``, ``"fragment"``,
            ``"invalid"`` or ``"base_url"``.
    """

    def __init__(
        self, message: str, *, target: str, base_url: str | None, reason: str
    ) -> None:
        self.target = target
        self.base_url = base_url
        self.reason = reason
        super().__init__(message)


class TokenCacheError(ConfigurationError):
    """The on-disk token cache cannot be used for an operation that needs it.

    Reading and writing tokens never raise this: an unusable cache is logged
    and skipped there. Clearing the cache does.

    Attributes:
        path: The cache directory or file concerned.
    """

    def __init__(self, message: str, *, path: str) -> None:
        self.path = path
        super().__init__(f"token cache {path}: {message}")


class TokenEndpointError(PososJWTError):
    """The token endpoint rejected the request or returned an unusable answer.

    Attributes:
        status: The HTTP status of the response.
        error: Google's ``error`` code (``invalid_grant``, ...), if any.
        error_description: Google's ``error_description``, if any.
        retryable: Whether sending the same request again may succeed.
    """

    exit_code = 4

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error: str | None = None,
        error_description: str | None = None,
        retryable: bool = False,
    ) -> None:
        self.status = status
        self.error = error
        self.error_description = error_description
        self.retryable = retryable
        super().__init__(message)


class TransportError(PososJWTError):
    """A request failed below HTTP: connection, TLS or timeout.

    Attributes:
        host: The host that was contacted.
        retryable: Whether sending the same request again may succeed.
    """

    exit_code = 5

    def __init__(self, message: str, *, host: str, retryable: bool = True) -> None:
        self.host = host
        self.retryable = retryable
        super().__init__(message)


class TLSError(TransportError):
    """The server's TLS certificate could not be verified."""

    def __init__(self, message: str, *, host: str) -> None:
        # A certificate failure is a configuration error, so a retry cannot help.
        super().__init__(message, host=host, retryable=False)


class RequestTimeoutError(TransportError):
    """The server did not answer within the timeout.

    Attributes:
        timeout: The timeout that expired, in seconds.
    """

    def __init__(self, message: str, *, host: str, timeout: float | None) -> None:
        self.timeout = timeout
        super().__init__(message, host=host, retryable=True)


class TokenCheckError(PososJWTError):
    """The ID token returned by the token endpoint failed a check.

    Attributes:
        claim: The claim that failed (``exp``, ``aud``, ``email``), or ``None``
            when the token could not be decoded at all.
        expected: The expected value, as text.
        actual: The value found, as text. Claim values are not secret.
    """

    exit_code = 6

    def __init__(
        self,
        message: str,
        *,
        claim: str | None,
        expected: str | None = None,
        actual: str | None = None,
    ) -> None:
        self.claim = claim
        self.expected = expected
        self.actual = actual
        super().__init__(message)
