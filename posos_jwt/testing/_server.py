"""The stand-in's HTTPS server: TLS, HTTP/1.1 keep-alive, and request bodies.

The server has no Google-specific logic. It reads each request, hands it to an
application callable, and writes the response, or closes the connection when the
application returns None.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.server
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any, Final

from posos_jwt.testing._http import JSON_CONTENT_TYPE, Request, Response

_LOGGER: Final = logging.getLogger(__name__)

App = Callable[[Request], Response | None]
"""Application that returns the response to a request, or None to drop the
connection."""

LISTEN_BACKLOG: Final = 128
"""Connections the kernel queues before accept: 64 clients connecting at once,
with room to spare, all get through."""

HANDSHAKE_TIMEOUT: Final = 10.0
"""Seconds a client may take for the TLS handshake before it is dropped."""

IDLE_TIMEOUT: Final = 30.0
"""Seconds a keep-alive connection may sit idle before the server closes it, so
that handler threads do not pile up after the tests that opened them."""

MAX_BODY_SIZE: Final = 1024 * 1024
"""Largest request body read, in bytes. Token requests are under 4 KiB."""


_JSON_HEADERS: Final = {"Content-Type": JSON_CONTENT_TYPE}
"""Headers of the 500 response sent when the application raises."""


class BodyError(Exception):
    """The request body cannot be read. The server responds and then closes."""

    def __init__(self, status: int, message: str) -> None:
        """Store the status and message of the error response."""
        super().__init__(message)
        self.status = status


class StandInServer(http.server.ThreadingHTTPServer):
    """A threading HTTPS server on 127.0.0.1 with an OS-chosen port.

    The TLS handshake runs in each connection's own thread, so that a slow
    client cannot hold up the accept loop.
    """

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self, app: App, clock: Callable[[], float], tls_context: ssl.SSLContext
    ) -> None:
        """Bind to 127.0.0.1 on a free port. Call ``serve_forever`` to serve.

        Args:
            app: The application that returns responses.
            clock: The time source for the ``Date`` header.
            tls_context: The server-side TLS context.
        """
        super().__init__(("127.0.0.1", 0), _Handler)
        self.app = app
        self.clock = clock
        self._tls_context = tls_context
        self._connections_lock = threading.Lock()
        self._connections: set[ssl.SSLSocket] = set()

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return int(self.server_address[1])

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Run the TLS handshake on a new connection, then serve it until it ends.

        Args:
            request: The accepted TCP socket.
            client_address: The client's address, used only in logs.
        """
        request.settimeout(HANDSHAKE_TIMEOUT)
        # The headers and the body leave in separate writes. Without TCP_NODELAY,
        # Nagle's algorithm delays the body until the client's delayed ACK,
        # which costs about 40 ms per response on Linux.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls_socket = self._tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as error:
            _LOGGER.debug("TLS handshake with %s failed: %s", client_address, error)
            return
        with self._connections_lock:
            self._connections.add(tls_socket)
        try:
            _Handler(tls_socket, client_address, self)
        finally:
            with self._connections_lock:
                self._connections.discard(tls_socket)
            tls_socket.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a connection that failed, at DEBUG, in place of a stderr traceback.

        A client that times out on a delayed response closes the connection, and
        the later write fails here. Tests cause that on purpose.
        """
        _LOGGER.debug("connection from %s failed", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Shut down every open connection, so that keep-alive clients see EOF."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            # OSError means that the client has closed the connection already.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "posos-jwt-standin"
    timeout = IDLE_TIMEOUT
    server: StandInServer

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except BodyError as error:
            self.close_connection = True
            text_headers = {"Content-Type": "text/plain; charset=utf-8"}
            message = str(error).encode("utf-8")
            self._send(Response(error.status, message, text_headers))
            return
        response = self._call_app(body)
        if response is None:
            self.close_connection = True
            return
        self._send(response)

    def _call_app(self, body: bytes) -> Response | None:
        path, _, query = self.path.partition("?")
        request = Request(self.command, path, query, self._header_map(), body)
        try:
            return self.server.app(request)
        except Exception:
            # The stand-in has a bug. Respond so that the client fails fast, and
            # log the method, the path and the traceback, but not the content.
            _LOGGER.exception("stand-in failed on %s %s", self.command, path)
            return Response(500, b'{"error": "internal_failure"}', _JSON_HEADERS)

    def _header_map(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return headers

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked_body()
        length_text = self.headers.get("Content-Length", "0").strip()
        if not length_text.isdigit():
            raise BodyError(400, f"invalid Content-Length {length_text!r}")
        length = int(length_text)
        if length > MAX_BODY_SIZE:
            raise BodyError(413, f"body of {length} bytes exceeds {MAX_BODY_SIZE}")
        return self.rfile.read(length)

    def _read_chunked_body(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise BodyError(400, "invalid chunk size") from None
            total += size
            if total > MAX_BODY_SIZE:
                raise BodyError(413, f"chunked body exceeds {MAX_BODY_SIZE} bytes")
            if size == 0:
                break
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)  # the CRLF that ends each chunk
        while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
            pass  # trailer fields, which the stand-in ignores
        return b"".join(chunks)

    # http.server calls do_<METHOD>, a name it fixes. These methods reach the
    # application, and any other method gets http.server's own 501.

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def version_string(self) -> str:
        """Return the ``Server`` header without http.server's Python version."""
        return self.server_version

    def date_time_string(self, timestamp: float | None = None) -> str:
        """Format the ``Date`` header from the stand-in's clock."""
        if timestamp is None:
            timestamp = self.server.clock()
        return email.utils.formatdate(timestamp, usegmt=True)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log the method, the path without its query, and the status."""
        path = self.path.partition("?")[0]
        _LOGGER.debug("%s %s -> %s", self.command, path, code)

    def log_message(self, format: str, *args: Any) -> None:
        """Log the method and path of a request that failed, never its content."""
        path = (getattr(self, "path", None) or "").partition("?")[0]
        _LOGGER.debug("%s %s failed", getattr(self, "command", None), path)
