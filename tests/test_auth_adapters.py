"""IAPAuth as the auth= of requests and of httpx, against the stand-in's API."""

from __future__ import annotations

import http.server
import io
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import requests

from posos_jwt import ConfigurationError, IAPAuth, IAPError, IDTokenCredentials
from posos_jwt.testing import Fault, GoogleStandIn
from tests.support import SECRET_PATTERN

Get = Callable[[GoogleStandIn, str, IAPAuth], tuple[int, bytes]]

IAP_HEADERS = {"x-goog-iap-generated-response": "true"}


def credentials_for(
    standin: GoogleStandIn, key_file: Path, audience: str | None = None
) -> IDTokenCredentials:
    return IDTokenCredentials.from_service_account_file(
        key_file,
        target_audience=audience or standin.iap_client_id,
        token_uri=standin.token_uri,
        ca_bundle=standin.ca_bundle,
    )


def get_with_requests(
    standin: GoogleStandIn, url: str, auth: IAPAuth
) -> tuple[int, bytes]:
    # Redirects are followed, as by default: the auth object must stop IAP's.
    with requests.Session() as session:
        session.trust_env = False  # REQUESTS_CA_BUNDLE would replace `verify`
        response = session.get(url, auth=auth, verify=standin.ca_bundle)
        return response.status_code, response.content


def get_with_httpx(
    standin: GoogleStandIn, url: str, auth: IAPAuth
) -> tuple[int, bytes]:
    context = ssl.create_default_context(cafile=standin.ca_bundle)
    with httpx.Client(auth=auth, verify=context, trust_env=False) as client:
        response = client.get(url)
        return response.status_code, response.content


CLIENTS = pytest.mark.parametrize(
    "get", [get_with_requests, get_with_httpx], ids=["requests", "httpx"]
)


@CLIENTS
def test_client_reaches_api(
    standin: GoogleStandIn, key_file: Path, account: dict[str, str], get: Get
) -> None:
    auth = IAPAuth(credentials_for(standin, key_file))
    status, body = get(standin, standin.api_url + "/drugs", auth)
    assert status == 200
    assert json.loads(body)["email"] == account["client_email"]
    assert standin.api_requests[-1].header_used == "authorization"


@CLIENTS
def test_proxy_authorization_sent(
    standin: GoogleStandIn, key_file: Path, get: Get
) -> None:
    auth = IAPAuth(credentials_for(standin, key_file), proxy_authorization=True)
    status, _ = get(standin, standin.api_url, auth)
    assert status == 200
    assert standin.api_requests[-1].header_used == "proxy-authorization"


@CLIENTS
def test_token_cached_across_calls(
    standin: GoogleStandIn, key_file: Path, get: Get
) -> None:
    auth = IAPAuth(credentials_for(standin, key_file))
    for _ in range(3):
        get(standin, standin.api_url, auth)
    assert standin.count("token") == 1
    assert standin.count("api") == 3


@CLIENTS
def test_plain_http_rejected(standin: GoogleStandIn, key_file: Path, get: Get) -> None:
    auth = IAPAuth(credentials_for(standin, key_file))
    with pytest.raises(ConfigurationError, match="uses plain http"):
        get(standin, "http://api.example.invalid/", auth)
    assert standin.count("token") == 0


def test_repr_hides_token(standin: GoogleStandIn, key_file: Path) -> None:
    auth = IAPAuth(credentials_for(standin, key_file))
    get_with_requests(standin, standin.api_url, auth)
    assert not SECRET_PATTERN.search(repr(auth))


def iap_401() -> Fault:
    return Fault(
        status=401,
        body="Invalid IAP credentials: Expired JWT",
        content_type="text/html; charset=utf-8",
        headers=IAP_HEADERS,
    )


def test_requests_retries_iap_401(standin: GoogleStandIn, key_file: Path) -> None:
    standin.push_fault("api", iap_401())
    auth = IAPAuth(credentials_for(standin, key_file))
    status, _ = get_with_requests(standin, standin.api_url, auth)
    assert status == 200
    assert standin.count("token") == 2
    assert standin.count("api") == 2


def test_requests_always_rejected_raises(
    standin: GoogleStandIn, key_file: Path, account: dict[str, str]
) -> None:
    credentials = credentials_for(standin, key_file, "other.apps.googleusercontent.com")
    auth = IAPAuth(credentials)
    with pytest.raises(
        IAPError, match="rejected the ID token with HTTP 401 twice"
    ) as info:
        get_with_requests(standin, standin.api_url, auth)
    assert info.value.email == account["client_email"]
    assert not SECRET_PATTERN.search(str(info.value))
    assert standin.count("api") == 2


