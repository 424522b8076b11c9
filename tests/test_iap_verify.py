"""IAP's signed header: the stand-in signs it, verify_iap_jwt verifies it."""

from __future__ import annotations

import json

import jwt
import pytest
import urllib3

from posos_jwt import (
    ConfigurationError,
    KeySet,
    TokenAlgorithmError,
    TokenAudienceError,
    TokenExpiredError,
    TokenIssuerError,
    TokenLifetimeError,
    TokenSignatureError,
    verify_iap_jwt,
)
from posos_jwt.testing import DEFAULT_BACKEND_AUDIENCE, GoogleStandIn
from tests.forgery import with_payload_byte_changed
from tests.support import google_auth_reads_jwks

OTHER_BACKEND = "/projects/123456789012/global/backendServices/999"


@pytest.fixture
def iap_keys(standin: GoogleStandIn) -> KeySet:
    return KeySet(standin.iap_jwk_uri, ca_bundle=standin.ca_bundle)


def call_api(standin: GoogleStandIn, email: str) -> int:
    token = standin.issue_id_token(standin.iap_client_id, email)
    with urllib3.PoolManager(ca_certs=standin.ca_bundle) as http:
        response = http.request(
            "GET",
            standin.api_url + "/hello",
            headers={"Authorization": "Bearer " + token},
        )
    return response.status


def test_forwarded_header_verifies(
    standin: GoogleStandIn, account: dict[str, str], iap_keys: KeySet
) -> None:
    assert call_api(standin, account["client_email"]) == 200
    assertion = standin.api_requests[-1].iap_jwt_assertion
    assert assertion is not None
    claims = verify_iap_jwt(assertion, standin.iap_backend_audience, key_set=iap_keys)
    assert claims["email"] == account["client_email"]
    assert claims["sub"] == "accounts.google.com:" + account["client_id"]
    assert claims["aud"] == DEFAULT_BACKEND_AUDIENCE
    assert claims["iss"] == "https://cloud.google.com/iap"


def test_rejected_request_has_no_header(standin: GoogleStandIn) -> None:
    with urllib3.PoolManager(ca_certs=standin.ca_bundle) as http:
        response = http.request("GET", standin.api_url + "/hello")
    assert response.status == 401
    assert standin.api_requests[-1].iap_jwt_assertion is None


def test_other_backend_rejected(standin: GoogleStandIn, iap_keys: KeySet) -> None:
    assertion = standin.issue_iap_jwt("user@example.com", audience=OTHER_BACKEND)
    with pytest.raises(TokenAudienceError, match="backendServices/999'") as info:
        verify_iap_jwt(assertion, standin.iap_backend_audience, key_set=iap_keys)
    assert info.value.expected == standin.iap_backend_audience


def test_app_engine_audience_accepted(standin: GoogleStandIn, iap_keys: KeySet) -> None:
    audience = "/projects/123456789012/apps/posos-preprod"
    assertion = standin.issue_iap_jwt("user@example.com", audience=audience)
    claims = verify_iap_jwt(assertion, audience, key_set=iap_keys)
    assert claims["aud"] == audience


def test_shared_key_set_one_fetch(standin: GoogleStandIn) -> None:
    assertion = standin.issue_iap_jwt("user@example.com")
    for _ in range(1000):
        verify_iap_jwt(
            assertion,
            standin.iap_backend_audience,
            certs_url=standin.iap_jwk_uri,
            ca_bundle=standin.ca_bundle,
        )
    assert standin.count("iap_keys") == 1


@pytest.mark.parametrize(
    "audience",
    [
        "123456789012",
        "/projects/abc/apps/posos",
        "/projects/1/apps/",
        "/projects/1/global/backendServices/name",
        "/projects/1/global/backendServices/2/extra",
        "1234-abc.apps.googleusercontent.com",
    ],
)
def test_expected_audience_form_checked(iap_keys: KeySet, audience: str) -> None:
    with pytest.raises(ConfigurationError, match="has neither form /projects/"):
        verify_iap_jwt("a.b.c", audience, key_set=iap_keys)


