"""Faults that a test queues to change the stand-in's response to one request."""

from __future__ import annotations

import collections
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

ROUTES: Final = ("token", "api", "certs", "iap_keys", "iam")
"""Routes that count requests and take faults: POST /token, /api, the two certs,
IAP's JWK set, and the IAM Credentials API's generateIdToken."""


@dataclass(frozen=True)
class Fault:
    """A change to the stand-in's response to the next request on one route.

    A fault is applied in this order: sleep for ``delay``, then close the
    connection if ``drop``, else respond with ``status`` if it is set, else
    respond normally with the token-route options applied.

    Attributes:
        status: The status to respond with, with ``body``, instead of the normal
            response. ``None`` keeps the normal response.
        body: The body sent with ``status``. A ``str`` is sent as UTF-8.
        content_type: The ``Content-Type`` sent with ``status``.
        headers: Extra headers sent with ``status``.
        delay: Seconds to sleep before responding or dropping.
        drop: Whether to close the connection without any response.
        omit_id_token: Token route only. Replace the ID token of a success with
            an access token and no ``id_token``.
        id_token_claims: Token route only. Claims that replace those of the
            issued ID token. A claim set to ``None`` is removed.

    Raises:
        ValueError: If ``status`` is outside 100-599 or ``delay`` is negative.
    """

    status: int | None = None
    body: bytes | str = b""
    content_type: str = "application/json; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    omit_id_token: bool = False
    id_token_claims: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check the values that would otherwise fail inside the server thread."""
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"status must be 100-599, got {self.status}")
        if self.delay < 0:
            raise ValueError(f"delay must be 0 or more seconds, got {self.delay}")

    @property
    def keeps_normal_response(self) -> bool:
        """Whether the fault neither delays, drops nor replaces the response."""
        return self.delay == 0 and not self.drop and self.status is None

    @property
    def changes_token_success(self) -> bool:
        """Whether the fault uses options that only the token route has."""
        return self.omit_id_token or bool(self.id_token_claims)

    @property
    def body_bytes(self) -> bytes:
        """The body as bytes, UTF-8 encoded if it was given as text."""
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return self.body


def check_route(route: str) -> None:
    """Raise ValueError unless ``route`` is one of :data:`ROUTES`."""
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}: use one of {', '.join(ROUTES)}")


class FaultQueues:
    """A first-in, first-out queue of faults for each route, safe across threads."""

    def __init__(self) -> None:
        """Create empty queues."""
        self._lock = threading.Lock()
        self._queues: dict[str, collections.deque[Fault]] = {
            route: collections.deque() for route in ROUTES
        }

    def push(self, route: str, fault: Fault) -> None:
        """Queue a fault for one later request on ``route``.

        Raises:
            ValueError: If the route is unknown, or if a fault with token-route
                options is queued for another route.
        """
        check_route(route)
        if route != "token" and fault.changes_token_success:
            raise ValueError("omit_id_token and id_token_claims apply to 'token' only")
        with self._lock:
            self._queues[route].append(fault)

    def pop(self, route: str) -> Fault | None:
        """Take the oldest fault queued for ``route``, or return None."""
        with self._lock:
            queue = self._queues[route]
            return queue.popleft() if queue else None

    def clear(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            for queue in self._queues.values():
                queue.clear()
