"""AuthorizedHTTP against the stand-in's IAP and echo API."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from posos_jwt import (
    AuthorizedHTTP,
    ConfigurationError,
    HTTPStatusError,
    IAPError,
    IDTokenCredentials,
    TransportError,
)
from posos_jwt.testing import Fault, GoogleStandIn
from tests.support import SECRET_PATTERN

IAP_HEADERS = {"x-goog-iap-generated-response": "true"}
SIGN_IN = "https://accounts.google.com/o/oauth2/v2/auth"


def credentials_for(
    standin: GoogleStandIn, key_file: Path, audience: str | None = None
) -> IDTokenCredentials:
    return IDTokenCredentials.from_service_account_file(
        key_file,
        target_audience=audience or standin.iap_client_id,
        token_uri=standin.token_uri,
        ca_bundle=standin.ca_bundle,
    )


def iap_401(reason: str) -> Fault:
    return Fault(
        status=401,
        body="Invalid IAP credentials: " + reason,
        content_type="text/html; charset=utf-8",
        headers=IAP_HEADERS,
    )


@pytest.mark.parametrize(
    ("proxy_authorization", "header"),
    [(False, "authorization"), (True, "proxy-authorization")],
)
def test_request_reaches_api(
    standin: GoogleStandIn,
    key_file: Path,
    account: dict[str, str],
    proxy_authorization: bool,
    header: str,
) -> None:
    http = AuthorizedHTTP(
        credentials_for(standin, key_file), proxy_authorization=proxy_authorization
    )
    response = http.request("GET", standin.api_url + "/drugs?q=1")
    assert response.status == 200
    assert json.loads(response.body)["email"] == account["client_email"]
    assert standin.api_requests[-1].header_used == header
    assert standin.api_requests[-1].query == "q=1"


def test_body_and_headers_sent(standin: GoogleStandIn, key_file: Path) -> None:
    http = AuthorizedHTTP(credentials_for(standin, key_file))
    response = http.request(
        "POST",
        standin.api_url,
        body=b'{"a": 1}',
        headers={"Content-Type": "application/json"},
    )
    echo = json.loads(response.body)
    assert echo["method"] == "POST"
    assert echo["body_length"] == 8


def test_shares_credentials_pool(standin: GoogleStandIn, key_file: Path) -> None:
    credentials = credentials_for(standin, key_file)
    assert AuthorizedHTTP(credentials).transport is credentials.transport


def test_token_cached_across_requests(standin: GoogleStandIn, key_file: Path) -> None:
    http = AuthorizedHTTP(credentials_for(standin, key_file))
    for _ in range(5):
        http.request("GET", standin.api_url)
    assert standin.count("token") == 1
    assert standin.count("api") == 5


def test_iap_rejecting_once_retried(standin: GoogleStandIn, key_file: Path) -> None:
    standin.push_fault("api", iap_401("Expired JWT"))
    http = AuthorizedHTTP(credentials_for(standin, key_file))
    response = http.request("GET", standin.api_url)
    assert response.status == 200
    assert standin.count("token") == 2
    assert standin.count("api") == 2


def test_iap_always_rejecting_raises(
    standin: GoogleStandIn, key_file: Path, account: dict[str, str]
) -> None:
    # A token for another audience: the stand-in's IAP rejects it every time.
    credentials = credentials_for(standin, key_file, "other.apps.googleusercontent.com")
    http = AuthorizedHTTP(credentials)
    with pytest.raises(
        IAPError, match="rejected the ID token with HTTP 401 twice"
    ) as info:
        http.request("GET", standin.api_url)
    error = info.value
    assert "JWT audience doesn't match this application" in str(error)
    assert error.audience == "other.apps.googleusercontent.com"
    assert error.email == account["client_email"]
    assert error.status == 401
    assert error.exit_code == 7
    assert not SECRET_PATTERN.search(str(error))
    assert standin.count("token") == 2
    assert standin.count("api") == 2


def test_iap_sign_in_redirect_raises(standin: GoogleStandIn, key_file: Path) -> None:
    # IAP redirects a request that accepts text/html to sign in instead of
    # returning 401; the stand-in does this only without a token, so a fault
    # plays the case of a token that IAP does not accept.
    location = SIGN_IN + "?client_id=x&response_type=code"
    standin.push_fault(
        "api",
        Fault(status=302, headers={**IAP_HEADERS, "Location": location}),
    )
    http = AuthorizedHTTP(credentials_for(standin, key_file))
    with pytest.raises(IAPError, match="redirected the request to the sign-in page"):
        http.request("GET", standin.api_url, headers={"Accept": "text/html"})
    assert standin.count("api") == 1


def test_standin_redirect_recognised(standin: GoogleStandIn, key_file: Path) -> None:
    # The stand-in's own redirect, for a browser-like request without a token,
    # carries what AuthorizedHTTP recognises: IAP's header and the sign-in host.
    transport = credentials_for(standin, key_file).transport
    response = transport.request(
        "GET", standin.api_url, headers={"Accept": "text/html"}
    )
    assert response.status == 302
    assert response.headers["x-goog-iap-generated-response"] == "true"
    assert response.headers["location"].startswith(SIGN_IN + "?")


def test_application_401_returned(standin: GoogleStandIn, key_file: Path) -> None:
    standin.push_fault("api", Fault(status=401, body=b"log in to the app"))
    http = AuthorizedHTTP(credentials_for(standin, key_file))
    response = http.request("GET", standin.api_url)
    assert response.status == 401
    assert standin.count("token") == 1
    with pytest.raises(HTTPStatusError, match="HTTP 401: 'log in to the app'"):
        response.raise_for_status()


def test_error_status_excerpt_redacted(standin: GoogleStandIn, key_file: Path) -> None:
    echoed = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    standin.push_fault("api", Fault(status=500, body=f"failed on {echoed}"))
    http = AuthorizedHTTP(credentials_for(standin, key_file))
    response = http.request("GET", standin.api_url)
    with pytest.raises(
        HTTPStatusError, match=r"HTTP 500: 'failed on \[redacted JWT\]'"
    ):
        response.raise_for_status()


def test_body_over_1_mib_read(standin: GoogleStandIn, key_file: Path) -> None:
    body = b"x" * (2 * 1024 * 1024)
    standin.push_fault("api", Fault(status=200, body=body))
    http = AuthorizedHTTP(credentials_for(standin, key_file))
    assert http.request("GET", standin.api_url).body == body


def test_body_over_limit_raises(standin: GoogleStandIn, key_file: Path) -> None:
    http = AuthorizedHTTP(credentials_for(standin, key_file), max_body_size=10)
    with pytest.raises(
        TransportError, match=r"larger than 10 bytes: raise the limit .*--max-body-size"
    ):
        http.request("GET", standin.api_url)
    # The connection left with unread data was closed, not reused.
    standin.push_fault("api", Fault(status=200, body=b"short"))
    assert http.request("GET", standin.api_url).body == b"short"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://api.example.invalid/", "uses plain http"),
        ("ftp://127.0.0.1/", "not an http"),
        ("https://[::1/", "not valid"),
        ("https://127.0.0.1:99999/", "not valid"),
    ],
)
def test_unsafe_url_rejected(
    standin: GoogleStandIn, key_file: Path, url: str, message: str
) -> None:
    http = AuthorizedHTTP(credentials_for(standin, key_file))
    with pytest.raises(ConfigurationError, match=message):
        http.request("GET", url)
    assert standin.count("token") == 0


@pytest.mark.parametrize(
    ("proxy_authorization", "header"),
    [(False, "authorization"), (True, "Proxy-Authorization")],
)
def test_token_header_reserved(
    standin: GoogleStandIn, key_file: Path, proxy_authorization: bool, header: str
) -> None:
    http = AuthorizedHTTP(
        credentials_for(standin, key_file), proxy_authorization=proxy_authorization
    )
    with pytest.raises(ConfigurationError, match="header is set by posos-jwt"):
        http.request("GET", standin.api_url, headers={header: "Bearer x"})


@pytest.mark.parametrize(
    ("size", "message"), [(0, "positive number"), (1.5, "integer"), (True, "integer")]
)
def test_bad_max_body_size(
    standin: GoogleStandIn, key_file: Path, size: object, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        AuthorizedHTTP(credentials_for(standin, key_file), max_body_size=size)  # type: ignore[arg-type]


def test_repr_hides_token(standin: GoogleStandIn, key_file: Path) -> None:
    http = AuthorizedHTTP(credentials_for(standin, key_file))
    http.request("GET", standin.api_url)
    assert not SECRET_PATTERN.search(repr(http))


@pytest.mark.parametrize(
    "make_body",
    [lambda: b"q=1", lambda: "q=1", lambda: io.BytesIO(b"q=1")],
    ids=["bytes", "text", "file"],
)
def test_retry_resends_body(
    standin: GoogleStandIn, key_file: Path, make_body: Callable[[], Any]
) -> None:
    standin.push_fault("api", iap_401("Expired JWT"))
    http = AuthorizedHTTP(credentials_for(standin, key_file))
    response = http.request("POST", standin.api_url, body=make_body())
    assert response.status == 200
    assert json.loads(response.body)["body_length"] == 3


def test_retry_rewinds_file_to_start(
    standin: GoogleStandIn, key_file: Path, tmp_path: Path
) -> None:
    path = tmp_path / "body"
    path.write_bytes(b"skipped:q=1")
    standin.push_fault("api", iap_401("Expired JWT"))
    http = AuthorizedHTTP(credentials_for(standin, key_file))
    with path.open("rb") as file:
        file.seek(len(b"skipped:"))
        response = http.request("POST", standin.api_url, body=file)
    assert json.loads(response.body)["body_length"] == 3


def test_generator_body_not_resent(standin: GoogleStandIn, key_file: Path) -> None:
    standin.push_fault("api", iap_401("Expired JWT"))
    credentials = credentials_for(standin, key_file)
    http = AuthorizedHTTP(credentials)
    chunks = iter([b"q=", b"1"])
    with pytest.raises(IAPError, match="body could not be sent again") as info:
        http.request("POST", standin.api_url, body=chunks)
    assert info.value.status == 401
    assert not SECRET_PATTERN.search(str(info.value))
    assert standin.count("api") == 1
    assert credentials.id_token is None


def test_redirect_names_location(standin: GoogleStandIn, key_file: Path) -> None:
    location = "https://login.example.com/start?session=abc#top"
    standin.push_fault("api", Fault(status=302, headers={"Location": location}))
    response = AuthorizedHTTP(credentials_for(standin, key_file)).request(
        "GET", standin.api_url
    )
    with pytest.raises(
        HTTPStatusError,
        match=r"HTTP 302, a redirect to 'https://login\.example\.com/start', which",
    ) as info:
        response.raise_for_status()
    assert "session=abc" not in str(info.value)


def test_redirect_without_location(standin: GoogleStandIn, key_file: Path) -> None:
    standin.push_fault("api", Fault(status=301))
    response = AuthorizedHTTP(credentials_for(standin, key_file)).request(
        "GET", standin.api_url
    )
    with pytest.raises(HTTPStatusError, match=r"a redirect to \(no Location\)"):
        response.raise_for_status()
