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
    ├── TokenEndpointError                        exit 4
    │   ├── InvalidGrantError                     invalid_grant
    │   │   ├── InvalidJWTSignatureError          key deleted, disabled or rotated
    │   │   ├── AccountNotFoundError              account deleted or disabled
    │   │   └── ClockSkewError                    iat/exp outside Google's window
    │   ├── InvalidAudienceError                  invalid_scope
    │   └── DisabledClientError                   disabled_client
    ├── TransportError                            exit 5
    │   ├── TLSError
    │   ├── RequestTimeoutError
    │   └── ProxyError                            407, CONNECT rejected, unreachable
    └── TokenCheckError                           exit 6

Messages are built from non-secret attributes only: a path, a field name, a
host, a status, Google's ``error`` code. A private key, a signed assertion or an
ID token never reaches an exception, so every message is safe to log.

``TokenEndpointError`` and ``TransportError`` also carry ``retryable`` and
``attempts``. Before it raises, the retry loop in ``_retry.py`` sets
``attempts`` and appends to the message how many attempts it made and why it
stopped.
"""

from __future__ import annotations

from typing import ClassVar, Final

__all__ = [
    "AccountNotFoundError",
    "ClockSkewError",
    "ConfigurationError",
    "DisabledClientError",
    "InvalidAudienceError",
    "InvalidGrantError",
    "InvalidJWTSignatureError",
    "KeyFileError",
    "KeyFileFieldError",
    "KeyFileFormatError",
    "KeyFileNotFoundError",
    "KeyFileTypeError",
    "PososJWTError",
    "PrivateKeyError",
    "ProxyError",
    "RequestTimeoutError",
    "TLSError",
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


class TokenEndpointError(PososJWTError):
    """The token endpoint rejected the request or returned an unusable answer.

    Attributes:
        status: The HTTP status of the response.
        error: Google's ``error`` code (``invalid_grant``, ...), if any.
        error_description: Google's ``error_description``, if any.
        retryable: Whether sending the same request again may succeed.
        retry_after: Seconds that the server's ``Retry-After`` header asked
            the client to wait, if it sent one.
        attempts: Requests sent before this error was raised, 1 until the
            retry loop records more.
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
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.error = error
        self.error_description = error_description
        self.retryable = retryable
        self.retry_after = retry_after
        self.attempts = 1
        super().__init__(message)


class InvalidGrantError(TokenEndpointError):
    """Google rejected the signed assertion with ``invalid_grant``.

    Attributes:
        client_email: The service account that signed, when known.
        key_id: The ``private_key_id`` of the signing key, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error_description: str | None = None,
        client_email: str | None = None,
        key_id: str | None = None,
    ) -> None:
        self.client_email = client_email
        self.key_id = key_id
        super().__init__(
            message,
            status=status,
            error="invalid_grant",
            error_description=error_description,
        )


class InvalidJWTSignatureError(InvalidGrantError):
    """Google does not accept the key's signature: ``Invalid JWT Signature.``.

    The key was deleted, disabled, expired or rotated, or ``client_email``
    does not own the key ``key_id``.
    """


class AccountNotFoundError(InvalidGrantError):
    """The service account that signed is deleted or disabled."""


class ClockSkewError(InvalidGrantError):
    """Google rejected the assertion's ``iat`` and ``exp`` as outside its window.

    Attributes:
        local_time: This machine's clock when the response arrived, in UTC epoch
            seconds.
        server_time: The server's clock from its ``Date`` header, in UTC epoch
            seconds, or ``None`` when it sent none.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error_description: str | None = None,
        client_email: str | None = None,
        key_id: str | None = None,
        local_time: float,
        server_time: float | None,
    ) -> None:
        self.local_time = local_time
        self.server_time = server_time
        super().__init__(
            message,
            status=status,
            error_description=error_description,
            client_email=client_email,
            key_id=key_id,
        )


class InvalidAudienceError(TokenEndpointError):
    """Google rejected the audience with ``invalid_scope``: it is empty or not
    accepted as a ``target_audience``.

    Attributes:
        audience: The ``target_audience`` that was sent, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error_description: str | None = None,
        audience: str | None = None,
    ) -> None:
        self.audience = audience
        super().__init__(
            message,
            status=status,
            error="invalid_scope",
            error_description=error_description,
        )


class DisabledClientError(TokenEndpointError):
    """Google returned ``disabled_client``: the account or its key is disabled."""


class TransportError(PososJWTError):
    """A request failed below HTTP: connection, TLS or timeout.

    Attributes:
        host: The host that was contacted.
        retryable: Whether sending the same request again may succeed.
        attempts: Requests sent before this error was raised, 1 until the
            retry loop records more.
    """

    exit_code = 5

    def __init__(self, message: str, *, host: str, retryable: bool = True) -> None:
        self.host = host
        self.retryable = retryable
        self.attempts = 1
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


class ProxyError(TransportError):
    """The proxy refused the tunnel, asked for credentials, or could not be
    reached.

    Attributes:
        proxy: The proxy URL, with any ``user:password@`` replaced by ``***@``.
        proxy_status: The status of the proxy's response to ``CONNECT``, or
            ``None`` when no response arrived.
    """

    def __init__(
        self,
        message: str,
        *,
        host: str,
        proxy: str,
        proxy_status: int | None,
        retryable: bool,
    ) -> None:
        self.proxy = proxy
        self.proxy_status = proxy_status
        super().__init__(message, host=host, retryable=retryable)


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
