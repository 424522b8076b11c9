"""Retries of the token request: which failures, how long, and what the error
states when the retries stop."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from posos_jwt import (
    ConfigurationError,
    IDTokenCredentials,
    RequestTimeoutError,
    RetryPolicy,
    TLSError,
    TokenEndpointError,
    TransportError,
)
from posos_jwt._cli import main
from posos_jwt.testing import Fault, GoogleStandIn, write_key_file
from tests.support import fixture_bytes


class FakeTime:
    """A monotonic clock that only ``sleep`` moves, so no test waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def key_file(
    standin_session: GoogleStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """One key for the whole module: no test here changes the account."""
    return write_key_file(tmp_path_factory.mktemp("key"), standin_session.new_account())


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "POSOS_JWT_TOKEN_URI"):
        monkeypatch.delenv(name, raising=False)


def policy(fake: FakeTime, **options: object) -> RetryPolicy:
    settings: dict[str, object] = {"jitter": lambda: 1.0}
    settings.update(options)
    return RetryPolicy(
        sleep=fake.sleep,
        monotonic=fake.monotonic,
        **settings,  # type: ignore[arg-type]
    )


def credentials_for(
    standin: GoogleStandIn, key_file: Path, retry: RetryPolicy, **options: object
) -> IDTokenCredentials:
    settings: dict[str, object] = {
        "token_uri": standin.token_uri,
        "ca_bundle": standin.ca_bundle,
        "retry": retry,
    }
    settings.update(options)
    return IDTokenCredentials.from_service_account_file(
        key_file, target_audience=standin.iap_client_id, **settings
    )


def oauth_fault(status: int, error: str) -> Fault:
    return Fault(status=status, body=f'{{"error": "{error}"}}')


def test_503_then_html_502_then_token(standin: GoogleStandIn, key_file: Path) -> None:
    standin.push_fault("token", Fault(status=503, body=b'{"error": "x"}'))
    html = fixture_bytes("token_endpoint", "html_502.html")
    standin.push_fault("token", Fault(status=502, body=html, content_type="text/html"))
    fake = FakeTime()
    token = credentials_for(standin, key_file, policy(fake)).get_token()
    assert token.startswith("eyJ")
    assert standin.count("token") == 3
    assert fake.waits == [1.0, 2.0]


@pytest.mark.parametrize(
    "fault",
    [
        *(Fault(status=status) for status in (408, 429, 500, 502, 503, 504)),
        oauth_fault(500, "internal_failure"),
        oauth_fault(400, "server_error"),
        oauth_fault(400, "temporarily_unavailable"),
        Fault(drop=True),
    ],
    ids=lambda fault: str(fault.status or "drop"),
)
def test_retried_failures(standin: GoogleStandIn, key_file: Path, fault: Fault) -> None:
    standin.push_fault("token", fault)
    credentials_for(standin, key_file, policy(FakeTime())).get_token()
    assert standin.count("token") == 2


@pytest.mark.parametrize(
    "fault",
    [
        oauth_fault(400, "invalid_grant"),
        oauth_fault(500, "invalid_grant"),
        oauth_fault(400, "invalid_scope"),
        oauth_fault(400, "unsupported_grant_type"),
        oauth_fault(401, "disabled_client"),
        oauth_fault(400, "invalid_request"),
        Fault(status=401),
        Fault(status=403),
        Fault(status=404),
    ],
    ids=lambda fault: f"{fault.status}-{fault.body_bytes.decode()}",
)
def test_final_failures_sent_once(
    standin: GoogleStandIn, key_file: Path, fault: Fault
) -> None:
    standin.push_fault("token", fault)
    fake = FakeTime()
    with pytest.raises(TokenEndpointError, match=r"not retried: 1 attempt") as info:
        credentials_for(standin, key_file, policy(fake)).get_token()
    assert standin.count("token") == 1
    assert info.value.attempts == 1
    assert not info.value.retryable
    assert fake.waits == []


def test_gives_up_after_max_attempts(standin: GoogleStandIn, key_file: Path) -> None:
    for _ in range(3):
        standin.push_fault("token", Fault(status=503))
    retry = policy(FakeTime(), max_attempts=3)
    with pytest.raises(TokenEndpointError, match="gave up after 3 attempts") as info:
        credentials_for(standin, key_file, retry).get_token()
    assert info.value.attempts == 3
    assert info.value.retryable
    assert info.value.status == 503
    assert standin.count("token") == 3


def test_retry_after_honoured_and_capped(
    standin: GoogleStandIn, key_file: Path
) -> None:
    standin.push_fault("token", Fault(status=429, headers={"Retry-After": "7"}))
    standin.push_fault("token", Fault(status=503, headers={"Retry-After": "3600"}))
    fake = FakeTime()
    retry = policy(fake, max_retry_after=20.0, deadline=100.0)
    credentials_for(standin, key_file, retry).get_token()
    assert fake.waits == [7.0, 20.0]


