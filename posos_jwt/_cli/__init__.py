"""The ``posos-jwt`` command.

Each subcommand lives in its own module with two functions: ``add_parser``
declares its options and ``run`` carries it out through the public API only.
``run`` and its helpers import the modules of the flow (urllib3, pyjwt, the
configuration file, the cache) inside their bodies, so that building the
parser loads none of them and each subcommand loads only the ones it needs.
Errors become one line on stderr and an exit code:

====  ==========================================================
code  meaning
====  ==========================================================
0     success
1     an unexpected error: a bug, reported with a traceback
2     usage: a missing or invalid option
3     key file or configuration, or a profile whose key file is unusable
4     rejected by the token endpoint
5     network, TLS or timeout
6     a token failed its check or its verification
7     HTTP error status from the API, or a rejection by IAP
====  ==========================================================
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .. import PososJWTError
from . import (
    _cache,
    _check_key,
    _demo,
    _inspect,
    _profiles,
    _request,
    _token,
    _verify,
)
from ._common import EXIT_USAGE, ArgumentParser, UsageError, print_error, setup_logging

COMMANDS = (
    _token,
    _request,
    _check_key,
    _profiles,
    _cache,
    _inspect,
    _verify,
    _demo,
)


def build_parser() -> ArgumentParser:
    """Build the argument parser with every subcommand."""
    parser = ArgumentParser(
        prog="posos-jwt",
        description=(
            "Get Google-signed ID tokens for APIs behind Identity-Aware Proxy "
            "from a service-account key."
        ),
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log each step of the flow on stderr (never a key or a token)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for command in COMMANDS:
        command.add_parser(subparsers)
    for subparser in subparsers.choices.values():
        # -v is accepted after the subcommand too. SUPPRESS keeps a subcommand
        # without -v from resetting a -v given before it.
        subparser.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            default=argparse.SUPPRESS,
            help="log each step of the flow on stderr (never a key or a token)",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        setup_logging(verbose=args.verbose)
        code: int = args.run(args)
    except UsageError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    except PososJWTError as exc:
        print_error(str(exc))
        return exc.exit_code
    return code
