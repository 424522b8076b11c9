"""Verification fed hostile tokens, claims, keys URLs and keys servers.

Only a VerificationError may come out of a token check, and only a
ConfigurationError out of a bad option; a keys URL that fails is fetched at
most once per interval, and the command exits 5 for it, not 6.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posos_jwt import (
    ConfigurationError,
    KeySet,
    KeySetUnavailableError,
    MalformedTokenError,
    RequestTimeoutError,
    TokenSignatureError,
    VerificationError,
    verify_id_token,
)
from posos_jwt._base64url import decode_base64url
from posos_jwt._keyset import (
    MIN_KEYS_CACHE_TIME,
    UNKNOWN_KEY_REFETCH_INTERVAL,
    cache_lifetime,
)
from posos_jwt._verify import GOOGLE_ISSUERS, _check_issuer, _Rules
from posos_jwt.testing import Fault, GoogleStandIn
from posos_jwt.testing._ca import make_server_context, write_tls_files
from tests.clocks import ShiftedClock
from tests.test_cli_verify import run, verify_args

EMAIL = "hostile@posos-standin.iam.gserviceaccount.com"

EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def id_token(standin: GoogleStandIn, **claims: Any) -> str:
    return standin.issue_id_token(standin.iap_client_id, EMAIL, **claims)


@pytest.fixture
def key_set(standin: GoogleStandIn) -> KeySet:
    return KeySet(standin.jwks_uri, ca_bundle=standin.ca_bundle)


@pytest.mark.parametrize("segment", [0, 1, 2])
def test_non_ascii_in_any_segment(
    standin: GoogleStandIn, key_set: KeySet, segment: int
) -> None:
    parts = id_token(standin).split(".")
    parts[segment] = parts[segment][:-1] + "é"
    with pytest.raises(MalformedTokenError, match="not canonical unpadded base64url"):
        verify_id_token(".".join(parts), standin.iap_client_id, key_set=key_set)


def test_unused_bits_in_signature_rejected(
    standin: GoogleStandIn, key_set: KeySet
) -> None:
    token = id_token(standin)
    # An RS256 signature is 256 bytes: 342 characters, whose last carries 4
    # unused bits, so "A" and "B" would decode to the same bytes.
    last = token[-1]
    changed = token[:-1] + ("B" if last == "A" else chr(ord(last) ^ 1))
    with pytest.raises(MalformedTokenError, match="signature is not canonical"):
        verify_id_token(changed, standin.iap_client_id, key_set=key_set)


@pytest.mark.parametrize("text", ["QQ=", "QR", "Q", "Q Q", "Q+", "Q/", "QQ\n"])
def test_base64url_strict(text: str) -> None:
    with pytest.raises(ValueError, match="base64url"):
        decode_base64url(text)


@EXAMPLES
@given(text=st.text(max_size=300))
def test_arbitrary_strings_raise_verification_errors(
    standin: GoogleStandIn, key_set: KeySet, text: str
) -> None:
    with contextlib.suppress(VerificationError):
        verify_id_token(text, standin.iap_client_id, key_set=key_set)


@EXAMPLES
@given(position=st.integers(min_value=0), character=st.characters())
def test_near_valid_tokens_raise_verification_errors(
    standin: GoogleStandIn, key_set: KeySet, position: int, character: str
) -> None:
    token = id_token(standin)
    index = position % len(token)
    changed = token[:index] + character + token[index + 1 :]
    if changed == token:
        return
    with pytest.raises(VerificationError):
        verify_id_token(changed, standin.iap_client_id, key_set=key_set)


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"nbf": 10**400}, "nbf claim is an integer of 1329 bits"),
        ({"iat": 10**400}, "iat claim is an integer of 1329 bits"),
        ({"exp": 10**400}, "exp claim is an integer of 1329 bits"),
        ({"exp": -1e308}, r"exp claim is -1e\+308, not a number"),
        ({"iat": 1e300}, r"iat claim is 1e\+300, not a number"),
        ({"aud": {"a": 1}}, "aud claim is .*, not a string"),
        ({"aud": [["x"]]}, "aud claim is .*, not a string"),
    ],
)
def test_claim_types_checked(
    standin: GoogleStandIn, key_set: KeySet, claims: dict[str, Any], message: str
) -> None:
    token = id_token(standin, **claims)
    with pytest.raises(MalformedTokenError, match=message):
        verify_id_token(token, standin.iap_client_id, key_set=key_set)


@pytest.mark.parametrize("issuer", [["https://accounts.google.com"], {"a": 1}])
def test_issuer_type_checked(issuer: object) -> None:
    # pyjwt signs no token whose iss is not a string, so the check is called
    # on the decoded claims directly.
    rules = _Rules("ID token", "RS256", GOOGLE_ISSUERS, "aud")
    with pytest.raises(MalformedTokenError, match=r"iss claim is .*, not a string"):
        _check_issuer({"iss": issuer}, rules)


@pytest.mark.parametrize(
    ("headers", "lifetime"),
    [
        ({"Cache-Control": "max-age=" + "9" * 5000}, MIN_KEYS_CACHE_TIME),
        ({"Cache-Control": "max-age=3600", "Age": "9" * 5000}, MIN_KEYS_CACHE_TIME),
        ({"Cache-Control": "max-age=3600", "Age": "²"}, MIN_KEYS_CACHE_TIME),
        ({"Cache-Control": "max-age=\uff13\uff16\uff10\uff10"}, MIN_KEYS_CACHE_TIME),
        ({"Cache-Control": "no-max-age=86400"}, MIN_KEYS_CACHE_TIME),
        ({"Cache-Control": "s-maxage=86400"}, MIN_KEYS_CACHE_TIME),
        ({"Cache-Control": "max-age=600, max-age=900"}, MIN_KEYS_CACHE_TIME),
        ({"Cache-Control": 'max-age="3600"'}, 3600),
        ({"Cache-Control": "MAX-AGE = 3600"}, 3600),
    ],
)
def test_odd_cache_headers(headers: dict[str, str], lifetime: float) -> None:
    assert cache_lifetime(headers) == lifetime


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://[::1:1/keys", "is not a valid URL"),
        ("https://127.0.0.1:99999/keys", "is not a valid URL"),
        ("https://127.0.0.1:0/keys", "has port 0"),
        ("https://example.com/a b", "contains a space"),
        ("https://example.com/\r\nX: y", "control character"),
        ("", "is empty"),
        ("ftp://example.com/keys", "is not an https URL"),
    ],
)
def test_keys_url_rejected(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        KeySet(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://user:hunter2@example.com/keys", "user name or password"),
        ("https://user:hunter2@[::1:1/keys", "is not a valid URL"),
    ],
)
def test_keys_url_credentials_rejected(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        KeySet(url)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": [1]},
        {"timeout": 10**400},
        {"timeout": 1e300},
        {"ca_bundle": 5},
        {"transport": ["x"]},
        {"certs_url": ["https://example.com/"]},
        {"certs_url": ""},
        {"leeway": 10**400},
    ],
)
def test_invalid_options_rejected(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        verify_id_token("a.b.c", "aud", **options)


def test_failed_fetch_throttled(standin: GoogleStandIn) -> None:
    clock = ShiftedClock()
    key_set = KeySet(standin.jwks_uri, ca_bundle=standin.ca_bundle, clock=clock)
    token = id_token(standin)
    standin.push_fault("certs", Fault(status=503, body="unavailable"))
    with pytest.raises(KeySetUnavailableError, match="returned HTTP 503"):
        verify_id_token(token, standin.iap_client_id, key_set=key_set)
    with pytest.raises(KeySetUnavailableError, match="next is allowed in 30 s"):
        verify_id_token(token, standin.iap_client_id, key_set=key_set)
    assert standin.count("certs") == 1
    clock.offset = UNKNOWN_KEY_REFETCH_INTERVAL
    assert verify_id_token(token, standin.iap_client_id, key_set=key_set)
    assert standin.count("certs") == 2


def test_waiting_threads_share_failure(standin: GoogleStandIn) -> None:
    key_set = KeySet(standin.jwks_uri, ca_bundle=standin.ca_bundle)
    token = id_token(standin)
    standin.push_fault("certs", Fault(status=503, body="unavailable", delay=0.5))
    errors: list[BaseException] = []

    def verify() -> None:
        try:
            verify_id_token(token, standin.iap_client_id, key_set=key_set)
        except KeySetUnavailableError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=verify) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 8
    assert standin.count("certs") == 1


@pytest.fixture
def trickling_keys_url(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Serve keys over TLS one byte every 0.1 s; return the URL and CA bundle."""
    files = write_tls_files(tmp_path)
    context = make_server_context(files)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            connection, _ = listener.accept()
            with context.wrap_socket(connection, server_side=True) as tls:
                tls.recv(65536)
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                for _ in range(100):
                    tls.sendall(b"{")
                    time.sleep(0.1)

    threading.Thread(target=serve, daemon=True).start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}/keys", str(files.ca_bundle)
    listener.close()


