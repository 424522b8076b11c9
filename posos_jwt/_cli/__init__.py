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
1     the output could not be written, or an unexpected error (a bug,
      reported with a traceback)
2     usage: a missing or invalid option
3     key file or configuration, or a profile whose key file is unusable
4     rejected by the token endpoint
5     network, TLS or timeout
6     a token failed its check or its verification
7     HTTP error status from the API, or a rejection by IAP
130   interrupted with Ctrl-C
====  ==========================================================
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence
from typing import Final

from .. import PososJWTError, __version__
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

EXIT_OUTPUT: Final = 1
"""Exit code when the result cannot be written to standard output."""

EXIT_INTERRUPTED: Final = 130
"""Exit code after Ctrl-C: 128 plus SIGINT, as shells report it."""

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
    parser.add_argument(
        "--version", action="version", version=f"posos-jwt {__version__}"
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
        if sys.stdout is None:
            # print() writes nothing and raises nothing when stdout is closed,
            # so a token would be lost without a word.
            print_error(
                "standard output is closed, so the result cannot be written: "
                "run the command with standard output open"
            )
            return EXIT_OUTPUT
        setup_logging(verbose=args.verbose)
        code: int = args.run(args)
        # Output is buffered, so a full disk or a closed pipe shows here.
        sys.stdout.flush()
    except UsageError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    except PososJWTError as exc:
        print_error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        print_error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        print_error("cannot write the output: the reader closed the pipe")
        _silence_stdout()
        return EXIT_OUTPUT
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EIO, errno.EBADF):
            raise
        print_error(f"cannot write the output ({exc.strerror}): check stdout")
        _silence_stdout()
        return EXIT_OUTPUT
    return code


def _silence_stdout() -> None:
    # After a broken pipe, the interpreter's final flush of stdout would fail
    # again and print a traceback, so stdout is pointed at the null device.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