def test_retry_after_as_http_date(standin: GoogleStandIn, key_file: Path) -> None:
    # The date is read against the server's Date header, not the local clock.
    standin.clock_offset = -3 * 3600
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(standin.now() + 5))
    standin.push_fault("token", Fault(status=503, headers={"Retry-After": later}))
    fake = FakeTime()
    credentials_for(standin, key_file, policy(fake)).get_token()
    assert 3.0 <= fake.waits[0] <= 6.0


def test_deadline_stops_retries(standin: GoogleStandIn, key_file: Path) -> None:
    for _ in range(3):
        standin.push_fault("token", Fault(status=503, headers={"Retry-After": "8"}))
    retry = policy(FakeTime(), max_attempts=5, deadline=10.0)
    with pytest.raises(TokenEndpointError, match="retry deadline of 10 s") as info:
        credentials_for(standin, key_file, retry).get_token()
    assert info.value.attempts == 2
    assert standin.count("token") == 2


def test_deadline_shortens_timeout(standin: GoogleStandIn, key_file: Path) -> None:
    standin.push_fault("token", Fault(delay=3.0))
    retry = RetryPolicy(deadline=1.2, sleep=FakeTime().sleep)
    credentials = credentials_for(standin, key_file, retry, timeout=10.0)
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError, match=r"timed out after 1\.2 s") as info:
        credentials.get_token()
    assert time.monotonic() - started < 2.8
    assert info.value.attempts == 1
    assert "retry deadline of 1.2 s" in str(info.value)


def test_read_timeout_retried(standin: GoogleStandIn, key_file: Path) -> None:
    standin.push_fault("token", Fault(delay=0.6))
    retry = policy(FakeTime())
    credentials_for(standin, key_file, retry, timeout=0.2).get_token()
    assert standin.count("token") == 2


def test_timeouts_exhaust_attempts(standin: GoogleStandIn, key_file: Path) -> None:
    for _ in range(2):
        standin.push_fault("token", Fault(delay=0.6))
    retry = policy(FakeTime(), max_attempts=2)
    credentials = credentials_for(standin, key_file, retry, timeout=0.2)
    with pytest.raises(RequestTimeoutError, match="gave up after 2 attempts") as info:
        credentials.get_token()
    assert info.value.attempts == 2
    assert "timed out" in str(info.value)


def test_tls_failure_not_retried(
    standin: GoogleStandIn, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    fake = FakeTime()
    credentials = credentials_for(standin, key_file, policy(fake), ca_bundle=None)
    with pytest.raises(TLSError, match="not retried") as info:
        credentials.get_token()
    assert info.value.attempts == 1
    assert fake.waits == []


def test_backoff_doubles_with_jitter() -> None:
    retry = RetryPolicy(initial_backoff=1.0, max_backoff=5.0, jitter=lambda: 0.0)
    waits = [retry.backoff(number, None) for number in range(1, 6)]
    assert waits == [0.5, 1.0, 2.0, 2.5, 2.5]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be an integer of 1 or more"),
        ({"max_attempts": 2.5}, "max_attempts must be an integer"),
        ({"max_attempts": True}, "max_attempts must be an integer"),
        ({"deadline": -1}, "deadline must be a number of seconds"),
        ({"deadline": 0}, "deadline must be more than 0 seconds"),
        ({"deadline": float("nan")}, "deadline must be a number"),
        ({"max_retry_after": "5"}, "max_retry_after must be a number"),
    ],
)
def test_policy_rejects_invalid_values(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RetryPolicy(**options)  # type: ignore[arg-type]


def cli_token_args(standin: GoogleStandIn, key_file: Path, *extra: str) -> list[str]:
    return [
        "token",
        *("--key-file", str(key_file), "--client-id", standin.iap_client_id),
        *("--token-uri", standin.token_uri, "--ca-bundle", standin.ca_bundle),
        *extra,
    ]


def test_cli_invalid_grant_sent_once(
    standin: GoogleStandIn, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    standin.push_fault("token", oauth_fault(400, "invalid_grant"))
    code = main(cli_token_args(standin, key_file))
    assert code == 4
    assert standin.count("token") == 1
    assert "not retried: 1 attempt" in capsys.readouterr().err


def test_cli_read_timeout_exit_5(
    standin: GoogleStandIn, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    standin.push_fault("token", Fault(delay=3.0))
    args = cli_token_args(standin, key_file, "--timeout", "0.5", "--max-attempts", "1")
    started = time.monotonic()
    code = main(args)
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 5
    assert elapsed < 2.5
    assert "timed out" in err
    assert "127.0.0.1" in err


def test_cli_rejects_zero_attempts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--client-id", "x", "--max-attempts", "0"]) == 2
    assert "must be 1 or more" in capsys.readouterr().err


def test_transport_error_carries_attempts() -> None:
    error = TransportError("x", host="h")
    assert error.attempts == 1


def test_oversized_response_not_retried(standin: GoogleStandIn, key_file: Path) -> None:
    standin.push_fault("token", Fault(status=200, body=b"x" * (1024 * 1024 + 1)))
    fake = FakeTime()
    with pytest.raises(TransportError, match="larger than 1048576 bytes") as info:
        credentials_for(standin, key_file, policy(fake)).get_token()
    assert not info.value.retryable
    assert fake.waits == []
