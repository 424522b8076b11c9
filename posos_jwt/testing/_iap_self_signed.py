"""IAP's check of a JWT that a service account signed with its own key.

IAP accepts such a JWT in place of a Google-signed ID token when all of these
hold:

- the header's ``kid`` names a key of the account, and the RS256 signature
  verifies with it;
- ``iss`` and ``sub`` are both the account's email;
- ``aud`` is the request URL, or a prefix of it ending with ``/*``;
- ``exp`` is in the future, at most an hour after ``iat``.

The stand-in has every account's public key, as Google does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import jwt

from posos_jwt.testing._accounts import AccountRegistry
from posos_jwt.testing._jwt import decode_unverified, verify_rs256

MAX_LIFETIME: Final = 3600
"""Largest ``exp - iat`` accepted, in seconds: IAP's documented maximum."""

ALLOWED_CLOCK_SKEW: Final = 60
"""Seconds that ``iat`` may lie in the future of the stand-in's clock."""

WILDCARD_SUFFIX: Final = "/*"
"""The end of an ``aud`` that covers every path under its prefix."""


class SelfSignedJwtError(Exception):
    """The JWT is rejected. :attr:`reason` follows IAP's 401 prefix."""

    def __init__(self, reason: str) -> None:
        """Store the reason, the text after ``Invalid IAP credentials: ``."""
        super().__init__(reason)
        self.reason = reason


def is_service_account_jwt(token: str, accounts: AccountRegistry) -> bool:
    """Tell whether a token is shaped like a service account's own JWT.

    That is a ``kid`` that names a registered key, revoked or not, and equal
    ``iss`` and ``sub`` claims. Any other token, an assertion meant for the
    token endpoint among them, goes to the ID-token checks instead, which
    reject a signature by an unknown key.

    Args:
        token: A compact JWT, not yet verified.
        accounts: The registered accounts and keys.
    """
    try:
        header, claims = decode_unverified(token)
    except jwt.PyJWTError:
        return False
    key_id = header.get("kid")
    if not isinstance(key_id, str) or accounts.find_key(key_id) is None:
        return False
    issuer = claims.get("iss")
    return isinstance(issuer, str) and issuer == claims.get("sub")


def check_self_signed_jwt(
    token: str, request_url: str, accounts: AccountRegistry, now: float
) -> dict[str, Any]:
    """Check a service-account JWT for a request to ``request_url``.

    Args:
        token: The compact JWT, whose ``kid`` is a registered key.
        request_url: ``https://HOST:PORT/PATH`` of the request, without query.
        accounts: The registered accounts and keys.
        now: The stand-in's clock, in seconds since the epoch.

    Returns:
        The claims, with ``email`` set to the account's email for the echo.

    Raises:
        SelfSignedJwtError: A check failed.
    """
    header, claims = decode_unverified(token)
    email = _check_signature(token, header, accounts)
    if claims.get("iss") != email:
        raise SelfSignedJwtError(
            "JWT issuer is invalid (iss and sub must both be the email of the "
            "service account whose key signed it)"
        )
    _check_audience(claims.get("aud"), request_url)
    _check_times(claims, now)
    return {**claims, "email": email}


def _check_signature(
    token: str, header: Mapping[str, Any], accounts: AccountRegistry
) -> str:
    key = accounts.find_key(str(header.get("kid")))
    if key is None or key.revoked or accounts.find_account(key.email) is None:
        raise SelfSignedJwtError("JWT signature is invalid")
    if header.get("alg") != "RS256":
        raise SelfSignedJwtError("JWT signature is invalid")
    try:
        verify_rs256(token, key.public_key)
    except jwt.PyJWTError:
        raise SelfSignedJwtError("JWT signature is invalid") from None
    return key.email


def _check_audience(audience: object, request_url: str) -> None:
    if isinstance(audience, str):
        if audience == request_url:
            return
        prefix = audience.removesuffix("*")
        if audience.endswith(WILDCARD_SUFFIX) and request_url.startswith(prefix):
            return
    raise SelfSignedJwtError(
        f"JWT audience doesn't match this application ('aud' claim ({audience}) "
        f"doesn't match expected value ({request_url}))"
    )


def _check_times(claims: Mapping[str, Any], now: float) -> None:
    issued_at = claims.get("iat")
    expires_at = claims.get("exp")
    # bool is a subclass of int, but JSON true is not a time.
    if type(issued_at) is not int or type(expires_at) is not int:
        raise SelfSignedJwtError("JWT has no valid iat and exp claims")
    if expires_at <= now:
        raise SelfSignedJwtError("Expired JWT")
    if issued_at > now + ALLOWED_CLOCK_SKEW:
        raise SelfSignedJwtError("JWT was issued in the future")
    if expires_at - issued_at > MAX_LIFETIME:
        raise SelfSignedJwtError(
            f"JWT lifetime is too long (exp - iat must be at most {MAX_LIFETIME} s)"
        )