def test_id_token_rejected(standin: GoogleStandIn, iap_keys: KeySet) -> None:
    token = standin.issue_id_token(standin.iap_backend_audience, "user@example.com")
    with pytest.raises(TokenAlgorithmError, match="alg is 'RS256', but only ES256"):
        verify_iap_jwt(token, standin.iap_backend_audience, key_set=iap_keys)


def test_wrong_issuer(standin: GoogleStandIn, iap_keys: KeySet) -> None:
    assertion = standin.issue_iap_jwt(
        "user@example.com", iss="https://accounts.google.com"
    )
    with pytest.raises(TokenIssuerError, match=r"not https://cloud\.google\.com/iap"):
        verify_iap_jwt(assertion, standin.iap_backend_audience, key_set=iap_keys)


def test_expired(standin: GoogleStandIn, iap_keys: KeySet) -> None:
    assertion = standin.issue_iap_jwt("user@example.com", lifetime=-300)
    with pytest.raises(TokenExpiredError, match="IAP JWT expired at"):
        verify_iap_jwt(assertion, standin.iap_backend_audience, key_set=iap_keys)


def test_changed_byte(standin: GoogleStandIn, iap_keys: KeySet) -> None:
    assertion = with_payload_byte_changed(standin.issue_iap_jwt("user@example.com"))
    with pytest.raises(TokenSignatureError, match="IAP JWT signature"):
        verify_iap_jwt(assertion, standin.iap_backend_audience, key_set=iap_keys)


def test_standin_header_verifies_with_pyjwt(standin: GoogleStandIn) -> None:
    with urllib3.PoolManager(ca_certs=standin.ca_bundle) as http:
        response = http.request("GET", standin.iap_jwk_uri)
    assert response.status == 200
    assert "max-age=" in response.headers["Cache-Control"]
    jwk = jwt.PyJWK(json.loads(response.data)["keys"][0])
    claims = jwt.decode(
        standin.issue_iap_jwt("user@example.com"),
        jwk.key,
        algorithms=["ES256"],
        audience=standin.iap_backend_audience,
        issuer="https://cloud.google.com/iap",
    )
    assert claims["email"] == "user@example.com"


@pytest.mark.skipif(
    not google_auth_reads_jwks(),
    reason="google-auth reads JWKS through PyJWK.algorithm_name (pyjwt 2.9+)",
)
def test_standin_header_verifies_with_google_auth(standin: GoogleStandIn) -> None:
    import requests
    from google.auth.transport.requests import Request
    from google.oauth2 import id_token

    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would replace `verify`
    session.verify = standin.ca_bundle
    claims = id_token.verify_token(
        standin.issue_iap_jwt("user@example.com"),
        Request(session),
        audience=standin.iap_backend_audience,
        certs_url=standin.iap_jwk_uri,
    )
    assert claims["iss"] == "https://cloud.google.com/iap"


def test_lifetime_over_ten_minutes(standin: GoogleStandIn, iap_keys: KeySet) -> None:
    assertion = standin.issue_iap_jwt("user@example.com", lifetime=3600)
    message = "3600 s after iat, more than the 660 s"
    with pytest.raises(TokenLifetimeError, match=message) as info:
        verify_iap_jwt(assertion, standin.iap_backend_audience, key_set=iap_keys)
    assert info.value.claim == "exp"


def test_lifetime_within_skew_accepted(
    standin: GoogleStandIn, iap_keys: KeySet
) -> None:
    assertion = standin.issue_iap_jwt("user@example.com", lifetime=660)
    claims = verify_iap_jwt(assertion, standin.iap_backend_audience, key_set=iap_keys)
    assert claims["exp"] - claims["iat"] == 660
