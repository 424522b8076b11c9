"""The signed assertion: header, claims, signature, and google-auth's as reference."""

from __future__ import annotations

import datetime
from typing import Any

import jwt
import pytest

from posos_jwt import ConfigurationError, ServiceAccountKey, build_assertion
from posos_jwt._assertion import sign_rs256
from tests.support import key_info

NOW = 1_790_000_000.75
CLIENT_ID = "123-abc.apps.googleusercontent.com"


@pytest.fixture(scope="module")
def key() -> ServiceAccountKey:
    return ServiceAccountKey.from_info(key_info("service_account.json"))


def decode(assertion: str, key: ServiceAccountKey) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        assertion,
        key.private_key.public_key(),
        algorithms=["RS256"],
        audience="https://oauth2.googleapis.com/token",
        options={"verify_exp": False, "verify_iat": False},
    )
    return claims


def test_header(key: ServiceAccountKey) -> None:
    header = jwt.get_unverified_header(build_assertion(key, CLIENT_ID, now=NOW))
    assert header == {"alg": "RS256", "typ": "JWT", "kid": key.private_key_id}


def test_claims_exactly(key: ServiceAccountKey) -> None:
    claims = decode(build_assertion(key, CLIENT_ID, now=NOW), key)
    assert claims == {
        "iss": key.client_email,
        "aud": "https://oauth2.googleapis.com/token",
        "iat": 1_790_000_000,
        "exp": 1_790_003_600,
        "target_audience": CLIENT_ID,
    }


def test_iat_is_integer(key: ServiceAccountKey) -> None:
    claims = decode(build_assertion(key, CLIENT_ID, now=NOW), key)
    assert type(claims["iat"]) is int


def test_client_id_sent_as_given(key: ServiceAccountKey) -> None:
    odd = " 123-abc.apps.googleusercontent.com/Path?x=1 "
    claims = decode(build_assertion(key, odd, now=NOW), key)
    assert claims["target_audience"] == odd


@pytest.mark.parametrize("client_id", ["", " ", "\t\n"])
def test_blank_client_id_rejected(key: ServiceAccountKey, client_id: str) -> None:
    with pytest.raises(ConfigurationError, match="client ID is empty"):
        build_assertion(key, client_id, now=NOW)


def test_non_string_client_id_rejected(key: ServiceAccountKey) -> None:
    with pytest.raises(ConfigurationError, match="must be a string"):
        build_assertion(key, None, now=NOW)  # type: ignore[arg-type]


def test_matches_google_auth(
    key: ServiceAccountKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """google-auth, given the same key and clock, signs the same header and claims."""
    from google.auth import _helpers
    from google.oauth2 import service_account

    moment = datetime.datetime(2026, 9, 21, 12, 0, 0)
    monkeypatch.setattr(_helpers, "utcnow", lambda: moment)
    credentials = service_account.IDTokenCredentials.from_service_account_info(  # type: ignore[no-untyped-call]
        key_info("service_account.json"), target_audience=CLIENT_ID
    )
    theirs = credentials._make_authorization_grant_assertion()
    if isinstance(theirs, bytes):
        theirs = theirs.decode("ascii")
    epoch = moment.replace(tzinfo=datetime.UTC).timestamp()
    ours = build_assertion(key, CLIENT_ID, now=epoch)

    assert jwt.get_unverified_header(ours) == jwt.get_unverified_header(theirs)
    assert decode(ours, key) == decode(theirs, key)


def test_same_bytes_as_pyjwt(key: ServiceAccountKey) -> None:
    """RS256 (PKCS #1 v1.5) is deterministic, so both must write the same JWT."""
    ours = build_assertion(key, CLIENT_ID, now=NOW)
    theirs = jwt.encode(
        decode(ours, key),
        key.private_key,
        algorithm="RS256",
        headers={"kid": key.private_key_id, "typ": "JWT"},
    )
    assert ours == theirs


def test_pyjwt_verifies_signature(key: ServiceAccountKey) -> None:
    assertion = build_assertion(key, CLIENT_ID, now=NOW)
    claims = decode(assertion, key)
    assert claims["target_audience"] == CLIENT_ID


def test_tampered_assertion_fails_pyjwt(key: ServiceAccountKey) -> None:
    header, payload, signature = build_assertion(key, CLIENT_ID, now=NOW).split(".")
    other = build_assertion(key, "other-client", now=NOW).split(".")[1]
    assert payload != other
    with pytest.raises(jwt.InvalidSignatureError):
        decode(f"{header}.{other}.{signature}", key)


def test_sign_rs256_non_ascii_claim(key: ServiceAccountKey) -> None:
    claims = {"iss": key.client_email, "aud": "caf\u00e9", "exp": 1}
    signed = sign_rs256(claims, key)
    decoded = jwt.decode(
        signed,
        key.private_key.public_key(),
        algorithms=["RS256"],
        audience="caf\u00e9",
        options={"verify_exp": False},
    )
    assert decoded == claims


def test_sign_rs256_rejects_nan(key: ServiceAccountKey) -> None:
    with pytest.raises(ValueError, match="Out of range float"):
        sign_rs256({"exp": float("nan")}, key)


@pytest.mark.parametrize(
    ("client_id", "message"),
    [
        ("a" * 2049, "2049 characters long"),
        ("evil\nline", "control character"),
        ("x\x1b[31mred", "control character"),
    ],
)
def test_unusable_client_id_rejected(
    key: ServiceAccountKey, client_id: str, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build_assertion(key, client_id, now=NOW)
