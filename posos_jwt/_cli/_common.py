"""Options, logging and error output shared by the subcommands."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, NoReturn, TypeVar
from urllib.parse import urlsplit

from .._defaults import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_RETRY_DEADLINE,
    DEFAULT_TIMEOUT,
    MAX_TIMEOUT,
)

if TYPE_CHECKING:
    from .. import Profile, RetryPolicy

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

EXIT_USAGE: Final = 2

CLIENT_ID_ENV: Final = "POSOS_CLIENT_ID"
"""Environment variable that gives ``--client-id`` its default."""

KEY_FILE_ENV: Final = "GOOGLE_APPLICATION_CREDENTIALS"
"""Environment variable that gives ``--key-file`` its default, as in Google's tools."""

TOKEN_URI_ENV: Final = "POSOS_JWT_TOKEN_URI"
"""Environment variable that gives ``--token-uri`` its default."""

CA_BUNDLE_ENV: Final = "POSOS_JWT_CA_BUNDLE"
"""Environment variable that gives ``--ca-bundle`` its default. ``SSL_CERT_FILE``
is not used for this, because it is often set for the whole system and would
then override every profile's ``ca_bundle``. It still replaces the system's
trust store, which is the default when no level sets a CA bundle."""

CONFIG_ENV: Final = "POSOS_JWT_CONFIG"
"""Environment variable that gives ``--config`` its default."""

PROFILE_ENV: Final = "POSOS_PROFILE"
"""Environment variable that gives ``--profile`` its default."""

CACHE_ENV: Final = "POSOS_JWT_CACHE"
"""Environment variable that turns on the token cache when ``1``."""


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
    # A path given as bytes that are not UTF-8 decodes to lone surrogates,
    # which a stream without errors="backslashreplace" cannot write.
    printable = one_line.encode("utf-8", "backslashreplace").decode("utf-8")
    print(f"posos-jwt: error: {printable}", file=sys.stderr)


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
    if not value > 0 or value > MAX_TIMEOUT:
        raise argparse.ArgumentTypeError(
            f"must be a positive number of seconds up to {MAX_TIMEOUT:g}: {text!r}"
        )
    return value


def non_empty(text: str) -> str:
    """Parse the value of an option that has no meaning when empty.

    An empty ``--profile ""`` or ``--key-file ""`` is most often an unset
    shell variable, and falling back to the environment or the profile would
    then run with settings that the user did not choose.
    """
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "must not be empty: give a value, or leave the option out to use "
            "the default"
        )
    return text


