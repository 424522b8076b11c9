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
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from ._credentials import Credentials
from ._http import (
    TOKEN_HEADERS,
    APIResponse,
    check_api_url,
    iap_error,
    is_iap_rejection,
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
    and sends the request once more with a new one. A second 401, or IAP's
    redirect to the sign-in page, raises :class:`IAPError` before requests
    can follow the redirect.

    With httpx, it only adds the header, because httpx gives a callable
    ``auth`` no response. httpx follows no redirect by default, and an IAP
    rejection comes back as a response with the header
    ``x-goog-iap-generated-response: true``.

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
        self.credentials = credentials
        self.proxy_authorization = proxy_authorization

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
        request.headers[self.token_header] = (
            "Bearer " + self.credentials.get_token_for_url(url)
        )
        # Only a requests.PreparedRequest has register_hook.
        register_hook = getattr(request, "register_hook", None)
        if register_hook is not None:
            register_hook("response", self._check_requests_response)
        return request

    def _check_requests_response(self, response: Any, **kwargs: Any) -> Any:
        """Return the response to use, after a retry if IAP rejected the token.

        Raises:
            IAPError: IAP rejected the request again after a retry with a new
                token, or redirected it to sign in.
        """
        if not is_iap_rejection(response.status_code, response.headers):
            return response
        token = _bearer_token(response.request.headers.get(self.token_header))
        if response.status_code != 401:
            rejection = _api_response(response)
            response.close()
            raise iap_error(rejection, token)
        logger.warning(
            "IAP at %s rejected the ID token with HTTP 401, so it is dropped "
            "and the request is sent once more with a new token",
            urlsplit(response.url).hostname,
        )
        # Read the body and release the connection, so that the retry can use
        # it, as requests' HTTPDigestAuth does.
        _ = response.content
        response.close()
        self.credentials.drop_token(token)
        retry = response.request.copy()
        # The copy shares the hooks dict: a new one keeps this hook off the
        # retry, whose response is checked below instead.
        retry.hooks = {
            **retry.hooks,
            "response": [
                hook
                for hook in retry.hooks["response"]
                if hook != self._check_requests_response
            ],
        }
        token = self.credentials.get_token_for_url(retry.url)
        retry.headers[self.token_header] = "Bearer " + token
        second = response.connection.send(retry, **kwargs)
        second.history.append(response)
        second.request = retry
        if is_iap_rejection(second.status_code, second.headers):
            rejection = _api_response(second)
            second.close()
            raise iap_error(rejection, token)
        return second


def _bearer_token(header: str | None) -> str:
    scheme, _, token = (header or "").partition(" ")
    return token if scheme == "Bearer" else ""


def _api_response(response: Any) -> APIResponse:
    host = urlsplit(response.url).hostname or ""
    return APIResponse(response.status_code, response.headers, response.content, host)
