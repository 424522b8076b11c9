"""Checking the ID token that the token endpoint returned."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from posos_jwt import IDToken, TokenCheckError
from posos_jwt._idtoken import check_id_token

NOW = 1_790_000_000
AUDIENCE = "123-abc.apps.googleusercontent.com"
EMAIL = "posos@project.iam.gserviceaccount.com"
SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_token(**changes: Any) -> str:
    claims: dict[str, Any] = {
        "iss": "https://accounts.google.com",
        "aud": AUDIENCE,
        "email": EMAIL,
        "iat": NOW,
        "exp": NOW + 3600,
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return jwt.encode(claims, SIGNING_KEY, algorithm="RS256")


def check(token: str) -> IDToken:
    return check_id_token(token, audience=AUDIENCE, email=EMAIL, now=NOW)


def test_valid_token() -> None:
    token = make_token()
    checked = check(token)
    assert checked.value == token
    assert checked.expiry == NOW + 3600
    assert checked.email == EMAIL
    assert checked.audience == AUDIENCE


def test_email_absent_accepted() -> None:
    assert check(make_token(email=None)).email is None


def test_iat_within_leeway_accepted() -> None:
    assert check(make_token(iat=NOW + 30)).expiry == NOW + 3600


@pytest.mark.parametrize(
    ("changes", "claim", "message"),
    [
        ({"exp": None}, "exp", "not a number"),
        ({"exp": "soon"}, "exp", "not a number"),
        ({"exp": True}, "exp", "not a number"),
        ({"exp": NOW}, "exp", "expired at"),
        ({"exp": NOW - 1}, "exp", "expired at"),
        ({"aud": "someone-else"}, "aud", "for audience 'someone-else'"),
        ({"aud": None}, "aud", "for audience None"),
        ({"aud": ["a", "b"]}, "aud", "for audience"),
        ({"aud": [AUDIENCE]}, "aud", "for audience"),
        ({"aud": [AUDIENCE, "other"]}, "aud", "for audience"),
        ({"exp": NOW + 2 * 86400}, "exp", "more than 24 hours"),
        ({"exp": 10**20}, "exp", "more than 24 hours"),
        ({"exp": 10**400}, "exp", "not a number"),
        ({"email": "x@y.example"}, "email", "for account 'x@y.example'"),
        ({"iat": NOW + 3000}, "iat", "issued at"),
        ({"iat": "now"}, "iat", "not a number"),
    ],
)
def test_claim_rejected(changes: dict[str, Any], claim: str, message: str) -> None:
    with pytest.raises(TokenCheckError, match=message) as info:
        check(make_token(**changes))
    assert info.value.claim == claim
    assert "eyJ" not in str(info.value)


def test_nan_expiry_rejected() -> None:
    header = "eyJhbGciOiJSUzI1NiJ9"
    payload = jwt.utils.base64url_encode(b'{"exp": NaN, "aud": "x"}').decode()
    with pytest.raises(TokenCheckError, match="not a number"):
        check(f"{header}.{payload}.c2ln")


@pytest.mark.parametrize("value", ["", "abc", "a.b.c", "eyJ.eyJ.x"])
def test_not_a_jwt(value: str) -> None:
    with pytest.raises(TokenCheckError, match="not a valid JWT") as info:
        check(value)
    assert info.value.claim is None


def test_repr_hides_token() -> None:
    token = make_token()
    checked = check(token)
    assert token not in repr(checked)
    assert token not in str(checked)
    assert "2026-" in repr(checked)
    assert EMAIL in repr(checked)


def test_expiry_is_utc() -> None:
    checked = check(make_token())
    assert checked.expires_at.utcoffset() is not None
    assert checked.expires_at.timestamp() == NOW + 3600
