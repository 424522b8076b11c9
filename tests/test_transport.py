"""The transport's own checks: timeouts and CA bundles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from posos_jwt import ConfigurationError
from posos_jwt._transport import Transport, check_timeout


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
