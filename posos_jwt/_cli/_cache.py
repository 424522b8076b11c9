"""``posos-jwt cache clear``: delete the cached tokens."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> None:
    """Declare ``cache`` and its ``clear`` action."""
    parser = subparsers.add_parser(
        "cache",
        help="manage the on-disk token cache",
        description=(
            "Manage the tokens that 'posos-jwt token --cache' keeps in "
            "$XDG_CACHE_HOME/posos-jwt (by default ~/.cache/posos-jwt)."
        ),
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    clear = actions.add_parser(
        "clear",
        help="delete every cached token",
        description="Delete every cached token, and print how many there were.",
    )
    clear.set_defaults(run=run_clear)


def run_clear(args: argparse.Namespace) -> int:
    """Delete the cached tokens and print how many were deleted."""
    from .. import TokenCache

    del args
    cache = TokenCache()
    removed = cache.clear()
    noun = "token" if removed == 1 else "tokens"
    print(f"removed {removed} cached {noun} from {cache.directory}")
    return 0
