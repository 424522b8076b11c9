"""Check the ID token that the token endpoint returned.

The token's signature is not verified here. It arrived over TLS that was
verified, straight from the token endpoint that posos-jwt chose, in response to
a request that only the key's owner can sign, so forgery is not the risk. The
checks catch a mixed-up or stale response instead: a token for another audience
or another account, or one that has already expired. To verify a token that
arrived from anywhere else, check its signature against Google's keys.

:func:`decode_unverified` splits and decodes the token itself instead of
calling pyjwt, because importing pyjwt takes longer than the whole token
request (see ``_assertion.py`` for the measurement). Since it only decodes, no
header field chooses an algorithm or a key here. It is at least as strict as
pyjwt 2.15's unverified decode: three segments, each in the base64url alphabet,
unpadded and canonical, and a header and a payload that are UTF-8 JSON objects.
It rejects what pyjwt accepts in four cases: ``=`` padding, which RFC 7515
(section 2) omits, JSON in UTF-16 or UTF-32 or after a byte order mark, which
RFC 7515 excludes by encoding the header as UTF-8, any ``crit`` header, whose
extensions RFC 7515 (section 4.1.11) requires a reader to understand, and a
token longer than :data:`MAX_TOKEN_LENGTH`. ``tests/test_jwt_decoder.py``
compares the two decoders on good and bad tokens.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeGuard

from ._base64url import decode_base64url
from ._errors import TokenCheckError, excerpt

MAX_EXPIRY_AHEAD: Final = 24 * 3600
"""Seconds after now beyond which an ``exp`` is rejected. Google issues
one-hour ID tokens, so an expiry a day ahead means a wrong server or a wrong
clock, and caching such a token would keep it past its real life."""

MAX_TOKEN_LENGTH: Final = 16 * 1024
"""Longest token decoded, in characters. Google's ID tokens are about 1,000
characters, so a longer one is not an ID token, and the cap bounds the work
spent on a wrong answer."""

CLOCK_LEEWAY: Final = 60
"""Seconds by which the token's ``iat`` may lie in the future: clocks of
well-run machines agree within this, and Google issues ``iat`` from its own."""


@dataclass(frozen=True, repr=False)
class IDToken:
    """A checked ID token with its expiry and claims.

    ``repr`` and ``str`` show the account, audience and expiry, never the
    token itself: read :attr:`value` to send it.

    Attributes:
        value: The compact JWT, a bearer credential until it expires.
        expiry: The ``exp`` claim, in UTC epoch seconds.
        claims: All claims of the token, decoded without verifying.
    """

    value: str
    expiry: int
    claims: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"IDToken(email={self.email!r}, audience={self.audience!r}, "
            f"expiry={format_utc(self.expiry)!r})"
        )

    __str__ = __repr__

    @property
    def audience(self) -> str | None:
        """The ``aud`` claim, when it is a single string."""
        audience = self.claims.get("aud")
        return audience if isinstance(audience, str) else None

    @property
    def email(self) -> str | None:
        """The ``email`` claim, if the token has one."""
        email = self.claims.get("email")
        return email if isinstance(email, str) else None

    @property
    def expires_at(self) -> datetime.datetime:
        """The expiry as an aware UTC datetime."""
        return datetime.datetime.fromtimestamp(self.expiry, tz=datetime.UTC)


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Decode a JWT's header and claims without checking its signature.

    Raises:
        TokenCheckError: ``token`` is not a compact JWT of three base64url
            segments whose header and payload are JSON objects, or it is
            longer than :data:`MAX_TOKEN_LENGTH`.
    """
    if not isinstance(token, str):
        raise _malformed(f"it is a {type(token).__name__}, not a string")
    if len(token) > MAX_TOKEN_LENGTH:
        raise _malformed(
            f"it is {len(token)} characters long, more than the {MAX_TOKEN_LENGTH} "
            "accepted"
        )
    segments = token.split(".")
    if len(segments) != 3:
        raise _malformed(f"it has {len(segments)} dot-separated segments, not 3")
    header = _decode_json_segment(segments[0], "header")
    claims = _decode_json_segment(segments[1], "payload")
    try:
        decode_base64url(segments[2])
    except ValueError:
        raise _malformed("its signature is not unpadded base64url") from None
    _check_header(header)
    return header, claims


def _decode_json_segment(segment: str, name: str) -> dict[str, Any]:
    try:
        document = json.loads(decode_base64url(segment).decode("utf-8"))
    except (ValueError, RecursionError):
        # ValueError covers invalid base64url, UTF-8 and JSON, including
        # integers longer than Python's int_max_str_digits.
        document = None
    if not isinstance(document, dict):
        # The segment is never quoted: the payload belongs to a bearer token.
        raise _malformed(f"its {name} is not a base64url-encoded JSON object")
    return document


def _check_header(header: Mapping[str, Any]) -> None:
    # The same header rules as pyjwt's unverified decode, except that every
    # crit is rejected, because this reader understands no extension.
    if "kid" in header and not isinstance(header["kid"], str):
        raise _malformed("its header kid is not a string")
    if "crit" in header:
        raise _malformed("its header has crit, and no critical extension is supported")
    if header.get("b64") is False:
        raise _malformed("its header sets b64 to false, for a detached payload")