def test_requests_sign_in_redirect_raises(
    standin: GoogleStandIn, key_file: Path
) -> None:
    # The Location is on the stand-in, so that a followed redirect would stay
    # on loopback and show up in the API count.
    location = standin.api_url + "/sign-in"
    standin.push_fault(
        "api", Fault(status=302, headers={**IAP_HEADERS, "Location": location})
    )
    auth = IAPAuth(credentials_for(standin, key_file))
    with pytest.raises(IAPError, match="redirected the request to the sign-in page"):
        get_with_requests(standin, standin.api_url, auth)
    assert standin.count("api") == 1


def test_httpx_returns_iap_401(standin: GoogleStandIn, key_file: Path) -> None:
    standin.push_fault("api", iap_401())
    auth = IAPAuth(credentials_for(standin, key_file))
    status, body = get_with_httpx(standin, standin.api_url, auth)
    assert status == 401
    assert body == b"Invalid IAP credentials: Expired JWT"
    assert standin.count("api") == 1


class _RejectingHandler(http.server.BaseHTTPRequestHandler):
    """Responds to every GET with 401 marked as IAP's, and records the
    credential headers that it received."""

    received: ClassVar[list[tuple[str | None, str | None]]] = []

    def do_GET(self) -> None:
        self.received.append(
            (self.headers.get("Authorization"), self.headers.get("Proxy-Authorization"))
        )
        self.send_response(401)
        self.send_header("x-goog-iap-generated-response", "true")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@pytest.fixture
def other_host() -> Iterator[tuple[str, list[tuple[str | None, str | None]]]]:
    """A plain http server on loopback that claims to be IAP, and the
    credential headers it received."""
    received: list[tuple[str | None, str | None]] = []
    handler = type("Handler", (_RejectingHandler,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/collect", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize("proxy_authorization", [False, True])
def test_requests_redirect_gets_no_token(
    standin: GoogleStandIn,
    key_file: Path,
    other_host: tuple[str, list[tuple[str | None, str | None]]],
    proxy_authorization: bool,
) -> None:
    collect_url, received = other_host
    standin.push_fault("api", Fault(status=302, headers={"Location": collect_url}))
    auth = IAPAuth(
        credentials_for(standin, key_file), proxy_authorization=proxy_authorization
    )
    status, _ = get_with_requests(standin, standin.api_url, auth)
    assert status == 401
    assert received == [(None, None)]
    assert standin.count("token") == 1


def test_requests_other_401_keeps_token(
    standin: GoogleStandIn,
    key_file: Path,
    other_host: tuple[str, list[tuple[str | None, str | None]]],
) -> None:
    collect_url, _ = other_host
    standin.push_fault("api", Fault(status=302, headers={"Location": collect_url}))
    credentials = credentials_for(standin, key_file)
    get_with_requests(standin, standin.api_url, IAPAuth(credentials))
    assert credentials.id_token is not None


@pytest.mark.parametrize(
    "make_body",
    [
        lambda: b'{"q": 1}',
        lambda: '{"q": 1}',
        lambda: io.BytesIO(b'{"q": 1}'),
    ],
    ids=["bytes", "text", "file"],
)
def test_requests_retry_resends_body(
    standin: GoogleStandIn, key_file: Path, make_body: Callable[[], Any]
) -> None:
    standin.push_fault("api", iap_401())
    auth = IAPAuth(credentials_for(standin, key_file))
    with requests.Session() as session:
        session.trust_env = False
        response = session.post(
            standin.api_url, data=make_body(), auth=auth, verify=standin.ca_bundle
        )
    assert response.status_code == 200
    assert json.loads(response.content)["body_length"] == len(b'{"q": 1}')


def test_requests_generator_body_not_resent(
    standin: GoogleStandIn, key_file: Path
) -> None:
    standin.push_fault("api", iap_401())
    credentials = credentials_for(standin, key_file)
    chunks = iter([b'{"q": ', b"1}"])
    with requests.Session() as session:
        session.trust_env = False
        with pytest.raises(IAPError, match="body could not be sent again"):
            session.post(
                standin.api_url,
                data=chunks,
                auth=IAPAuth(credentials),
                verify=standin.ca_bundle,
            )
    assert standin.count("api") == 1
    assert credentials.id_token is None
