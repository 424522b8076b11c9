"""An HTTP client that sends an ID token with every request to an IAP-protected API.

:class:`AuthorizedHTTP` adds ``Authorization: Bearer <token>`` to each request,
or ``Proxy-Authorization``, which IAP reads before ``Authorization`` and so
leaves ``Authorization`` to the application. It turns IAP's rejections into
:class:`IAPError`. IAP marks the responses it generates itself with
``x-goog-iap-generated-response: true``. It rejects a missing or invalid token
with 401, or, when the request accepts ``text/html``, with a 302 to Google's
sign-in page. A redirect is never followed, so a rejection can never turn into a
200 of that sign-in page.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import IO, Any, Final
from urllib.parse import urlsplit

from urllib3.exceptions import HTTPError

from ._arguments import (
    invalid_type,
    optional_instance,
    require_bool,
    require_instance,
    require_mapping,
    require_text,
)
from ._credentials import Credentials
from ._deadline import deadline
from ._defaults import DEFAULT_API_MAX_TIME, DEFAULT_MAX_BODY_SIZE
from ._errors import (
    ConfigurationError,
    HTTPStatusError,
    IAPError,
    RequestTimeoutError,
    TokenCheckError,
    TransportError,
    excerpt,
)
from ._exchange import body_excerpt
from ._idtoken import decode_unverified
from ._token_uri import is_loopback, safe_url
from ._transport import Transport, check_timeout, transport_error

logger = logging.getLogger(__name__)


IAP_GENERATED_HEADER: Final = "x-goog-iap-generated-response"
"""Header with which IAP marks a response that it made itself."""

TOKEN_HEADERS: Final = ("Authorization", "Proxy-Authorization")
"""Headers that can carry the token, which a caller may not set."""

RequestBody = bytes | str | IO[bytes] | Iterable[bytes] | None
"""A request body: bytes or text, a binary file, or an iterable of chunks."""


@dataclass(frozen=True)
class APIResponse:
    """A complete response from the API, its body read up to a size limit.

    Attributes:
        status: The HTTP status code.
        headers: The response headers, with case-insensitive names.
        body: The body, decoded from any ``Content-Encoding``.
        host: The host that sent the response, for messages.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes
    host: str

    def raise_for_status(self) -> None:
        """Raise unless the status is 2xx.

        Raises:
            HTTPStatusError: The status is not in 200-299.
        """
        if 200 <= self.status <= 299:
            return
        quoted = body_excerpt(self.body)
        if 300 <= self.status <= 399:
            raise HTTPStatusError(
                f"{self.host} returned HTTP {self.status}, a redirect to "
                f"{redirect_target(self.headers)}, which posos-jwt does not "
                "follow, so that the ID token goes only to the URL given: "
                "request the new URL directly if you trust it",
                status=self.status,
                host=self.host,
                body_excerpt=quoted,
            )
        raise HTTPStatusError(
            f"{self.host} returned HTTP {self.status}: {quoted}; check the URL, "
            "the method and the request body",
            status=self.status,
            host=self.host,
            body_excerpt=quoted,
        )


def redirect_target(headers: Mapping[str, str]) -> str:
    """Return a redirect's ``Location`` for a message: its origin and path.

    The query and fragment are left out, because they can carry a one-time
    code or a session ID, and any ``user:password@`` is hidden.
    """
    location = headers.get("location", "").strip()
    if not location:
        return "(no Location)"
    try:
        parts = urlsplit(location)
    except ValueError:
        return safe_url(location.partition("?")[0])
    target = parts._replace(query="", fragment="").geturl()
    return repr(excerpt(safe_url(target)))


def check_body(body: object) -> None:
    """Raise unless ``body`` is ``None``, bytes, text, a file or an iterable.

    Raises:
        ConfigurationError: It is none of these.
    """
    if body is None or isinstance(body, bytes | bytearray | memoryview | str):
        return
    if callable(getattr(body, "read", None)) or isinstance(body, Iterable):
        return
    raise invalid_type(
        "body", "bytes, str, a binary file, an iterable of bytes or None", body
    )


def body_start(body: object) -> int | None:
    """Return the position to rewind ``body`` to before sending it again.

    Returns:
        0 for a body held in memory, the current position of a seekable
        file, or ``None`` when the body can be read only once (an iterator,
        a pipe or socket file).
    """
    if body is None or isinstance(body, bytes | bytearray | memoryview | str):
        return 0
    seekable = getattr(body, "seekable", None)
    tell = getattr(body, "tell", None)
    if not callable(seekable) or not callable(tell):
        return None
    try:
        return int(tell()) if seekable() else None
    except (OSError, ValueError):
        # ValueError: the file is closed.
        return None


def rewind_body(body: Any, start: int | None) -> bool:
    """Rewind ``body`` to ``start`` from :func:`body_start`, for a retry.

    Returns:
        Whether the body can be sent again in full.
    """
    if start is None:
        return False
    if body is None or isinstance(body, bytes | bytearray | memoryview | str):
        return True
    try:
        body.seek(start)
    except (OSError, ValueError):
        return False
    return True