def test_trickling_keys_server_times_out(
    standin: GoogleStandIn, trickling_keys_url: tuple[str, str]
) -> None:
    url, ca_bundle = trickling_keys_url
    key_set = KeySet(url, ca_bundle=ca_bundle, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError, match="timed out"):
        verify_id_token(id_token(standin), standin.iap_client_id, key_set=key_set)
    assert time.monotonic() - started < 5


def test_forged_signature_still_exits_6(
    standin: GoogleStandIn, key_set: KeySet
) -> None:
    token = id_token(standin)
    parts = token.split(".")
    forged = ".".join([parts[0], parts[1], "A" * 342])
    with pytest.raises(TokenSignatureError):
        verify_id_token(forged, standin.iap_client_id, key_set=key_set)


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault(status=503, body="unavailable"), 5),
        (Fault(status=200, body="<html>captive portal</html>"), 5),
        (Fault(drop=True), 5),
    ],
)
def test_cli_keys_outage_exits_5(
    standin: GoogleStandIn,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fault: Fault,
    code: int,
) -> None:
    standin.push_fault("certs", fault)
    result, _, _ = run(verify_args(standin), capsys, monkeypatch, id_token(standin))
    assert result == code


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--certs-url", "https://[::1:1/keys"], 3, "is not a valid URL"),
        (["--certs-url", "https://127.0.0.1:99999/keys"], 3, "is not a valid URL"),
        (["--certs-url", "https://u:hunter2@127.0.0.1/k"], 3, "user name or pass"),
        (["--timeout", "1e300"], 2, "positive number of seconds up to"),
    ],
)
def test_cli_invalid_options(
    standin: GoogleStandIn,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    extra: list[str],
    code: int,
    message: str,
) -> None:
    args = verify_args(standin, *extra)
    result, _, err = run(args, capsys, monkeypatch, id_token(standin))
    assert result == code
    assert message in err
    assert "hunter2" not in err
