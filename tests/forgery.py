"""Tokens changed or forged by hand, for the verification tests.

pyjwt refuses to sign HS256 with a PEM public key as the secret, which is the
point of that attack, so these helpers build the JWTs from base64url and hmac.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(document: dict[str, Any]) -> str:
    return b64url(json.dumps(document, separators=(",", ":")).encode("utf-8"))


def decode_segment(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    document: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return document


def with_header(token: str, **changes: Any) -> str:
    """Return ``token`` with header members replaced, and its old signature."""
    header, payload, signature = token.split(".")
    new_header = {**decode_segment(header), **changes}
    return f"{b64url_json(new_header)}.{payload}.{signature}"


def with_payload_byte_changed(token: str) -> str:
    """Return ``token`` with one byte of its decoded payload changed."""
    header, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    position = raw.index(b"@")  # inside the email, so the JSON stays valid
    raw[position - 1] ^= 0x01
    return f"{header}.{b64url(bytes(raw))}.{signature}"


def unsigned(token: str) -> str:
    """Return ``token`` with ``alg: none`` and an empty signature."""
    header, payload, _ = token.split(".")
    new_header = {**decode_segment(header), "alg": "none"}
    return f"{b64url_json(new_header)}.{payload}."


def hs256_with_secret(token: str, secret: bytes) -> str:
    """Return ``token`` re-signed with HS256 and ``secret`` as the HMAC key."""
    header, payload, _ = token.split(".")
    new_header = {**decode_segment(header), "alg": "HS256"}
    signing_input = f"{b64url_json(new_header)}.{payload}"
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"
