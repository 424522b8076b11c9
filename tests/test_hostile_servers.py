"""Token endpoints that misbehave below the level the stand-in plays.

Each test starts a raw TCP server on 127.0.0.1 that writes a scripted
response, so the bytes on the wire are exactly the ones under test. The
token endpoint override allows plain http on loopback, which these use.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from posos_jwt import (
    AuthorizedHTTP,
    IDTokenCredentials,
    RequestTimeoutError,
    RetryPolicy,
    TokenEndpointError,
    TransportError,
)
from posos_jwt.testing import GoogleStandIn, write_key_file

Script = Callable[[socket.socket, bytes], None]


def read_request(connection: socket.socket) -> bytes:
    """Read one request with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += connection.recv(65536)
    return body


@pytest.fixture
def raw_server() -> Iterator[Callable[..., str]]:
    """Start servers that run a script on each connection; return their URL."""
    listeners: list[socket.socket] = []

    def start(script: Script, *, read_first: bool = True) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)

        def serve() -> None:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection, contextlib.suppress(OSError):
                request = read_request(connection) if read_first else b""
                script(connection, request)

        threading.Thread(target=serve, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}/token"

    yield start
    for listener in listeners:
        listener.close()


@pytest.fixture
def key_file(standin_session: GoogleStandIn, tmp_path: Path) -> Path:
    return write_key_file(tmp_path, standin_session.new_account())


def credentials(key_file: Path, token_uri: str, timeout: float) -> IDTokenCredentials:
    return IDTokenCredentials.from_service_account_file(
        key_file,
        target_audience="123-abc.apps.googleusercontent.com",
        token_uri=token_uri,
        timeout=timeout,
        retry=RetryPolicy(max_attempts=1),
    )


def test_dripping_body_times_out(
    raw_server: Callable[..., str], key_file: Path
) -> None:
    def drip(connection: socket.socket, request: bytes) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(100):
            connection.sendall(b"x")
            time.sleep(0.1)

    url = raw_server(drip)
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError, match="timed out"):
        credentials(key_file, url, timeout=0.5).get_token()
    assert time.monotonic() - started < 5


def test_dripping_headers_time_out(
    raw_server: Callable[..., str], key_file: Path
) -> None:
    def drip_headers(connection: socket.socket, request: bytes) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 100:
            connection.sendall(bytes([byte]))
            time.sleep(0.1)

    url = raw_server(drip_headers)
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError, match="timed out"):
        credentials(key_file, url, timeout=0.5).get_token()
    assert time.monotonic() - started < 5


def test_compressed_body_refused(
    raw_server: Callable[..., str], key_file: Path
) -> None:
    bomb = gzip.compress(b"0" * 10_000_000)

    def send_gzip(connection: socket.socket, request: bytes) -> None:
        head = (
            "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
            f"Content-Length: {len(bomb)}\r\n\r\n"
        )
        connection.sendall(head.encode() + bomb)

    url = raw_server(send_gzip)
    with pytest.raises(TransportError, match="compressed"):
        credentials(key_file, url, timeout=5).get_token()


def test_plain_http_on_https_url(
    raw_server: Callable[..., str], key_file: Path
) -> None:
    def answer_plainly(connection: socket.socket, request: bytes) -> None:
        connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    url = raw_server(answer_plainly, read_first=False)
    url = url.replace("http://", "https://")
    with pytest.raises(TransportError, match="did not respond with TLS"):
        credentials(key_file, url, timeout=5).get_token()


def test_partial_assertion_echo_redacted(
    raw_server: Callable[..., str], key_file: Path
) -> None:
    signatures: list[str] = []

    def echo_signature(connection: socket.socket, request: bytes) -> None:
        form = parse_qs(request.decode("ascii"))
        signature = form["assertion"][0].split(".")[2]
        signatures.append(signature)
        document = {
            "error": signature[:40],
            "error_description": "x" * 150 + " sig=" + signature[40:200],
        }
        body = json.dumps(document).encode()
        connection.sendall(
            b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )

    url = raw_server(echo_signature)
    with pytest.raises(TokenEndpointError) as info:
        credentials(key_file, url, timeout=5).get_token()
    shown = str(info.value) + (info.value.error or "")
    shown += info.value.error_description or ""
    assert len(signatures) == 1
    for start in range(0, 200, 8):
        assert signatures[0][start : start + 8] not in shown


def test_retry_deadline_bounds_dripping(
    raw_server: Callable[..., str], key_file: Path
) -> None:
    def drip(connection: socket.socket, request: bytes) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(100):
            connection.sendall(b"x")
            time.sleep(0.1)

    url = raw_server(drip)
    slow = IDTokenCredentials.from_service_account_file(
        key_file,
        target_audience="123-abc.apps.googleusercontent.com",
        token_uri=url,
        timeout=10,
        retry=RetryPolicy(max_attempts=1, deadline=1.5),
    )
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError, match="timed out"):
        slow.get_token()
    assert time.monotonic() - started < 5


def test_api_call_max_time(
    raw_server: Callable[..., str], key_file: Path, standin_session: GoogleStandIn
) -> None:
    def drip(connection: socket.socket, request: bytes) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"z" * 1000:
            connection.sendall(bytes([byte]))
            time.sleep(0.05)

    api_url = raw_server(drip).replace("/token", "/api")
    fetching = IDTokenCredentials.from_service_account_file(
        key_file,
        target_audience=standin_session.iap_client_id,
        token_uri=standin_session.token_uri,
        ca_bundle=standin_session.ca_bundle,
    )
    http = AuthorizedHTTP(fetching, max_time=1.0)
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError, match="did not complete within 1 s"):
        http.request("GET", api_url)
    assert time.monotonic() - started < 5
