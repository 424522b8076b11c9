"""Tests of posos_jwt.testing, the stand-in for Google's token endpoint and IAP.

They talk to the stand-in over real HTTPS with urllib3 alone, so that a fault in
the stand-in is not hidden by the library that the stand-in exists to test.
"""

from __future__ import annotations

import base64
import email.utils
import json
import os
import pathlib
import stat
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import jwt
import pytest
import urllib3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from posos_jwt.testing import (
    DEFAULT_IAP_CLIENT_ID,
    Fault,
    GoogleStandIn,
    write_key_file,
)

FIXTURES: Final = pathlib.Path(__file__).resolve().parent.parent / "vendor_fixtures"
"""Recorded vendor responses and test keys, replayed by these tests."""

JWT_BEARER: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
"""The grant type of every service-account token request."""

GOOGLE_TOKEN_URI: Final = "https://oauth2.googleapis.com/token"
"""The ``aud`` that Google requires in assertions."""

TARGET_AUDIENCE: Final = DEFAULT_IAP_CLIENT_ID
"""The ``target_audience`` of the assertions, so that the token passes IAP."""

OTHER_CLIENT_ID: Final = (
    "987654321098-otherotherotherotherotherother00.apps.googleusercontent.com"
)
"""The wrong audience named in iap/401_audience.txt."""

ENCRYPTED_KEY_PASSWORD: Final = b"posos-jwt-test-only"
"""Password of keys/service_account_encrypted.json, given in the fixtures README."""


# Fixtures and helpers


@pytest.fixture(scope="module")
def standin() -> Iterator[GoogleStandIn]:
    """Run one stand-in for the module, because each start generates keys."""
    with GoogleStandIn() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_state(standin: GoogleStandIn) -> None:
    standin.clock_offset = 0.0
    standin.token_lifetime = 3600
    standin.clear_faults()
    standin.reset_counts()


@pytest.fixture(scope="module")
def account(standin: GoogleStandIn) -> dict[str, str]:
    """Create the service account that most tests sign with."""
    return standin.new_account(
        "posos-standin-test@posos-jwt-tests.iam.gserviceaccount.com"
    )


@pytest.fixture
def http(standin: GoogleStandIn) -> Iterator[urllib3.PoolManager]:
    """Make a client that trusts the stand-in's CA and never retries."""
    pool = urllib3.PoolManager(ca_certs=standin.ca_bundle, retries=False, timeout=5.0)
    yield pool
    pool.clear()


def load_fixture(relative_path: str) -> Any:
    """Return the parsed JSON of a file under vendor_fixtures."""
    return json.loads((FIXTURES / relative_path).read_text(encoding="utf-8"))


def claims_for(key_info: Mapping[str, str], **overrides: object) -> dict[str, Any]:
    """Build valid assertion claims for ``key_info``. An override of None removes."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": key_info["client_email"],
        "aud": GOOGLE_TOKEN_URI,
        "iat": now,
        "exp": now + 3600,
        "target_audience": TARGET_AUDIENCE,
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def sign(claims: Mapping[str, Any], key_info: Mapping[str, str]) -> str:
    """Sign an assertion with RS256 and the key file's key id, as a client does."""
    headers = {"kid": key_info["private_key_id"]}
    private_key = key_info["private_key"]
    return jwt.encode(dict(claims), private_key, algorithm="RS256", headers=headers)


def sign_without_pyjwt(claims: Mapping[str, Any], key_info: Mapping[str, str]) -> str:
    """Sign RS256 with cryptography directly, for keys that pyjwt warns about."""
    key = serialization.load_pem_private_key(key_info["private_key"].encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    header = {"alg": "RS256", "typ": "JWT", "kid": key_info["private_key_id"]}
    segments = [_base64url(json.dumps(part).encode()) for part in (header, claims)]
    signing_input = ".".join(segments).encode()
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode()}.{_base64url(signature)}"


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def post_token(
    http: urllib3.PoolManager,
    standin: GoogleStandIn,
    assertion: str | None,
    grant_type: str = JWT_BEARER,
) -> urllib3.BaseHTTPResponse:
    """POST a form to the stand-in's token endpoint."""
    form = {"grant_type": grant_type}
    if assertion is not None:
        form["assertion"] = assertion
    return post_raw(http, standin, urllib.parse.urlencode(form))


