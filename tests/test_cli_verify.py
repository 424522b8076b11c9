"""The inspect and verify commands: output, stdin, exit codes, one-line errors."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import pytest

from posos_jwt._cli import main
from posos_jwt._cli._inspect import UNVERIFIED_NOTICE, describe_duration
from posos_jwt.testing import Fault, GoogleStandIn
from tests.forgery import unsigned, with_payload_byte_changed
from tests.support import SECRET_PATTERN

EMAIL = "cli@posos-standin.iam.gserviceaccount.com"
UTC_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


class TerminalInput(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(
    args: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stdin: str | None = None,
) -> tuple[int, str, str]:
    if stdin is None:
        monkeypatch.setattr(sys, "stdin", TerminalInput(""))
    else:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(err: str, token: str) -> None:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("posos-jwt: error: ")
    assert not SECRET_PATTERN.search(err)
    assert token.split(".")[1] not in err


def verify_args(standin: GoogleStandIn, *extra: str) -> list[str]:
    return [
        "verify",
        "-",
        "--audience",
        standin.iap_client_id,
        "--certs-url",
        standin.jwks_uri,
        "--ca-bundle",
        standin.ca_bundle,
        *extra,
    ]


def test_inspect_from_stdin(
    standin: GoogleStandIn,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = standin.issue_id_token(standin.iap_client_id, EMAIL)
    code, out, err = run(["inspect", "-"], capsys, monkeypatch, stdin=token + "\n")
    assert code == 0
    assert out.splitlines()[0] == UNVERIFIED_NOTICE
    assert '"alg": "RS256"' in out
    assert f'"email": "{EMAIL}"' in out
    assert re.search(rf"^iat: {UTC_TIME} \(", out, re.M)
    assert re.search(rf"^exp: {UTC_TIME} \(in (59 min|1 h)", out, re.M)
    assert token.split(".")[2] not in out
    assert not SECRET_PATTERN.search(out)
    assert err == ""


def test_inspect_without_argument_reads_pipe(
    standin: GoogleStandIn,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = standin.issue_id_token(standin.iap_client_id, EMAIL, lifetime=-7200)
    code, out, _ = run(["inspect"], capsys, monkeypatch, stdin=token)
    assert code == 0
    assert re.search(rf"^exp: {UTC_TIME} \(2 h 0 min ago\)", out, re.M)


def test_inspect_argument_warns(
    standin: GoogleStandIn,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = standin.issue_id_token(standin.iap_client_id, EMAIL)
    code, out, err = run(["inspect", token], capsys, monkeypatch)
    assert code == 0
    assert out.startswith(UNVERIFIED_NOTICE)
    assert "posos-jwt: warning: the token was given on the command line" in err
    assert not SECRET_PATTERN.search(err)


def test_inspect_shows_forged_token(
    standin: GoogleStandIn,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = unsigned(standin.issue_id_token(standin.iap_client_id, EMAIL))
    code, out, _ = run(["inspect", "-"], capsys, monkeypatch, stdin=token)
    assert code == 0
    assert '"alg": "none"' in out


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (["inspect"], None, 2, "no token: pipe it on stdin"),
        (["inspect", "-"], "  \n", 2, "no token on stdin"),
        (["inspect", "-"], "not-a-jwt", 6, "has 1 dot-separated parts"),
        (["inspect", "-"], "a.!!.c", 6, "header is not canonical unpadded base64url"),
        (["verify", "-"], "a.b.c", 2, "--audience"),
    ],
)
def test_bad_input(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    stdin: str | None,
    code: int,
    message: str,
) -> None:
    result, out, err = run(args, capsys, monkeypatch, stdin=stdin)
    assert result == code
    assert out == ""
    assert message in err
    assert len(err.splitlines()) == 1


def test_verify_accepts(
    standin: GoogleStandIn,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = standin.issue_id_token(standin.iap_client_id, EMAIL)
    code, out, err = run(verify_args(standin), capsys, monkeypatch, stdin=token)
    assert code == 0
    first, _, rest = out.partition("\n")
    assert first.startswith("verified: RS256 signature by a key from 127.0.0.1")
    assert json.loads(rest)["email"] == EMAIL
    assert token.split(".")[2] not in out
    assert err == ""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (with_payload_byte_changed, "signature does not match key"),
        (unsigned, "alg is 'none'"),
    ],
)
def test_verify_rejects_forgery(
    standin: GoogleStandIn,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    change: object,
    message: str,
) -> None:
    assert callable(change)
    token = change(standin.issue_id_token(standin.iap_client_id, EMAIL))
    code, out, err = run(verify_args(standin), capsys, monkeypatch, stdin=token)
    assert code == 6
    assert out == ""
    assert message in err
    assert_one_line_error(err, token)


def test_verify_wrong_audience(
    standin: GoogleStandIn,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = standin.issue_id_token("another-client", EMAIL)
    code, _, err = run(verify_args(standin), capsys, monkeypatch, stdin=token)
    assert code == 6
    assert "aud is 'another-client', not" in err
    assert_one_line_error(err, token)


def test_verify_iap_header(
    standin: GoogleStandIn,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assertion = standin.issue_iap_jwt(EMAIL)
    args = [
        "verify",
        "--iap",
        "--audience",
        standin.iap_backend_audience,
        "--certs-url",
        standin.iap_jwk_uri,
        "--ca-bundle",
        standin.ca_bundle,
    ]
    code, out, _ = run(args, capsys, monkeypatch, stdin=assertion)
    assert code == 0
    assert out.startswith("verified: ES256 signature")

    other = standin.issue_iap_jwt(EMAIL, audience="/projects/1/apps/other")
    code, _, err = run(args, capsys, monkeypatch, stdin=other)
    assert code == 6
    assert "aud is '/projects/1/apps/other'" in err


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--certs-url", "http://127.0.0.1:1/certs"], 3, "is not an https URL"),
        (["--timeout", "0"], 2, "must be a positive number"),
    ],
)
def test_verify_configuration_errors(
    standin: GoogleStandIn,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    extra: list[str],
    code: int,
    message: str,
) -> None:
    token = standin.issue_id_token(standin.iap_client_id, EMAIL)
    result, _, err = run(verify_args(standin, *extra), capsys, monkeypatch, token)
    assert result == code
    assert message in err
    assert_one_line_error(err, token)


def test_verify_keys_unreachable(
    standin: GoogleStandIn,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    standin.push_fault("certs", Fault(drop=True))
    token = standin.issue_id_token(standin.iap_client_id, EMAIL)
    code, _, err = run(verify_args(standin), capsys, monkeypatch, stdin=token)
    assert code == 5
    assert "127.0.0.1" in err
    assert_one_line_error(err, token)


def test_verify_through_pipe(standin: GoogleStandIn) -> None:
    token = standin.issue_id_token(standin.iap_client_id, EMAIL)
    result = subprocess.run(
        [sys.executable, "-m", "posos_jwt", *verify_args(standin)],
        input=token,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("verified: ")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (12.9, "12 s"),
        (59 * 60 + 48, "59 min 48 s"),
        (3600, "1 h 0 min"),
        (2 * 86400 + 5 * 3600 + 7, "2 d 5 h"),
    ],
)
def test_describe_duration(seconds: float, text: str) -> None:
    assert describe_duration(seconds) == text


@pytest.mark.parametrize("value", ["", " "])
def test_empty_ca_bundle_is_usage_error(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["verify", "-", "--audience", "x", "--ca-bundle", value])
    err = capsys.readouterr().err
    assert code == 2
    assert "--ca-bundle" in err
