"""Choose the token endpoint that receives the signed assertion.

The assertion is a bearer credential for one hour: whoever receives it can
exchange it at Google for an ID token. So the endpoint named in a key file is
used only when it is a Google host, and any other endpoint must be named
explicitly by the caller, and is logged.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from typing import Final
from urllib.parse import SplitResult, urlsplit

from ._errors import ConfigurationError

logger = logging.getLogger(__name__)

DEFAULT_TOKEN_URI: Final = "https://oauth2.googleapis.com/token"
"""Google's OAuth 2.0 token endpoint, used when a key file names none."""

TOKEN_URI_ENV: Final = "POSOS_JWT_TOKEN_URI"
"""Environment variable that overrides the token endpoint, like ``token_uri=``."""

GOOGLE_TOKEN_HOSTS: Final = frozenset(
    {"oauth2.googleapis.com", "www.googleapis.com", "accounts.google.com"}
)
"""Hosts whose ``token_uri`` a key file may name without an explicit override."""

_OVERRIDE_HINT: Final = (
    "if you trust this endpoint, name it explicitly with token_uri= "
    f"(--token-uri on the command line, or {TOKEN_URI_ENV})"
)


def resolve_token_uri(
    key_token_uri: str | None,
    *,
    universe_domain: str,
    override: str | None = None,
    key_path: str | None = None,
) -> str:
    """Return the token endpoint to use.

    An explicit ``override`` wins, then ``POSOS_JWT_TOKEN_URI``, then the key
    file's ``token_uri`` if it is a Google host, then Google's default.

    Args:
        key_token_uri: The key file's ``token_uri`` field, if any.
        universe_domain: The key file's universe, which adds ``oauth2.DOMAIN``
            to the accepted hosts.
        override: An endpoint chosen by the caller, which may be any https URL,
            or http on a loopback address.
        key_path: The key file, for messages only.

    Raises:
        ConfigurationError: The chosen URL is not acceptable.
    """
    if override is None:
        override = os.environ.get(TOKEN_URI_ENV) or None
    if override is not None:
        return _check_override(override)
    if key_token_uri is None or not key_token_uri.strip():
        return DEFAULT_TOKEN_URI
    return _check_key_file_uri(key_token_uri, universe_domain, key_path)


def _check_override(uri: str) -> str:
    parts = _split(uri, "token endpoint override")
    if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
        raise ConfigurationError(
            f"token endpoint {safe_url(uri)} uses plain http, which is allowed "
            "only on a loopback address: use an https URL"
        )
    if parts.hostname not in GOOGLE_TOKEN_HOSTS:
        # The signed assertion goes to a host that is not Google's, so an
        # operator must be able to see that in the log.
        logger.warning(
            "using token endpoint %s, which is not a Google host", safe_url(uri)
        )
    return uri


def _check_key_file_uri(uri: str, universe_domain: str, key_path: str | None) -> str:
    where = f"key file {key_path}" if key_path else "service-account key"
    parts = _split(uri, f"token_uri in {where}")
    allowed = set(GOOGLE_TOKEN_HOSTS)
    if _is_universe_domain(universe_domain):
        allowed.add(f"oauth2.{universe_domain}")
    on_google = parts.hostname in allowed and parts.port in (None, 443)
    if parts.scheme != "https" or not on_google:
        raise ConfigurationError(
            f"{where}: token_uri {safe_url(uri)} is not a Google token endpoint "
            f"(https on {', '.join(sorted(allowed))}); {_OVERRIDE_HINT}"
        )
    if parts.hostname not in GOOGLE_TOKEN_HOSTS:
        # The key file names both the universe and the host, so a host outside
        # public Google Cloud is accepted on the key file's word alone: an
        # operator must be able to see that in the log.
        logger.warning(
            "%s: using token endpoint %s of universe %s, not of googleapis.com",
            where,
            safe_url(uri),
            universe_domain,
        )
    return uri


_DNS_LABEL: Final = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _is_universe_domain(domain: str) -> bool:
    """Tell whether ``domain`` can be a universe: a lower-case DNS name of at
    least two labels that is not an IP address."""
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DNS_LABEL.match(label) for label in labels):
        return False
    return not labels[-1].isdigit()


def _split(uri: str, what: str) -> SplitResult:
    # urlsplit silently drops tabs and line breaks and strips leading spaces,
    # so without this check the URL that was checked would not be the URL sent.
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in uri):
        raise ConfigurationError(
            f"{what} {uri!r} contains a space or a control character: remove it"
        )
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(
            f"{what} {safe_url(uri)} is not a valid URL ({exc}): give an https URL"
        ) from exc
    del port
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(
            f"{what} {safe_url(uri)} is not an http(s) URL with a host: "
            "give a URL such as " + DEFAULT_TOKEN_URI
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(
            f"{what} {safe_url(uri)} contains credentials, which a token "
            "endpoint never needs: remove the 'user:password@' part"
        )
    if parts.fragment:
        raise ConfigurationError(
            f"{what} {safe_url(uri)} has a fragment ('#...'): remove it"
        )
    return parts


def is_loopback(host: str) -> bool:
    """Tell whether ``host`` is ``localhost`` or a loopback IP address."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def safe_url(url: str) -> str:
    """Return ``url`` with any ``user:password@`` replaced, for messages.

    Query strings are kept: posos-jwt never puts a secret in a URL.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return repr(hide_userinfo(url)[:100])
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc="***@" + host).geturl()


def hide_userinfo(url: str) -> str:
    """Return ``url`` with everything before its last ``@`` replaced by ``***``.

    Unlike :func:`safe_url`, this works on text that does not parse as a URL,
    or that parses with the password in the path, so no part of a password
    that contains ``/``, ``?`` or ``#`` is shown.
    """
    scheme, separator, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    return scheme + separator + rest