def post_raw(
    http: urllib3.PoolManager,
    standin: GoogleStandIn,
    body: str,
    content_type: str = "application/x-www-form-urlencoded",
) -> urllib3.BaseHTTPResponse:
    """POST a raw body to the stand-in's token endpoint."""
    headers = {"Content-Type": content_type}
    return http.request("POST", standin.token_uri, body=body, headers=headers)


def id_token_for(
    http: urllib3.PoolManager, standin: GoogleStandIn, key_info: Mapping[str, str]
) -> str:
    """Exchange a fresh assertion for an ID token."""
    response = post_token(http, standin, sign(claims_for(key_info), key_info))
    assert response.status == 200, response.data
    token: str = json.loads(response.data)["id_token"]
    return token


def call_api(
    http: urllib3.PoolManager, standin: GoogleStandIn, headers: Mapping[str, str]
) -> urllib3.BaseHTTPResponse:
    """GET the IAP-protected echo API with the given headers."""
    return http.request("GET", standin.api_url, headers=dict(headers), redirect=False)


# Token endpoint: success


def test_token_success_returns_only_id_token(
    standin: GoogleStandIn, http: urllib3.PoolManager, account: dict[str, str]
) -> None:
    assertion = sign(claims_for(account), account)
    response = post_token(http, standin, assertion)

    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    cache_control = "no-cache, no-store, max-age=0, must-revalidate"
    assert response.headers["Cache-Control"] == cache_control
    body = json.loads(response.data)
    assert list(body) == ["id_token"]
    assert list(load_fixture("token_endpoint/success.json")) == ["id_token"]
    assert standin.token_requests[-1].assertion == assertion
    assert standin.token_requests[-1].form["grant_type"] == JWT_BEARER
    expected_type = "application/x-www-form-urlencoded"
    assert standin.token_requests[-1].headers["content-type"] == expected_type


def test_id_token_claims_and_jwks_signature(
    standin: GoogleStandIn, http: urllib3.PoolManager, account: dict[str, str]
) -> None:
    token = id_token_for(http, standin, account)
    jwks = json.loads(http.request("GET", standin.jwks_uri).data)
    key = jwt.PyJWK(jwks["keys"][0])

    assert jwt.get_unverified_header(token)["kid"] == key.key_id
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=TARGET_AUDIENCE)
    assert claims["iss"] == "https://accounts.google.com"
    assert claims["email"] == account["client_email"]
    assert claims["email_verified"] is True
    assert claims["sub"] == account["client_id"]
    assert claims["azp"] == account["client_id"]
    assert claims["exp"] - claims["iat"] == 3600
    assert abs(claims["iat"] - time.time()) < 5


def test_v1_certs_verify_id_token(
    standin: GoogleStandIn, http: urllib3.PoolManager, account: dict[str, str]
) -> None:
    token = id_token_for(http, standin, account)
    response = http.request("GET", standin.certs_v1_uri)
    certificates = json.loads(response.data)
    key_id = jwt.get_unverified_header(token)["kid"]
    certificate = x509.load_pem_x509_certificate(certificates[key_id].encode())

    cache_control = "public, max-age=21600, must-revalidate, no-transform"
    assert response.headers["Cache-Control"] == cache_control
    claims = jwt.decode(
        token,
        certificate.public_key(),  # type: ignore[arg-type]
        algorithms=["RS256"],
        audience=TARGET_AUDIENCE,
    )
    assert claims["email"] == account["client_email"]
    assert standin.count("certs") == 1


