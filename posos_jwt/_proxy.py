"""Choose the HTTPS proxy for a request, from ``proxy=`` or the environment.

posos-jwt sends only https requests, so only ``HTTPS_PROXY`` matters. The rules
are curl's and Python's ``urllib.request``:

- ``proxy=`` (``--proxy``) wins; otherwise ``https_proxy``, then
  ``HTTPS_PROXY``, the lower-case name first as curl and ``urllib`` read them.
- ``no_proxy``, then ``NO_PROXY``, lists hosts reached directly, even with
  ``proxy=``: comma-separated names that match the host and its subdomains
  (a leading dot is ignored), IP addresses, CIDR ranges, or ``*`` for every
  host. A ``:port`` suffix on an entry is ignored.
- ``trust_env=False`` (``--no-env-proxy``) ignores all four variables.

A proxy URL is ``http://[user:password@]host[:port]``, the port defaulting to
80, and the scheme to http when it is missing. The user name and password are
sent to the proxy as ``Proxy-Authorization: Basic`` (RFC 9110 section 11.7.1)
and kept out of the URL that urllib3 receives, so they never reach its logs or
posos-jwt's messages, which show the URL through :func:`hide_userinfo`.
"""

from __future__ import annotations

import base64
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote, urlsplit

from ._errors import ConfigurationError
from ._token_uri import hide_userinfo

PROXY_VARIABLES: Final = ("https_proxy", "HTTPS_PROXY")
"""Environment variables that name the proxy, in the order they are read."""

NO_PROXY_VARIABLES: Final = ("no_proxy", "NO_PROXY")
"""Environment variables that list hosts reached without the proxy."""


@dataclass(frozen=True, repr=False)
class ProxySettings:
    """A proxy to send requests through, with its credentials split off.

    Attributes:
        url: The proxy URL without credentials, ``http://host:port``.
        display_url: The proxy URL as messages and logs show it, with any
            ``user:password@`` replaced by ``***@``.
        source: Where the URL came from: the variable's name, or
            ``proxy= (--proxy or a profile's proxy)``.
        headers: ``Proxy-Authorization`` when the URL has credentials. It is
            a secret and never shown.
        no_proxy: The entries of ``NO_PROXY``, lower-cased.
    """

    url: str
    display_url: str
    source: str
    headers: Mapping[str, str] = field(default_factory=dict)
    no_proxy: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"ProxySettings({self.display_url!r}, source={self.source!r})"

    def applies_to(self, host: str) -> bool:
        """Tell whether a request to ``host`` goes through the proxy."""
        return not bypasses_proxy(host, self.no_proxy)


def proxy_settings(
    proxy: str | None,
    *,
    trust_env: bool,
    environ: Mapping[str, str] = os.environ,
) -> ProxySettings | None:
    """Return the proxy to use, or ``None`` to connect directly.

    Args:
        proxy: An explicit proxy URL, which wins over the environment. An
            empty string means no proxy, whatever the environment sets.
        trust_env: Whether to read ``HTTPS_PROXY`` and ``NO_PROXY``.
        environ: The environment to read.

    Raises:
        ConfigurationError: The proxy URL is invalid.
    """
    source = "proxy= (--proxy or a profile's proxy)"
    if proxy is None and trust_env:
        source, proxy = _first_set(environ, PROXY_VARIABLES)
    if not proxy:
        return None
    no_proxy: tuple[str, ...] = ()
    if trust_env:
        _, entries = _first_set(environ, NO_PROXY_VARIABLES)
        no_proxy = tuple(
            entry.strip().lower() for entry in entries.split(",") if entry.strip()
        )
    return _parse_proxy_url(proxy, source, no_proxy)


def _first_set(environ: Mapping[str, str], names: tuple[str, ...]) -> tuple[str, str]:
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return name, value
    return names[0], ""


def _parse_proxy_url(
    proxy: str, source: str, no_proxy: tuple[str, ...]
) -> ProxySettings:
    if "://" not in proxy:
        proxy = "http://" + proxy
    display_url = hide_userinfo(proxy)
    try:
        parts = urlsplit(proxy)
        port = parts.port or 80
    except ValueError:
        raise ConfigurationError(
            f"proxy URL {display_url} from {source} is not a valid URL: give "
            "http://host:port"
        ) from None
    if parts.scheme != "http" or not parts.hostname:
        # NOTE: an https:// proxy (TLS to the proxy itself) is not supported
        # yet; urllib3 can do it, but no test covers it here.
        raise ConfigurationError(
            f"proxy URL {display_url} from {source} must be http://host:port: "
            "posos-jwt supports plain-http proxies that tunnel with CONNECT"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        # A "/", "?" or "#" left unencoded in a password ends the authority,
        # and the rest of the password would be read as a path.
        raise ConfigurationError(
            f"proxy URL {display_url} from {source} has a path, query or "
            "fragment: give http://[user:password@]host:port, with '/', '?', "
            "'#' and '@' in the user name or password percent-encoded"
        )
    return ProxySettings(
        f"http://{_bracket(parts.hostname)}:{port}",
        display_url,
        source,
        _authorization_header(parts.username, parts.password),
        no_proxy,
    )


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _authorization_header(username: str | None, password: str | None) -> dict[str, str]:
    if username is None:
        return {}
    credentials = f"{unquote(username)}:{unquote(password or '')}"
    # RFC 7617 section 2.1 names UTF-8 as the only charset for Basic, and
    # base64 keeps a CR or LF in the password from ending the header.
    encoded = base64.b64encode(credentials.encode("utf-8")).decode("ascii")
    return {"Proxy-Authorization": "Basic " + encoded}


def bypasses_proxy(host: str, no_proxy: tuple[str, ...]) -> bool:
    """Tell whether ``host`` matches an entry of ``NO_PROXY``."""
    host = host.strip("[]").lower().rstrip(".")
    address = _ip_address(host)
    for entry in no_proxy:
        if entry == "*":
            return True
        name = _strip_port(entry).lstrip(".").rstrip(".")
        if not name:
            continue
        if address is not None and "/" in name:
            if _in_network(address, name):
                return True
        elif host == name or host.endswith("." + name):
            return True
    return False


def _strip_port(entry: str) -> str:
    if entry.startswith("["):
        return entry[1:].partition("]")[0]
    if entry.count(":") == 1:
        return entry.partition(":")[0]
    return entry


def _ip_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _in_network(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, network: str
) -> bool:
    try:
        return address in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False
