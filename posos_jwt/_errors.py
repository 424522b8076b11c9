"""Exceptions raised by posos-jwt.

Every error that posos-jwt raises on purpose derives from :class:`PososJWTError`,
so a caller can catch that one class. Each phase of the flow has its own base,
and the command line maps each base to one exit code::

    PososJWTError
    ├── ConfigurationError (ValueError)           exit 3
    │   ├── KeyFileError
    │   │   ├── KeyFileNotFoundError
    │   │   ├── KeyFileFormatError                invalid JSON
    │   │   ├── KeyFileTypeError                  not a service-account key
    │   │   ├── KeyFileFieldError                 missing or empty field
    │   │   └── PrivateKeyError                   not a usable RSA key
    │   ├── NoCredentialsError                    no credentials source works
    │   ├── ConfigFileError                       invalid profile file
    │   │   └── ProfileNotFoundError              no such profile
    │   ├── RequestTargetError                    URL rejected for a request
    │   └── TokenCacheError                       cache directory unusable
    ├── TokenEndpointError                        exit 4
    │   ├── InvalidGrantError                     invalid_grant
    │   │   ├── InvalidJWTSignatureError          key deleted, disabled or rotated
    │   │   ├── AccountNotFoundError              account deleted or disabled
    │   │   └── ClockSkewError                    iat/exp outside Google's window
    │   ├── InvalidAudienceError                  invalid_scope
    │   ├── DisabledClientError                   disabled_client
    │   └── MetadataServerError                   not the metadata server, or error
    ├── TransportError                            exit 5
    │   ├── TLSError
    │   ├── RequestTimeoutError
    │   └── ProxyError                            407, CONNECT rejected, unreachable
    ├── TokenCheckError                           exit 6
    │   └── VerificationError                     a token from elsewhere
    │       ├── MalformedTokenError               not a JWT, or a bad claim type
    │       ├── TokenAlgorithmError               alg
    │       ├── UnknownKeyError                   kid names no published key
    │       ├── KeySetError                       a key does not fit the token
    │       │   └── KeySetUnavailableError        keys not fetched, exit 5
    │       ├── TokenSignatureError
    │       ├── TokenIssuerError                  iss
    │       ├── TokenAudienceError                aud
    │       ├── TokenExpiredError                 exp
    │       ├── TokenLifetimeError                exp too far after iat
    │       └── TokenNotYetValidError             iat or nbf in the future
    ├── IAPError                                  exit 7
    └── HTTPStatusError                           exit 7

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
    "ConfigFileError",
    "ConfigurationError",
    "DisabledClientError",
    "HTTPStatusError",
    "IAPError",
    "InvalidAudienceError",
    "InvalidGrantError",
    "InvalidJWTSignatureError",
    "KeyFileError",
    "KeyFileFieldError",
    "KeyFileFormatError",
    "KeyFileNotFoundError",
    "KeyFileTypeError",
    "KeySetError",
    "KeySetUnavailableError",
    "MalformedTokenError",
    "MetadataServerError",
    "NoCredentialsError",
    "PososJWTError",
    "PrivateKeyError",
    "ProfileNotFoundError",
    "ProxyError",
    "RequestTargetError",
    "RequestTimeoutError",
    "TLSError",
    "TokenAlgorithmError",
    "TokenAudienceError",
    "TokenCacheError",
    "TokenCheckError",
    "TokenEndpointError",
    "TokenExpiredError",
    "TokenIssuerError",
    "TokenLifetimeError",
    "TokenNotYetValidError",
    "TokenSignatureError",
    "TransportError",
    "UnknownKeyError",
    "VerificationError",
]

EXCERPT_LENGTH: Final = 200
"""Characters of a response body quoted in a message: enough to recognise an
HTML error page, short enough to keep a log line readable."""


def excerpt(text: str, limit: int = EXCERPT_LENGTH) -> str:
    """Shorten ``text`` to one printable line of at most ``limit`` characters.

    Control characters become ``?``, because server text ends up on a
    terminal, where an escape sequence could rewrite the text on the screen.
    """
    printable = "".join(
        char if char.isprintable() or char.isspace() else "?" for char in text
    )
    one_line = " ".join(printable.split())
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
            ``"not_private_key"`` (a certificate, a public key, an OpenSSH key
            or more than one PEM block), ``"too_small"``, ``"weak_exponent"``,
            ``"invalid"`` or ``"inconsistent"``.
    """

    def __init__(self, message: str, *, path: str | None, reason: str) -> None:
        self.reason = reason
        super().__init__(message, path=path)


