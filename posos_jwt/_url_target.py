"""Resolve the target of an API request against a profile's base URL.

An ID token is a bearer credential for one audience, and the audience
identifies one API. A command that sends a token must therefore send it only to the
API that the profile names, whatever the user types as a target. This module
decides that from the URL alone, before any token is fetched.
"""

from __future__ import annotations

from typing import Final, NamedTuple
from urllib.parse import SplitResult, unquote, urlsplit

import urllib3.util
from urllib3.exceptions import LocationParseError

from ._arguments import optional_text, require_bool, require_text
from ._errors import RequestTargetError
from ._token_uri import is_loopback, safe_url

DEFAULT_PORTS: Final = {"https": 443, "http": 80}


class _Origin(NamedTuple):
    """Scheme, lower-case host and port: what a token must not leave."""

    scheme: str
    host: str
    port: int


def resolve_request_url(
    base_url: str | None, target: str, *, allow_other_host: bool = False
) -> str:
    """Turn a request target into the absolute URL to send a token to.

    ``target`` is either a path that starts with one ``/`` (with an optional
    query), resolved against ``base_url``, or an absolute http(s) URL. An
    absolute URL must have the same scheme, host (compared without case) and
    port as ``base_url``, so that a token meant for one API is not sent to
    another, unless ``allow_other_host`` is true.

    Whatever the value of ``allow_other_host``, these targets are rejected,
    because URL parsers disagree on them or because they would send the token
    in the clear:

    - a backslash, a space or a control character anywhere;
    - a scheme-relative ``//host/path``, or a path without a leading ``/``;
    - a ``user:password@`` part, or a fragment;
    - a ``.`` or ``..`` path segment, plain or percent-encoded;
    - a scheme other than https, except http on a loopback address;
    - port 0, or a port that is not a number.

    Args:
        base_url: The profile's base URL, such as
            ``https://api.preprod.posos.co``, with no path, query or fragment;
            or ``None`` when the profile has none, and then ``target`` must be
            an absolute URL.
        target: The path or URL that the user gave.
        allow_other_host: Accept an absolute URL on another origin than
            ``base_url``.

    Returns:
        The absolute URL. Its query is kept byte for byte; the scheme and host
        are lower case.

    Raises:
        ConfigurationError: An argument has the wrong type.
        RequestTargetError: The target or the base URL is rejected; ``reason``
            gives the cause.

    Example::

        >>> resolve_request_url(
        ...     "https://api.preprod.posos.co", "/autocomplete-api/autocomplete?query=a"
        ... )
        'https://api.preprod.posos.co/autocomplete-api/autocomplete?query=a'
    """
    optional_text(base_url, "base_url", "pass an https:// URL")
    require_text(target, "target", "pass a path or an https:// URL")
    require_bool(allow_other_host, "allow_other_host")
    base = None if base_url is None else _check_base_url(base_url)
    _reject_ambiguous_characters(target, base_url)
    if target.startswith("//"):
        raise _error(
            "is scheme-relative ('//host/...'): give a path starting with a single "
            "'/', or a full https URL",
            target,
            base_url,
            "scheme_relative",
        )
    if target.startswith("/"):
        if base is None:
            raise _error(
                "is a path, but the profile has no base_url: set base_url in the "
                "profile, or give a full https URL",
                target,
                base_url,
                "relative_path",
            )
        return _resolve_path(base, target, base_url)
    return _resolve_absolute(base, target, base_url, allow_other_host)


def _check_base_url(base_url: str) -> _Origin:
    problem = None
    try:
        parts = urlsplit(base_url)
        origin = _origin_of(parts)
    except ValueError:
        problem = "is not a valid URL"
    else:
        if parts.username is not None or parts.password is not None:
            problem = "contains a 'user:password@' part"
        elif parts.path not in ("", "/") or parts.query or parts.fragment:
            problem = "has a path, query or fragment"
        elif not _is_secure(origin):
            problem = "is not https (or http on a loopback address)"
    if problem is not None:
        raise RequestTargetError(
            f"base URL {safe_url(base_url)} {problem}: give scheme and host only, "
            "such as https://api.preprod.posos.co",
            target=safe_url(base_url),
            base_url=safe_url(base_url),
            reason="base_url",
        )
    return origin


def _reject_ambiguous_characters(target: str, base_url: str | None) -> None:
    if not target.strip():
        raise _error("is empty: give a path such as /health", target, base_url)
    if "\\" in target:
        # Browsers and some servers read a backslash as '/', urllib does not,
        # so the two would disagree on the host.
        raise _error(
            "contains a backslash: use '/' in paths, and percent-encode a "
            "literal backslash as %5C",
            target,
            base_url,
            "backslash",
        )
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in target):
        # urllib.parse silently drops tabs and newlines, so what is checked
        # would not be what is sent.
        raise _error(
            "contains a space or a control character: percent-encode it "
            "(a space is %20)",
            target,
            base_url,
            "control_character",
        )


