"""Base64url without padding, the encoding of JWT segments (RFC 7515, section 2).

Decoding accepts exactly one string for each byte string. The standard
library's decoder skips characters outside the alphabet and ignores the
unused low bits of the last character, so several strings would decode to
the same token.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]*")
"""The base64url alphabet without padding."""


def encode_base64url(data: bytes) -> str:
    """Encode bytes as base64url without ``=`` padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode_base64url(text: str) -> bytes:
    """Decode unpadded base64url in its one canonical form.

    Padding, characters outside the alphabet and set unused bits
    (RFC 4648, section 3.5) are rejected.

    Raises:
        ValueError: ``text`` is not canonical unpadded base64url.
    """
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        raise ValueError("not base64url") from None
    if encode_base64url(data) != text:
        raise ValueError("not canonical base64url: unused bits are set")
    return data
