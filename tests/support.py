"""Paths and helpers shared by the test modules."""

from __future__ import annotations

import json
import re
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "vendor_fixtures"
KEYS = FIXTURES / "keys"

# Anything shaped like a JWT or a PEM private key. The leak check in conftest fails a
# test whose log output contains one, because posos-jwt must never log either.
SECRET_PATTERN = re.compile(r"eyJ[A-Za-z0-9_-]{8,}|PRIVATE KEY-----")


def fixture_bytes(*parts: str) -> bytes:
    """Return the bytes of a file under vendor_fixtures/."""
    return FIXTURES.joinpath(*parts).read_bytes()


def key_info(name: str) -> dict[str, str]:
    """Return a test key file from vendor_fixtures/keys/ as a mapping."""
    info: dict[str, str] = json.loads((KEYS / name).read_text())
    return info


def google_auth_reads_jwks() -> bool:
    """Tell whether google-auth can read a JWKS with this pyjwt.

    google-auth's ``verify_token`` reads ``PyJWK.algorithm_name``, which
    pyjwt 2.8 lacks, so the JWKS checks run from pyjwt 2.9 on.
    """
    import jwt

    key = jwt.PyJWK({"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"})
    return hasattr(key, "algorithm_name")
