"""IAP's own signing key and the ``x-goog-iap-jwt-assertion`` header it signs.

When IAP lets a request through, it adds a header to what it forwards: a JWT
signed with ES256 by a key that Google publishes as a JWK set at
``https://www.gstatic.com/iap/verify/public_key-jwk``. The backend verifies it to
know that the request came through IAP and which user sent it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from posos_jwt.testing._accounts import new_key_id

IAP_JWT_HEADER: Final = "x-goog-iap-jwt-assertion"
"""The header that carries IAP's signed JWT to the backend."""

IAP_ISSUER: Final = "https://cloud.google.com/iap"
"""The ``iss`` of IAP's signed header."""

IAP_JWT_LIFETIME: Final = 600
"""Seconds from ``iat`` to ``exp`` of the header: the ten minutes that Google's
guide to IAP signed headers gives as the maximum lifetime."""

DEFAULT_PROJECT_NUMBER: Final = "123456789012"
"""Project number in the stand-in's backend audience: the form of a real one."""

DEFAULT_BACKEND_SERVICE_ID: Final = "4567890123456789012"
"""Backend service ID in the stand-in's backend audience: the form of a real one."""

DEFAULT_BACKEND_AUDIENCE: Final = (
    f"/projects/{DEFAULT_PROJECT_NUMBER}/global/backendServices/"
    f"{DEFAULT_BACKEND_SERVICE_ID}"
)
"""The ``aud`` of the headers that the stand-in's IAP signs for its echo API."""

SUBJECT_PREFIX: Final = "accounts.google.com:"
"""IAP's ``sub`` is this prefix followed by the account's numeric ID."""


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class IapSigner:
    """An EC P-256 key that signs IAP headers with ES256.

    Attributes:
        key_id: The ``kid`` in the header of every JWT it signs.
    """

    def __init__(self) -> None:
        """Generate a new signing key."""
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.key_id = new_key_id()

    def sign(self, claims: Mapping[str, Any]) -> str:
        """Sign claims as a compact JWT with ES256.

        Args:
            claims: The payload, used as given.

        Returns:
            The JWT.
        """
        headers = {"kid": self.key_id, "typ": "JWT"}
        return jwt.encode(dict(claims), self._key, algorithm="ES256", headers=headers)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """Return the public key as a JWK set (RFC 7518, section 6.2)."""
        numbers = self._key.public_key().public_numbers()
        key = {
            "kty": "EC",
            "alg": "ES256",
            "use": "sig",
            "kid": self.key_id,
            "crv": "P-256",
            "x": _base64url(numbers.x.to_bytes(32, "big")),
            "y": _base64url(numbers.y.to_bytes(32, "big")),
        }
        return {"keys": [key]}


def build_iap_claims(
    email: str, subject: str, audience: str, now: float
) -> dict[str, Any]:
    """Build the claims of an IAP header for one authenticated request.

    Args:
        email: The ``email`` of the token that IAP accepted.
        subject: The ``sub`` of that token, the account's numeric ID.
        audience: The backend's audience, ``/projects/NUMBER/...``.
        now: The issue time, in seconds since the epoch.

    Returns:
        The claims.
    """
    issued_at = int(now)
    return {
        "aud": audience,
        "email": email,
        "exp": issued_at + IAP_JWT_LIFETIME,
        "iat": issued_at,
        "iss": IAP_ISSUER,
        "sub": SUBJECT_PREFIX + subject,
    }
