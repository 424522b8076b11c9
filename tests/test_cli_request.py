"""posos-jwt request: body on stdout, exit codes and one-line errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from posos_jwt._cli import main
from posos_jwt.testing import Fault, GoogleStandIn
from tests.support import SECRET_PATTERN

IAP_HEADERS = {"x-goog-iap-generated-response": "true"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "GOOGLE_APPLICATION_CREDENTIALS",
        "POSOS_CLIENT_ID",
        "POSOS_JWT_TOKEN_URI",
    ):
        monkeypatch.delenv(name, raising=False)


def request_args(
    standin: GoogleStandIn, key_file: Path, *extra: str, client_id: str | None = None
) -> list[str]:
    return [
        "request",
        "--key-file",
        str(key_file),
        "--client-id",
        client_id or standin.iap_client_id,
        "--token-uri",
        standin.token_uri,
        "--ca-bundle",
        standin.ca_bundle,
        *extra,
    ]


def run(
    args: list[str], capsysbinary: pytest.CaptureFixture[bytes]
) -> tuple[int, bytes, str]:
    code = main(args)
    captured = capsysbinary.readouterr()
    return code, captured.out, captured.err.decode("utf-8")


def error_line(err: str) -> str:
    """Return the one error line, after checking that there is exactly one."""
    errors = [
        line for line in err.splitlines() if line.startswith("posos-jwt: error: ")
    ]
    assert len(errors) == 1, err
    assert not SECRET_PATTERN.search(err)
    return errors[0]


def test_get_writes_body(
    standin: GoogleStandIn,
    key_file: Path,
    account: dict[str, str],
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    args = request_args(standin, key_file, standin.api_url + "/drugs?q=x")
    code, out, err = run(args, capsysbinary)
    assert code == 0
    assert "error" not in err
    echo = json.loads(out)
    assert echo["email"] == account["client_email"]
    assert echo["query"] == "q=x"
    assert not SECRET_PATTERN.search(out.decode("utf-8"))


def test_body_bytes_unchanged(
    standin: GoogleStandIn, key_file: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    body = bytes(range(256)) + b"\r\n\x00end"
    standin.push_fault("api", Fault(status=200, body=body))
    code, out, _ = run(request_args(standin, key_file, standin.api_url), capsysbinary)
    assert code == 0
    assert out == body


@pytest.mark.parametrize(
    ("options", "method", "length"),
    [
        (["-d", "a=1&b=2"], "POST", 7),
        (["-X", "put", "-d", "abc"], "PUT", 3),
        (["-X", "DELETE"], "DELETE", 0),
    ],
)
def test_method_and_data(
    standin: GoogleStandIn,
    key_file: Path,
    options: list[str],
    method: str,
    length: int,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    args = request_args(standin, key_file, *options, standin.api_url)
    code, out, _ = run(args, capsysbinary)
    assert code == 0
    echo = json.loads(out)
    assert echo["method"] == method
    assert echo["body_length"] == length


def test_data_from_file_and_stdin(
    standin: GoogleStandIn,
    key_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    data = tmp_path / "body.json"
    data.write_bytes(b'{"drug": "x"}')
    args = request_args(standin, key_file, "-d", f"@{data}", standin.api_url)
    _, out, _ = run(args, capsysbinary)
    assert json.loads(out)["body_length"] == 13
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"12345")))
    args = request_args(standin, key_file, "-d", "@-", standin.api_url)
    _, out, _ = run(args, capsysbinary)
    assert json.loads(out)["body_length"] == 5


def test_proxy_authorization_option(
    standin: GoogleStandIn, key_file: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    args = request_args(
        standin, key_file, "--proxy-authorization", "-H", "X-Trace: 1", standin.api_url
    )
    code, _, _ = run(args, capsysbinary)
    assert code == 0
    assert standin.api_requests[-1].header_used == "proxy-authorization"


def test_error_status_exit_7(
    standin: GoogleStandIn, key_file: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    standin.push_fault("api", Fault(status=404, body=b'{"error": "no such drug"}'))
    code, out, err = run(request_args(standin, key_file, standin.api_url), capsysbinary)
    assert code == 7
    assert out == b""
    assert "HTTP 404" in error_line(err)
    assert "no such drug" in error_line(err)


def test_iap_rejection_exit_7(
    standin: GoogleStandIn, key_file: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    args = request_args(
        standin, key_file, standin.api_url, client_id="other.apps.googleusercontent.com"
    )
    code, out, err = run(args, capsysbinary)
    assert code == 7
    assert out == b""
    assert "Invalid IAP credentials: JWT audience doesn't match" in error_line(err)
    assert "audience 'other.apps.googleusercontent.com'" in error_line(err)


def test_sign_in_redirect_exit_7(
    standin: GoogleStandIn, key_file: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    location = "https://accounts.google.com/o/oauth2/v2/auth?client_id=x"
    standin.push_fault(
        "api", Fault(status=302, headers={**IAP_HEADERS, "Location": location})
    )
    args = request_args(standin, key_file, "-H", "Accept: text/html", standin.api_url)
    code, out, err = run(args, capsysbinary)
    assert code == 7
    assert out == b""
    assert "sign-in page https://accounts.google.com/" in error_line(err)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["-H", "Authorization: Bearer x"], "takes no credential"),
        (["-H", "proxy-authorization: Bearer x"], "takes no credential"),
        (["-H", "no colon"], "give a header as 'Name: value'"),
        (["-H", "Bad Name: x"], "give a header as 'Name: value'"),
        (["-H", "X-Name: caf\u00e9"], "must be ASCII"),
        (["-X", "GET /x"], "give an HTTP method"),
        (["-d", "@/nonexistent/body"], "cannot read the file"),
        (["-d", "@body\0.json"], "the path contains a NUL byte"),
    ],
)
def test_usage_errors_exit_2(
    standin: GoogleStandIn,
    key_file: Path,
    options: list[str],
    message: str,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    args = request_args(standin, key_file, *options, standin.api_url)
    code, _, err = run(args, capsysbinary)
    assert code == 2
    assert message in error_line(err)
    assert standin.count("token") == 0


def test_revoked_key_exit_4(
    standin: GoogleStandIn,
    key_file: Path,
    account: dict[str, str],
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    standin.revoke_key(account["private_key_id"])
    code, _, err = run(request_args(standin, key_file, standin.api_url), capsysbinary)
    assert code == 4
    assert "Invalid JWT Signature" in error_line(err)
    assert standin.count("api") == 0


def test_plain_http_url_exit_2(
    standin: GoogleStandIn, key_file: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    args = request_args(standin, key_file, "http://api.example.invalid/")
    code, _, err = run(args, capsysbinary)
    assert code == 2
    assert "uses plain http" in error_line(err)


def test_max_body_size_option(
    standin: GoogleStandIn, key_file: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    args = request_args(standin, key_file, standin.api_url, "--max-body-size", "10")
    code, out, err = run(args, capsysbinary)
    assert code == 5
    assert out == b""
    assert "larger than 10 bytes" in error_line(err)
    assert "--max-body-size" in error_line(err)


def test_redirect_names_location(
    standin: GoogleStandIn, key_file: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    location = "https://new.example.com/v2/drugs?token=x"
    standin.push_fault("api", Fault(status=301, headers={"Location": location}))
    code, _, err = run(request_args(standin, key_file, standin.api_url), capsysbinary)
    assert code == 7
    assert "HTTP 301, a redirect to 'https://new.example.com/v2/drugs'" in err
    assert "token=x" not in err
