"""A time limit on a whole HTTP exchange, enforced at the socket.

urllib3's read timeout bounds each read from the socket, so a server that
sends one byte just inside every timeout can hold a request for as long as it
likes, in the status line and headers as well as in the body. This module
gives each request a deadline instead: every read on a posos-jwt connection
waits at most until the deadline of the request in progress on its thread,
and fails at once when it has passed.

The deadline is a thread-local value, set with :func:`deadline` around the
request. A connection is used by one request, on one thread, at a time, so the
value read on the socket's thread is the deadline of the request it serves.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Make every read on this thread's posos-jwt sockets end within ``seconds``.

    A deadline inside another keeps the earlier of the two.
    """
    outer: float | None = getattr(_current, "at", None)
    at = time.monotonic() + seconds
    _current.at = at if outer is None else min(at, outer)
    try:
        yield
    finally:
        _current.at = outer


def time_left() -> float | None:
    """Return the seconds left before this thread's deadline, or ``None``."""
    at: float | None = getattr(_current, "at", None)
    return None if at is None else at - time.monotonic()


class DeadlineSocket:
    """A socket whose reads wait no longer than the current deadline.

    Everything but reading, timeouts, ``makefile`` and closing is passed to
    the wrapped socket. ``makefile`` and closing keep the standard library's
    reference count, so that ``http.client`` may close the connection while
    the response body is still being read from its file object.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._timeout = sock.gettimeout()
        # The timeout last set on the wrapped socket, so that a read far from
        # the deadline sets nothing.
        self._applied = self._timeout
        self._io_refs = 0
        self._closed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def settimeout(self, value: float | None) -> None:
        """Set the timeout of each read, which the deadline may shorten."""
        self._timeout = value
        self._applied = value
        self._sock.settimeout(value)

    def gettimeout(self) -> float | None:
        """Return the timeout of each read, as last set."""
        return self._timeout

    def _arm(self) -> None:
        read_timeout = self._timeout
        left = time_left()
        if left is not None:
            if left <= 0:
                raise TimeoutError("the request's time limit has passed")
            if read_timeout is None or left < read_timeout:
                read_timeout = left
        if read_timeout != self._applied:
            self._sock.settimeout(read_timeout)
            self._applied = read_timeout

    def recv(self, size: int, flags: int = 0) -> bytes:
        """Read up to ``size`` bytes before the deadline."""
        self._arm()
        return self._sock.recv(size, flags)

    def recv_into(self, buffer: Any, size: int = 0, flags: int = 0) -> int:
        """Read into ``buffer`` before the deadline."""
        self._arm()
        return self._sock.recv_into(buffer, size, flags)

    def makefile(self, *args: Any, **kwargs: Any) -> Any:
        """Return a file object that reads through this wrapper."""
        # socket.makefile only needs recv_into and the reference count, so it
        # works unchanged on the wrapper and routes every read through _arm.
        return socket.socket.makefile(self, *args, **kwargs)  # type: ignore[call-overload]

    def _decref_socketios(self) -> None:
        if self._io_refs > 0:
            self._io_refs -= 1
        if self._closed and self._io_refs <= 0:
            self._sock.close()

    def close(self) -> None:
        """Close the socket once no file object made by ``makefile`` is open."""
        self._closed = True
        if self._io_refs <= 0:
            self._sock.close()


class DeadlineHTTPConnection(HTTPConnection):
    """An HTTP connection whose socket honours the request's deadline."""

    def connect(self) -> None:
        """Connect, then wrap the socket."""
        super().connect()
        self.sock = DeadlineSocket(self.sock)


class DeadlineHTTPSConnection(HTTPSConnection):
    """An HTTPS connection whose TLS socket honours the request's deadline."""

    def connect(self) -> None:
        """Connect and verify the server, then wrap the socket."""
        super().connect()
        self.sock = DeadlineSocket(self.sock)


class DeadlineHTTPConnectionPool(HTTPConnectionPool):
    """A pool of :class:`DeadlineHTTPConnection`."""

    ConnectionCls = DeadlineHTTPConnection


class DeadlineHTTPSConnectionPool(HTTPSConnectionPool):
    """A pool of :class:`DeadlineHTTPSConnection`."""

    ConnectionCls = DeadlineHTTPSConnection


POOL_CLASSES_BY_SCHEME = {
    "http": DeadlineHTTPConnectionPool,
    "https": DeadlineHTTPSConnectionPool,
}
"""Pool classes for ``PoolManager.pool_classes_by_scheme``."""
