"""JWT helpers that keep signature checks apart from claim checks.

The stand-in reports each claim failure in Google's own words, so it checks
claims itself. These helpers use pyjwt's JWS layer, which verifies signatures
and never looks at the claims.
"""

from __future__ import annotations

import json
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

_JWS: Final = jwt.PyJWS()
"""JWS codec with pyjwt's default algorithms, RS256 among them."""

MIN_RSA_KEY_SIZE: Final = 2048
"""Smallest RSA key accepted for a signature, the size of the keys Google issues.
pyjwt 2.10 and later warn below it, which pytest would turn into an error."""


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a compact JWT into its header and claims without verifying it.

    Args:
        token: The compact JWT.

    Returns:
        The header and the claims.

    Raises:
        jwt.DecodeError: If the token is not three base64url segments with a
            JSON-object header and a JSON-object payload.
    """
    complete = _JWS.decode_complete(token, options={"verify_signature": False})
    try:
        claims = json.loads(complete["payload"])
    except ValueError:
        raise jwt.DecodeError("the payload is not valid JSON") from None
    if not isinstance(claims, dict):
        raise jwt.DecodeError("the payload is not a JSON object")
    return complete["header"], claims


def verify_rs256(token: str, public_key: object) -> None:
    """Verify a token's RS256 signature.

    Args:
        token: The compact JWT.
        public_key: The key that should have signed it.

    Raises:
        jwt.InvalidKeyError: If the key is not RSA or shorter than
            :data:`MIN_RSA_KEY_SIZE` bits.
        jwt.PyJWTError: If the header's ``alg`` is not RS256 or the signature
            does not match.
    """
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise jwt.InvalidKeyError("the registered key is not an RSA key")
    if public_key.key_size < MIN_RSA_KEY_SIZE:
        raise jwt.InvalidKeyError(f"the RSA key has only {public_key.key_size} bits")
    _JWS.decode(token, public_key, algorithms=["RS256"])
