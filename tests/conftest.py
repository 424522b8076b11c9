"""Fixtures shared by the tests: the local Google stand-in, keys and a leak check."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from posos_jwt.testing import GoogleStandIn, write_key_file
from tests.support import SECRET_PATTERN


@pytest.fixture(scope="session")
def standin_session() -> Iterator[GoogleStandIn]:
    with GoogleStandIn() as standin:
        yield standin


@pytest.fixture
def standin(standin_session: GoogleStandIn) -> Iterator[GoogleStandIn]:
    """The session's stand-in, with its clock, lifetime and counters reset."""
    standin_session.clock_offset = 0.0
    standin_session.token_lifetime = 3600
    standin_session.clear_faults()
    standin_session.reset_counts()
    yield standin_session
    standin_session.clock_offset = 0.0
    standin_session.token_lifetime = 3600
    standin_session.clear_faults()
    standin_session.reset_counts()


@pytest.fixture
def account(standin: GoogleStandIn) -> dict[str, str]:
    """A new service account known to the stand-in, as a key-file mapping."""
    return standin.new_account()


@pytest.fixture
def key_file(account: dict[str, str], tmp_path: Path) -> Path:
    """The account's key file, written with mode 0600."""
    return write_key_file(tmp_path, account)


@pytest.fixture(autouse=True)
def no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Capture every posos-jwt log record at DEBUG and fail on a leaked secret."""
    caplog.set_level(logging.DEBUG, logger="posos_jwt")
    yield
    for record in caplog.records:
        if not record.name.startswith("posos_jwt") or record.name.startswith(
            "posos_jwt.testing"
        ):
            continue
        message = record.getMessage()
        assert not SECRET_PATTERN.search(message), f"secret in log: {record.name}"


@pytest.fixture(autouse=True)
def drop_cli_log_handler() -> Iterator[None]:
    """Remove the stderr handler that a test's run of the command attached.

    The handler writes to the stderr that pytest captured for that test, so a
    later record from a stand-in thread would fail on a closed stream.
    """
    yield
    package_logger = logging.getLogger("posos_jwt")
    for handler in list(package_logger.handlers):
        if isinstance(handler, logging.StreamHandler):
            package_logger.removeHandler(handler)
