"""Profiles: named sets of settings read from a TOML configuration file.

A Posos integrator has one key file and one OAuth client ID per environment.
A profile stores them once, with the API's base URL and the network settings::

    [profiles.preprod]
    key_file = "posos-preprod-key.json"       # relative to this file's directory
    client_id = "1234-abc.apps.googleusercontent.com"
    base_url = "https://api.preprod.posos.co"
    timeout = 20

The file contains paths and URLs, never a key or a token. Every value is checked
when the file is loaded, and an error names the file, the line when it can be
found, and the fix.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from ._arguments import require_path, require_text
from ._defaults import MAX_TIMEOUT
from ._errors import ConfigFileError, ProfileNotFoundError
from ._files import NotRegularFileError, read_regular_file
from ._token_uri import is_loopback, safe_url
from ._url_target import resolve_request_url

__all__ = ["ConfigFile", "Profile", "resolve_request_url"]

logger = logging.getLogger(__name__)

CONFIG_ENV: Final = "POSOS_JWT_CONFIG"
"""Environment variable that names the configuration file, like ``--config``."""

PROFILE_ENV: Final = "POSOS_PROFILE"
"""Environment variable that names the profile to use, like ``--profile``."""

CONFIG_DIR_NAME: Final = "posos-jwt"
CONFIG_FILE_NAME: Final = "config.toml"

MAX_CONFIG_FILE_SIZE: Final = 1024 * 1024
"""Largest configuration file read, in bytes. A file with a few profiles is
about 1 KB, so this only stops a wrong path from being read into memory."""

PROFILE_NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
"""Profile names usable unquoted in TOML and on a command line."""

REQUIRED_KEYS: Final = ("key_file", "client_id")
OPTIONAL_KEYS: Final = ("base_url", "token_uri", "ca_bundle", "proxy", "timeout")
PROFILE_KEYS: Final = REQUIRED_KEYS + OPTIONAL_KEYS
TOP_LEVEL_KEYS: Final = ("profiles",)

_TOML_POSITION: Final = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


@dataclass(frozen=True)
class Profile:
    """One ``[profiles.NAME]`` table, checked, with its paths made absolute.

    Attributes:
        name: The profile's name.
        config_path: The configuration file that defines it.
        key_file: The service-account key file.
        client_id: The OAuth client ID of the IAP resource (the audience).
        base_url: The API's base URL, such as ``https://api.preprod.posos.co``.
        token_uri: The token endpoint, overriding the key file's.
        ca_bundle: A PEM file of CA certificates to trust instead of the
            system's.
        proxy: The URL of an HTTP(S) proxy. It may contain a user name and
            password, so show it through :func:`safe_url` only.
        timeout: Seconds allowed to connect, and again for each read.
    """

    name: str
    config_path: str
    key_file: str
    client_id: str
    base_url: str | None = None
    token_uri: str | None = None
    ca_bundle: str | None = None
    proxy: str | None = None
    timeout: float | None = None

    def __repr__(self) -> str:
        proxy = None if self.proxy is None else safe_url(self.proxy)
        return (
            f"Profile(name={self.name!r}, key_file={self.key_file!r}, "
            f"client_id={self.client_id!r}, base_url={self.base_url!r}, "
            f"token_uri={self.token_uri!r}, ca_bundle={self.ca_bundle!r}, "
            f"proxy={proxy!r}, timeout={self.timeout!r})"
        )


@dataclass(frozen=True)
class ConfigFile:
    """A loaded configuration file and its profiles, in file order.

    Attributes:
        path: The file's path, as given.
        profiles: The profiles by name.
    """

    path: str
    profiles: Mapping[str, Profile]

    @staticmethod
    def default_path() -> str:
        """Return the configuration file used when none is named.

        It is ``$XDG_CONFIG_HOME/posos-jwt/config.toml``, or
        ``~/.config/posos-jwt/config.toml`` when that variable is unset or not
        an absolute path, because the XDG Base Directory specification requires
        a relative one to be ignored.
        """
        base = os.environ.get("XDG_CONFIG_HOME", "")
        if not os.path.isabs(base):
            base = os.path.join(os.path.expanduser("~"), ".config")
        return os.path.join(base, CONFIG_DIR_NAME, CONFIG_FILE_NAME)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ConfigFile:
        """Read and check a configuration file.

        Relative ``key_file`` and ``ca_bundle`` paths are resolved against the
        directory of ``path`` as given, so that the file works from any
        working directory. When ``path`` is a symbolic link, that is the
        directory of the link, not of the file it points to. A leading ``~``
        is expanded.

        Raises:
            ConfigurationError: ``path`` is not a ``str`` or
                ``os.PathLike[str]``.
            ConfigFileError: The path contains a NUL byte, or the file is
                missing, unreadable, not a regular file, not TOML, or has an
                unknown key, a value of the wrong type or a missing key.
        """
        name = require_path(path, "path")
        text = _read_text(name)
        document = _parse_toml(text, name)
        profiles = _check_profiles(document, text, name)
        logger.debug("loaded %d profiles from %s", len(profiles), name)
        return cls(path=name, profiles=profiles)

    def profile(self, name: str) -> Profile:
        """Return the profile called ``name``.

        Raises:
            ConfigurationError: ``name`` is not a string.
            ProfileNotFoundError: The file defines no such profile.
        """
        require_text(name, "name", "pass the profile's name")
        profile = self.profiles.get(name)
        if profile is not None:
            return profile
        known = tuple(self.profiles)
        listed = ", ".join(known) if known else "none"
        raise ProfileNotFoundError(
            f"no profile {name!r} (profiles defined: {listed}): add a "
            f"[profiles.{name}] table, or choose another profile",
            path=self.path,
            profile=name,
            known=known,
        )


def _read_text(path: str) -> str:
    if "\0" in path:
        raise ConfigFileError(
            "the path contains a NUL byte, which no file name can contain: check "
            f"--config or {CONFIG_ENV}",
            path=path.replace("\0", "\\0"),
        )
    try:
        data, _ = read_regular_file(os.path.expanduser(path), MAX_CONFIG_FILE_SIZE)
    except NotRegularFileError:
        raise ConfigFileError(
            "is not a regular file (a device, a FIFO or a socket): give the "
            f"path of the {CONFIG_FILE_NAME} file",
            path=path,
        ) from None
    except OSError as exc:
        raise _open_error(path, exc) from exc
    if len(data) > MAX_CONFIG_FILE_SIZE:
        raise ConfigFileError(
            f"larger than {MAX_CONFIG_FILE_SIZE} bytes, so not a configuration "
            "file: check the path",
            path=path,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigFileError(
            f"not UTF-8 text (invalid byte at offset {exc.start}): save it as UTF-8",
            path=path,
        ) from exc


def _open_error(path: str, exc: OSError) -> ConfigFileError:
    if isinstance(exc, FileNotFoundError):
        return ConfigFileError(
            "not found: create it with a [profiles.NAME] table, or name another "
            f"file with --config or {CONFIG_ENV}",
            path=path,
        )
    if isinstance(exc, IsADirectoryError):
        return ConfigFileError(
            f"is a directory: give the path of the {CONFIG_FILE_NAME} file inside it",
            path=path,
        )
    return ConfigFileError(
        f"cannot be read ({exc.strerror}): check its permissions", path=path
    )


def _parse_toml(text: str, path: str) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's TOMLDecodeError has no position attributes: the
        # position is only at the end of its message.
        message = str(exc)
        position = _TOML_POSITION.search(message)
        line = column = None
        if position is not None:
            line, column = int(position[1]), int(position[2])
            message = message[: position.start()]
        at = "" if column is None else f" at column {column}"
        raise ConfigFileError(
            f"invalid TOML{at} ({message}): fix the syntax",
            path=path,
            line=line,
            column=column,
        ) from exc


def _check_profiles(
    document: Mapping[str, object], text: str, path: str
) -> dict[str, Profile]:
    for key in document:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigFileError(
                f"unknown top-level key {key!r} (known keys: "
                f"{', '.join(TOP_LEVEL_KEYS)}): put settings in a "
                "[profiles.NAME] table",
                path=path,
                line=find_line(text, (key,)),
                key=key,
            )
    tables = document.get("profiles", {})
    if not isinstance(tables, dict):
        raise ConfigFileError(
            "'profiles' must be a table: write each profile as [profiles.NAME]",
            path=path,
            line=find_line(text, ("profiles",)),
            key="profiles",
        )
    directory = os.path.dirname(os.path.abspath(os.path.expanduser(path)))
    profiles = {}
    for name, table in tables.items():
        checker = _ProfileChecker(name, path, text, directory)
        profiles[name] = checker.check(table)
    return profiles


class _ProfileChecker:
    """Check one profile table, with messages that name the file and line."""

    def __init__(self, name: str, path: str, text: str, directory: str) -> None:
        self.name = name
        self.path = path
        self.text = text
        self.directory = directory

    def error(self, message: str, key: str | None = None) -> ConfigFileError:
        parts = ("profiles", self.name) if key is None else ("profiles", self.name, key)
        return ConfigFileError(
            message,
            path=self.path,
            line=find_line(self.text, parts),
            profile=self.name,
            key=key,
        )

    def check(self, table: object) -> Profile:
        if not PROFILE_NAME_PATTERN.fullmatch(self.name):
            raise self.error(
                f"profile name {self.name!r} is not valid: use letters, digits, "
                "'-' and '_', starting with a letter or digit"
            )
        if not isinstance(table, dict):
            raise self.error(
                f"profile {self.name!r} must be a table: write it as "
                f"[profiles.{self.name}]"
            )
        for key in table:
            if key not in PROFILE_KEYS:
                raise self.error(
                    f"unknown key {key!r} in profile {self.name!r} (known keys: "
                    f"{', '.join(PROFILE_KEYS)}): remove it or fix its spelling",
                    key,
                )
        for key in REQUIRED_KEYS:
            if key not in table:
                raise self.error(
                    f"profile {self.name!r} has no {key!r}: add "
                    f'{key} = "..." to its table'
                )
        return Profile(
            name=self.name,
            config_path=self.path,
            key_file=self.path_value(table, "key_file"),
            client_id=self.text_value(table, "client_id"),
            base_url=self.url_value(table, "base_url"),
            token_uri=self.url_value(table, "token_uri"),
            ca_bundle=self.optional_path_value(table, "ca_bundle"),
            proxy=self.proxy_value(table),
            timeout=self.timeout_value(table),
        )

    def text_value(self, table: Mapping[str, object], key: str) -> str:
        value = table[key]
        if not isinstance(value, str):
            raise self.error(
                f"{key!r} in profile {self.name!r} must be a string, found "
                f"{_toml_type_name(value)}: put the value in double quotes",
                key,
            )
        if not value.strip():
            raise self.error(
                f"{key!r} in profile {self.name!r} is empty: give a value", key
            )
        return value.strip()

    def path_value(self, table: Mapping[str, object], key: str) -> str:
        text = self.text_value(table, key)
        if "\0" in text:
            # TOML's \u0000 escape can put a NUL in a string, and os.open()
            # would raise ValueError on it.
            raise self.error(
                f"{key!r} in profile {self.name!r} contains a NUL byte, which no "
                "file name can contain: remove the \\u0000 escape",
                key,
            )
        return os.path.join(self.directory, os.path.expanduser(text))

    def optional_path_value(self, table: Mapping[str, object], key: str) -> str | None:
        return self.path_value(table, key) if key in table else None

    def url_value(self, table: Mapping[str, object], key: str) -> str | None:
        if key not in table:
            return None
        url = self.text_value(table, key)
        problem = check_https_url(url)
        if problem is not None:
            raise self.error(f"{key} {safe_url(url)} {problem}", key)
        return url

    def proxy_value(self, table: Mapping[str, object]) -> str | None:
        if "proxy" not in table:
            return None
        url = self.text_value(table, "proxy")
        problem = check_proxy_url(url)
        if problem is not None:
            raise self.error(f"proxy {safe_url(url)} {problem}", "proxy")
        return url

    def timeout_value(self, table: Mapping[str, object]) -> float | None:
        if "timeout" not in table:
            return None
        value = table["timeout"]
        # TOML's bool is Python's bool, a subclass of int, so it is excluded.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(
                f"'timeout' in profile {self.name!r} must be a number of seconds, "
                f"found {_toml_type_name(value)}: write it without quotes, such as "
                "timeout = 10",
                "timeout",
            )
        # The rule of --timeout and of Transport: a larger timeout would
        # overflow the socket and deadline arithmetic, and an integer of
        # hundreds of digits does not fit a float at all.
        try:
            seconds = float(value)
        except OverflowError:
            seconds = math.inf
        if not math.isfinite(seconds) or seconds <= 0 or seconds > MAX_TIMEOUT:
            raise self.error(
                f"'timeout' in profile {self.name!r} is {seconds:g}: give a "
                f"positive number of seconds up to {MAX_TIMEOUT:g}",
                "timeout",
            )
        return seconds


def check_https_url(url: str) -> str | None:
    """Return why ``url`` is not an https URL (or http on loopback), or ``None``.

    The URL may carry a path, but no ``user:password@`` and no fragment.
    """
    parts = _split_or_none(url)
    if parts is None:
        return "is not a valid URL: give an https URL"
    scheme, host, username, fragment = parts
    if scheme not in ("https", "http") or not host:
        return "is not an http(s) URL with a host: give an https URL"
    if scheme == "http" and not is_loopback(host):
        return "uses plain http, allowed only on a loopback address: use https"
    if username:
        return "contains credentials: remove the 'user:password@' part"
    if fragment:
        return "has a fragment ('#...'): remove it"
    return None


def check_proxy_url(url: str) -> str | None:
    """Return why ``url`` is not a usable proxy URL, or ``None``.

    A proxy may be reached over plain http and may carry a user name and
    password, because HTTPS requests tunnel through it with CONNECT.
    """
    parts = _split_or_none(url)
    if parts is None:
        return "is not a valid URL: give a URL such as http://proxy.example:3128"
    scheme, host, _, fragment = parts
    if scheme not in ("https", "http") or not host:
        return (
            "is not an http(s) URL with a host: give a URL such as "
            "http://proxy.example:3128"
        )
    if fragment:
        return "has a fragment ('#...'): remove it"
    return None


def _split_or_none(url: str) -> tuple[str, str, str, str] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    del port
    return parts.scheme, parts.hostname or "", parts.username or "", parts.fragment


def find_line(text: str, parts: tuple[str, ...]) -> int | None:
    """Find the 1-based line that defines a table or key, or ``None``.

    ``parts`` is a key path such as ``("profiles", "preprod", "timeout")``.
    The search understands ``[table]`` headers and ``key = value`` lines,
    which is how profiles are written. A key written as a dotted key or in
    an inline table is not found, so its message has no line.
    """
    table: tuple[str, ...] = ()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("[") and not line.startswith("[["):
            table = _key_path(line[1 : line.find("]")])
            if table == parts:
                return number
            continue
        key, equals, _ = line.partition("=")
        if equals and (*table, *_key_path(key)) == parts:
            return number
    return None


def _key_path(text: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in text.split("."))


def _toml_type_name(value: object) -> str:
    names = {
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        list: "an array",
        dict: "a table",
    }
    return names.get(type(value), f"a {type(value).__name__}")
