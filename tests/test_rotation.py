"""Key rotation: a key file replaced while the process runs."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import jwt
import pytest

from posos_jwt import IDTokenCredentials, KeyFileNotFoundError, TokenEndpointError
from posos_jwt.testing import GoogleStandIn
from tests.clocks import ShiftedClock

PADDED_SIZE = 4096
"""Bytes that a padded key file takes, so that two keys give files of one size."""


def credentials_for(standin: GoogleStandIn, key_file: Path) -> IDTokenCredentials:
    return IDTokenCredentials.from_service_account_file(
        key_file,
        target_audience=standin.iap_client_id,
        token_uri=standin.token_uri,
        ca_bundle=standin.ca_bundle,
        clock=ShiftedClock(),
    )


def last_key_id(standin: GoogleStandIn) -> str:
    """Return the kid of the last assertion that the stand-in received."""
    assertion = standin.token_requests[-1].assertion
    assert assertion is not None
    key_id: str = jwt.get_unverified_header(assertion)["kid"]
    return key_id


def padded(info: dict[str, str]) -> bytes:
    data = json.dumps(info, indent=2).encode("utf-8")
    return data + b" " * (PADDED_SIZE - len(data))


def log_messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == level and record.name.endswith("_keysource")
    ]


def test_replaced_key_file_used(
    standin: GoogleStandIn,
    key_file: Path,
    account: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    credentials = credentials_for(standin, key_file)
    credentials.get_token()
    new = standin.add_key(account["client_email"])
    key_file.write_text(json.dumps(new))
    standin.revoke_key(account["private_key_id"])
    credentials.refresh()
    assert last_key_id(standin) == new["private_key_id"]
    assert credentials.key.private_key_id == new["private_key_id"]
    assert standin.count("token") == 2
    infos = log_messages(caplog, logging.INFO)
    assert len(infos) == 1
    assert new["private_key_id"] in infos[0]
    assert account["private_key_id"] in infos[0]


def test_renamed_key_file_used(
    standin: GoogleStandIn, key_file: Path, account: dict[str, str], tmp_path: Path
) -> None:
    credentials = credentials_for(standin, key_file)
    credentials.get_token()
    new = standin.add_key(account["client_email"])
    staged = tmp_path / "staged.json"
    staged.write_text(json.dumps(new))
    staged.replace(key_file)
    standin.revoke_key(account["private_key_id"])
    credentials.refresh()
    assert last_key_id(standin) == new["private_key_id"]


def test_unseen_change_retried_after_rejection(
    standin: GoogleStandIn,
    account: dict[str, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key_file = tmp_path / "key.json"
    key_file.write_bytes(padded(account))
    credentials = credentials_for(standin, key_file)
    credentials.get_token()
    before = os.stat(key_file)
    # Same inode, same size, same mtime: the file check cannot see the change,
    # so only the token endpoint's invalid_grant reveals it.
    new = standin.add_key(account["client_email"])
    with open(key_file, "r+b") as file:
        file.write(padded(new))
    os.utime(key_file, ns=(before.st_atime_ns, before.st_mtime_ns))
    standin.revoke_key(account["private_key_id"])
    credentials.refresh()
    assert last_key_id(standin) == new["private_key_id"]
    assert standin.count("token") == 3
    warnings = log_messages(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert "invalid_grant" in warnings[0]


def test_rejected_key_without_new_key(
    standin: GoogleStandIn, key_file: Path, account: dict[str, str]
) -> None:
    credentials = credentials_for(standin, key_file)
    standin.revoke_key(account["private_key_id"])
    with pytest.raises(TokenEndpointError, match="Invalid JWT Signature"):
        credentials.get_token()
    assert standin.count("token") == 1


def test_touched_file_keeps_key(
    standin: GoogleStandIn, key_file: Path, account: dict[str, str]
) -> None:
    credentials = credentials_for(standin, key_file)
    credentials.get_token()
    os.utime(key_file, ns=(0, 0))
    credentials.refresh()
    assert last_key_id(standin) == account["private_key_id"]


@pytest.mark.parametrize("content", ["{", '{"type": "service_account"}'])
def test_broken_new_file_keeps_key(
    standin: GoogleStandIn,
    key_file: Path,
    account: dict[str, str],
    content: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    credentials = credentials_for(standin, key_file)
    credentials.get_token()
    key_file.write_text(content)
    credentials.refresh()
    assert last_key_id(standin) == account["private_key_id"]
    warnings = log_messages(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert "cannot be used" in warnings[0]


def test_deleted_file_keeps_key(
    standin: GoogleStandIn, key_file: Path, account: dict[str, str]
) -> None:
    credentials = credentials_for(standin, key_file)
    credentials.get_token()
    key_file.unlink()
    credentials.refresh()
    assert last_key_id(standin) == account["private_key_id"]


def test_invalidate_reads_file_again(
    standin: GoogleStandIn, key_file: Path, account: dict[str, str]
) -> None:
    credentials = credentials_for(standin, key_file)
    credentials.get_token()
    credentials.invalidate()
    key_file.unlink()
    with pytest.raises(KeyFileNotFoundError, match="not found"):
        credentials.get_token()
    assert standin.count("token") == 1


def test_other_audience_follows_rotation(
    standin: GoogleStandIn, key_file: Path, account: dict[str, str]
) -> None:
    credentials = credentials_for(standin, key_file)
    fhir = credentials.with_target_audience("fhir-client.apps.googleusercontent.com")
    new = standin.add_key(account["client_email"])
    key_file.write_text(json.dumps(new))
    credentials.get_token()
    assert fhir.key.private_key_id == new["private_key_id"]


def test_other_account_key_rejected(
    standin: GoogleStandIn,
    key_file: Path,
    account: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    credentials = credentials_for(standin, key_file)
    credentials.get_token()
    other = standin.new_account()
    key_file.write_text(json.dumps(other))
    token = credentials.refresh()
    assert token.email == account["client_email"]
    assert last_key_id(standin) == account["private_key_id"]
    warnings = log_messages(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert other["client_email"] in warnings[0]
    assert account["client_email"] in warnings[0]
    assert "invalidate()" in warnings[0]


def test_other_account_warned_once(
    standin: GoogleStandIn, key_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    credentials = credentials_for(standin, key_file)
    credentials.get_token()
    key_file.write_text(json.dumps(standin.new_account()))
    credentials.refresh()
    credentials.refresh()
    assert len(log_messages(caplog, logging.WARNING)) == 1


def test_other_account_after_invalidate(standin: GoogleStandIn, key_file: Path) -> None:
    credentials = credentials_for(standin, key_file)
    credentials.get_token()
    other = standin.new_account()
    key_file.write_text(json.dumps(other))
    credentials.refresh()
    credentials.invalidate()
    assert credentials.get_id_token().email == other["client_email"]
    assert credentials.service_account_email == other["client_email"]


def test_other_account_not_tried_after_rejection(
    standin: GoogleStandIn, account: dict[str, str], tmp_path: Path
) -> None:
    key_file = tmp_path / "key.json"
    key_file.write_bytes(padded(account))
    credentials = credentials_for(standin, key_file)
    credentials.get_token()
    before = os.stat(key_file)
    # Same inode, size and mtime, so that only the rejection reads the file.
    with open(key_file, "r+b") as file:
        file.write(padded(standin.new_account()))
    os.utime(key_file, ns=(before.st_atime_ns, before.st_mtime_ns))
    standin.revoke_key(account["private_key_id"])
    with pytest.raises(TokenEndpointError, match="invalid_grant"):
        credentials.refresh()
    assert credentials.service_account_email == account["client_email"]
    assert standin.count("token") == 2