def _malformed(reason: str) -> TokenCheckError:
    return TokenCheckError(
        f"the returned ID token is not a valid JWT ({reason}): check that the "
        "token endpoint URL is right",
        claim=None,
    )


def check_id_token(
    token: str,
    *,
    audience: str,
    email: str,
    now: float,
    leeway: float = CLOCK_LEEWAY,
) -> IDToken:
    """Check the claims of a token just received from the token endpoint.

    Args:
        token: The ``id_token`` of the response.
        audience: The client ID that was requested; ``aud`` must equal it.
        email: The service account; ``email``, when present, must equal it.
        now: The current UTC time, in epoch seconds.
        leeway: Seconds by which ``iat`` may be in the future.

    Returns:
        The token with its expiry and claims.

    Raises:
        TokenCheckError: The token is not a JWT, or a claim is wrong.
    """
    _, claims = decode_unverified(token)
    expiry = _check_expiry(claims, now)
    _check_issued_at(claims, now, leeway)
    _check_audience(claims, audience)
    _check_email(claims, email)
    return IDToken(value=token, expiry=expiry, claims=claims)


def _is_number(value: object) -> TypeGuard[float]:
    return finite_number(value) is not None


def finite_number(value: object) -> float | None:
    """Return ``value`` as a float if it is a finite int or float, else None.

    bool is an int in Python, and Python's json module accepts NaN and
    Infinity, so both are ruled out. An int too large for a float is too.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _check_expiry(claims: Mapping[str, Any], now: float) -> int:
    expiry = claims.get("exp")
    if not _is_number(expiry):
        raise TokenCheckError(
            f"the returned ID token's exp claim is {show_value(expiry)}, not a number: "
            "check that the token endpoint URL is right",
            claim="exp",
            expected="a number",
            actual=show_value(expiry),
        )
    if expiry > now + MAX_EXPIRY_AHEAD:
        raise TokenCheckError(
            f"the returned ID token expires at {format_utc(expiry)}, more than "
            f"{MAX_EXPIRY_AHEAD // 3600} hours from now ({format_utc(now)}): "
            "check the token endpoint URL and this machine's clock",
            claim="exp",
            expected=f"at most {format_utc(now + MAX_EXPIRY_AHEAD)}",
            actual=format_utc(expiry),
        )
    if expiry <= now:
        raise TokenCheckError(
            f"the returned ID token expired at {format_utc(expiry)}, before now "
            f"({format_utc(now)}): check this machine's clock",
            claim="exp",
            expected=f"after {format_utc(now)}",
            actual=format_utc(expiry),
        )
    return int(expiry)


def _check_issued_at(claims: Mapping[str, Any], now: float, leeway: float) -> None:
    issued_at = claims.get("iat")
    if issued_at is None:
        return
    if not _is_number(issued_at):
        raise TokenCheckError(
            f"the returned ID token's iat claim is {show_value(issued_at)}, not a "
            "number",
            claim="iat",
            expected="a number",
            actual=show_value(issued_at),
        )
    if issued_at > now + leeway:
        raise TokenCheckError(
            f"the returned ID token was issued at {format_utc(issued_at)}, later than "
            f"now ({format_utc(now)}) by more than {leeway:g} s: check this machine's "
            "clock",
            claim="iat",
            expected=f"at most {format_utc(now + leeway)}",
            actual=format_utc(issued_at),
        )


def _check_audience(claims: Mapping[str, Any], audience: str) -> None:
    actual = claims.get("aud")
    # RFC 7519 section 4.1.3 allows a list, but Google's ID tokens carry one
    # string, so a list means the token was meant for more than this client.
    if not isinstance(actual, str) or actual != audience:
        raise TokenCheckError(
            f"the returned ID token is for audience {show_value(actual)}, not the "
            f"client ID {audience!r} that was requested: check the token "
            "endpoint URL",
            claim="aud",
            expected=audience,
            actual=show_value(actual),
        )


def _check_email(claims: Mapping[str, Any], email: str) -> None:
    actual = claims.get("email")
    if actual is None or actual == email:
        return
    raise TokenCheckError(
        f"the returned ID token is for account {show_value(actual)}, not {email!r} "
        "whose key signed the request: check the token endpoint URL",
        claim="email",
        expected=email,
        actual=show_value(actual),
    )


def show_value(value: object) -> str:
    """Quote a value for a message, shortened to at most 100 characters."""
    # A huge number would fill the message with digits.
    if isinstance(value, float) and abs(value) >= 1e15:
        return f"{value:.6g}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 1e15:
        try:
            return f"{float(value):.6g}"
        except OverflowError:
            return f"an integer of {value.bit_length()} bits"
    try:
        return excerpt(repr(value), 100)
    except (ValueError, RecursionError):
        # repr rejects ints of over 4300 digits and very deep nesting.
        return f"a {type(value).__name__} too large to show"


def format_utc(epoch: float) -> str:
    """Format epoch seconds as an ISO 8601 UTC time, or as a number if out of range."""
    try:
        moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError, TypeError):
        return f"{epoch:g} (epoch seconds)"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
