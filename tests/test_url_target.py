"""resolve_request_url: a token for one API is never sent to another host."""

from __future__ import annotations

import doctest

import pytest
import urllib3.util
from hypothesis import given, settings
from hypothesis import strategies as st

import posos_jwt._url_target
from posos_jwt import RequestTargetError, resolve_request_url

BASE = "https://api.preprod.posos.co"

ACCEPTED = [
    (
        "/autocomplete-api/autocomplete?query=doliprane",
        f"{BASE}/autocomplete-api/autocomplete?query=doliprane",
    ),
    ("/", f"{BASE}/"),
    ("/a%20b?q=%2F%2F", f"{BASE}/a%20b?q=%2F%2F"),
    ("/x@evil.example", f"{BASE}/x@evil.example"),
    ("/x?next=https://evil.example/", f"{BASE}/x?next=https://evil.example/"),
    ("/a/..b/c.", f"{BASE}/a/..b/c."),
    (f"{BASE}/health", f"{BASE}/health"),
    ("HTTPS://API.Preprod.POSOS.co/Path", f"{BASE}/Path"),
    ("https://api.preprod.posos.co:443/x", "https://api.preprod.posos.co:443/x"),
]


@pytest.mark.parametrize(("target", "expected"), ACCEPTED)
def test_accepted_targets(target: str, expected: str) -> None:
    assert resolve_request_url(BASE, target) == expected


def test_base_url_trailing_slash() -> None:
    assert resolve_request_url(BASE + "/", "/x") == f"{BASE}/x"


def test_base_url_with_port_and_ipv6() -> None:
    assert resolve_request_url("https://[::1]:8443", "/x") == "https://[::1]:8443/x"


def test_base_url_loopback_http() -> None:
    base = "http://127.0.0.1:8080"
    assert resolve_request_url(base, "/x") == "http://127.0.0.1:8080/x"


# (target, reason, message pattern)
REJECTED = [
    ("https://evil.example/x", "other_host", r"is on https://evil\.example:443, not"),
    ("https://api.production.posos.co/x", "other_host", r"production\.posos\.co:443"),
    ("https://api.preprod.posos.co:8443/x", "other_host", r"co:8443, not on"),
    ("https://api.preprod.posos.co./x", "other_host", r"posos\.co\.:443, not on"),
    ("https://api.preprod.posos.co.evil.example/", "other_host", "not on the base"),
    ("//evil.example/x", "scheme_relative", r"scheme-relative \('//host/\.\.\.'\)"),
    ("///evil.example/x", "scheme_relative", "scheme-relative"),
    (
        "https://api.preprod.posos.co@evil.example/",
        "userinfo",
        r"'https://\*\*\*@evil\.example/' contains a 'user:password@' part",
    ),
    ("https://u:p@api.preprod.posos.co/", "userinfo", "user:password@"),
    ("https://api.preprod.posos.co%40evil.example/", "other_host", "not on the"),
    ("/\\evil.example/x", "backslash", "contains a backslash"),
    ("https://api.preprod.posos.co\\@evil.example/", "backslash", "backslash"),
    ("https:\\\\evil.example", "backslash", "backslash"),
    ("/a/../b", "dot_segment", r"has a '\.' or '\.\.' path segment"),
    ("/a/./b", "dot_segment", "path segment"),
    ("/..", "dot_segment", "path segment"),
    ("/a/%2e%2e/b", "dot_segment", "path segment"),
    ("/a/%2E%2e%2Fb", "dot_segment", "path segment"),
    ("/a/..%5cb", "dot_segment", "path segment"),
    (f"{BASE}/a/../b", "dot_segment", "path segment"),
    ("/a b", "control_character", r"contains a space or a control character"),
    ("/a\tb", "control_character", "control character"),
    ("/a\nHost: evil", "control_character", "control character"),
    ("\x00/a", "control_character", "control character"),
    (" /a", "control_character", "control character"),
    ("/a#frag", "fragment", r"has a fragment \('#\.\.\.'\): remove it"),
    (f"{BASE}/a#frag", "fragment", "fragment"),
    (f"{BASE}/a#", "fragment", "fragment"),
    ("http://api.preprod.posos.co/x", "scheme", "uses plain http"),
    ("ftp://api.preprod.posos.co/x", "scheme", "nor an http"),
    ("javascript:alert(1)", "scheme", "nor an http"),
    ("autocomplete-api/x", "relative_path", "neither a path starting with '/'"),
    ("", "invalid", "is empty"),
    ("https://[::1:443/", "invalid", "is not a valid path or http"),
    ("https://api.preprod.posos.co:99999/", "invalid", "is not a valid path"),
    ("https:///x", "invalid", "is not a valid path"),
    ("https://api.preprod.posos.co:0/x", "invalid", "is not a valid path"),
]


