"""Clock skew: the offset measured from the token endpoint's Date header is
used for assertions, the token check and the cache, in any time zone."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from posos_jwt import (
    SKEW_TOLERANCE,
    ClockSkewError,
    IDTokenCredentials,
    RetryPolicy,
)
from posos_jwt._cli import main
from posos_jwt._skew import CorrectedClock
from posos_jwt.testing import Fault, GoogleStandIn, write_key_file
from tests.clocks import ShiftedClock
from tests.support import fixture_bytes

OFFSETS = [-7 * 3600, -600, 600, 7 * 3600]
"""Stand-in clock offsets: ten minutes and seven hours, behind and ahead."""

MARGIN = 3.0
"""Seconds by which a measured offset may differ from the true one: the Date
header has a resolution of one second, and the response takes time."""


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


def credentials_for(
    standin: GoogleStandIn, key_file: Path, **options: object
) -> IDTokenCredentials:
    return IDTokenCredentials.from_service_account_file(
        key_file,
        target_audience=standin.iap_client_id,
        token_uri=standin.token_uri,
        ca_bundle=standin.ca_bundle,
        retry=RetryPolicy(max_attempts=1),
        **options,
    )


def skew_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "posos_jwt._skew" and record.levelno == logging.WARNING
    ]


@pytest.mark.parametrize("offset", OFFSETS)
def test_skewed_server_clock_corrected(
    standin: GoogleStandIn,
    key_file: Path,
    offset: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    standin.clock_offset = offset
    credentials = credentials_for(standin, key_file)
    token = credentials.get_id_token()
    assert abs(credentials.clock_offset - offset) < MARGIN
    assert abs(token.expiry - (time.time() + offset + 3600)) < 60
    warnings = skew_warnings(caplog)
    assert len(warnings) == 1
    measured = re.search(r"measured offset ([+-]\d+) s", warnings[0])
    assert measured is not None, warnings[0]
    assert abs(int(measured.group(1)) - offset) < MARGIN


@pytest.mark.parametrize("offset", OFFSETS)
def test_offset_kept_for_later_requests(
    standin: GoogleStandIn, key_file: Path, offset: int
) -> None:
    standin.clock_offset = offset
    credentials = credentials_for(standin, key_file)
    credentials.get_token()
    first = standin.count("token")
    assert credentials.get_token()  # from the cache, judged by the server's time
    credentials.refresh()
    assert standin.count("token") == first + 1


def test_server_ahead_accepted_token_checked_with_offset(
    standin: GoogleStandIn, key_file: Path
) -> None:
    # An assertion ten minutes old is within Google's window, so it is
    # accepted, but the token's iat is ten minutes in the local future.
    standin.clock_offset = 600
    credentials = credentials_for(standin, key_file)
    credentials.get_token()
    assert standin.count("token") == 1


def test_small_skew_left_alone(
    standin: GoogleStandIn, key_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    standin.clock_offset = SKEW_TOLERANCE / 2
    credentials = credentials_for(standin, key_file)
    credentials.get_token()
    assert credentials.clock_offset == 0.0
    assert skew_warnings(caplog) == []


def test_local_clock_wrong_corrected(standin: GoogleStandIn, key_file: Path) -> None:
    credentials = credentials_for(standin, key_file, clock=ShiftedClock(-600))
    credentials.get_token()
    assert abs(credentials.clock_offset - 600) < MARGIN


def test_correction_signs_again_once(standin: GoogleStandIn, key_file: Path) -> None:
    # Both assertions get Google's rejection of their times, so the second
    # one measures no new offset and its error is raised.
    body = fixture_bytes("token_endpoint", "invalid_grant_short_lived.json")
    for _ in range(2):
        standin.push_fault("token", Fault(status=400, body=body))
    credentials = credentials_for(standin, key_file, clock=ShiftedClock(-4200))
    with pytest.raises(ClockSkewError, match="server time") as info:
        credentials.get_token()
    assert standin.count("token") == 2
    assert info.value.server_time is not None
    assert abs(info.value.server_time - info.value.local_time - 4200) < MARGIN


def test_adopt_without_date_header() -> None:
    clock = CorrectedClock(ShiftedClock())
    assert clock.adopt(1000.0, None, "example.com") is False
    assert clock.offset == 0.0


@pytest.mark.parametrize("offset", [-600, 600])
def test_cli_token_logs_offset(
    standin: GoogleStandIn,
    key_file: Path,
    offset: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    standin.clock_offset = offset
    code = main(
        [
            "token",
            *("--key-file", str(key_file), "--client-id", standin.iap_client_id),
            *("--token-uri", standin.token_uri, "--ca-bundle", standin.ca_bundle),
        ]
    )
    err = capsys.readouterr().err
    assert code == 0
    measured = re.search(r"measured offset ([+-]\d+) s", err)
    assert measured is not None, err
    assert abs(int(measured.group(1)) - offset) < MARGIN


@pytest.fixture(params=["Pacific/Kiritimati", "Etc/GMT+12"])
def far_time_zone(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A zone 14 hours ahead of UTC, then one 12 hours behind it."""
    zone: str = request.param
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    yield zone
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("offset", [0, -600, 600])
def test_time_zone_has_no_effect(
    standin: GoogleStandIn, key_file: Path, far_time_zone: str, offset: int
) -> None:
    assert time.localtime().tm_gmtoff != 0
    standin.clock_offset = offset
    credentials = credentials_for(standin, key_file)
    token = credentials.get_id_token()
    assert abs(credentials.clock_offset - offset) < MARGIN
    assert abs(token.expiry - (time.time() + offset + 3600)) < 60


@pytest.mark.parametrize("offset", [-2 * 86400, 365 * 86400])
def test_far_date_not_adopted(offset: float, caplog: pytest.LogCaptureFixture) -> None:
    clock = CorrectedClock(ShiftedClock())
    now = time.time()
    assert not clock.adopt(now, now + offset, "tokens.example")
    assert clock.offset == 0.0
    assert "is not adopted" in caplog.text
