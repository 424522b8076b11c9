"""Self-signed JWTs for IAP: claims, audiences, cache, and the stand-in's IAP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import urllib3

from posos_jwt import (
    ConfigurationError,
    SelfSignedCredentials,
    ServiceAccountKey,
)
from posos_jwt._cli import main
from posos_jwt._self_signed import audience_for_url
from posos_jwt.testing import GoogleStandIn
from tests.clocks import ShiftedClock
from tests.support import SECRET_PATTERN


@pytest.fixture
def iap(standin: GoogleStandIn) -> Iterator[GoogleStandIn]:
    """The stand-in with IAP accepting service-account JWTs, restored after."""
    standin.accept_self_signed_jwts = True
    yield standin
    standin.accept_self_signed_jwts = True


@pytest.fixture
def key(account: dict[str, str]) -> ServiceAccountKey:
    return ServiceAccountKey.from_info(account)


def call_api(standin: GoogleStandIn, url: str, token: str) -> urllib3.BaseHTTPResponse:
    http = urllib3.PoolManager(ca_certs=standin.ca_bundle, retries=False)
    return http.request("GET", url, headers={"Authorization": "Bearer " + token})


def test_jwt_header_and_claims(key: ServiceAccountKey) -> None:
    credentials = SelfSignedCredentials(key, audience="https://api.example.com/*")
    token = credentials.get_id_token()
    header = jwt.get_unverified_header(token.value)
    claims = jwt.decode(
        token.value,
        key.private_key.public_key(),
        algorithms=["RS256"],
        audience="https://api.example.com/*",
    )
    assert header["alg"] == "RS256"
    assert header["typ"] == "JWT"
    assert header["kid"] == key.private_key_id
    assert claims["iss"] == key.client_email
    assert claims["sub"] == key.client_email
    assert claims["exp"] - claims["iat"] == 3600
    assert token.expiry == claims["exp"]


@pytest.mark.parametrize(
    ("url", "audience"),
    [
        ("https://api.example.com", "https://api.example.com/"),
        ("https://API.Example.COM/v1/x", "https://api.example.com/v1/x"),
        ("HTTPS://api.example.com/v1", "https://api.example.com/v1"),
        ("https://api.example.com:443/v1", "https://api.example.com/v1"),
        ("https://api.example.com:8443/v1", "https://api.example.com:8443/v1"),
        ("https://api.example.com/v1?q=1&r=2", "https://api.example.com/v1"),
        ("https://api.example.com/v1/*", "https://api.example.com/v1/*"),
        ("https://[::1]:8443/v1", "https://[::1]:8443/v1"),
        ("https://api.example.com/Case/Kept", "https://api.example.com/Case/Kept"),
    ],
)
def test_audience_for_url(url: str, audience: str) -> None:
    assert audience_for_url(url) == audience


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://api.example.com/v1", "not an https URL"),
        ("api.example.com/v1", "not an https URL"),
        ("https:///v1", "not an https URL"),
        ("https://user:secret@api.example.com/", "user:password@"),
        ("https://api.example.com:99999/", "is not valid"),
        ("https://a b/x", "contains a space or a control character"),
        ("https://api.example.com/a\tb", "contains a space or a control character"),
        ("https://api.example.com/a\\b", "contains a backslash"),
        ("https://api.example.com/v1#part", "has a fragment"),
        ("https://api.example.com/a/../b", "has a '.' or '..' path segment"),
        ("https://api.example.com/a/%2e/b", "has a '.' or '..' path segment"),
        ("https://api.posos.example*", "has a '\\*' that is not a final '/\\*'"),
        ("https://api.example.com/v1*", "has a '\\*' that is not a final '/\\*'"),
        ("https://api.example.com/*/v1", "has a '\\*' that is not a final '/\\*'"),
        ("https://api.example.com:0/", "has port 0"),
        ("https://\uff21\uff30\uff29.example/", "has a host that is not ASCII"),
        ("https://b\u00fccher.example/", "has a host that is not ASCII"),
        ("https://api.example.com./", "has a host that ends with a dot"),
    ],
)
def test_audience_for_url_rejects(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as info:
        audience_for_url(url)
    assert "secret" not in str(info.value)


def test_request_url_with_star_is_not_a_prefix(key: ServiceAccountKey) -> None:
    credentials = SelfSignedCredentials(key)
    with pytest.raises(ConfigurationError, match="not a final '/\\*'"):
        credentials.get_token_for_url("https://api.example.com/v1/*")


def test_reaches_api_without_token_endpoint(
    iap: GoogleStandIn, key: ServiceAccountKey
) -> None:
    credentials = SelfSignedCredentials(key)
    url = iap.api_url + "/orders?page=2"
    response = call_api(iap, url, credentials.get_token_for_url(url))
    assert response.status == 200
    assert json.loads(response.data)["email"] == key.client_email
    assert iap.api_requests[-1].aud == iap.api_url + "/orders"
    assert iap.count("token") == 0


def test_prefix_audience_covers_paths(
    iap: GoogleStandIn, key: ServiceAccountKey
) -> None:
    credentials = SelfSignedCredentials(key, audience=iap.api_url + "/*")
    token = credentials.get_token()
    for path in ("/a", "/b/c"):
        assert call_api(iap, iap.api_url + path, token).status == 200
    assert credentials.get_token_for_url(iap.api_url + "/d") == token
    assert iap.count("token") == 0


def test_fixed_audience_rejects_other_url(key: ServiceAccountKey) -> None:
    credentials = SelfSignedCredentials(key, audience="https://api.example.com/v1/*")
    with pytest.raises(ConfigurationError, match="not covered by the audience"):
        credentials.get_token_for_url("https://api.example.com/v2/orders")


def test_per_url_mode_needs_url(key: ServiceAccountKey) -> None:
    with pytest.raises(ConfigurationError, match="no fixed audience"):
        SelfSignedCredentials(key).get_token()


def test_cached_per_audience(key: ServiceAccountKey) -> None:
    credentials = SelfSignedCredentials(key)
    first = credentials.get_token_for_url("https://api.example.com/a?x=1")
    other = credentials.get_token_for_url("https://api.example.com/b")
    assert credentials.get_token_for_url("https://api.example.com/a?x=2") == first
    assert other != first


def test_cache_signs_again_near_expiry(key: ServiceAccountKey) -> None:
    clock = ShiftedClock()
    credentials = SelfSignedCredentials(key, clock=clock)
    url = "https://api.example.com/a"
    first = credentials.get_token_for_url(url)
    clock.offset = 3600 - 299
    assert credentials.get_token_for_url(url) != first


def test_cache_bounded(key: ServiceAccountKey) -> None:
    credentials = SelfSignedCredentials(key, max_audiences=4)
    first = credentials.get_token_for_url("https://api.example.com/0")
    for number in range(1, 5):
        credentials.get_token_for_url(f"https://api.example.com/{number}")
    # The first audience was the least recently used, so it was dropped and
    # signed again. iat has one-second resolution, so the new JWT may have the
    # same text: a cached one would be the same object.
    assert credentials.get_token_for_url("https://api.example.com/0") is not first


def test_repr_hides_secrets(key: ServiceAccountKey) -> None:
    credentials = SelfSignedCredentials(key, audience="https://api.example.com/*")
    token = credentials.get_id_token()
    text = repr(credentials) + repr(token) + str(token)
    assert key.client_email in repr(credentials)
    assert token.value not in text
    assert not SECRET_PATTERN.search(text)


@pytest.mark.parametrize(
    ("audience_path", "request_path", "reason"),
    [
        ("/other", "/orders", "audience doesn't match"),
        ("/orders/*", "/order", "audience doesn't match"),
        ("/orders", "/orders/1", "audience doesn't match"),
    ],
)
def test_iap_rejects_wrong_audience(
    iap: GoogleStandIn,
    key: ServiceAccountKey,
    audience_path: str,
    request_path: str,
    reason: str,
) -> None:
    credentials = SelfSignedCredentials(key, audience=iap.api_url + audience_path)
    response = call_api(iap, iap.api_url + request_path, credentials.get_token())
    assert response.status == 401
    assert reason in response.data.decode()


def test_iap_rejects_revoked_key(
    iap: GoogleStandIn, key: ServiceAccountKey, account: dict[str, str]
) -> None:
    iap.revoke_key(account["private_key_id"])
    token = SelfSignedCredentials(key).get_token_for_url(iap.api_url + "/x")
    response = call_api(iap, iap.api_url + "/x", token)
    assert response.status == 401
    assert b"signature is invalid" in response.data


def test_iap_rejects_expired(iap: GoogleStandIn, key: ServiceAccountKey) -> None:
    credentials = SelfSignedCredentials(key, clock=ShiftedClock(-3601))
    token = credentials.get_token_for_url(iap.api_url + "/x")
    response = call_api(iap, iap.api_url + "/x", token)
    assert response.status == 401
    assert b"Expired JWT" in response.data


def test_iap_rejects_other_issuer(iap: GoogleStandIn, key: ServiceAccountKey) -> None:
    claims = {
        "iss": "someone@else.iam.gserviceaccount.com",
        "sub": "someone@else.iam.gserviceaccount.com",
        "aud": iap.api_url + "/x",
        "iat": int(iap.now()),
        "exp": int(iap.now()) + 600,
    }
    token = jwt.encode(
        claims, key.private_key, algorithm="RS256", headers={"kid": key.private_key_id}
    )
    response = call_api(iap, iap.api_url + "/x", token)
    assert response.status == 401
    assert b"issuer is invalid" in response.data


def test_iap_rejects_long_lifetime(iap: GoogleStandIn, key: ServiceAccountKey) -> None:
    claims = {
        "iss": key.client_email,
        "sub": key.client_email,
        "aud": iap.api_url + "/x",
        "iat": int(iap.now()),
        "exp": int(iap.now()) + 3601,
    }
    token = jwt.encode(
        claims, key.private_key, algorithm="RS256", headers={"kid": key.private_key_id}
    )
    response = call_api(iap, iap.api_url + "/x", token)
    assert response.status == 401
    assert b"lifetime is too long" in response.data


def test_iap_without_acceptance_rejects(
    iap: GoogleStandIn, key: ServiceAccountKey
) -> None:
    iap.accept_self_signed_jwts = False
    token = SelfSignedCredentials(key).get_token_for_url(iap.api_url + "/x")
    response = call_api(iap, iap.api_url + "/x", token)
    assert response.status == 401
    assert b"signature is invalid" in response.data


def test_cli_self_signed(
    iap: GoogleStandIn, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = iap.api_url + "/reports"
    code = main(["token", "--self-signed", "--url", url, "--key-file", str(key_file)])
    out, err = capsys.readouterr()
    assert code == 0
    assert err == ""
    assert call_api(iap, url, out.strip()).status == 200
    assert iap.count("token") == 0


def test_cli_self_signed_json(
    key_file: Path, account: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["token", "--self-signed", "--url", "https://api.example.com/*", "--json"]
    code = main([*args, "--key-file", str(key_file)])
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["claims"]["aud"] == "https://api.example.com/*"
    assert document["claims"]["sub"] == account["client_email"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--self-signed"], "--self-signed needs --url"),
        (["--url", "https://api.example.com/"], "--url is used only with"),
        (
            ["--self-signed", "--url", "https://a.example/", "--client-id", "x"],
            "drop --client-id",
        ),
    ],
)
def test_cli_self_signed_usage(
    key_file: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["token", "--key-file", str(key_file), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err


def test_cli_self_signed_bad_url(
    key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["token", "--self-signed", "--url", "http://api.example.com/"]
    code = main([*args, "--key-file", str(key_file)])
    err = capsys.readouterr().err
    assert code == 3
    assert err.startswith("posos-jwt: error: URL 'http://api.example.com/' is not")


def test_max_audiences_positive(key: ServiceAccountKey) -> None:
    with pytest.raises(ConfigurationError, match="max_audiences must be 1 or more"):
        SelfSignedCredentials(key, max_audiences=0)