def test_token_lifetime_is_settable(
    standin: GoogleStandIn, http: urllib3.PoolManager, account: dict[str, str]
) -> None:
    standin.token_lifetime = 60
    claims = jwt.decode(
        id_token_for(http, standin, account), options={"verify_signature": False}
    )

    assert claims["exp"] - claims["iat"] == 60


def test_scope_only_gets_access_token(
    standin: GoogleStandIn, http: urllib3.PoolManager, account: dict[str, str]
) -> None:
    claims = claims_for(account, target_audience=None, scope="openid email")
    response = post_token(http, standin, sign(claims, account))

    assert response.status == 200
    body = json.loads(response.data)
    assert set(body) == set(load_fixture("token_endpoint/access_token_only.json"))
    assert body["access_token"].startswith("ya29.")
    assert body["token_type"] == "Bearer"


# Token endpoint: errors


def _now() -> int:
    return int(time.time())


def _signed_by_vendor_key(key_info: dict[str, str]) -> str:
    # The key id and issuer of key_info, but another key's signature.
    vendor_key = load_fixture("keys/service_account.json")["private_key"]
    return sign(claims_for(key_info), {**key_info, "private_key": vendor_key})


AssertionMaker = Callable[[dict[str, str]], str]

ERROR_CASES: Final[list[tuple[str, AssertionMaker, str]]] = [
    (
        "unknown_key_id",
        lambda key: sign(claims_for(key), {**key, "private_key_id": "0" * 40}),
        "invalid_grant_signature.json",
    ),
    ("signed_by_other_key", _signed_by_vendor_key, "invalid_grant_signature.json"),
    (
        "unknown_issuer",
        lambda key: sign(
            claims_for(key, iss="nobody@posos-jwt-tests.iam.gserviceaccount.com"), key
        ),
        "invalid_grant_account_not_found.json",
    ),
    (
        "iat_and_exp_too_far_apart",
        lambda key: sign(claims_for(key, exp=_now() + 3601), key),
        "invalid_grant_short_lived.json",
    ),
    (
        "iat_in_future",
        lambda key: sign(claims_for(key, iat=_now() + 120, exp=_now() + 600), key),
        "invalid_grant_short_lived.json",
    ),
    (
        "expired",
        lambda key: sign(claims_for(key, iat=_now() - 700, exp=_now() - 100), key),
        "invalid_grant_short_lived.json",
    ),
    (
        "iat_not_integer",
        lambda key: sign(claims_for(key, iat=str(_now())), key),
        "invalid_grant_short_lived.json",
    ),
    (
        "no_target_audience_no_scope",
        lambda key: sign(claims_for(key, target_audience=None), key),
        "invalid_scope.json",
    ),
    (
        "blank_target_audience",
        lambda key: sign(claims_for(key, target_audience="  "), key),
        "invalid_scope.json",
    ),
]


@pytest.mark.parametrize(
    ("make_assertion", "fixture"),
    [(maker, fixture) for _, maker, fixture in ERROR_CASES],
    ids=[name for name, _, _ in ERROR_CASES],
)
def test_token_error_matches_vendor_fixture(
    standin: GoogleStandIn,
    http: urllib3.PoolManager,
    account: dict[str, str],
    make_assertion: AssertionMaker,
    fixture: str,
) -> None:
    response = post_token(http, standin, make_assertion(account))

    assert response.status == 400
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(response.data) == load_fixture(f"token_endpoint/{fixture}")
    assert standin.count("token") == 1


def test_wrong_audience_fails_audience_check(
    standin: GoogleStandIn, http: urllib3.PoolManager, account: dict[str, str]
) -> None:
    claims = claims_for(account, aud="https://www.googleapis.com/oauth2/v4/token")
    response = post_token(http, standin, sign(claims, account))

    assert response.status == 400
    assert json.loads(response.data) == {
        "error": "invalid_grant",
        "error_description": "Invalid JWT: Failed audience check.",
    }


