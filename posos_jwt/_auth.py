"""An ``auth=`` object that adds the ID token to requests of requests and httpx.

Both libraries accept a plain callable as ``auth``. requests calls it with the
``PreparedRequest`` and sends what it returns (the ``requests.auth.AuthBase``
contract). httpx wraps a callable that is not an ``httpx.Auth`` in its
``FunctionAuth``, calls it with the ``httpx.Request`` and sends what it returns.
Both requests have a mutable ``headers`` mapping and a ``url``, so one method
serves both, and neither library is imported here.

Only requests lets such a callable see the response: it registers a response
hook on the ``PreparedRequest``, which is how requests' own ``HTTPDigestAuth``
retries after a 401. httpx gives a callable ``auth`` no response, and
subclassing ``httpx.Auth`` would import httpx.

requests calls the hook for every response, including those of the redirects
that it follows. It removes ``Authorization`` when a redirect leaves the host,
and ``Proxy-Authorization`` on every redirect. So the hook acts only on a
response to a request that still carries the token header that IAPAuth set, at
the origin (scheme, host, port) that IAPAuth authorized. Any other 401, even
one marked as IAP's, is returned as it is, and no token is added to a request
from which requests removed it.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from ._arguments import require_bool, require_instance
from ._credentials import Credentials
from ._http import (
    TOKEN_HEADERS,
    APIResponse,
    body_start,
    check_api_url,
    iap_error,
    is_iap_rejection,
    rewind_body,
    unsent_body_error,
)

logger = logging.getLogger(__name__)


class _OutgoingRequest(Protocol):
    """The part of a requests or httpx request that this module uses."""

    @property
    def headers(self) -> MutableMapping[str, str]: ...

    @property
    def url(self) -> object: ...


_RequestT = TypeVar("_RequestT", bound=_OutgoingRequest)


class IAPAuth:
    """Add ``Authorization: Bearer <token>`` to requests sent with requests or
    httpx.

    The token comes from ``credentials.get_token_for_url(url)``, so it is
    cached and refreshed as :class:`Credentials` describes.

    With requests, a response hook also handles IAP's rejections as
    :class:`AuthorizedHTTP` does. After IAP's first 401, it drops the token
    and sends the request once more with a new one, if the body is bytes,
    text or a seekable file. A second 401, IAP's 401 when the body cannot be
    sent again, or IAP's redirect to the sign-in page, raises
    :class:`IAPError` before requests can follow the redirect. The hook acts
    only on the response to the request that carries the token, at the
    origin of the URL that it was set for: a 401 after requests followed a
    redirect to another host is returned as it is.

    With httpx, it only adds the header, because httpx gives a callable
    ``auth`` no response. httpx follows no redirect by default, and an IAP
    rejection comes back as a response with the header
    ``x-goog-iap-generated-response: true``.

    Warning:
        With ``proxy_authorization=True``, do not let httpx follow redirects
        (``follow_redirects=True``): httpx 0.29 removes ``Authorization`` on
        a redirect to another origin, but keeps ``Proxy-Authorization``, so
        the token would go to the redirect's host.

    Args:
        credentials: The credentials that provide the token for each URL.
        proxy_authorization: Send the token in ``Proxy-Authorization``
            instead of ``Authorization``.

    Example::

        auth = posos_jwt.IAPAuth(credentials)
        requests.get(url, auth=auth)
        httpx.Client(auth=auth).get(url)
    """

    def __init__(
        self, credentials: Credentials, *, proxy_authorization: bool = False
    ) -> None:
        self.credentials = require_instance(
            credentials,
            Credentials,
            "credentials",
            "pass IDTokenCredentials or another Credentials object",
        )
        self.proxy_authorization = require_bool(
            proxy_authorization, "proxy_authorization"
        )

    def __repr__(self) -> str:
        return (
            f"IAPAuth(credentials={self.credentials!r}, "
            f"proxy_authorization={self.proxy_authorization})"
        )

    @property
    def token_header(self) -> str:
        """The header that carries the token."""
        return TOKEN_HEADERS[1] if self.proxy_authorization else TOKEN_HEADERS[0]

    def __call__(self, request: _RequestT) -> _RequestT:
        """Set the token header on ``request`` and return it.

        Raises:
            ConfigurationError: The URL is plain http to a host other than
                loopback, or not an http(s) URL.
            PososJWTError: The token could not be fetched.
        """
        url = str(request.url)
        check_api_url(url)
        token = self.credentials.get_token_for_url(url)
        request.headers[self.token_header] = "Bearer " + token
        # Only a requests.PreparedRequest has register_hook. requests has
        # prepared the body before it calls the auth object.
        register_hook = getattr(request, "register_hook", None)
        if register_hook is not None:
            start = body_start(getattr(request, "body", None))
            hook = _RejectionHook(self, url, token, start)
            register_hook("response", hook)
        return request


class _RejectionHook:
    """The requests response hook of one request that IAPAuth authorized.

    Args:
        auth: The auth object that set the token.
        url: The URL that the token was set for.
        token: The token that was set.
        body_start: Where the body starts, from :func:`body_start`.
    """

    def __init__(
        self, auth: IAPAuth, url: str, token: str, body_start: int | None
    ) -> None:
        self.auth = auth
        self.origin = origin_of(url)
        self.token = token
        self.body_start = body_start

    def __call__(self, response: Any, **kwargs: Any) -> Any:
        """Return the response to use, after a retry if IAP rejected the token.

        Raises:
            IAPError: IAP rejected the request again after a retry with a new
                token, rejected it once when its body cannot be sent again,
                or redirected it to sign in.
        """
        if not is_iap_rejection(response.status_code, response.headers):
            return response
        if not self.carries_token(response.request):
            logger.debug(
                "HTTP %d marked as IAP's from %s ignored: the request did not "
                "carry the token that IAPAuth set for that origin",
                response.status_code,
                urlsplit(response.url).hostname,
            )
            return response
        if response.status_code != 401:
            rejection = _api_response(response)
            response.close()
            raise iap_error(rejection, self.token)
        # Read the body and release the connection, so that the retry can use
        # it, as requests' HTTPDigestAuth does.
        _ = response.content
        response.close()
        self.auth.credentials.drop_token(self.token)
        retry = response.request.copy()
        if not rewind_body(retry.body, self.body_start):
            raise unsent_body_error(_api_response(response).host, self.token)
        logger.warning(
            "IAP at %s rejected the ID token with HTTP 401, so it is dropped "
            "and the request is sent once more with a new token",
            urlsplit(response.url).hostname,
        )
        return self.send_retry(response, retry, **kwargs)

    def carries_token(self, request: Any) -> bool:
        """Tell whether ``request`` went to the authorized origin with the
        token that IAPAuth set."""
        sent = request.headers.get(self.auth.token_header)
        return sent == "Bearer " + self.token and origin_of(request.url) == (
            self.origin
        )

    def send_retry(self, response: Any, retry: Any, **kwargs: Any) -> Any:
        """Send ``retry`` with a new token, and raise if IAP rejects it too."""
        # The copy shares the hooks dict: a new one keeps this hook off the
        # retry, whose response is checked below instead.
        retry.hooks = {
            **retry.hooks,
            "response": [hook for hook in retry.hooks["response"] if hook is not self],
        }
        url = str(retry.url)
        check_api_url(url)
        token = self.auth.credentials.get_token_for_url(url)
        retry.headers[self.auth.token_header] = "Bearer " + token
        second = response.connection.send(retry, **kwargs)
        second.history.append(response)
        second.request = retry
        if is_iap_rejection(second.status_code, second.headers):
            rejection = _api_response(second)
            second.close()
            raise iap_error(rejection, token)
        return second


def origin_of(url: str) -> tuple[str, str, int | None]:
    """Return the scheme, host and port of ``url``, with the default port
    filled in, to compare two URLs' origins."""
    parts = urlsplit(url)
    default_port = {"https": 443, "http": 80}.get(parts.scheme)
    return parts.scheme, (parts.hostname or ""), parts.port or default_port


def _api_response(response: Any) -> APIResponse:
    host = urlsplit(response.url).hostname or ""
    return APIResponse(response.status_code, response.headers, response.content, host)
