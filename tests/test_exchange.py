"""Parsing the token endpoint's responses, replayed from vendor_fixtures/."""

from __future__ import annotations

import math

import pytest

from posos_jwt import TokenEndpointError
from posos_jwt._exchange import parse_http_date, parse_token_response, redact
from posos_jwt._transport import Response
from tests.support import fixture_bytes

HOST = "oauth2.googleapis.com"


def response(status: int, body: bytes) -> Response:
    return Response(status=status, headers={}, body=body, host=HOST)


def test_success_returns_id_token() -> None:
    body = fixture_bytes("token_endpoint", "success.json")
    assert parse_token_response(response(200, body)).startswith("eyJ")


@pytest.mark.parametrize(
    ("name", "status", "error", "description"),
    [
        (
            "invalid_grant_signature.json",
            400,
            "invalid_grant",
            "Invalid JWT Signature.",
        ),
        (
            "invalid_grant_account_not_found.json",
            400,
            "invalid_grant",
            "Invalid grant: account not found",
        ),
        ("invalid_grant_short_lived.json", 400, "invalid_grant", "short-lived"),
        ("invalid_scope.json", 400, "invalid_scope", "ID token audience"),
        ("unsupported_grant_type.json", 400, "unsupported_grant_type", "grant_type"),
        ("disabled_client.json", 401, "disabled_client", "disabled"),
        ("internal_failure.json", 500, "internal_failure", None),
    ],
)
def test_error_fields(
    name: str, status: int, error: str, description: str | None
) -> None:
    body = fixture_bytes("token_endpoint", name)
    with pytest.raises(TokenEndpointError) as info:
        parse_token_response(response(status, body))
    assert info.value.status == status
    assert info.value.error == error
    assert f"HTTP {status}" in str(info.value)
    assert error in str(info.value)
    if description is not None:
        assert description in (info.value.error_description or "")


@pytest.mark.parametrize(("status", "retryable"), [(400, False), (500, True)])
def test_error_retryable(status: int, retryable: bool) -> None:
    body = b'{"error": "x"}'
    with pytest.raises(TokenEndpointError) as info:
        parse_token_response(response(status, body))
    assert info.value.retryable is retryable


def test_html_502_reduced_to_excerpt() -> None:
    body = fixture_bytes("token_endpoint", "html_502.html")
    with pytest.raises(TokenEndpointError, match="HTTP 502") as info:
        parse_token_response(response(502, body))
    message = str(info.value)
    assert "<" not in message
    assert len(message) < 400
    assert info.value.error is None
    assert info.value.retryable


def test_error_status_wins_over_id_token() -> None:
    with pytest.raises(TokenEndpointError, match="HTTP 400"):
        parse_token_response(response(400, b'{"id_token": "eyJx.y.z"}'))


def test_access_token_only_is_error() -> None:
    body = fixture_bytes("token_endpoint", "access_token_only.json")
    with pytest.raises(TokenEndpointError, match="without an id_token") as info:
        parse_token_response(response(200, body))
    assert "access_token" in str(info.value)
    assert "ya29" not in str(info.value)


@pytest.mark.parametrize(
    "body", [b"", b"not json", b"[1, 2]", b"\xff\xfe", b'{"id_token": 5}']
)
def test_unusable_success_body(body: bytes) -> None:
    with pytest.raises(TokenEndpointError, match="HTTP 200"):
        parse_token_response(response(200, body))


@pytest.mark.parametrize("status", [201, 204, 302])
def test_other_status_is_error(status: int) -> None:
    with pytest.raises(TokenEndpointError, match=f"HTTP {status}"):
        parse_token_response(response(status, b""))


def test_echoed_assertion_redacted() -> None:
    echoed = b"<html>bad request: assertion=eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln"
    with pytest.raises(TokenEndpointError) as info:
        parse_token_response(response(400, echoed))
    assert "eyJ" not in str(info.value)
    assert "[redacted JWT]" in str(info.value)


def test_echoed_assertion_in_description_redacted() -> None:
    body = b'{"error": "invalid_request", "error_description": "bad eyJabc.eyJdef.ghi"}'
    with pytest.raises(TokenEndpointError) as info:
        parse_token_response(response(400, body))
    assert "eyJ" not in str(info.value)
    assert "eyJ" not in (info.value.error_description or "")


def test_redact_leaves_plain_text() -> None:
    assert redact("Invalid JWT Signature.") == "Invalid JWT Signature."


def test_control_characters_replaced() -> None:
    body = b'{"error": "invalid_grant", "error_description": "\x1b]0;x\x07\x1b[2Jred"}'
    with pytest.raises(TokenEndpointError) as info:
        parse_token_response(response(400, body))
    assert "\x1b" not in str(info.value)
    assert "\x07" not in str(info.value)


def test_redirect_named() -> None:
    redirect = Response(
        status=302,
        headers={"Location": "https://elsewhere.example/token?x=secret"},
        body=b"",
        host=HOST,
    )
    with pytest.raises(TokenEndpointError, match="redirected with HTTP 302") as info:
        parse_token_response(redirect)
    assert "elsewhere.example/token" in str(info.value)
    assert "secret" not in str(info.value)


@pytest.mark.parametrize("value", [b"5", b"null", b'""', b"[]"])
def test_id_token_wrong_type(value: bytes) -> None:
    body = b'{"id_token": ' + value + b"}"
    with pytest.raises(TokenEndpointError, match="not a non-empty string") as info:
        parse_token_response(response(200, body))
    assert "access_token" not in str(info.value)


def retry_response(retry_after: str, date: str | None = None) -> Response:
    headers = {"Retry-After": retry_after}
    if date is not None:
        headers["Date"] = date
    return Response(status=503, headers=headers, body=b"", host=HOST)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5", 5.0), ("²", None), ("٣", None), ("-1", None), ("9" * 400, math.inf)],
)
def test_retry_after_values(value: str, expected: float | None) -> None:
    with pytest.raises(TokenEndpointError) as info:
        parse_token_response(retry_response(value))
    assert info.value.retry_after == expected


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("Fri, 04 Dec 2026 16:00:00 GMT", True),
        ("Mon, 01 Jan 0001 00:00:00 GMT", False),
        ("Mon, 01 Jan 01 00:00:00 GMT", False),
        ("garbage", False),
    ],
)
def test_http_date_years(value: str, valid: bool) -> None:
    assert (parse_http_date(value) is not None) is valid
