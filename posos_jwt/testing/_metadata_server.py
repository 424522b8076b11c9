"""A stand-in for the metadata server of Google Cloud, on plain HTTP.

The real server listens at ``metadata.google.internal`` on the host's own
network, over plain HTTP. It serves only requests that carry
``Metadata-Flavor: Google``, and sets that header on every response. Its
identity endpoint issues a Google-signed ID token for the workload's default
service account, with ``email`` and ``email_verified`` only when the request
asks for ``format=full``. This stand-in does the same on 127.0.0.1, with ID
tokens signed by a :class:`GoogleStandIn`'s key, so its IAP accepts them.
"""

from __future__ import annotations

import http.server
import json
import logging
import threading
import urllib.parse
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from posos_jwt.testing._standin import GoogleStandIn

_LOGGER: Final = logging.getLogger(__name__)

FLAVOR_HEADER: Final = "Metadata-Flavor"
"""Header required on requests and set on every response."""

FLAVOR_VALUE: Final = "Google"
"""The value of :data:`FLAVOR_HEADER`."""

ACCOUNT_PATH: Final = "/computeMetadata/v1/instance/service-accounts/default"
"""Path of the default service account."""

IDENTITY_PATH: Final = ACCOUNT_PATH + "/identity"
"""Path that issues ID tokens for ``?audience=...``."""

EMAIL_PATH: Final = ACCOUNT_PATH + "/email"
"""Path that returns the default service account's email as text."""

ACCESS_TOKEN_PATH: Final = ACCOUNT_PATH + "/token"
"""Path that issues OAuth access tokens for the default service account."""

ACCESS_TOKEN_LIFETIME: Final = 3599
"""The ``expires_in`` of the access tokens, in seconds, as Google sends it."""

ROOT_LISTING: Final = b"computeMetadata/\n"
"""Body of ``GET /``, the path that clients probe to find the server."""

STOP_TIMEOUT: Final = 5.0
"""Seconds that stop() waits for the server thread to end."""


@dataclass(frozen=True)
class MetadataRequest:
    """One request that the metadata server received.

    Attributes:
        path: The path without the query string.
        query: The query parameters, the last value of each winning.
        flavor: The ``Metadata-Flavor`` request header, or None if absent.
    """

    path: str
    query: dict[str, str]
    flavor: str | None


class MetadataServer:
    """The metadata server of one workload, on ``127.0.0.1`` over plain HTTP.

    Point ``GCE_METADATA_HOST`` at :attr:`host` to use it.

    Attributes:
        service_account_email: The default service account, or None for a
            workload without one, which gets HTTP 404 from the identity path.
        send_flavor_header: Whether responses carry ``Metadata-Flavor:
            Google``. Set it to False to play a server that is not Google's.
    """

    def __init__(
        self, standin: GoogleStandIn, service_account_email: str | None
    ) -> None:
        """Create a stopped server that issues tokens signed by ``standin``.

        Args:
            standin: The running stand-in whose key signs the ID tokens.
            service_account_email: The default service account.
        """
        self.service_account_email = service_account_email
        self.send_flavor_header = True
        self._standin = standin
        self._lock = threading.Lock()
        self._requests: list[MetadataRequest] = []
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> MetadataServer:
        """Listen on a free port of 127.0.0.1 and serve in a daemon thread.

        Raises:
            RuntimeError: If the server is running already.
        """
        if self._server is not None:
            raise RuntimeError("the metadata server is running already")
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.metadata = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            args=(0.05,),
            name="posos-jwt-metadata-standin",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving. Stopping a server that is not running does nothing."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(STOP_TIMEOUT)

    def __enter__(self) -> MetadataServer:
        """Start the server and return it."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the value for ``GCE_METADATA_HOST``.

        Raises:
            RuntimeError: If the server is not running.
        """
        if self._server is None:
            raise RuntimeError("the metadata server is not running: call start()")
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> list[MetadataRequest]:
        """A copy of the records of the requests received, oldest first."""
        with self._lock:
            return list(self._requests)

    def respond(
        self, method: str, path: str, query: dict[str, str], flavor: str | None
    ) -> tuple[int, bytes, str]:
        """Return the status, body and content type for one request.

        Args:
            method: The request method.
            path: The path without the query string.
            query: The query parameters.
            flavor: The ``Metadata-Flavor`` request header, if any.
        """
        with self._lock:
            self._requests.append(MetadataRequest(path, query, flavor))
        if method != "GET":
            return 405, b"Method not allowed\n", "text/plain"
        if flavor != FLAVOR_VALUE:
            # NOTE: the stand-in's own wording; the real server's text differs.
            body = b"Missing required header: Metadata-Flavor: Google\n"
            return 403, body, "text/plain"
        if path == "/":
            return 200, ROOT_LISTING, "application/text"
        email = self.service_account_email
        if path in (IDENTITY_PATH, EMAIL_PATH, ACCESS_TOKEN_PATH) and email is None:
            body = b"No service account is attached to this workload\n"
            return 404, body, "text/html"
        if path == EMAIL_PATH and email is not None:
            return 200, email.encode("utf-8"), "application/text"
        if path == IDENTITY_PATH and email is not None:
            return self._identity(query, email)
        if path == ACCESS_TOKEN_PATH and email is not None:
            return self._access_token(email)
        return 404, b"Not found\n", "text/html"

    def _identity(self, query: dict[str, str], email: str) -> tuple[int, bytes, str]:
        audience = query.get("audience", "")
        if not audience:
            return 400, b"non-empty audience parameter required\n", "text/plain"
        if query.get("format") == "full":
            token = self._standin.issue_id_token(audience, email)
        else:
            token = self._standin.issue_id_token_without_email(audience, email)
        return 200, token.encode("ascii"), "text/html"

    def _access_token(self, email: str) -> tuple[int, bytes, str]:
        payload = {
            "access_token": self._standin.issue_access_token(email),
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "token_type": "Bearer",
        }
        return 200, json.dumps(payload).encode("utf-8"), "application/json"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Metadata Server for VM"

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        metadata: MetadataServer = self.server.metadata  # type: ignore[attr-defined]
        path, _, query_text = self.path.partition("?")
        query = dict(urllib.parse.parse_qsl(query_text, keep_blank_values=True))
        length = int(self.headers.get("Content-Length", "0") or "0")
        if length:
            self.rfile.read(length)
        status, body, content_type = metadata.respond(
            self.command, path, query, self.headers.get(FLAVOR_HEADER)
        )
        self.send_response(status)
        if metadata.send_flavor_header:
            self.send_header(FLAVOR_HEADER, FLAVOR_VALUE)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def version_string(self) -> str:
        """Return the ``Server`` header without http.server's Python version."""
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Log the method and path, never the query, which names the audience."""
        path = (getattr(self, "path", None) or "").partition("?")[0]
        _LOGGER.debug("metadata %s %s", getattr(self, "command", None), path)
