"""The command line at its edges: headers, bodies, output and option mixes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from posos_jwt import __version__
from posos_jwt._cli import main
from posos_jwt._cli._request import MAX_REQUEST_BODY_SIZE
from posos_jwt.testing import GoogleStandIn
from tests.support import KEYS


def base_args(standin: GoogleStandIn, key_file: Path) -> list[str]:
    return [
        "--key-file",
        str(key_file),
        "--client-id",
        standin.iap_client_id,
        "--token-uri",
        standin.token_uri,
        "--ca-bundle",
        standin.ca_bundle,
    ]


@pytest.mark.parametrize(
    "header",
    [
        "Host: other-api.example",
        "host: other-api.example",
        "Content-Length: 5",
        "Transfer-Encoding: chunked",
        "Connection: close",
    ],
)
def test_routing_header_rejected(
    standin: GoogleStandIn,
    key_file: Path,
    header: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["request", *base_args(standin, key_file), "-H", header, standin.api_url]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2
    assert "set from the URL" in err
    assert standin.count("token") == 0


def test_request_body_capped(
    standin: GoogleStandIn,
    key_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    body = tmp_path / "big.bin"
    with body.open("wb") as file:
        file.truncate(MAX_REQUEST_BODY_SIZE + 1)
    args = ["request", *base_args(standin, key_file), "-d", f"@{body}"]
    code = main([*args, standin.api_url])
    err = capsys.readouterr().err
    assert code == 2
    assert "larger than" in err


def test_closed_stdout(
    standin: GoogleStandIn,
    key_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(sys, "stdout", None)
    code = main(["token", *base_args(standin, key_file)])
    err = capsys.readouterr().err
    assert code == 1
    assert "standard output is closed" in err
    assert standin.count("token") == 0


def test_full_disk_output() -> None:
    script = Path(sys.executable).parent / "posos-jwt"
    with open("/dev/full", "wb") as full:
        result = subprocess.run(
            [
                str(script),
                "check-key",
                "--key-file",
                str(KEYS / "service_account.json"),
            ],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("posos-jwt: error: cannot write")
    assert "Traceback" not in result.stderr


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"posos-jwt {__version__}\n"


def test_iam_endpoint_needs_impersonate(
    standin: GoogleStandIn, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["token", *base_args(standin, key_file), "--iam-endpoint", "https://x.y"]
    code = main(args)
    assert code == 2
    assert "--impersonate" in capsys.readouterr().err


def test_cache_with_self_signed_warns(
    key_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    args = ["token", "--self-signed", "--key-file", str(key_file)]
    code = main([*args, "--url", "https://api.example/*", "--cache"])
    err = capsys.readouterr().err
    assert code == 0
    assert "--cache is not used with --self-signed" in err