def _resolve_path(base: _Origin, target: str, base_url: str | None) -> str:
    if "#" in target:
        raise _error("has a fragment ('#...'): remove it", target, base_url, "fragment")
    _reject_dot_segments(target.partition("?")[0], target, base_url)
    url = f"{base.scheme}://{_netloc(base)}{target}"
    # The URL was built by concatenation, so check that urllib3, which sends
    # it, reads the same origin.
    _check_sent_origin(url, base, target, base_url)
    return url


def _resolve_absolute(
    base: _Origin | None, target: str, base_url: str | None, allow_other_host: bool
) -> str:
    try:
        parts = urlsplit(target)
    except ValueError:
        raise _invalid_target(target, base_url) from None
    if parts.scheme.lower() not in DEFAULT_PORTS:
        raise _error(
            "is neither a path starting with '/' nor an http(s) URL: give a path "
            "such as /health, or a full https URL",
            target,
            base_url,
            "scheme" if parts.scheme else "relative_path",
        )
    try:
        origin = _origin_of(parts)
    except ValueError:
        raise _invalid_target(target, base_url) from None
    if parts.username is not None or parts.password is not None:
        raise _error(
            "contains a 'user:password@' part, which hides the real host: give "
            "the URL without it",
            target,
            base_url,
            "userinfo",
        )
    if parts.fragment or target.endswith("#"):
        raise _error("has a fragment ('#...'): remove it", target, base_url, "fragment")
    if not _is_secure(origin):
        raise _error(
            "uses plain http, which would send the token unencrypted: use https",
            target,
            base_url,
            "scheme",
        )
    _reject_dot_segments(parts.path, target, base_url)
    if base is not None and origin != base and not allow_other_host:
        raise _error(
            f"is on {_show_origin(origin)}, not on the base URL's "
            f"{_show_origin(base)}, and a token for one API must not be sent to "
            "another: give a path, or allow other hosts explicitly "
            "(--allow-other-host)",
            target,
            base_url,
            "other_host",
        )
    url = parts._replace(scheme=origin.scheme, netloc=parts.netloc.lower()).geturl()
    _check_sent_origin(url, origin, target, base_url)
    return url


def _origin_of(parts: SplitResult) -> _Origin:
    """Return the origin of an absolute http(s) URL.

    Raises:
        ValueError: The URL is not http(s), has no host or has an invalid port.
    """
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError("not an absolute http(s) URL")
    port = parts.port
    if port == 0:
        # Port 0 is falsy and no server listens there, so it must not pass
        # for the default port.
        raise ValueError("port 0")
    if port is None:
        port = DEFAULT_PORTS[scheme]
    return _Origin(scheme, parts.hostname.lower(), port)


def _is_secure(origin: _Origin) -> bool:
    return origin.scheme == "https" or is_loopback(origin.host)


def _reject_dot_segments(path: str, target: str, base_url: str | None) -> None:
    # urllib3 removes dot segments before sending (RFC 3986 section 5.2.4), so
    # '/a/../b' would reach '/b'. Rejecting them keeps the sent path the typed
    # one; percent-encoded dots are decoded first because servers decode them.
    decoded = unquote(path).replace("\\", "/")
    if any(segment in (".", "..") for segment in decoded.split("/")):
        raise _error(
            "has a '.' or '..' path segment: give the path without it",
            target,
            base_url,
            "dot_segment",
        )


def _check_sent_origin(
    url: str, expected: _Origin, target: str, base_url: str | None
) -> None:
    try:
        parsed = urllib3.util.parse_url(url)
    except LocationParseError:
        raise _invalid_target(target, base_url) from None
    scheme = (parsed.scheme or "").lower()
    host = (parsed.host or "").lower().strip("[]")
    port = parsed.port if parsed.port is not None else DEFAULT_PORTS.get(scheme, 0)
    if _Origin(scheme, host, port) != expected:
        raise _invalid_target(target, base_url)


def _invalid_target(target: str, base_url: str | None) -> RequestTargetError:
    return _error(
        "is not a valid path or http(s) URL: give a path such as /health, or a "
        "full https URL",
        target,
        base_url,
    )


def _netloc(origin: _Origin) -> str:
    host = f"[{origin.host}]" if ":" in origin.host else origin.host
    if origin.port == DEFAULT_PORTS[origin.scheme]:
        return host
    return f"{host}:{origin.port}"


def _show_origin(origin: _Origin) -> str:
    host = f"[{origin.host}]" if ":" in origin.host else origin.host
    return f"{origin.scheme}://{host}:{origin.port}"


def _error(
    problem: str, target: str, base_url: str | None, reason: str = "invalid"
) -> RequestTargetError:
    shown = safe_url(target)
    return RequestTargetError(
        f"request target {shown!r} {problem}",
        target=shown,
        base_url=None if base_url is None else safe_url(base_url),
        reason=reason,
    )
