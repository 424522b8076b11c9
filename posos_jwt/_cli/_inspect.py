"""``posos-jwt inspect``: decode a JWT without verifying it, to show its contents."""

from __future__ import annotations

import argparse
import datetime
import json
import time
from typing import Any

from ._token_input import add_token_argument, read_token

UNVERIFIED_NOTICE = (
    "UNVERIFIED: decoded without checking the signature, issuer, audience or "
    "times; run 'posos-jwt verify' to verify"
)
"""The first line of the output, so that it is never taken for a verification."""

TIME_CLAIMS = ("iat", "nbf", "exp")
"""Claims shown again as UTC times, in this order, when they are numbers."""


def add_parser(subparsers: Any) -> None:
    """Declare ``inspect`` and its argument."""
    parser = subparsers.add_parser(
        "inspect",
        help="decode a JWT without verifying it",
        description=(
            "Decode a JWT without verifying it, and print its header, its "
            "claims, and its iat, nbf and exp as UTC times with how long ago or "
            "how long until. The token itself and its signature are never "
            "printed."
        ),
    )
    add_token_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Decode the token and print what it contains."""
    from .. import decode_unverified_jwt

    header, claims = decode_unverified_jwt(read_token(args))
    print(UNVERIFIED_NOTICE)
    print("header:")
    print(json.dumps(header, indent=2, sort_keys=True))
    print("claims:")
    print(json.dumps(claims, indent=2, sort_keys=True))
    now = time.time()
    for name in TIME_CLAIMS:
        line = describe_time_claim(name, claims.get(name), now)
        if line is not None:
            print(line)
    return 0


def describe_time_claim(name: str, value: object, now: float) -> str | None:
    """Format a time claim as ``name: UTC time (how long ago or until)``.

    Returns:
        The line, or None when the claim is absent or not a number of seconds
        that a date can hold.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        moment = datetime.datetime.fromtimestamp(value, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return None
    offset = value - now
    if offset >= 0:
        relative = f"in {describe_duration(offset)}"
    else:
        relative = f"{describe_duration(-offset)} ago"
    return f"{name}: {moment:%Y-%m-%dT%H:%M:%SZ} ({relative})"


def describe_duration(seconds: float) -> str:
    """Format seconds as the largest non-zero unit and the next one, as "1 h 5 min".

    The units are days, hours, minutes and seconds; fractions of a second are
    dropped.
    """
    remaining = int(seconds)
    counts: list[tuple[int, str]] = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        counts.append((count, unit))
    first = next((i for i, (count, _) in enumerate(counts) if count), len(counts) - 1)
    return " ".join(f"{count} {unit}" for count, unit in counts[first : first + 2])
