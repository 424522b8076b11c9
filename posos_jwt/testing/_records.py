"""Records of the requests that the stand-in received, for tests to inspect."""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from posos_jwt.testing._faults import ROUTES, check_route


@dataclass(frozen=True)
class TokenRequest:
    """One request received on ``/token``, recorded before any check.

    Attributes:
        method: The request method.
        form: The form fields, parsed leniently. A field sent twice keeps its
            last value, and a body that is not UTF-8 gives an empty mapping.
        headers: The headers, keyed by lower-case name.
        body: The raw body.
    """

    method: str
    form: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes

    @property
    def assertion(self) -> str | None:
        """The ``assertion`` form field, or None if it was not sent."""
        return self.form.get("assertion")


@dataclass(frozen=True)
class ApiRequest:
    """One request received on ``/api``.

    Attributes:
        method: The request method.
        path: The path without the query string.
        query: The query string without the leading ``?``.
        email: The ``email`` claim of the accepted token, None if rejected.
        aud: The ``aud`` claim of the accepted token, None if rejected.
        header_used: The header that carried the credentials,
            ``"proxy-authorization"`` or ``"authorization"``, or None if neither
            was sent.
        iap_jwt_assertion: The ``x-goog-iap-jwt-assertion`` header that IAP
            added to the accepted request before forwarding it, None if
            rejected.
    """

    method: str
    path: str
    query: str
    email: str | None
    aud: str | None
    header_used: str | None
    iap_jwt_assertion: str | None = None


def parse_form_leniently(body: bytes) -> dict[str, str]:
    """Parse a form body for the record, whatever its faults.

    Args:
        body: The raw body.

    Returns:
        The fields, the last value winning, or an empty dict if the body is not
        UTF-8.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {}
    return dict(urllib.parse.parse_qsl(text, keep_blank_values=True))


class RequestLog:
    """Request counts per route and records of token and API requests."""

    def __init__(self) -> None:
        """Create an empty log."""
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(ROUTES, 0)
        self._token_requests: list[TokenRequest] = []
        self._api_requests: list[ApiRequest] = []

    def count_request(self, route: str) -> None:
        """Add one request to the count of ``route``."""
        with self._lock:
            self._counts[route] += 1

    def count(self, route: str) -> int:
        """Return the number of requests received on ``route``.

        Raises:
            ValueError: If the route is unknown.
        """
        check_route(route)
        with self._lock:
            return self._counts[route]

    def add_token_request(self, record: TokenRequest) -> None:
        """Append a token-request record."""
        with self._lock:
            self._token_requests.append(record)

    def add_api_request(self, record: ApiRequest) -> None:
        """Append an API-request record."""
        with self._lock:
            self._api_requests.append(record)

    def token_requests(self) -> list[TokenRequest]:
        """Return a copy of the token-request records, oldest first."""
        with self._lock:
            return list(self._token_requests)

    def api_requests(self) -> list[ApiRequest]:
        """Return a copy of the API-request records, oldest first."""
        with self._lock:
            return list(self._api_requests)

    def reset(self) -> None:
        """Set every count to zero and drop every record."""
        with self._lock:
            self._counts = dict.fromkeys(ROUTES, 0)
            self._token_requests.clear()
            self._api_requests.clear()
