"""Discovery order: explicit key file, GOOGLE_APPLICATION_CREDENTIALS, metadata."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from posos_jwt import (
    IDTokenCredentials,
    KeyFileNotFoundError,
    MetadataCredentials,
    NoCredentialsError,
    fetch_id_token,
    find_credentials,
)
from posos_jwt._cli import main
from posos_jwt.testing import GoogleStandIn, MetadataServer, write_key_file
from tests.support import SECRET_PATTERN

WORKLOAD_EMAIL = "workload@posos-standin.iam.gserviceaccount.com"


@pytest.fixture
def metadata(
    standin: GoogleStandIn, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MetadataServer]:
    """A metadata server that GCE_METADATA_HOST points at."""
    with MetadataServer(standin, WORKLOAD_EMAIL) as server:
        monkeypatch.setenv("GCE_METADATA_HOST", server.host)
        yield server


@pytest.fixture(autouse=True)
def no_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "POSOS_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)


def other_key_file(standin: GoogleStandIn, tmp_path: Path) -> Path:
    return write_key_file(tmp_path, standin.new_account(), name="other.json")


def test_explicit_key_file_first(
    standin: GoogleStandIn,
    key_file: Path,
    tmp_path: Path,
    metadata: MetadataServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "GOOGLE_APPLICATION_CREDENTIALS", str(other_key_file(standin, tmp_path))
    )
    credentials = find_credentials(standin.iap_client_id, key_file)
    assert isinstance(credentials, IDTokenCredentials)
    assert credentials.key.path == str(key_file)
    assert metadata.requests == []


def test_environment_before_metadata(
    standin: GoogleStandIn,
    key_file: Path,
    metadata: MetadataServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    credentials = find_credentials(standin.iap_client_id)
    assert isinstance(credentials, IDTokenCredentials)
    assert credentials.key.path == str(key_file)
    assert metadata.requests == []


def test_metadata_when_no_key(standin: GoogleStandIn, metadata: MetadataServer) -> None:
    credentials = find_credentials(standin.iap_client_id)
    assert isinstance(credentials, MetadataCredentials)
    assert credentials.get_id_token().email == WORKLOAD_EMAIL
    assert metadata.requests[0].path == "/"


def test_broken_environment_key_not_skipped(
    standin: GoogleStandIn,
    tmp_path: Path,
    metadata: MetadataServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = tmp_path / "missing.json"
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(missing))
    with pytest.raises(KeyFileNotFoundError, match=r"missing\.json"):
        find_credentials(standin.iap_client_id)
    assert metadata.requests == []


def test_no_source_lists_each_attempt() -> None:
    # The autouse fixture in conftest points GCE_METADATA_HOST at a closed port.
    with pytest.raises(NoCredentialsError, match="no credentials found") as info:
        find_credentials("client-id")
    sources = [source for source, _ in info.value.attempts]
    reasons = dict(info.value.attempts)
    message = str(info.value)
    assert sources[0] == "key file"
    assert sources[1] == "GOOGLE_APPLICATION_CREDENTIALS"
    assert sources[2].startswith("metadata server 127.0.0.1:")
    assert reasons["GOOGLE_APPLICATION_CREDENTIALS"] == "not set"
    assert "Connection refused" in reasons[sources[2]]
    assert "GOOGLE_APPLICATION_CREDENTIALS: not set" in message
    assert info.value.exit_code == 3


def test_impostor_metadata_server_listed(
    standin: GoogleStandIn, metadata: MetadataServer
) -> None:
    metadata.send_flavor_header = False
    with pytest.raises(NoCredentialsError, match="so not a metadata server"):
        find_credentials(standin.iap_client_id)


def test_fetch_id_token_uses_metadata(
    standin: GoogleStandIn, metadata: MetadataServer
) -> None:
    token = fetch_id_token(standin.iap_client_id)
    assert token.count(".") == 2
    assert metadata.requests[-1].query["format"] == "full"


def test_cli_token_from_metadata(
    standin: GoogleStandIn,
    metadata: MetadataServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["token", "--client-id", standin.iap_client_id, "--json"])
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert code == 0
    assert captured.err == ""
    assert document["claims"]["email"] == WORKLOAD_EMAIL
    assert document["claims"]["aud"] == standin.iap_client_id
    assert standin.count("token") == 0


def test_cli_no_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["token", "--client-id", "client-id"])
    err = capsys.readouterr().err
    assert code == 3
    assert err.startswith("posos-jwt: error: no credentials found (tried key file")
    assert err.count("\n") == 1
    assert not SECRET_PATTERN.search(err)
