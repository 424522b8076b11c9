"""A CONNECT proxy on 127.0.0.1 that tunnels to loopback addresses only.

It behaves like a corporate forward proxy. It handles ``CONNECT host:port``
(RFC 9110 section 9.3.6), optionally requires ``Proxy-Authorization: Basic``,
and records each tunnel it opens or rejects. Then it copies bytes both ways
without reading them, so TLS runs end to end between the client and the
server. A target that does not resolve to a loopback address is rejected with
403, so that a test can never send traffic off the machine through it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import ipaddress
import logging
import selectors
import socket
import socketserver
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Final

_LOGGER: Final = logging.getLogger(__name__)

TUNNEL_IDLE_TIMEOUT: Final = 30.0
"""Seconds a tunnel may carry no data before the proxy closes it, so that
relay threads do not outlive the tests that opened them."""

CONNECT_TIMEOUT: Final = 5.0
"""Seconds allowed to connect to the tunnel's target."""

MAX_HEADER_LINES: Final = 100
"""Header lines read from a CONNECT request before it is rejected."""


@dataclass(frozen=True)
class ProxyTunnel:
    """One CONNECT request that the proxy received.

    Attributes:
        target: The ``host:port`` that the client asked for.
        status: The status of the proxy's response: 200 when it opened the
            tunnel.
        username: The user name of the ``Proxy-Authorization`` header, or
            ``None`` when the client sent none.
    """

    target: str
    status: int
    username: str | None


class ConnectProxy:
    """A CONNECT-only forward proxy on 127.0.0.1, with optional Basic auth.

    Attributes:
        reject_status: When set, every CONNECT gets a response with this
            status instead of a tunnel, as a proxy whose policy forbids it.
    """

    def __init__(self, *, username: str | None = None, password: str = "") -> None:
        """Create a stopped proxy.

        Args:
            username: When set, a CONNECT must carry these Basic credentials,
                or the proxy responds with 407.
            password: The password that goes with ``username``.
        """
        self._credentials = None if username is None else (username, password)
        self.reject_status: int | None = None
        self._lock = threading.Lock()
        self._tunnels: list[ProxyTunnel] = []
        self._server: _ProxyServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ConnectProxy:
        """Listen on a free port of 127.0.0.1 and serve in a daemon thread.

        Raises:
            RuntimeError: If the proxy is running already.
        """
        if self._server is not None:
            raise RuntimeError("the proxy is running already: call stop() first")
        self._server = _ProxyServer(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(0.05,),
            name="posos-jwt-connect-proxy",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and close every open tunnel."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_tunnels()
        if thread is not None:
            thread.join(5.0)

    def __enter__(self) -> ConnectProxy:
        """Start the proxy and return it."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the proxy."""
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port the proxy listens on.

        Raises:
            RuntimeError: If the proxy is not running.
        """
        if self._server is None:
            raise RuntimeError("the proxy is not running: call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The proxy's URL, ``http://127.0.0.1:PORT``, without credentials."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def tunnels(self) -> list[ProxyTunnel]:
        """A copy of the CONNECT requests received, oldest first."""
        with self._lock:
            return list(self._tunnels)

    def reset(self) -> None:
        """Forget the CONNECT requests received so far."""
        with self._lock:
            self._tunnels.clear()

    def _record(self, tunnel: ProxyTunnel) -> None:
        with self._lock:
            self._tunnels.append(tunnel)

    def _check_credentials(self, header: str | None) -> tuple[bool, str | None]:
        """Return whether ``header`` authorizes, and the user name it carries."""
        username, password = _basic_credentials(header)
        if self._credentials is None:
            return True, username
        return (username, password) == self._credentials, username


class _ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, proxy: ConnectProxy) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.proxy = proxy
        self._sockets_lock = threading.Lock()
        self._sockets: set[socket.socket] = set()

    def track(self, sock: socket.socket) -> None:
        with self._sockets_lock:
            self._sockets.add(sock)

    def untrack(self, sock: socket.socket) -> None:
        with self._sockets_lock:
            self._sockets.discard(sock)

    def close_tunnels(self) -> None:
        with self._sockets_lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _ProxyHandler(socketserver.StreamRequestHandler):
    server: _ProxyServer

    def handle(self) -> None:
        request_line = self.rfile.readline(8192).decode("latin-1").strip()
        headers = self._read_headers()
        if headers is None:
            return
        method, _, rest = request_line.partition(" ")
        target = rest.partition(" ")[0]
        if method != "CONNECT":
            self._answer(405, "Method Not Allowed")
            return
        proxy = self.server.proxy
        authorized, username = proxy._check_credentials(
            headers.get("proxy-authorization")
        )
        status = self._decide(target, authorized, proxy.reject_status)
        proxy._record(ProxyTunnel(target, status, username))
        _LOGGER.debug("CONNECT %s -> %d", target, status)
        host, port = _split_target(target)
        if status != 200 or host is None or port is None:
            reasons = {407: "Proxy Authentication Required", 403: "Forbidden"}
            self._answer(status, reasons.get(status, "Refused"), auth=status == 407)
            return
        self._tunnel(host, port)

    def _read_headers(self) -> dict[str, str] | None:
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADER_LINES):
            line = self.rfile.readline(8192).decode("latin-1")
            if line in ("\r\n", "\n", ""):
                return headers
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self._answer(431, "Request Header Fields Too Large")
        return None

    def _decide(self, target: str, authorized: bool, reject: int | None) -> int:
        if not authorized:
            return 407
        if reject is not None:
            return reject
        host, port = _split_target(target)
        if host is None or port is None or not _is_loopback_host(host):
            return 403
        return 200

    def _answer(self, status: int, reason: str, *, auth: bool = False) -> None:
        lines = [f"HTTP/1.1 {status} {reason}", "Content-Length: 0"]
        if auth:
            lines.append('Proxy-Authenticate: Basic realm="posos-jwt test proxy"')
        lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))

    def _tunnel(self, host: str, port: int) -> None:
        try:
            upstream = socket.create_connection((host, port), CONNECT_TIMEOUT)
        except OSError:
            self._answer(502, "Bad Gateway")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        self.server.track(self.connection)
        try:
            _relay(self.connection, upstream)
        finally:
            self.server.untrack(self.connection)
            upstream.close()


def _relay(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes or stays idle too long."""
    peers = {client: upstream, upstream: client}
    with selectors.DefaultSelector() as selector:
        for sock in peers:
            selector.register(sock, selectors.EVENT_READ)
        while True:
            events = selector.select(TUNNEL_IDLE_TIMEOUT)
            if not events:
                return
            for key, _ in events:
                source = key.fileobj
                if not isinstance(source, socket.socket):
                    return
                try:
                    data = source.recv(65536)
                    if not data:
                        return
                    peers[source].sendall(data)
                except OSError:
                    return


def _split_target(target: str) -> tuple[str | None, int | None]:
    host, _, port_text = target.rpartition(":")
    if not host or not port_text.isdigit():
        return None, None
    return host.strip("[]"), int(port_text)


def _is_loopback_host(host: str) -> bool:
    """Tell whether every address that ``host`` resolves to is loopback."""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(str(address).partition("%")[0]).is_loopback
        for address in addresses
    )


def _basic_credentials(header: str | None) -> tuple[str | None, str]:
    if header is None:
        return None, ""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None, ""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, ""
    username, _, password = decoded.partition(":")
    return username, password