def unsent_body_error(host: str, token: str) -> IAPError:
    """Build the error for IAP's 401 when the body cannot be sent again.

    The first attempt consumed the body, and a retry would send an empty or
    partial one that the API could accept as complete.
    """
    return IAPError(
        f"IAP at {host} rejected the ID token with HTTP 401, and the request "
        "body could not be sent again with a new token, because it was an "
        "iterator or a file that cannot seek: pass the body as bytes or a "
        "seekable file, and send the request again",
        status=401,
        host=host,
        iap_message="(body not sent again)",
        **token_claims(token),
    )


def check_api_url(url: str) -> str:
    """Return the host of ``url`` if a bearer token may be sent to it.

    Raises:
        ConfigurationError: ``url`` is not an http(s) URL with a host, or is
            plain http to a host other than loopback, where anyone on the
            path could read the token.
    """
    try:
        parts = urlsplit(url)
        # urlsplit checks the port only when it is read.
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(
            f"URL {safe_url(url)} is not valid ({exc}): give an https URL"
        ) from exc
    del port
    host = parts.hostname
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigurationError(
            f"URL {safe_url(url)} is not an http(s) URL with a host: give an https URL"
        )
    if parts.scheme == "http" and not is_loopback(host):
        raise ConfigurationError(
            f"URL {safe_url(url)} uses plain http, which would expose the ID "
            "token: use https (plain http is allowed only on a loopback address)"
        )
    return host


def is_iap_rejection(status: int, headers: Mapping[str, str]) -> bool:
    """Tell whether a response is IAP's rejection: a 401 or a redirect that IAP
    generated itself."""
    generated = headers.get(IAP_GENERATED_HEADER, "").strip().lower() == "true"
    return generated and (status == 401 or 300 <= status <= 399)


