"""An ``auth=`` object that adds the ID token to requests of requests and httpx.

Both libraries accept a plain callable as ``auth``. requests calls it with the
``PreparedRequest`` and sends what it returns (the ``requests.auth.AuthBase``
contract). httpx wraps a callable that is not an ``httpx.Auth`` in its
``FunctionAuth``, calls it with the ``httpx.Request`` and sends what it returns.
Both requests have a mutable ``headers`` mapping and a ``url``, so one method
serves both, and neither library is imported here.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Protocol, TypeVar

from ._credentials import Credentials
from ._http import TOKEN_HEADERS, check_api_url


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

    This object only adds the header. It neither retries after IAP's 401 nor
    recognises IAP's redirect to sign in, because httpx never passes the
    response to a callable ``auth``. requests follows redirects unless told
    not to, so pass ``allow_redirects=False`` there. :class:`AuthorizedHTTP`
    does both.

    Args:
        credentials: The credentials that provide the token for each URL.
        proxy_authorization: Send the token in ``Proxy-Authorization``
            instead of ``Authorization``.

    Example::

        auth = posos_jwt.IAPAuth(credentials)
        requests.get(url, auth=auth, allow_redirects=False)
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

    def __call__(self, request: _RequestT) -> _RequestT:
        """Set the token header on ``request`` and return it.

        Raises:
            ConfigurationError: The URL is plain http to a host other than
                loopback, or not an http(s) URL.
            PososJWTError: The token could not be fetched.
        """
        url = str(request.url)
        check_api_url(url)
        header = TOKEN_HEADERS[1] if self.proxy_authorization else TOKEN_HEADERS[0]
        request.headers[header] = "Bearer " + self.credentials.get_token_for_url(url)
        return request
