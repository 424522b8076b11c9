"""Sign the JWT assertion that requests an ID token from Google's token endpoint.

The assertion follows RFC 7523 (JWT bearer grant) as Google documents it for
service accounts: signed with the account's RSA key (RS256), ``kid`` naming the
key, and the ``target_audience`` claim asking for an OpenID Connect ID token
instead of an OAuth access token.

:func:`sign_rs256` signs with cryptography directly instead of
``jwt.encode``. Importing pyjwt loads ``jwt.algorithms``, which imports
``cryptography.x509``, and ``jwt.jwks_client``, which imports
``urllib.request``. ``python -X importtime`` put ``import jwt`` at about
80 ms on a 2-CPU AMD EPYC (CPython 3.11.7, PyJWT 2.15.1), while the whole
token request (key, TLS, signature, response) took about 15 ms, and the work
is four lines here. Signing needs no parsing: the algorithm is fixed to RS256
(RFC 7518, section 3.3: RSASSA-PKCS1-v1_5 with SHA-256 over
``base64url(header) "." base64url(claims)``), no header or algorithm is ever
read from input, and the key is the checked RSA key from the key file. pyjwt
still verifies the signatures of tokens received from elsewhere
(``posos_jwt.verify_id_token``), and the tests check that pyjwt verifies what
this module signs and writes the same bytes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from ._arguments import invalid_type, require_instance
from ._base64url import encode_base64url
from ._errors import ConfigurationError
from ._keyfile import ServiceAccountKey

GOOGLE_TOKEN_AUDIENCE: Final = "https://oauth2.googleapis.com/token"
"""The ``aud`` claim that Google's token endpoint requires. It stays the same
when the request goes to another endpoint URL (a regional host, a stand-in)."""

MAX_AUDIENCE_LENGTH: Final = 2048
"""Longest client ID or audience accepted, in characters. Google's OAuth
client IDs are about 70 characters, and a self-signed JWT's audience is a URL,
which browsers and servers commonly limit to about 2000."""

ASSERTION_LIFETIME: Final = 3600
"""Seconds between ``iat`` and ``exp``: Google's maximum, one hour."""


def check_client_id(client_id: object) -> str:
    """Return ``client_id`` unchanged if it can be a ``target_audience``.

    Raises:
        ConfigurationError: It is not a string, is empty or only white space,
            is longer than ``MAX_AUDIENCE_LENGTH``, or contains a control
            character.
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
    if len(client_id) > MAX_AUDIENCE_LENGTH:
        raise ConfigurationError(
            f"client ID is {len(client_id)} characters long, more than the "
            f"{MAX_AUDIENCE_LENGTH} that an OAuth client ID or a URL needs: give "
            "the OAuth client ID of the IAP resource"
        )
    # Tabs and spaces may be part of what the caller means, so they are sent
    # as given. Other control characters would reach log lines and never
    # belong to a client ID.
    if any(not char.isprintable() and char not in " \t" for char in client_id):
        raise ConfigurationError(
            f"client ID {client_id[:60]!r} contains a control character: give the "
            "OAuth client ID of the IAP resource as printed by Google Cloud"
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
    require_instance(key, ServiceAccountKey, "key", "load it with ServiceAccountKey")
    check_client_id(target_audience)
    if isinstance(now, bool) or not isinstance(now, int | float):
        raise invalid_type("now", "int or float", now, "give UTC epoch seconds")
    if not math.isfinite(now):
        raise ConfigurationError(
            f"invalid argument now: must be a finite time, not {now}"
        )
    issued_at = int(now)
    claims = {
        "iss": key.client_email,
        "aud": GOOGLE_TOKEN_AUDIENCE,
        "iat": issued_at,
        "exp": issued_at + ASSERTION_LIFETIME,
        "target_audience": target_audience,
    }
    return sign_rs256(claims, key)


def sign_rs256(claims: Mapping[str, Any], key: ServiceAccountKey) -> str:
    """Sign ``claims`` as a compact JWS with RS256 and the key's ``kid``.

    The header is ``{"alg":"RS256","kid":...,"typ":"JWT"}``, with its keys
    sorted as ``jwt.encode`` writes them, and both JSON segments are compact
    (no spaces), so the output is the one that ``jwt.encode`` of PyJWT 2.15
    produces (``tests/test_assertion.py`` compares them).

    Returns:
        The compact JWT. It is a bearer credential until it expires: never log it.
    """
    header = {"alg": "RS256", "kid": key.private_key_id, "typ": "JWT"}
    signing_input = _encode_segment(header) + "." + _encode_segment(claims)
    signature = key.private_key.sign(
        signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
    )
    return signing_input + "." + encode_base64url(signature)


def _encode_segment(document: Mapping[str, Any]) -> str:
    # ensure_ascii (the default) escapes every non-ASCII character, so the
    # segment is the same whatever the encoding; allow_nan=False rejects NaN
    # and Infinity, which are not JSON (RFC 8259).
    text = json.dumps(document, separators=(",", ":"), allow_nan=False)
    return encode_base64url(text.encode("ascii"))
