"""The transport's own checks: timeouts and CA bundles."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from posos_jwt import (
    ConfigurationError,
    IDTokenCredentials,
    ImpersonatedCredentials,
    MetadataCredentials,
    ServiceAccountKey,
)
from posos_jwt._transport import Transport, check_timeout
from tests.support import key_info


@pytest.mark.parametrize(
    "value", [0, -1, float("nan"), float("inf"), 1e300, 10**400, 3601, True, "5"]
)
def test_invalid_timeout(value: object) -> None:
    with pytest.raises(ConfigurationError, match="timeout must be"):
        check_timeout(value)


@pytest.mark.parametrize("value", [0.001, 1, 10.5, 3600])
def test_valid_timeout(value: float) -> None:
    assert check_timeout(value) == float(value)


def test_ca_bundle_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a regular file"):
        Transport(ca_bundle=tmp_path)


def test_ca_bundle_fifo(tmp_path: Path) -> None:
    path = tmp_path / "ca.fifo"
    os.mkfifo(path)
    with pytest.raises(ConfigurationError, match="not a regular file"):
        Transport(ca_bundle=path)


def test_ca_bundle_broken_pem(tmp_path: Path) -> None:
    path = tmp_path / "ca.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigurationError, match="no valid PEM certificate") as info:
        Transport(ca_bundle=path)
    assert "(None)" not in str(info.value)


def test_ca_bundle_nul_byte() -> None:
    with pytest.raises(ConfigurationError, match=r"ca\\0\.pem contains a NUL byte"):
        Transport(ca_bundle="ca\0.pem")


def _id_token_credentials(timeout: float) -> object:
    key = ServiceAccountKey.from_info(key_info("service_account.json"))
    return IDTokenCredentials(key, "aud", timeout=timeout)


def _impersonated_credentials(timeout: float) -> object:
    key = ServiceAccountKey.from_info(key_info("service_account.json"))
    return ImpersonatedCredentials.from_service_account_key(
        key, "target@p.iam.gserviceaccount.com", "aud", timeout=timeout
    )


def _metadata_credentials(timeout: float) -> object:
    return MetadataCredentials("aud", host="127.0.0.1:9", timeout=timeout)


@pytest.mark.parametrize(
    "build",
    [_id_token_credentials, _impersonated_credentials, _metadata_credentials],
    ids=["key file", "impersonated", "metadata server"],
)
@pytest.mark.parametrize("timeout", [1e10, 10**340])
def test_credentials_reject_timeout_above_maximum(
    build: Callable[[float], object], timeout: float
) -> None:
    with pytest.raises(ConfigurationError, match="up to 3600"):
        build(timeout)
