"""The stand-in's own ID-token signing key, published like Google's.

Google signs ID tokens with keys that it publishes twice: as a JWK set at
``/oauth2/v3/certs`` and as a map from key id to a PEM certificate at
``/oauth2/v1/certs``. The stand-in has one such key for its lifetime.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Mapping
from typing import Any, Final

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from posos_jwt.testing._accounts import new_key_id
from posos_jwt.testing._jwt import decode_unverified, verify_rs256

SIGNING_KEY_SIZE: Final = 2048
"""Size of the RSA signing key: the size of the keys Google publishes."""

CERTIFICATE_LIFETIME: Final = datetime.timedelta(days=2)
"""Validity of the published certificate: enough for any test run."""


def _base64url_integer(value: int) -> str:
    # RFC 7518, section 6.3.1: big-endian bytes, no padding, no leading zeros.
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _self_signed_certificate(key: rsa.RSAPrivateKey) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "posos-jwt stand-in")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CERTIFICATE_LIFETIME / 2)
        .not_valid_after(now + CERTIFICATE_LIFETIME / 2)
        .sign(key, hashes.SHA256())
    )


class IdTokenSigner:
    """An RSA key that signs ID tokens with RS256 and verifies them again.

    Attributes:
        key_id: The ``kid`` in the header of every token it signs.
    """

    def __init__(self) -> None:
        """Generate a new signing key and its certificate."""
        self._key = rsa.generate_private_key(
            public_exponent=65537, key_size=SIGNING_KEY_SIZE
        )
        self.key_id = new_key_id()
        self._certificate = _self_signed_certificate(self._key)

    def sign(self, claims: Mapping[str, Any]) -> str:
        """Sign claims as a compact JWT.

        Args:
            claims: The payload, used as given.

        Returns:
            The token.
        """
        headers = {"kid": self.key_id, "typ": "JWT"}
        return jwt.encode(dict(claims), self._key, algorithm="RS256", headers=headers)

    def verify(self, token: str) -> dict[str, Any]:
        """Check a token's RS256 signature and return its claims unchecked.

        Args:
            token: A compact JWT.

        Returns:
            The claims. Their ``exp``, ``aud`` and ``iss`` are not checked, so
            that the caller can report each failure in its own words.

        Raises:
            jwt.InvalidSignatureError: If the header names another key or the
                signature does not match.
            jwt.InvalidAlgorithmError: If the header's ``alg`` is not RS256.
            jwt.DecodeError: If the token is malformed.
        """
        header, claims = decode_unverified(token)
        if header.get("kid") != self.key_id:
            raise jwt.InvalidSignatureError("the token names another signing key")
        verify_rs256(token, self._key.public_key())
        return claims

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """Return the public key as a JWK set (RFC 7517), as ``/oauth2/v3/certs``."""
        numbers = self._key.public_key().public_numbers()
        key = {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.key_id,
            "n": _base64url_integer(numbers.n),
            "e": _base64url_integer(numbers.e),
        }
        return {"keys": [key]}

    def certificates(self) -> dict[str, str]:
        """Return the map from key id to PEM certificate, as ``/oauth2/v1/certs``."""
        pem = self._certificate.public_bytes(serialization.Encoding.PEM)
        return {self.key_id: pem.decode("ascii")}
