"""Choosing the token endpoint: key-file values, overrides and rejections."""

from __future__ import annotations

import logging

import pytest

from posos_jwt import DEFAULT_TOKEN_URI, ConfigurationError
from posos_jwt._token_uri import is_loopback, resolve_token_uri, safe_url


@pytest.fixture(autouse=True)
def no_override_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POSOS_JWT_TOKEN_URI", raising=False)


@pytest.mark.parametrize("value", [None, "", "  "])
def test_default_when_key_has_none(value: str | None) -> None:
    uri = resolve_token_uri(value, universe_domain="googleapis.com")
    assert uri == DEFAULT_TOKEN_URI


@pytest.mark.parametrize(
    "uri",
    [
        "https://oauth2.googleapis.com/token",
        "https://www.googleapis.com/oauth2/v4/token",
        "https://accounts.google.com/o/oauth2/token",
        "https://oauth2.googleapis.com:443/token",
    ],
)
def test_google_hosts_accepted(uri: str) -> None:
    assert resolve_token_uri(uri, universe_domain="googleapis.com") == uri


def test_universe_domain_host_accepted() -> None:
    uri = "https://oauth2.example-universe.goog/token"
    assert resolve_token_uri(uri, universe_domain="example-universe.goog") == uri


@pytest.mark.parametrize(
    "uri",
    [
        "https://evil.example.com/token",
        "http://oauth2.googleapis.com/token",
        "https://oauth2.googleapis.com.evil.example/token",
        "https://oauth2.googleapis.com:8443/token",
        "https://127.0.0.1/token",
    ],
)
def test_other_key_file_uri_rejected(uri: str) -> None:
    with pytest.raises(ConfigurationError, match="not a Google token endpoint"):
        resolve_token_uri(uri, universe_domain="googleapis.com", key_path="k.json")


def test_key_file_uri_not_http() -> None:
    with pytest.raises(ConfigurationError, match=r"not an http\(s\) URL"):
        resolve_token_uri("ftp://oauth2.googleapis.com/t", universe_domain="x")


@pytest.mark.parametrize(
    "domain", ["com", "127.0.0.1", "Evil.Example", "-bad.example", "a..b", ""]
)
def test_invalid_universe_domain_ignored(domain: str) -> None:
    with pytest.raises(ConfigurationError, match="not a Google token endpoint"):
        resolve_token_uri(f"https://oauth2.{domain}/token", universe_domain=domain)


def test_other_universe_warns(caplog: pytest.LogCaptureFixture) -> None:
    uri = "https://oauth2.example-universe.goog/token"
    resolve_token_uri(uri, universe_domain="example-universe.goog")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "example-universe.goog" in warnings[0]


@pytest.mark.parametrize(
    "uri",
    [
        "https://oauth2.googleapis.com\t/token",
        "https://oauth2.googleapis.com/to\nken",
        " https://oauth2.googleapis.com/token",
        "https://oauth2.googleapis.com/token ",
    ],
)
def test_control_characters_rejected(uri: str) -> None:
    with pytest.raises(ConfigurationError, match="control character"):
        resolve_token_uri(uri, universe_domain="googleapis.com")
    with pytest.raises(ConfigurationError, match="control character"):
        resolve_token_uri(None, universe_domain="googleapis.com", override=uri)


def test_rejection_says_how_to_trust() -> None:
    with pytest.raises(ConfigurationError, match="--token-uri") as info:
        resolve_token_uri(
            "https://evil.example.com/t", universe_domain="googleapis.com"
        )
    assert "POSOS_JWT_TOKEN_URI" in str(info.value)


@pytest.mark.parametrize(
    "uri",
    [
        "https://tokens.example.com/token",
        "http://127.0.0.1:8080/token",
        "http://localhost/token",
        "http://[::1]:9000/token",
    ],
)
def test_override_accepted(uri: str) -> None:
    found = resolve_token_uri(
        "https://evil.example.com/x", universe_domain="googleapis.com", override=uri
    )
    assert found == uri


def test_override_warns_for_other_host(caplog: pytest.LogCaptureFixture) -> None:
    resolve_token_uri(
        None, universe_domain="googleapis.com", override="https://t.example.com/x"
    )
    assert [r for r in caplog.records if r.levelno == logging.WARNING]


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("http://tokens.example.com/token", "plain http"),
        ("https://user:pw@tokens.example.com/token", "contains credentials"),
        ("https://tokens.example.com/token#x", "fragment"),
        ("not-a-url", "not an http"),
        ("https://tokens.example.com:99999/token", "not a valid URL"),
    ],
)
def test_override_rejected(uri: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as info:
        resolve_token_uri(None, universe_domain="googleapis.com", override=uri)
    assert "pw@" not in str(info.value)


def test_environment_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSOS_JWT_TOKEN_URI", "http://127.0.0.1:1/token")
    uri = resolve_token_uri(DEFAULT_TOKEN_URI, universe_domain="googleapis.com")
    assert uri == "http://127.0.0.1:1/token"


def test_argument_beats_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSOS_JWT_TOKEN_URI", "http://127.0.0.1:1/token")
    uri = resolve_token_uri(
        None, universe_domain="googleapis.com", override="http://127.0.0.1:2/t"
    )
    assert uri == "http://127.0.0.1:2/t"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("[::1]", True),
        ("10.0.0.1", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_safe_url_hides_userinfo() -> None:
    assert safe_url("https://u:secret@h.example/x") == "https://***@h.example/x"
