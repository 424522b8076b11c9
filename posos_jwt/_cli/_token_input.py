"""The ``TOKEN | -`` argument of ``inspect`` and ``verify``, and reading it."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Final

from ._common import UsageError

logger = logging.getLogger(__name__)

STDIN_LIMIT: Final = 64 * 1024
"""Maximum characters read from stdin. A JWT is about 1 KB, and the library
rejects anything over 16 KiB with its own message, so the limit only stops a
stream that never ends."""


def add_token_argument(parser: argparse.ArgumentParser) -> None:
    """Add the optional positional ``TOKEN``."""
    parser.add_argument(
        "token",
        nargs="?",
        metavar="TOKEN",
        help=(
            "the JWT, or - to read it from stdin (the default when stdin is not "
            "a terminal); stdin keeps it out of the shell history and the "
            "process list"
        ),
    )


def read_token(args: argparse.Namespace) -> str:
    """Return the token from the argument or from stdin, without white space.

    Raises:
        UsageError: No token was given, or stdin is empty or not UTF-8.
    """
    if args.token is not None and args.token != "-":
        logger.warning(
            "the token was given on the command line, where the shell history "
            "and the process list can show it: pipe it on stdin with - instead"
        )
        token: str = args.token.strip()
        return token
    if args.token is None and sys.stdin.isatty():
        raise UsageError(
            "no token: pipe it on stdin, for example 'posos-jwt token ... | "
            "posos-jwt COMMAND -'"
        )
    try:
        text = sys.stdin.read(STDIN_LIMIT)
    except UnicodeDecodeError:
        raise UsageError("stdin is not UTF-8 text: pipe the token itself") from None
    token = text.strip()
    if not token:
        raise UsageError("no token on stdin: pipe the token itself")
    return token