def test_unsupported_grant_type_names_value(
    standin: GoogleStandIn, http: urllib3.PoolManager, account: dict[str, str]
) -> None:
    assertion = sign(claims_for(account), account)
    response = post_token(http, standin, assertion, grant_type="client_credentials")

    assert response.status == 400
    expected = load_fixture("token_endpoint/unsupported_grant_type.json")
    assert json.loads(response.data) == expected


def test_issuer_must_own_key_id(
    standin: GoogleStandIn, http: urllib3.PoolManager, account: dict[str, str]
) -> None:
    vendor_key = load_fixture("keys/service_account.json")
    standin.register_account(vendor_key)
    claims = claims_for(account, iss=vendor_key["client_email"])
    response = post_token(http, standin, sign(claims, account))

    assert json.loads(response.data) == load_fixture(
        "token_endpoint/invalid_grant_signature.json"
    )


def test_deleted_account_not_found(
    standin: GoogleStandIn, http: urllib3.PoolManager
) -> None:
    doomed = standin.new_account()
    standin.delete_account(doomed["client_email"])
    response = post_token(http, standin, sign(claims_for(doomed), doomed))

    assert json.loads(response.data) == load_fixture(
        "token_endpoint/invalid_grant_account_not_found.json"
    )


def test_key_rotation_and_revocation(
    standin: GoogleStandIn, http: urllib3.PoolManager
) -> None:
    old_key = standin.new_account()
    new_key = standin.add_key(old_key["client_email"])
    standin.revoke_key(old_key["private_key_id"])
    revoked = post_token(http, standin, sign(claims_for(old_key), old_key))
    rotated = post_token(http, standin, sign(claims_for(new_key), new_key))

    assert new_key["client_email"] == old_key["client_email"]
    assert new_key["client_id"] == old_key["client_id"]
    assert new_key["private_key_id"] != old_key["private_key_id"]
    assert json.loads(revoked.data)["error_description"] == "Invalid JWT Signature."
    assert rotated.status == 200


@pytest.mark.parametrize(
    ("body", "content_type", "description_start"),
    [
        ("grant_type=x", "application/json", "Content-Type must be"),
        (f"grant_type={JWT_BEARER}&grant_type={JWT_BEARER}", None, "Duplicate"),
        (f"grant_type={JWT_BEARER}", None, "Missing required parameter: assertion"),
        (f"grant_type={JWT_BEARER}&assertion=not.a.jwt", None, "Invalid JWT"),
        ("grant_type", None, "Malformed form body"),
    ],
    ids=["json_body", "duplicate_field", "no_assertion", "bad_jwt", "bad_form"],
)
def test_malformed_token_request_invalid_request(
    standin: GoogleStandIn,
    http: urllib3.PoolManager,
    body: str,
    content_type: str | None,
    description_start: str,
) -> None:
    response = post_raw(
        http, standin, body, content_type or "application/x-www-form-urlencoded"
    )

    assert response.status == 400
    error = json.loads(response.data)
    assert error["error"] == "invalid_request"
    assert error["error_description"].startswith(description_start)


def test_token_get_not_allowed_and_unknown_path(
    standin: GoogleStandIn, http: urllib3.PoolManager
) -> None:
    wrong_method = http.request("GET", standin.token_uri)
    unknown = http.request("GET", standin.base_url + "/oauth2/v4/token")

    assert wrong_method.status == 405
    assert wrong_method.headers["Allow"] == "POST"
    assert unknown.status == 404
    assert unknown.headers["Content-Type"] == "application/json; charset=utf-8"
    assert standin.count("token") == 1
    assert len(standin.token_requests) == 1


# Vendor key files


SERVICE_ACCOUNT_FILES: Final = [
    "service_account.json",
    "service_account_pkcs1.json",
    "service_account_rsa1024.json",
    "service_account_ec.json",
    "service_account_encrypted.json",
    "service_account_not_pem.json",
    "service_account_escaped_newlines.json",
    "service_account_bad_token_uri.json",
]


