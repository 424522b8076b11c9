"""The posos-jwt command: output, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import urllib3

from posos_jwt._cli import main
from posos_jwt.testing import Fault, GoogleStandIn, write_key_file
from tests.support import KEYS, SECRET_PATTERN, fixture_bytes


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "GOOGLE_APPLICATION_CREDENTIALS",
        "POSOS_CLIENT_ID",
        "POSOS_JWT_TOKEN_URI",
    ):
        monkeypatch.delenv(name, raising=False)


def token_args(standin: GoogleStandIn, key_file: Path, *extra: str) -> list[str]:
    return [
        "token",
        "--key-file",
        str(key_file),
        "--client-id",
        standin.iap_client_id,
        "--token-uri",
        standin.token_uri,
        "--ca-bundle",
        standin.ca_bundle,
        *extra,
    ]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(err: str) -> None:
    """Check for exactly one error line; warnings may come before it."""
    lines = err.splitlines()
    errors = [line for line in lines if line.startswith("posos-jwt: error: ")]
    assert len(errors) == 1, err
    assert lines[-1] == errors[0]
    assert all(line.startswith("posos-jwt: ") for line in lines), err
    assert not SECRET_PATTERN.search(err)


def test_token_accepted_by_api(
    standin: GoogleStandIn, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(token_args(standin, key_file), capsys)
    assert code == 0
    assert err == (
        f"posos-jwt: warning: using token endpoint {standin.token_uri}, "
        "which is not a Google host\n"
    )
    assert out.endswith("\n")
    assert out.count("\n") == 1
    http = urllib3.PoolManager(ca_certs=standin.ca_bundle)
    response = http.request(
        "GET", standin.api_url + "/", headers={"Authorization": "Bearer " + out.strip()}
    )
    assert response.status == 200


def test_token_json(
    standin: GoogleStandIn,
    key_file: Path,
    account: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(token_args(standin, key_file, "--json"), capsys)
    document = json.loads(out)
    assert code == 0
    assert document["claims"]["email"] == account["client_email"]
    assert document["expiry"] == document["claims"]["exp"]
    assert document["expires_at"].endswith("Z")
    assert document["id_token"].count(".") == 2


def test_token_defaults_from_environment(
    standin: GoogleStandIn,
    key_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    monkeypatch.setenv("POSOS_CLIENT_ID", standin.iap_client_id)
    monkeypatch.setenv("POSOS_JWT_TOKEN_URI", standin.token_uri)
    code, out, _ = run(["token", "--ca-bundle", standin.ca_bundle], capsys)
    assert code == 0
    assert out.count(".") == 2


def test_missing_client_id_is_usage(
    key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["token", "--key-file", str(key_file)], capsys)
    assert code == 2
    assert "POSOS_CLIENT_ID" in err
    assert_one_line_error(err)


@pytest.mark.parametrize(
    "args",
    [["token", "--timeout", "zero"], ["token", "--timeout", "-1"], ["nope"], []],
)
def test_usage_errors(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(args, capsys)
    assert code == 2
    assert_one_line_error(err)


@pytest.mark.parametrize(
    "name",
    [
        "invalid_json.json",
        "authorized_user.json",
        "external_account.json",
        "service_account_encrypted.json",
        "service_account_ec.json",
        "service_account_not_pem.json",
        "service_account_rsa1024.json",
        "service_account_bad_token_uri.json",
        "does_not_exist.json",
    ],
)
def test_bad_key_file_exit_3(
    standin: GoogleStandIn, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["token", "--key-file", str(KEYS / name), "--client-id", "x"]
    code, _, err = run(args, capsys)
    assert code == 3
    assert_one_line_error(err)
    assert name in err
    assert standin.count("token") == 0


@pytest.mark.parametrize(
    ("fault", "code", "text"),
    [
        (Fault(status=400, body=b'{"error": "invalid_grant"}'), 4, "invalid_grant"),
        (Fault(status=502, body=b"<html>502</html>"), 4, "HTTP 502"),
        (Fault(omit_id_token=True), 4, "without an id_token"),
        (Fault(drop=True), 5, "127.0.0.1"),
        (Fault(id_token_claims={"aud": "other"}), 6, "audience 'other'"),
    ],
)
def test_failure_exit_codes(
    standin: GoogleStandIn,
    key_file: Path,
    fault: Fault,
    code: int,
    text: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    standin.push_fault("token", fault)
    args = token_args(standin, key_file, "--max-attempts", "1")
    status, out, err = run(args, capsys)
    assert status == code
    assert out == ""
    assert text in err
    assert_one_line_error(err)


@pytest.mark.parametrize(
    ("name", "status", "text"),
    [
        ("invalid_grant_signature.json", 400, "Invalid JWT Signature."),
        ("invalid_grant_account_not_found.json", 400, "account not found"),
        ("invalid_grant_short_lived.json", 400, "short-lived token"),
        ("invalid_scope.json", 400, "invalid_scope"),
        ("unsupported_grant_type.json", 400, "unsupported_grant_type"),
        ("disabled_client.json", 401, "disabled_client"),
        ("internal_failure.json", 500, "internal_failure"),
        ("html_502.html", 502, "HTTP 502"),
        ("html_503.html", 503, "HTTP 503"),
        ("access_token_only.json", 200, "without an id_token"),
    ],
)
def test_replayed_response_exit_4(
    standin: GoogleStandIn,
    key_file: Path,
    name: str,
    status: int,
    text: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    body = fixture_bytes("token_endpoint", name)
    kind = "text/html" if name.endswith(".html") else "application/json"
    standin.push_fault("token", Fault(status=status, body=body, content_type=kind))
    code, out, err = run(token_args(standin, key_file, "--max-attempts", "1"), capsys)
    assert code == 4
    assert out == ""
    assert text in err
    assert_one_line_error(err)


@pytest.mark.parametrize("field", ["client_email", "private_key_id", "private_key"])
def test_missing_field_exit_3(
    account: dict[str, str],
    tmp_path: Path,
    field: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    info = {name: value for name, value in account.items() if name != field}
    path = write_key_file(tmp_path, info)
    code, _, err = run(["check-key", "--key-file", str(path)], capsys)
    assert code == 3
    assert f"missing field '{field}'" in err
    assert_one_line_error(err)


def test_revoked_key_exit_4(
    standin: GoogleStandIn,
    key_file: Path,
    account: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    standin.revoke_key(account["private_key_id"])
    code, _, err = run(token_args(standin, key_file), capsys)
    assert code == 4
    assert "Invalid JWT Signature" in err
    assert_one_line_error(err)


def test_timeout_exit_5(
    standin: GoogleStandIn, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    standin.push_fault("token", Fault(delay=1.5))
    args = token_args(standin, key_file, "--timeout", "0.3", "--max-attempts", "1")
    code, _, err = run(args, capsys)
    assert code == 5
    assert "timed out" in err
    assert_one_line_error(err)


def test_untrusted_certificate_exit_5(
    standin: GoogleStandIn,
    key_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    args = [
        "token",
        "--key-file",
        str(key_file),
        "--client-id",
        "x",
        "--token-uri",
        standin.token_uri,
    ]
    code, _, err = run(args, capsys)
    assert code == 5
    assert "--ca-bundle" in err
    assert_one_line_error(err)


def test_check_key(
    key_file: Path, account: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["check-key", "--key-file", str(key_file)], capsys)
    assert code == 0
    assert account["client_email"] in out
    assert account["private_key_id"] in out
    assert "2048 bits" in out
    assert "https://oauth2.googleapis.com/token" in out
    assert "600, ok" in out
    assert "PRIVATE" not in out + err


def test_check_key_permission_warning(
    key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file.chmod(0o644)
    code, out, err = run(["check-key", "--key-file", str(key_file)], capsys)
    assert code == 0
    assert "chmod 600" in out
    assert "chmod 600" in err


def test_check_key_bad_token_uri(capsys: pytest.CaptureFixture[str]) -> None:
    path = KEYS / "service_account_bad_token_uri.json"
    code, _, err = run(["check-key", "--key-file", str(path)], capsys)
    assert code == 3
    assert "evil.example.com" in err
    assert_one_line_error(err)


def test_demo(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["demo"], capsys)
    assert code == 0
    assert "HTTP 401" in out
    assert "HTTP 200" in out
    assert not SECRET_PATTERN.search(out)


def test_console_script_installed() -> None:
    script = Path(sys.executable).parent / "posos-jwt"
    args = ["check-key", "--key-file", str(KEYS / "authorized_user.json")]
    result = subprocess.run(
        [str(script), *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 3
    assert result.stderr.splitlines()[-1].startswith("posos-jwt: error: ")
    assert "authorized_user" in result.stderr


def test_python_m_runs_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "posos_jwt", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "check-key" in result.stdout


@pytest.mark.parametrize("position", ["before", "after"])
def test_verbose_either_side(
    standin: GoogleStandIn,
    key_file: Path,
    position: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = token_args(standin, key_file)
    args = ["-v", *args] if position == "before" else [*args, "-v"]
    code, _, err = run(args, capsys)
    assert code == 0
    assert "posos-jwt: debug: " in err
    assert not SECRET_PATTERN.search(err)


def test_json_rejects_nan_claim(
    standin: GoogleStandIn, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    standin.push_fault("token", Fault(id_token_claims={"odd": float("nan")}))
    code, out, err = run(token_args(standin, key_file, "--json"), capsys)
    assert code == 6
    assert out == ""
    assert "NaN" in err
    assert_one_line_error(err)


@pytest.mark.parametrize("value", ["1e300", "3601", "nan", "inf", "0", "-1"])
def test_timeout_out_of_range(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["token", "--timeout", value], capsys)
    assert code == 2
    assert_one_line_error(err)