@pytest.mark.parametrize(("target", "reason", "pattern"), REJECTED)
def test_rejected_targets(target: str, reason: str, pattern: str) -> None:
    with pytest.raises(RequestTargetError, match=pattern) as caught:
        resolve_request_url(BASE, target)
    assert caught.value.reason == reason
    assert caught.value.exit_code == 3


def test_other_host_message_names_the_flag() -> None:
    with pytest.raises(
        RequestTargetError,
        match=r"a token for one API must not be sent to another: give a path, or "
        r"allow other hosts explicitly \(--allow-other-host\)",
    ):
        resolve_request_url(BASE, "https://evil.example/")


def test_other_host_allowed_explicitly() -> None:
    url = resolve_request_url(BASE, "https://fhir.example/x?a=1", allow_other_host=True)
    assert url == "https://fhir.example/x?a=1"


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://evil.example/x", "scheme"),
        ("https://u@evil.example/x", "userinfo"),
        ("//evil.example/x", "scheme_relative"),
        ("https://evil.example/a/../b", "dot_segment"),
    ],
)
def test_allow_other_host_keeps_other_checks(target: str, reason: str) -> None:
    with pytest.raises(RequestTargetError) as caught:
        resolve_request_url(BASE, target, allow_other_host=True)
    assert caught.value.reason == reason


def test_no_base_url_needs_absolute_target() -> None:
    with pytest.raises(
        RequestTargetError, match="is a path, but the profile has no base_url"
    ) as caught:
        resolve_request_url(None, "/x")
    assert caught.value.reason == "relative_path"


def test_no_base_url_absolute_target() -> None:
    assert resolve_request_url(None, f"{BASE}/x") == f"{BASE}/x"


@pytest.mark.parametrize(
    "base",
    [
        "https://api.preprod.posos.co/v1",
        "https://api.preprod.posos.co?x=1",
        "https://api.preprod.posos.co#x",
        "https://u:p@api.preprod.posos.co",
        "http://api.preprod.posos.co",
        "api.preprod.posos.co",
        "https://api.preprod.posos.co:99999",
    ],
)
def test_rejected_base_urls(base: str) -> None:
    with pytest.raises(RequestTargetError, match=r"base URL .*: give scheme and host"):
        resolve_request_url(base, "/x")


def test_base_url_password_masked() -> None:
    with pytest.raises(RequestTargetError) as caught:
        resolve_request_url("https://u:hunter2@api.preprod.posos.co", "/x")
    assert "hunter2" not in str(caught.value)
    assert caught.value.base_url == "https://***@api.preprod.posos.co"


# Characters that URL parsers treat specially, to build adversarial targets.
TRICKY = "/\\@:.?#%[]abAB09 \t\n" + "\u3002\uff0e\u2100"


@settings(max_examples=400, deadline=None)
@given(
    prefix=st.sampled_from(["/", "//", "https://", "https://api.preprod.posos.co", ""]),
    rest=st.text(alphabet=TRICKY, max_size=30),
)
def test_accepted_url_stays_on_base_host(prefix: str, rest: str) -> None:
    """Whatever is accepted, urllib3 sends it to the base URL's origin."""
    try:
        url = resolve_request_url(BASE, prefix + rest)
    except RequestTargetError:
        return
    parsed = urllib3.util.parse_url(url)
    assert parsed.scheme == "https"
    assert parsed.host == "api.preprod.posos.co"
    assert parsed.port in (None, 443)


def test_docstring_example_runs() -> None:
    results = doctest.testmod(posos_jwt._url_target)
    assert results.attempted == 1
    assert results.failed == 0