@pytest.mark.parametrize("name", SERVICE_ACCOUNT_FILES)
def test_vendor_service_account_registers(standin: GoogleStandIn, name: str) -> None:
    key_info = load_fixture(f"keys/{name}")
    password = ENCRYPTED_KEY_PASSWORD if "encrypted" in name else None
    standin.register_account(key_info, password=password)
    standin.register_account(key_info, password=password)  # idempotent

    assert len(key_info["private_key_id"]) == 40
    assert key_info["client_email"].endswith("@posos-jwt-tests.iam.gserviceaccount.com")


@pytest.mark.parametrize("name", ["authorized_user.json", "external_account.json"])
def test_other_credential_types_rejected(standin: GoogleStandIn, name: str) -> None:
    with pytest.raises(ValueError, match="not service_account"):
        standin.register_account(load_fixture(f"keys/{name}"))


def test_invalid_json_fixture_is_invalid() -> None:
    with pytest.raises(json.JSONDecodeError):
        load_fixture("keys/invalid_json.json")


def test_vendor_keys_sign_or_fail_as_google(
    standin: GoogleStandIn, http: urllib3.PoolManager
) -> None:
    pkcs1 = load_fixture("keys/service_account_pkcs1.json")
    short = load_fixture("keys/service_account_rsa1024.json")
    standin.register_account(pkcs1)
    standin.register_account(short)
    accepted = post_token(http, standin, sign(claims_for(pkcs1), pkcs1))
    rejected = post_token(http, standin, sign_without_pyjwt(claims_for(short), short))

    assert accepted.status == 200
    assert json.loads(rejected.data)["error_description"] == "Invalid JWT Signature."


def test_encrypted_key_needs_password(standin: GoogleStandIn) -> None:
    key_info = load_fixture("keys/service_account_encrypted.json")

    with pytest.raises(ValueError, match="encrypted"):
        standin.register_account(key_info)


def test_success_fixture_signed_by_vendor_key() -> None:
    token = load_fixture("token_endpoint/success.json")["id_token"]
    key_info = load_fixture("keys/service_account.json")
    private_key = serialization.load_pem_private_key(
        key_info["private_key"].encode(), None
    )
    assert isinstance(private_key, rsa.RSAPrivateKey)

    claims = jwt.decode(
        token,
        private_key.public_key(),
        algorithms=["RS256"],
        audience=DEFAULT_IAP_CLIENT_ID,
        options={"verify_exp": False},
    )
    assert claims["email"] == key_info["client_email"]


# Key files made by the stand-in


def test_new_account_key_file_shape(
    account: dict[str, str], tmp_path: pathlib.Path
) -> None:
    path = write_key_file(tmp_path, account)

    assert list(account) == list(load_fixture("keys/service_account.json"))
    assert account["type"] == "service_account"
    assert account["private_key"].startswith("-----BEGIN PRIVATE KEY-----\n")
    assert account["client_id"].isdigit()
    assert len(account["client_id"]) == 21
    assert len(account["private_key_id"]) == 40
    assert int(account["private_key_id"], 16) >= 0
    assert account["project_id"] == "posos-jwt-tests"
    assert account["token_uri"] == GOOGLE_TOKEN_URI
    assert account["universe_domain"] == "googleapis.com"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text()) == account


# IAP