class NoCredentialsError(ConfigurationError):
    """No source of credentials was configured or reachable.

    Attributes:
        attempts: Each source tried, in order, as ``(source, reason)`` pairs.
            Neither part contains a secret.
    """

    def __init__(self, attempts: tuple[tuple[str, str], ...]) -> None:
        self.attempts = attempts
        tried = "; ".join(f"{source}: {reason}" for source, reason in attempts)
        super().__init__(
            f"no credentials found (tried {tried}): pass a service-account key "
            "file, set GOOGLE_APPLICATION_CREDENTIALS, or run on Google Cloud "
            "with a service account attached"
        )


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
    """The token endpoint rejected the request or returned an unusable response.

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


class MetadataServerError(TokenEndpointError):
    """The metadata server returned an error, or the host is not a metadata server.

    Attributes:
        host: The metadata server's ``host[:port]``.
    """

    def __init__(
        self, message: str, *, host: str, status: int, retryable: bool = False
    ) -> None:
        self.host = host
        super().__init__(message, status=status, retryable=retryable)


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
    """The server did not respond within the timeout.

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


class VerificationError(TokenCheckError):
    """A token from elsewhere failed verification against Google's published keys.

    Raised by :func:`posos_jwt.verify_id_token` and
    :func:`posos_jwt.verify_iap_jwt`. The attributes are those of
    :class:`TokenCheckError`: the failed claim or header field, and the expected
    and actual values, never the token.
    """


class MalformedTokenError(VerificationError):
    """The token is not a compact JWT, or a claim has the wrong type."""


class TokenAlgorithmError(VerificationError):
    """The header's ``alg`` is not the one algorithm accepted for this token."""


class UnknownKeyError(VerificationError):
    """The header's ``kid`` names no key in the published key set.

    Attributes:
        url: The URL of the key set.
    """

    def __init__(
        self, message: str, *, url: str, expected: str, actual: str | None
    ) -> None:
        self.url = url
        super().__init__(message, claim="kid", expected=expected, actual=actual)


class KeySetError(VerificationError):
    """The published keys do not fit the token, or could not be fetched or read.

    Attributes:
        url: The URL of the key set.
        status: The HTTP status of the response, if one arrived.
    """

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        self.url = url
        self.status = status
        super().__init__(message, claim=None)


class KeySetUnavailableError(KeySetError):
    """The keys URL did not return a usable key set, so no token can be verified.

    The keys URL returned a status other than 200, a body that is not a key
    set, or no usable key, now or in a fetch too recent to repeat. The token
    was not judged at all, so the command exits 5, as for a network failure,
    and not 6, as for a token that failed its verification.
    """

    exit_code = 5


class TokenSignatureError(VerificationError):
    """The signature does not match the published key that the token names."""


class TokenIssuerError(VerificationError):
    """The ``iss`` claim is not an accepted issuer."""


class TokenAudienceError(VerificationError):
    """The ``aud`` claim is not the expected audience."""


class TokenExpiredError(VerificationError):
    """The ``exp`` claim is in the past by more than the leeway."""


class TokenLifetimeError(VerificationError):
    """The ``exp`` claim lies further after ``iat`` than this kind of token lives."""


class TokenNotYetValidError(VerificationError):
    """The ``iat`` or ``nbf`` claim is in the future by more than the leeway."""


class IAPError(PososJWTError):
    """Identity-Aware Proxy rejected the request, after a retry or without one.

    IAP marks its own responses with ``x-goog-iap-generated-response: true``.
    It rejects a missing or invalid token with 401, or, when the request
    accepts ``text/html``, with a 302 to Google's sign-in page.

    Attributes:
        status: The HTTP status of IAP's response.
        host: The host that was called.
        iap_message: IAP's body text, shortened and with JWTs redacted, or the
            sign-in URL without its query for a redirect.
        audience: The ``aud`` claim of the token that was sent, if any.
        email: The ``email`` claim of the token that was sent, if any.
    """

    exit_code = 7

    def __init__(
        self,
        message: str,
        *,
        status: int,
        host: str,
        iap_message: str,
        audience: str | None,
        email: str | None,
    ) -> None:
        self.status = status
        self.host = host
        self.iap_message = iap_message
        self.audience = audience
        self.email = email
        super().__init__(message)


class HTTPStatusError(PososJWTError):
    """The API returned a status outside 200-299.

    Attributes:
        status: The HTTP status of the response.
        host: The host that sent the response.
        body_excerpt: The start of the body as one line, with JWTs redacted.
    """

    exit_code = 7

    def __init__(
        self, message: str, *, status: int, host: str, body_excerpt: str
    ) -> None:
        self.status = status
        self.host = host
        self.body_excerpt = body_excerpt
        super().__init__(message)
