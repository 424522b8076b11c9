"""Options, logging and error output shared by the subcommands."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Final, NoReturn
from urllib.parse import urlsplit

from .. import DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_DEADLINE, RetryPolicy
from .._transport import DEFAULT_TIMEOUT

EXIT_USAGE: Final = 2

CLIENT_ID_ENV: Final = "POSOS_CLIENT_ID"
"""Environment variable that gives ``--client-id`` its default."""


class UsageError(Exception):
    """A missing or invalid command-line option, reported with exit code 2."""


class ArgumentParser(argparse.ArgumentParser):
    """An argument parser that reports a usage error as one line."""

    def error(self, message: str) -> NoReturn:
        """Raise :class:`UsageError` instead of printing usage and exiting."""
        raise UsageError(f"{message} (see '{self.prog} --help')")


def print_error(message: str) -> None:
    """Print ``message`` as one line on stderr."""
    one_line = " ".join(message.split())
    print(f"posos-jwt: error: {one_line}", file=sys.stderr)


class _OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = " ".join(record.getMessage().split())
        return f"posos-jwt: {record.levelname.lower()}: {message}"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The command's own stderr handler, distinct from any the application adds."""


def setup_logging(*, verbose: bool) -> None:
    """Send posos-jwt's log records to stderr: warnings, or all with -v.

    A handler from an earlier call in the same process is replaced, so that
    each record is printed once.
    """
    logger = logging.getLogger("posos_jwt")
    for old in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(old)
    handler = _StderrHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)


def positive_seconds(text: str) -> float:
    """Parse a ``--timeout`` value."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid number of seconds: {text!r}"
        ) from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number: {text!r}")
    return value


def add_key_file_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--key-file``."""
    parser.add_argument(
        "--key-file",
        metavar="PATH",
        help="service-account key file (default: $GOOGLE_APPLICATION_CREDENTIALS)",
    )


def add_network_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--token-uri``, ``--ca-bundle`` and ``--timeout``."""
    parser.add_argument(
        "--token-uri",
        metavar="URL",
        help=(
            "token endpoint, instead of the key file's: any https URL, or http on "
            "a loopback address (default: $POSOS_JWT_TOKEN_URI, then the key "
            "file's Google endpoint)"
        ),
    )
    parser.add_argument(
        "--ca-bundle",
        metavar="PATH",
        help="PEM file of CA certificates to trust instead of the system's",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=positive_seconds,
        default=DEFAULT_TIMEOUT,
        help=(
            "seconds allowed to connect, and again for each read "
            f"(default: {DEFAULT_TIMEOUT:g})"
        ),
    )


def positive_integer(text: str) -> int:
    """Parse a ``--max-attempts`` value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more: {text!r}")
    return value


def add_proxy_and_retry_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--proxy``, ``--no-env-proxy``, ``--max-attempts`` and
    ``--retry-deadline``."""
    parser.add_argument(
        "--proxy",
        metavar="URL",
        type=proxy_url,
        help=(
            "http://host:port of a proxy for every request, instead of "
            "$HTTPS_PROXY; hosts in $NO_PROXY are still reached directly. Give "
            "a proxy password through $HTTPS_PROXY, never here"
        ),
    )
    parser.add_argument(
        "--no-env-proxy",
        action="store_true",
        help="ignore HTTPS_PROXY, https_proxy, NO_PROXY and no_proxy",
    )
    parser.add_argument(
        "--max-attempts",
        metavar="N",
        type=positive_integer,
        default=DEFAULT_MAX_ATTEMPTS,
        help=(
            "token requests sent at most when the endpoint fails for a reason "
            f"that may pass, the first included (default: {DEFAULT_MAX_ATTEMPTS})"
        ),
    )
    parser.add_argument(
        "--retry-deadline",
        metavar="SECONDS",
        type=positive_seconds,
        default=DEFAULT_RETRY_DEADLINE,
        help=(
            "seconds from the first token request within which every attempt "
            "must end; it also shortens the timeout of a late retry "
            f"(default: {DEFAULT_RETRY_DEADLINE:g})"
        ),
    )


def proxy_url(text: str) -> str:
    """Parse a ``--proxy`` value, rejecting a password in it.

    A command-line argument is visible to every user of the machine through
    the process list, so a proxy password must come from the environment.
    The message never quotes the value.
    """
    try:
        password = urlsplit(text if "://" in text else "http://" + text).password
    except ValueError:
        password = None
    if password is not None:
        raise argparse.ArgumentTypeError(
            "must not contain a password, which other users could read in the "
            "process list: set HTTPS_PROXY=http://user:password@host:port in the "
            "environment instead"
        )
    return text


def retry_from(args: argparse.Namespace) -> RetryPolicy:
    """Build the retry policy from ``--max-attempts`` and ``--retry-deadline``."""
    return RetryPolicy(max_attempts=args.max_attempts, deadline=args.retry_deadline)


def client_id_from(args: argparse.Namespace) -> str:
    """Return ``--client-id`` or ``$POSOS_CLIENT_ID``.

    Raises:
        UsageError: Neither is given.
    """
    client_id: str | None = args.client_id or os.environ.get(CLIENT_ID_ENV)
    if client_id is None:
        raise UsageError(
            f"no client ID: pass --client-id or set {CLIENT_ID_ENV} to the OAuth "
            "client ID of the IAP resource"
        )
    return client_id