class AuthorizedHTTP:
    """Send requests to an IAP-protected API with the credentials' ID token.

    Requests go through the credentials' :class:`Transport` (one connection
    pool, the same TLS trust and timeouts) unless ``transport`` is given.
    Redirects are never followed. On IAP's first 401, the token is dropped, a
    new one fetched and the request sent once more. A second rejection, or any
    redirect by IAP, raises :class:`IAPError`.

    Args:
        credentials: The credentials that provide the token for each URL.
        proxy_authorization: Send the token in ``Proxy-Authorization``
            instead of ``Authorization``. IAP reads it first and passes
            ``Authorization`` on to the application.
        transport: The transport to send through, when the credentials have
            none or another one is needed.
        max_body_size: Largest response body read, in bytes.
        max_time: Seconds within which each request's response must arrive
            whole, headers and body, however the server paces it.

    Raises:
        ConfigurationError: ``max_body_size`` is not a positive integer.

    Example::

        http = posos_jwt.AuthorizedHTTP(credentials)
        response = http.request("GET", "https://api.example.com/v1/drugs")
        response.raise_for_status()
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        proxy_authorization: bool = False,
        transport: Transport | None = None,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        max_time: float = DEFAULT_API_MAX_TIME,
    ) -> None:
        require_instance(
            credentials,
            Credentials,
            "credentials",
            "pass IDTokenCredentials or another Credentials object",
        )
        require_bool(proxy_authorization, "proxy_authorization")
        optional_instance(transport, Transport, "transport")
        self.max_time = check_timeout(max_time, name="max_time")
        if isinstance(max_body_size, bool) or not isinstance(max_body_size, int):
            raise ConfigurationError("max_body_size must be an integer of bytes")
        if max_body_size <= 0:
            raise ConfigurationError(
                f"max_body_size must be a positive number of bytes, not {max_body_size}"
            )
        self.credentials = credentials
        self.proxy_authorization = proxy_authorization
        self.transport = transport or credentials.transport or Transport()
        self.max_body_size = max_body_size

    def __repr__(self) -> str:
        return (
            f"AuthorizedHTTP(credentials={self.credentials!r}, "
            f"proxy_authorization={self.proxy_authorization})"
        )

    @property
    def token_header(self) -> str:
        """The header that carries the token."""
        return TOKEN_HEADERS[1] if self.proxy_authorization else TOKEN_HEADERS[0]

    def request(
        self,
        method: str,
        url: str,
        *,
        body: RequestBody = None,
        headers: Mapping[str, str] | None = None,
    ) -> APIResponse:
        """Send one request with the token and read the whole response.

        A response with an error status from the application is returned, not
        raised: call :meth:`APIResponse.raise_for_status` to raise it.

        Args:
            method: The HTTP method.
            url: An https URL, or http on a loopback address.
            body: The request body. After IAP's 401, the retry sends it again
                only if it is bytes, text or a seekable file, which is rewound
                to where it started.
            headers: Request headers. The token header is set here and may not
                be among them.

        Raises:
            ConfigurationError: The URL is not acceptable, or ``headers`` sets
                the token header.
            IAPError: IAP rejected the request after a retry with a new token,
                or redirected it to sign in, or rejected it once when the body
                cannot be sent again.
            TransportError: The request failed below HTTP, or the body is
                larger than ``max_body_size``.
            PososJWTError: The token could not be fetched.
        """
        require_text(method, "method", 'pass an HTTP method such as "GET"')
        require_text(url, "url")
        check_body(body)
        if headers is not None:
            require_mapping(headers, "headers")
        host = check_api_url(url)
        self._check_headers(headers or {})
        token = self.credentials.get_token_for_url(url)
        start = body_start(body)
        response = self._send(method, url, host, body, headers, token)
        if response.status == 401 and is_iap_rejection(401, response.headers):
            self.credentials.drop_token(token)
            if not rewind_body(body, start):
                raise unsent_body_error(host, token)
            logger.warning(
                "IAP at %s rejected the ID token with HTTP 401, so it is dropped "
                "and the request is sent once more with a new token",
                host,
            )
            token = self.credentials.get_token_for_url(url)
            response = self._send(method, url, host, body, headers, token)
        if is_iap_rejection(response.status, response.headers):
            raise iap_error(response, token)
        return response

    def _check_headers(self, headers: Mapping[str, str]) -> None:
        names = {name.lower() for name in headers}
        if self.token_header.lower() in names:
            raise ConfigurationError(
                f"the {self.token_header} header is set by posos-jwt to carry "
                "the ID token: remove it from the request headers"
            )

    def _send(
        self,
        method: str,
        url: str,
        host: str,
        body: RequestBody,
        headers: Mapping[str, str] | None,
        token: str,
    ) -> APIResponse:
        sent = {**(headers or {}), self.token_header: "Bearer " + token}
        limit = self.max_body_size
        started = time.monotonic()
        try:
            with deadline(self.max_time):
                raw = self.transport.pool_for(url).request(
                    method,
                    url,
                    body=body,
                    headers=sent,
                    redirect=False,
                    retries=False,
                    preload_content=False,
                )
                try:
                    data = raw.read(limit + 1)
                    if len(data) > limit:
                        # The rest is never read, so the connection cannot be
                        # reused: close it rather than return it to the pool.
                        raw.close()
                finally:
                    raw.release_conn()
        except HTTPError as exc:
            if time.monotonic() - started >= self.max_time:
                raise RequestTimeoutError(
                    f"the request to {host} did not complete within "
                    f"{self.max_time:g} s: raise the limit (max_time=, --max-time) "
                    "if the response is large or the network slow",
                    host=host,
                    timeout=self.max_time,
                ) from exc
            raise transport_error(
                exc, host, self.transport.timeout, self.transport.proxy
            ) from exc
        if len(data) > limit:
            raise TransportError(
                f"response from {host} is larger than {limit} bytes: raise the "
                "limit (max_body_size=, --max-body-size) if this size is expected",
                host=host,
                retryable=False,
            )
        logger.debug("%s %s: HTTP %d", method, host, raw.status)
        return APIResponse(raw.status, raw.headers, data, host)


def iap_error(response: APIResponse, token: str) -> IAPError:
    """Build the error for IAP's rejection of ``token``.

    The message names the token's ``aud`` and ``email`` claims, which are not
    secret, and never the token.
    """
    claims = token_claims(token)
    audience, email = claims["audience"], claims["email"]
    sent = (
        f"the token sent was for audience {audience!r} and account {email!r}: "
        "check that the client ID is the OAuth client ID of the IAP resource "
        "and that the service account may access it"
    )
    if response.status == 401:
        iap_message = body_excerpt(response.body)
        failure = f"rejected the ID token with HTTP 401 twice: {iap_message}"
    else:
        location = response.headers.get("location", "")
        # The query of a sign-in URL contains only IAP's client ID and return
        # address, but it is long, so the message keeps the host and path.
        iap_message = safe_url(location.partition("?")[0]) or "(no Location)"
        failure = (
            f"redirected the request to the sign-in page {iap_message} with HTTP "
            f"{response.status} instead of accepting the ID token"
        )
    return IAPError(
        f"IAP at {response.host} {failure}; {sent}",
        status=response.status,
        host=response.host,
        iap_message=iap_message,
        audience=audience,
        email=email,
    )


def token_claims(token: str) -> dict[str, str | None]:
    """Return the ``aud`` and ``email`` claims of ``token`` for an
    :class:`IAPError`, which are not secret, as ``audience`` and ``email``."""
    try:
        _, claims = decode_unverified(token)
    except TokenCheckError:
        claims = {}
    audience = claims.get("aud")
    email = claims.get("email")
    return {
        "audience": audience if isinstance(audience, str) else None,
        "email": email if isinstance(email, str) else None,
    }