def add_key_file_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--key-file``."""
    parser.add_argument(
        "--key-file",
        metavar="PATH",
        type=non_empty,
        help=(
            "service-account key file (default: $GOOGLE_APPLICATION_CREDENTIALS, "
            "then the profile's key_file)"
        ),
    )


def add_network_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--token-uri``, ``--ca-bundle`` and ``--timeout``."""
    parser.add_argument(
        "--token-uri",
        metavar="URL",
        type=non_empty,
        help=(
            "token endpoint, instead of the key file's: any https URL, or http on "
            "a loopback address (default: $POSOS_JWT_TOKEN_URI, then the "
            "profile's token_uri, then the key file's Google endpoint)"
        ),
    )
    parser.add_argument(
        "--ca-bundle",
        metavar="PATH",
        type=non_empty,
        help=(
            "PEM file of CA certificates to trust instead of the system's "
            f"(default: ${CA_BUNDLE_ENV}, then the profile's ca_bundle)"
        ),
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=positive_seconds,
        help=(
            "seconds allowed to connect, and again for each read (default: the "
            f"profile's timeout, then {DEFAULT_TIMEOUT:g})"
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
    from .. import RetryPolicy

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


def add_profile_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--profile`` and ``--config``."""
    parser.add_argument(
        "--profile",
        metavar="NAME",
        type=non_empty,
        help=(
            "take the settings of this profile of the configuration file, below "
            f"options and environment variables (default: ${PROFILE_ENV})"
        ),
    )
    add_config_option(parser)


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--config``."""
    parser.add_argument(
        "--config",
        metavar="PATH",
        type=non_empty,
        help=(
            f"configuration file of profiles (default: ${CONFIG_ENV}, then "
            "$XDG_CONFIG_HOME/posos-jwt/config.toml)"
        ),
    )


def add_cache_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--cache`` and ``--no-cache``."""
    parser.add_argument(
        "--cache",
        action=argparse.BooleanOptionalAction,
        help=(
            "keep the token on disk and reuse it until 5 minutes before it "
            f"expires (default: on when ${CACHE_ENV} is 1)"
        ),
    )


@dataclass(frozen=True)
class Settings:
    """The values a command runs with, each resolved from, in this order, the
    command-line option, the environment, the profile and the default.

    Attributes:
        key_file: The service-account key file, or ``None`` when none is set.
        key_file_from_environment: Whether ``key_file`` comes from
            ``$GOOGLE_APPLICATION_CREDENTIALS``.
        client_id: The OAuth client ID, or ``None`` when none is set.
        token_uri: The token endpoint, or ``None`` for the key file's.
        ca_bundle: The CA file to trust, or ``None`` for the system's.
        timeout: Seconds allowed to connect, and again for each read.
        proxy: The proxy URL of ``--proxy`` or the profile, or ``None``. It is
            also ``None`` when ``$HTTPS_PROXY`` wins, because the transport
            then reads the variable itself and names it in its messages. It
            may hold a password: never print it without ``safe_url``.
        base_url: The API's base URL, from the profile only.
        cache: Whether to keep tokens on disk.
        profile: The chosen profile, if any.
    """

    key_file: str | None
    key_file_from_environment: bool
    client_id: str | None
    token_uri: str | None
    ca_bundle: str | None
    timeout: float
    proxy: str | None = field(repr=False)
    base_url: str | None
    cache: bool
    profile: Profile | None


def resolve_settings(args: argparse.Namespace) -> Settings:
    """Resolve every setting of a command in one place.

    The order is: command-line option, then environment variable, then the
    profile chosen with ``--profile`` or ``$POSOS_PROFILE``, then the default.
    An option that a command does not declare counts as not given, and an
    empty environment variable as unset.

    Raises:
        ConfigFileError: The configuration file is missing or invalid.
        ProfileNotFoundError: The chosen profile is not in it.
        UsageError: ``$POSOS_JWT_CACHE`` is not 0 or 1.
    """
    profile = load_selected_profile(args)
    where = "" if profile is None else f"profile {profile.name}"

    def option(name: str) -> Any:
        return getattr(args, name, None)

    def in_profile(name: str) -> Any:
        return None if profile is None else getattr(profile, name)

    def env(name: str) -> str | None:
        return os.environ.get(name) or None

    timeout: float | None = _first(
        "timeout", ("--timeout", option("timeout")), (where, in_profile("timeout"))
    )
    # HTTPS_PROXY sits between --proxy and the profile, unless --no-env-proxy
    # turns the environment's proxy variables off.
    proxy_env = None
    if not option("no_env_proxy"):
        proxy_env = env("https_proxy") or env("HTTPS_PROXY")
    # The lower-case variable wins, as in curl, so the log names that one.
    proxy_label = "$https_proxy" if env("https_proxy") else "$HTTPS_PROXY"
    proxy = _first(
        "proxy",
        ("--proxy", option("proxy")),
        (proxy_label, proxy_env),
        (where, in_profile("proxy")),
    )
    if option("proxy") is None and proxy_env is not None:
        proxy = None
    return Settings(
        key_file=_first(
            "key_file",
            ("--key-file", option("key_file")),
            (f"${KEY_FILE_ENV}", env(KEY_FILE_ENV)),
            (where, in_profile("key_file")),
        ),
        key_file_from_environment=(
            option("key_file") is None and env(KEY_FILE_ENV) is not None
        ),
        client_id=_first(
            "client_id",
            ("--client-id", option("client_id")),
            (f"${CLIENT_ID_ENV}", env(CLIENT_ID_ENV)),
            (where, in_profile("client_id")),
        ),
        token_uri=_first(
            "token_uri",
            ("--token-uri", option("token_uri")),
            (f"${TOKEN_URI_ENV}", env(TOKEN_URI_ENV)),
            (where, in_profile("token_uri")),
        ),
        ca_bundle=_first(
            "ca_bundle",
            ("--ca-bundle", option("ca_bundle")),
            (f"${CA_BUNDLE_ENV}", env(CA_BUNDLE_ENV)),
            (where, in_profile("ca_bundle")),
        ),
        timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
        proxy=proxy,
        base_url=_first("base_url", (where, in_profile("base_url"))),
        cache=_cache_enabled(args),
        profile=profile,
    )


def _first(setting: str, *sources: tuple[str, _T | None]) -> _T | None:
    """Return the first value that is set, in the order of ``sources``.

    Each source is a label for the log (``--key-file``, ``$NAME``,
    ``profile NAME``) and a value, ``None`` when that source does not set it.
    """
    given = [(label, value) for label, value in sources if value is not None]
    if not given:
        return None
    label, value = given[0]
    logger.debug("%s from %s", setting, label)
    for other_label, other_value in given[1:]:
        overridden = label.startswith("$") and other_label.startswith("profile ")
        if overridden and other_value != value:
            # An exported variable that silently beats the profile the user
            # just named could pair one environment's key with another's
            # client ID, so the override is logged where it is seen.
            logger.warning("%s overrides %s of %s", label, setting, other_label)
    return value


def load_selected_profile(args: argparse.Namespace) -> Profile | None:
    """Load the profile named by ``--profile`` or ``$POSOS_PROFILE``, if any.

    Raises:
        ConfigFileError: The configuration file is missing or invalid.
        ProfileNotFoundError: The profile is not in it.
    """
    name = getattr(args, "profile", None) or os.environ.get(PROFILE_ENV) or None
    if name is None:
        return None
    from .. import ConfigFile

    config = ConfigFile.load(config_path(args))
    profile = config.profile(name)
    logger.debug("using profile %s of %s", name, config.path)
    return profile


def config_path(args: argparse.Namespace) -> str:
    """Return ``--config``, else ``$POSOS_JWT_CONFIG``, else the default path."""
    from .. import ConfigFile

    path: str | None = getattr(args, "config", None)
    return path or os.environ.get(CONFIG_ENV) or ConfigFile.default_path()


def _cache_enabled(args: argparse.Namespace) -> bool:
    flag: bool | None = getattr(args, "cache", None)
    if flag is not None:
        return flag
    value = os.environ.get(CACHE_ENV, "").strip()
    if value in ("", "0"):
        return False
    if value == "1":
        return True
    raise UsageError(f"{CACHE_ENV} is {value!r}: set it to 1 or 0, or unset it")


def require_client_id(settings: Settings) -> str:
    """Return the resolved client ID.

    Raises:
        UsageError: No option, variable or profile gives one.
    """
    if settings.client_id is None:
        raise UsageError(
            f"no client ID: pass --client-id, set {CLIENT_ID_ENV}, or choose a "
            "profile with --profile, to give the OAuth client ID of the IAP "
            "resource"
        )
    return settings.client_id


def add_token_options(parser: argparse.ArgumentParser) -> None:
    """Add the options of every command that gets a token: the key file, the
    client ID, the network, proxy and retry settings, the profile and the
    cache."""
    add_key_file_option(parser)
    parser.add_argument(
        "--client-id",
        metavar="ID",
        type=non_empty,
        help=(
            "OAuth client ID of the IAP resource (default: $POSOS_CLIENT_ID, "
            "then the profile's client_id)"
        ),
    )
    add_network_options(parser)
    add_proxy_and_retry_options(parser)
    add_profile_options(parser)
    add_cache_option(parser)