def test_iap_accepts_bearer_in_authorization(
    standin: GoogleStandIn, http: urllib3.PoolManager, account: dict[str, str]
) -> None:
    token = id_token_for(http, standin, account)
    response = http.request(
        "POST",
        standin.api_url + "/items/7?full=1",
        body=b"12345",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status == 200
    assert json.loads(response.data) == {
        "method": "POST",
        "path": "/api/items/7",
        "query": "full=1",
        "email": account["client_email"],
        "aud": TARGET_AUDIENCE,
        "body_length": 5,
    }
    assert token.encode() not in response.data
    record = standin.api_requests[-1]
    assert record.header_used == "authorization"
    assert record.email == account["client_email"]
    assert record.aud == TARGET_AUDIENCE


def test_iap_prefers_proxy_authorization(
    standin: GoogleStandIn, http: urllib3.PoolManager, account: dict[str, str]
) -> None:
    token = id_token_for(http, standin, account)
    headers = {"Proxy-Authorization": f"Bearer {token}", "Authorization": "Basic eA=="}
    response = call_api(http, standin, headers)

    assert response.status == 200
    assert standin.api_requests[-1].header_used == "proxy-authorization"


def test_iap_rejections_use_iap_wording(
    standin: GoogleStandIn, http: urllib3.PoolManager, account: dict[str, str]
) -> None:
    email_claim = account["client_email"]
    tokens = {
        "Invalid IAP credentials: empty token": None,
        "Invalid IAP credentials: Unable to parse JWT": "Bearer not-a-jwt",
        "Invalid IAP credentials: JWT signature is invalid": "Bearer "
        + sign(claims_for(account, aud=TARGET_AUDIENCE), account),
        "Invalid IAP credentials: JWT issuer is invalid": "Bearer "
        + standin.issue_id_token(TARGET_AUDIENCE, email_claim, iss="https://evil"),
        (FIXTURES / "iap/401_expired.txt").read_text(): "Bearer "
        + standin.issue_id_token(TARGET_AUDIENCE, email_claim, lifetime=-10),
        (FIXTURES / "iap/401_audience.txt").read_text(): "Bearer "
        + standin.issue_id_token(OTHER_CLIENT_ID, email_claim),
    }
    for expected_body, authorization in tokens.items():
        headers = {} if authorization is None else {"Authorization": authorization}
        response = call_api(http, standin, headers)

        assert response.status == 401, expected_body
        assert response.data.decode() == expected_body
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert response.headers["x-goog-iap-generated-response"] == "true"
    assert standin.count("api") == len(tokens)
    assert all(record.email is None for record in standin.api_requests)


def test_iap_redirects_browser_to_sign_in(
    standin: GoogleStandIn, http: urllib3.PoolManager
) -> None:
    response = call_api(http, standin, {"Accept": "text/html,application/xhtml+xml"})
    recorded = load_fixture("iap/302_headers.json")
    location = urllib.parse.urlsplit(response.headers["Location"])
    query = urllib.parse.parse_qs(location.query)

    assert response.status == recorded["status"]
    assert response.headers["x-goog-iap-generated-response"] == "true"
    assert response.headers["Location"].startswith(
        recorded["headers"]["Location"].split("?")[0]
    )
    assert query["client_id"] == [DEFAULT_IAP_CLIENT_ID]
    assert query["response_type"] == ["code"]
    assert query["scope"] == ["openid email"]
    gatekeeper = standin.base_url + "/_gcp_gatekeeper/authenticate"
    assert query["redirect_uri"] == [gatekeeper]


# Faults and counters


def test_fault_status_once_then_normal(
    standin: GoogleStandIn, http: urllib3.PoolManager, account: dict[str, str]
) -> None:
    page = (FIXTURES / "token_endpoint/html_502.html").read_text(encoding="utf-8")
    fault = Fault(
        status=502,
        body=page,
        content_type="text/html; charset=UTF-8",
        headers={"Retry-After": "30"},
    )
    standin.push_fault("token", fault)
    faulted = post_token(http, standin, sign(claims_for(account), account))
    normal = post_token(http, standin, sign(claims_for(account), account))

    assert faulted.status == 502
    assert faulted.data.decode("utf-8") == page
    assert faulted.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert faulted.headers["Retry-After"] == "30"
    assert normal.status == 200
    assert standin.count("token") == 2
    assert len(standin.token_requests) == 2


def test_fault_drop_closes_without_response(
    standin: GoogleStandIn, http: urllib3.PoolManager
) -> None:
    standin.push_fault("certs", Fault(drop=True))

    with pytest.raises(urllib3.exceptions.ProtocolError):
        http.request("GET", standin.jwks_uri)
    assert http.request("GET", standin.jwks_uri).status == 200
    assert standin.count("certs") == 2


def test_fault_delay_then_normal_response(
    standin: GoogleStandIn, http: urllib3.PoolManager
) -> None:
    standin.push_fault("certs", Fault(delay=0.3))
    started = time.monotonic()
    response = http.request("GET", standin.certs_v1_uri)

    assert time.monotonic() - started >= 0.3
    assert response.status == 200


def test_faults_are_first_in_first_out(
    standin: GoogleStandIn, http: urllib3.PoolManager
) -> None:
    standin.push_fault("api", Fault(status=500))
    standin.push_fault("api", Fault(status=503))
    statuses = [call_api(http, standin, {}).status for _ in range(3)]

    assert statuses == [500, 503, 401]
    assert standin.count("api") == 3


def test_fault_overrides_id_token_claims(
    standin: GoogleStandIn, http: urllib3.PoolManager, account: dict[str, str]
) -> None:
    standin.push_fault("token", Fault(id_token_claims={"aud": "other", "email": None}))
    standin.push_fault("token", Fault(omit_id_token=True))
    changed = json.loads(
        post_token(http, standin, sign(claims_for(account), account)).data
    )
    omitted = json.loads(
        post_token(http, standin, sign(claims_for(account), account)).data
    )
    claims = jwt.decode(changed["id_token"], options={"verify_signature": False})

    assert claims["aud"] == "other"
    assert "email" not in claims
    assert omitted == {
        "access_token": "ya29.fake",
        "expires_in": 3599,
        "token_type": "Bearer",
    }


def test_token_only_fault_on_other_route_rejected(standin: GoogleStandIn) -> None:
    with pytest.raises(ValueError, match="token"):
        standin.push_fault("api", Fault(omit_id_token=True))
    with pytest.raises(ValueError, match="unknown route"):
        standin.push_fault("tokens", Fault(status=500))


def test_reset_counts_clears_records(
    standin: GoogleStandIn, http: urllib3.PoolManager
) -> None:
    post_raw(http, standin, "")
    call_api(http, standin, {})
    standin.reset_counts()

    assert standin.count("token") == 0
    assert standin.count("api") == 0
    assert standin.token_requests == []
    assert standin.api_requests == []


# Clock, concurrency and lifecycle


def test_clock_offset_moves_date_and_checks(
    standin: GoogleStandIn, http: urllib3.PoolManager, account: dict[str, str]
) -> None:
    standin.clock_offset = 4000.0
    response = post_token(http, standin, sign(claims_for(account), account))
    date = email.utils.parsedate_to_datetime(response.headers["Date"]).timestamp()

    assert abs(date - (time.time() + 4000)) < 5
    assert json.loads(response.data) == load_fixture(
        "token_endpoint/invalid_grant_short_lived.json"
    )
    standin.clock_offset = -600.0
    issued_at = _now() - 600
    assertion = sign(claims_for(account, iat=issued_at, exp=issued_at + 60), account)
    token = json.loads(post_token(http, standin, assertion).data)["id_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert abs(claims["iat"] - (time.time() - 600)) < 5


def test_concurrent_connections_all_served(standin: GoogleStandIn) -> None:
    statuses: list[int] = []
    lock = threading.Lock()

    def fetch() -> None:
        with urllib3.PoolManager(ca_certs=standin.ca_bundle, retries=False) as pool:
            status = pool.request("GET", standin.jwks_uri, timeout=10.0).status
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=fetch) for _ in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)

    assert statuses == [200] * 64
    assert standin.count("certs") == 64


def test_stop_removes_ca_file() -> None:
    standin = GoogleStandIn().start()
    ca_bundle = pathlib.Path(standin.ca_bundle)
    assert ca_bundle.read_text().startswith("-----BEGIN CERTIFICATE-----")
    standin.stop()

    assert not ca_bundle.exists()
    with pytest.raises(RuntimeError, match="not running"):
        _ = standin.base_url
    standin.stop()  # a second stop does nothing
