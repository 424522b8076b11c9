"""Sign the JWT assertion that asks Google's token endpoint for an ID token.

The assertion follows RFC 7523 (JWT bearer grant) as Google documents it for
service accounts: signed with the account's RSA key (RS256), ``kid`` naming the
key, and the ``target_audience`` claim asking for an OpenID Connect ID token
instead of an OAuth access token.
"""

from __future__ import annotations

from typing import Final

import jwt

from ._errors import ConfigurationError
from ._keyfile import ServiceAccountKey

GOOGLE_TOKEN_AUDIENCE: Final = "https://oauth2.googleapis.com/token"
"""The ``aud`` claim that Google's token endpoint requires. It stays the same
when the request goes to another endpoint URL (a regional host, a stand-in)."""

ASSERTION_LIFETIME: Final = 3600
"""Seconds between ``iat`` and ``exp``: Google's maximum, one hour."""


def check_client_id(client_id: object) -> str:
    """Return ``client_id`` unchanged if it can be a ``target_audience``.

    Raises:
        ConfigurationError: It is not a string, or empty, or only white space.
    """
    if not isinstance(client_id, str):
        raise ConfigurationError(
            f"client ID must be a string, not {type(client_id).__name__}: give the "
            "OAuth client ID of the IAP resource"
        )
    if not client_id.strip():
        raise ConfigurationError(
            "client ID is empty: give the OAuth client ID of the IAP resource "
            "(for example 1234-abc.apps.googleusercontent.com)"
        )
    return client_id


def build_assertion(key: ServiceAccountKey, target_audience: str, *, now: float) -> str:
    """Sign a new assertion for one token request.

    Args:
        key: The service-account key that signs.
        target_audience: The OAuth client ID of the IAP resource. It is sent
            exactly as given.
        now: The current UTC time in epoch seconds. ``iat`` is its integer part.

    Returns:
        The compact JWT. It is a bearer credential for an hour: never log it.

    Raises:
        ConfigurationError: ``target_audience`` is empty.
    """
    check_client_id(target_audience)
    issued_at = int(now)
    claims = {
        "iss": key.client_email,
        "aud": GOOGLE_TOKEN_AUDIENCE,
        "iat": issued_at,
        "exp": issued_at + ASSERTION_LIFETIME,
        "target_audience": target_audience,
    }
    headers = {"kid": key.private_key_id, "typ": "JWT"}
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers=headers)
