"""Check the ID token that the token endpoint returned.

The token's signature is not verified here. It arrived over TLS that was
verified, straight from the token endpoint that posos-jwt chose, in response to
a request that only the key's owner can sign, so forgery is not the risk. The
checks catch a mixed-up or stale answer instead: a token for another audience
or another account, or one that has already expired. To verify a token that
arrived from anywhere else, check its signature against Google's keys.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeGuard

import jwt

from ._errors import TokenCheckError

MAX_EXPIRY_AHEAD: Final = 24 * 3600
"""Seconds after now beyond which an ``exp`` is rejected. Google issues
one-hour ID tokens, so an expiry a day ahead means a wrong server or a wrong
clock, and caching such a token would keep it past its real life."""

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
        TokenCheckError: ``token`` is not a JWT with a JSON object payload.
    """
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise TokenCheckError(
            f"the returned ID token is not a valid JWT ({type(exc).__name__}): "
            "check that the token endpoint URL is right",
            claim=None,
        ) from None
    return header, claims


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
    # Python's json module accepts NaN, Infinity and integers of any size, so
    # the value is checked to be finite and to fit in a float.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _check_expiry(claims: Mapping[str, Any], now: float) -> int:
    expiry = claims.get("exp")
    if not _is_number(expiry):
        raise TokenCheckError(
            f"the returned ID token's exp claim is {_show(expiry)}, not a number: "
            "check that the token endpoint URL is right",
            claim="exp",
            expected="a number",
            actual=_show(expiry),
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
            f"the returned ID token's iat claim is {_show(issued_at)}, not a number",
            claim="iat",
            expected="a number",
            actual=_show(issued_at),
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
            f"the returned ID token is for audience {_show(actual)}, not the "
            f"client ID {audience!r} that was requested: check the token "
            "endpoint URL",
            claim="aud",
            expected=audience,
            actual=_show(actual),
        )


def _check_email(claims: Mapping[str, Any], email: str) -> None:
    actual = claims.get("email")
    if actual is None or actual == email:
        return
    raise TokenCheckError(
        f"the returned ID token is for account {_show(actual)}, not {email!r} "
        "whose key signed the request: check the token endpoint URL",
        claim="email",
        expected=email,
        actual=_show(actual),
    )


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


def format_utc(epoch: float) -> str:
    """Format epoch seconds as an ISO 8601 UTC time, or as a number if out of range."""
    try:
        moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError, TypeError):
        return f"{epoch:g} (epoch seconds)"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
