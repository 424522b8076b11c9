"""The whole flow over real HTTPS on loopback, against the Google stand-in."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import urllib3

from posos_jwt import (
    ConfigurationError,
    IDTokenCredentials,
    RequestTimeoutError,
    RetryPolicy,
    TLSError,
    TokenCheckError,
    TokenEndpointError,
    TransportError,
    fetch_id_token,
)
from posos_jwt.testing import Fault, GoogleStandIn
from tests.clocks import ShiftedClock
from tests.support import fixture_bytes, google_auth_reads_jwks

ONE_ATTEMPT = RetryPolicy(max_attempts=1)


def credentials_for(
    standin: GoogleStandIn, key_file: Path, **options: object
) -> IDTokenCredentials:
    settings: dict[str, object] = {
        "token_uri": standin.token_uri,
        "ca_bundle": standin.ca_bundle,
    }
    settings.update(options)
    return IDTokenCredentials.from_service_account_file(
        key_file, target_audience=standin.iap_client_id, **settings
    )


def call_api(standin: GoogleStandIn, token: str) -> urllib3.BaseHTTPResponse:
    http = urllib3.PoolManager(ca_certs=standin.ca_bundle)
    return http.request(
        "GET", standin.api_url + "/ping", headers={"Authorization": "Bearer " + token}
    )


def test_fetch_id_token_reaches_api(
    standin: GoogleStandIn, key_file: Path, account: dict[str, str]
) -> None:
    token = fetch_id_token(
        standin.iap_client_id,
        key_file,
        token_uri=standin.token_uri,
        ca_bundle=standin.ca_bundle,
    )
    response = call_api(standin, token)
    assert response.status == 200
    assert json.loads(response.data)["email"] == account["client_email"]
    assert standin.count("token") == 1


def test_fetch_id_token_from_environment(
    standin: GoogleStandIn, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    monkeypatch.setenv("POSOS_JWT_TOKEN_URI", standin.token_uri)
    token = fetch_id_token(standin.iap_client_id, ca_bundle=standin.ca_bundle)
    assert call_api(standin, token).status == 200


GOOGLE_AUTH_CERTS = [
    pytest.param(
        "jwks",
        marks=pytest.mark.skipif(
            not google_auth_reads_jwks(),
            reason="google-auth reads JWKS through PyJWK.algorithm_name (pyjwt 2.9+)",
        ),
    ),
    "v1",
]


@pytest.mark.parametrize("certs", GOOGLE_AUTH_CERTS)
def test_google_auth_verifies_token(
    standin: GoogleStandIn, key_file: Path, certs: str
) -> None:
    import requests
    from google.auth.transport.requests import Request
    from google.oauth2 import id_token

    token = credentials_for(standin, key_file).get_token()
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would replace `verify`
    session.verify = standin.ca_bundle
    claims = id_token.verify_token(
        token,
        Request(session),
        audience=standin.iap_client_id,
        certs_url=standin.jwks_uri if certs == "jwks" else standin.certs_v1_uri,
    )
    assert claims["aud"] == standin.iap_client_id


def test_token_request_format(standin: GoogleStandIn, key_file: Path) -> None:
    credentials_for(standin, key_file).get_token()
    record = standin.token_requests[-1]
    assert record.headers["content-type"] == "application/x-www-form-urlencoded"
    assert set(record.form) == {"grant_type", "assertion"}
    assert record.form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"


def test_token_cached(standin: GoogleStandIn, key_file: Path) -> None:
    credentials = credentials_for(standin, key_file)
    first = credentials.get_token()
    assert credentials.get_token() == first
    assert standin.count("token") == 1


def test_new_assertion_per_request(standin: GoogleStandIn, key_file: Path) -> None:
    clock = ShiftedClock()
    credentials = credentials_for(standin, key_file, clock=clock)
    credentials.refresh()
    clock.offset = -5
    credentials.refresh()
    first, second = (r.assertion for r in standin.token_requests[-2:])
    assert first != second
    assert standin.count("token") == 2


def test_expiring_token_refreshed(standin: GoogleStandIn, key_file: Path) -> None:
    clock = ShiftedClock()
    credentials = credentials_for(standin, key_file, clock=clock)
    credentials.get_token()
    clock.offset = 3600 + 1
    # The moved clock makes the stand-in reject the assertion's iat, which
    # proves that a request was sent; the clock correction then signs again.
    credentials.get_token()
    assert standin.count("token") == 3


def test_blank_client_id_sends_nothing(standin: GoogleStandIn, key_file: Path) -> None:
    with pytest.raises(ConfigurationError, match="client ID is empty"):
        fetch_id_token(
            " ", key_file, token_uri=standin.token_uri, ca_bundle=standin.ca_bundle
        )
    assert standin.count("token") == 0


def test_revoked_key(
    standin: GoogleStandIn, key_file: Path, account: dict[str, str]
) -> None:
    standin.revoke_key(account["private_key_id"])
    with pytest.raises(TokenEndpointError, match="Invalid JWT Signature") as info:
        credentials_for(standin, key_file).get_token()
    assert info.value.status == 400
    assert info.value.error == "invalid_grant"
    assert not info.value.retryable


def test_deleted_account(
    standin: GoogleStandIn, key_file: Path, account: dict[str, str]
) -> None:
    standin.delete_account(account["client_email"])
    with pytest.raises(TokenEndpointError, match="account not found"):
        credentials_for(standin, key_file).get_token()


@pytest.mark.parametrize("offset", [-7200, 7200])
def test_clock_far_off(standin: GoogleStandIn, key_file: Path, offset: int) -> None:
    credentials = credentials_for(standin, key_file, clock=ShiftedClock(offset))
    credentials.get_token()
    assert abs(credentials.clock_offset + offset) < 5


def test_html_502(standin: GoogleStandIn, key_file: Path) -> None:
    body = fixture_bytes("token_endpoint", "html_502.html")
    standin.push_fault("token", Fault(status=502, body=body, content_type="text/html"))
    with pytest.raises(TokenEndpointError, match="HTTP 502") as info:
        credentials_for(standin, key_file, retry=ONE_ATTEMPT).get_token()
    assert info.value.retryable
    assert "<" not in str(info.value)


def test_redirect_not_followed(standin: GoogleStandIn, key_file: Path) -> None:
    fault = Fault(status=302, headers={"Location": standin.token_uri + "/elsewhere"})
    standin.push_fault("token", fault)
    with pytest.raises(TokenEndpointError, match="HTTP 302"):
        credentials_for(standin, key_file).get_token()
    assert standin.count("token") == 1


def test_access_token_only(standin: GoogleStandIn, key_file: Path) -> None:
    standin.push_fault("token", Fault(omit_id_token=True))
    with pytest.raises(TokenEndpointError, match="without an id_token"):
        credentials_for(standin, key_file).get_token()


@pytest.mark.parametrize(
    ("claims", "claim"),
    [
        ({"exp": 1_000_000_000}, "exp"),
        ({"aud": "another-client-id"}, "aud"),
        ({"email": "someone@else.iam.gserviceaccount.com"}, "email"),
    ],
)
def test_returned_token_checked(
    standin: GoogleStandIn, key_file: Path, claims: dict[str, object], claim: str
) -> None:
    standin.push_fault("token", Fault(id_token_claims=claims))
    with pytest.raises(TokenCheckError) as info:
        credentials_for(standin, key_file).get_token()
    assert info.value.claim == claim


def test_dropped_connection(standin: GoogleStandIn, key_file: Path) -> None:
    standin.push_fault("token", Fault(drop=True))
    with pytest.raises(TransportError, match=r"127\.0\.0\.1"):
        credentials_for(standin, key_file, retry=ONE_ATTEMPT).get_token()


def test_read_timeout(standin: GoogleStandIn, key_file: Path) -> None:
    standin.push_fault("token", Fault(delay=2.0))
    credentials = credentials_for(standin, key_file, timeout=0.5, retry=ONE_ATTEMPT)
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError, match="timed out") as info:
        credentials.get_token()
    assert time.monotonic() - started < 1.9
    assert info.value.host == "127.0.0.1"
    assert "127.0.0.1" in str(info.value)


def test_untrusted_certificate(
    standin: GoogleStandIn, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    credentials = credentials_for(standin, key_file, ca_bundle=None)
    with pytest.raises(TLSError, match="could not be verified") as info:
        credentials.get_token()
    assert "--ca-bundle" in str(info.value)
    assert not info.value.retryable


def test_ssl_cert_file_honoured(
    standin: GoogleStandIn, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", standin.ca_bundle)
    credentials = credentials_for(standin, key_file, ca_bundle=None)
    assert call_api(standin, credentials.get_token()).status == 200


@pytest.mark.parametrize(
    ("ca_bundle", "message"),
    [("/nonexistent/ca.pem", "not found"), (__file__, "no valid PEM")],
)
def test_bad_ca_bundle(
    standin: GoogleStandIn, key_file: Path, ca_bundle: str, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        credentials_for(standin, key_file, ca_bundle=ca_bundle)


def test_errors_never_show_secrets(
    standin: GoogleStandIn, key_file: Path, account: dict[str, str]
) -> None:
    """Every error of the flow is free of the assertion, key and token."""
    faults = [
        Fault(status=400, body=b"echo: " + b"eyJhbGciOiJSUzI1NiJ9.eyJ4IjoxfQ.sig"),
        Fault(status=502, body=fixture_bytes("token_endpoint", "html_502.html")),
        Fault(id_token_claims={"aud": "other"}),
        Fault(drop=True),
    ]
    messages = []
    for fault in faults:
        standin.push_fault("token", fault)
        with pytest.raises(Exception) as info:  # noqa: PT011
            credentials_for(standin, key_file, retry=ONE_ATTEMPT).get_token()
        messages.append(str(info.value) + repr(info.value))
    assert len(standin.token_requests) == len(faults)
    secrets = [r.assertion or "" for r in standin.token_requests]
    key_lines = account["private_key"].splitlines()[1:-1]
    for message in messages:
        assert "eyJ" not in message
        for secret in secrets:
            assert secret not in message
        for line in key_lines:
            assert line not in message
