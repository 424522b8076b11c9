"""The token cache of Credentials: single flight, early refresh and its bound."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from posos_jwt import (
    MIN_REFRESH_INTERVAL,
    REFRESH_MARGIN,
    IDTokenCredentials,
    PososJWTError,
    RetryPolicy,
    TokenEndpointError,
)
from posos_jwt.testing import Fault, GoogleStandIn
from tests.clocks import ShiftedClock
from tests.support import SECRET_PATTERN

THREADS = 64


def credentials_for(
    standin: GoogleStandIn, key_file: Path, clock: ShiftedClock | None = None
) -> IDTokenCredentials:
    return IDTokenCredentials.from_service_account_file(
        key_file,
        target_audience=standin.iap_client_id,
        token_uri=standin.token_uri,
        ca_bundle=standin.ca_bundle,
        clock=clock or ShiftedClock(),
        # One request per fetch, so that the counts below are the cache's.
        retry=RetryPolicy(max_attempts=1),
    )


def run_together(call: Callable[[], str]) -> tuple[list[str], list[BaseException]]:
    """Run ``call`` in THREADS threads released at once by a barrier."""
    barrier = threading.Barrier(THREADS)
    tokens: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        try:
            token = call()
        except PososJWTError as exc:
            with lock:
                errors.append(exc)
        else:
            with lock:
                tokens.append(token)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tokens, errors


def move_clocks(standin: GoogleStandIn, clock: ShiftedClock, offset: float) -> None:
    """Move the client's clock and the stand-in's together."""
    clock.offset = offset
    standin.clock_offset = offset


def test_cold_threads_send_one_request(standin: GoogleStandIn, key_file: Path) -> None:
    credentials = credentials_for(standin, key_file)
    tokens, errors = run_together(credentials.get_token)
    assert errors == []
    assert len(tokens) == THREADS
    assert len(set(tokens)) == 1
    assert standin.count("token") == 1


def test_failed_fetch_raises_in_every_waiter(
    standin: GoogleStandIn, key_file: Path
) -> None:
    # The delay keeps the one request in flight until every thread waits on it.
    standin.push_fault("token", Fault(status=503, body=b"busy", delay=1.0))
    credentials = credentials_for(standin, key_file)
    tokens, errors = run_together(credentials.get_token)
    assert tokens == []
    assert len(errors) == THREADS
    assert all(isinstance(error, TokenEndpointError) for error in errors)
    assert standin.count("token") == 1


def test_failure_not_remembered(standin: GoogleStandIn, key_file: Path) -> None:
    standin.push_fault("token", Fault(status=503, body=b"busy"))
    credentials = credentials_for(standin, key_file)
    with pytest.raises(TokenEndpointError, match="HTTP 503"):
        credentials.get_token()
    assert credentials.get_token()
    assert standin.count("token") == 2


def test_cached_token_returned(standin: GoogleStandIn, key_file: Path) -> None:
    credentials = credentials_for(standin, key_file)
    first = credentials.get_token()
    assert credentials.get_token() == first
    assert standin.count("token") == 1


def test_clock_past_margin_fetches_once(standin: GoogleStandIn, key_file: Path) -> None:
    clock = ShiftedClock()
    credentials = credentials_for(standin, key_file, clock)
    first = credentials.get_id_token()
    move_clocks(standin, clock, first.expiry - clock.time() - REFRESH_MARGIN + 1)
    second = credentials.get_id_token()
    assert second.value != first.value
    assert second.expiry > first.expiry
    assert credentials.get_token() == second.value
    assert standin.count("token") == 2


def test_short_lived_tokens_bounded(standin: GoogleStandIn, key_file: Path) -> None:
    standin.token_lifetime = 60
    clock = ShiftedClock()
    credentials = credentials_for(standin, key_file, clock)
    expired = 0
    for call in range(1000):
        move_clocks(standin, clock, call * 0.06)
        token = credentials.get_id_token()
        expired += token.expiry <= clock.time()
    assert expired == 0
    # Once at start, then at most once per MIN_REFRESH_INTERVAL over 60 s.
    assert standin.count("token") <= 1 + 60 / MIN_REFRESH_INTERVAL
    assert standin.count("token") >= 2


def test_failed_early_refresh_keeps_token(
    standin: GoogleStandIn, key_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ShiftedClock()
    credentials = credentials_for(standin, key_file, clock)
    first = credentials.get_token()
    standin.push_fault("token", Fault(status=503, body=b"busy"))
    clock.offset = 3600 - REFRESH_MARGIN + 1
    assert credentials.get_token() == first
    assert standin.count("token") == 2
    warnings = [
        record
        for record in caplog.records
        if record.levelno == logging.WARNING and record.name.endswith("_credentials")
    ]
    assert len(warnings) == 1
    assert "early refresh of the ID token" in warnings[0].getMessage()


def test_early_refresh_tries_bounded(standin: GoogleStandIn, key_file: Path) -> None:
    clock = ShiftedClock()
    credentials = credentials_for(standin, key_file, clock)
    first = credentials.get_token()
    for _ in range(3):
        standin.push_fault("token", Fault(status=503, body=b"busy"))
    clock.offset = 3600 - REFRESH_MARGIN + 1
    for _ in range(20):
        assert credentials.get_token() == first
    assert standin.count("token") == 2
    clock.offset += MIN_REFRESH_INTERVAL
    assert credentials.get_token() == first
    assert standin.count("token") == 3


def test_expired_token_not_returned(standin: GoogleStandIn, key_file: Path) -> None:
    clock = ShiftedClock()
    credentials = credentials_for(standin, key_file, clock)
    credentials.get_token()
    standin.push_fault("token", Fault(status=503, body=b"busy"))
    clock.offset = 3600
    with pytest.raises(TokenEndpointError, match="HTTP 503"):
        credentials.get_token()


def test_refresh_fetches_new_token(standin: GoogleStandIn, key_file: Path) -> None:
    clock = ShiftedClock()
    credentials = credentials_for(standin, key_file, clock)
    first = credentials.get_token()
    # A second later, so that the new token differs in iat and exp.
    move_clocks(standin, clock, 1)
    assert credentials.refresh().value != first
    assert standin.count("token") == 2


@pytest.mark.parametrize(("matches", "requests"), [(True, 2), (False, 1)])
def test_drop_token_compares(
    standin: GoogleStandIn, key_file: Path, matches: bool, requests: int
) -> None:
    credentials = credentials_for(standin, key_file)
    token = credentials.get_token()
    credentials.drop_token(token if matches else "another token")
    credentials.get_token()
    assert standin.count("token") == requests


def test_drop_token_during_fetch_not_cached(
    standin: GoogleStandIn, key_file: Path
) -> None:
    standin.push_fault("token", Fault(delay=0.3))
    credentials = credentials_for(standin, key_file)
    fetch = threading.Thread(target=credentials.get_token)
    fetch.start()
    for _ in range(500):
        if standin.count("token") > 0:
            break
        threading.Event().wait(0.01)
    credentials.drop_token()
    fetch.join()
    assert credentials.id_token is None


def test_other_audience_own_cache(standin: GoogleStandIn, key_file: Path) -> None:
    credentials = credentials_for(standin, key_file)
    fhir = credentials.with_target_audience("fhir-client.apps.googleusercontent.com")
    main_token = credentials.get_id_token()
    fhir_token = fhir.get_id_token()
    assert fhir_token.audience == "fhir-client.apps.googleusercontent.com"
    assert main_token.audience == standin.iap_client_id
    assert fhir.transport is credentials.transport
    assert fhir.key is credentials.key
    fhir.get_token()
    credentials.get_token()
    assert standin.count("token") == 2


def test_repr_hides_token(standin: GoogleStandIn, key_file: Path) -> None:
    credentials = credentials_for(standin, key_file)
    credentials.get_token()
    assert not SECRET_PATTERN.search(repr(credentials))
    assert not SECRET_PATTERN.search(repr(credentials.id_token))


def test_tokens_under_min_validity_bounded(
    standin: GoogleStandIn, key_file: Path
) -> None:
    # Each token lives less than MIN_TOKEN_VALIDITY, so it is never "usable"
    # by that rule alone.
    standin.token_lifetime = 5
    clock = ShiftedClock()
    credentials = credentials_for(standin, key_file, clock)
    expired = 0
    for _ in range(1000):
        token = credentials.get_id_token()
        expired += token.expiry <= clock.time()
        time.sleep(0.003)
    assert expired == 0
    # The calls span about 3 s, so one fetch, or two if the first token's
    # whole-second exp came early.
    assert standin.count("token") <= 3
