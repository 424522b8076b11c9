"""Google's documented error responses become typed errors whose messages
say what to do next."""

from __future__ import annotations

import calendar
import email.utils
from pathlib import Path

import pytest

from posos_jwt import (
    AccountNotFoundError,
    ClockSkewError,
    DisabledClientError,
    IDTokenCredentials,
    InvalidAudienceError,
    InvalidGrantError,
    InvalidJWTSignatureError,
    RetryPolicy,
    TokenEndpointError,
)
from posos_jwt._cli import main
from posos_jwt._exchange import RequestContext, parse_http_date, parse_token_response
from posos_jwt._transport import Response
from posos_jwt.testing import Fault, GoogleStandIn
from tests.support import SECRET_PATTERN, fixture_bytes

HOST = "oauth2.googleapis.com"
CONTEXT = RequestContext(
    client_email="robot@project.iam.gserviceaccount.com",
    key_id="0123abcd",
    audience="1234-abc.apps.googleusercontent.com",
)


def response(status: int, name: str, headers: dict[str, str] | None = None) -> Response:
    body = fixture_bytes("token_endpoint", name)
    return Response(status=status, headers=headers or {}, body=body, host=HOST)


def credentials_for(standin: GoogleStandIn, key_file: Path) -> IDTokenCredentials:
    return IDTokenCredentials.from_service_account_file(
        key_file,
        target_audience=standin.iap_client_id,
        token_uri=standin.token_uri,
        ca_bundle=standin.ca_bundle,
        retry=RetryPolicy(max_attempts=1),
    )


@pytest.mark.parametrize(
    ("name", "status", "error_class", "message"),
    [
        (
            "invalid_grant_signature.json",
            400,
            InvalidJWTSignatureError,
            r"signature of key 0123abcd of service account robot@.*deleted, "
            r"disabled, expired or rotated",
        ),
        (
            "invalid_grant_account_not_found.json",
            400,
            AccountNotFoundError,
            r"found no service account robot@.*deleted or disabled",
        ),
        (
            "invalid_scope.json",
            400,
            InvalidAudienceError,
            r"rejected the audience '1234-abc\.apps\.googleusercontent\.com'.*"
            r"empty or not accepted",
        ),
        (
            "disabled_client.json",
            401,
            DisabledClientError,
            r"rejected service account robot@.*disabled",
        ),
    ],
)
def test_typed_errors(
    name: str, status: int, error_class: type[TokenEndpointError], message: str
) -> None:
    with pytest.raises(error_class, match=message) as info:
        parse_token_response(response(status, name), context=CONTEXT)
    assert info.value.status == status
    assert not info.value.retryable
    assert f"HTTP {status}" in str(info.value)


@pytest.mark.parametrize(
    "name", ["invalid_grant_signature.json", "invalid_grant_account_not_found.json"]
)
def test_invalid_grant_names_key(name: str) -> None:
    with pytest.raises(InvalidGrantError) as info:
        parse_token_response(response(400, name), context=CONTEXT)
    assert info.value.error == "invalid_grant"
    assert info.value.client_email == CONTEXT.client_email
    assert info.value.key_id == CONTEXT.key_id


def test_short_lived_gives_both_clocks() -> None:
    server = calendar.timegm((2026, 3, 1, 12, 0, 0))
    headers = {"Date": email.utils.formatdate(server, usegmt=True)}
    error_response = response(400, "invalid_grant_short_lived.json", headers)
    with pytest.raises(ClockSkewError) as info:
        parse_token_response(error_response, context=CONTEXT, local_time=server + 600)
    message = str(info.value)
    assert "local time 2026-03-01T12:10:00Z" in message
    assert "server time 2026-03-01T12:00:00Z from its Date header" in message
    assert "difference of +600 s" in message
    assert "NTP" in message
    assert info.value.server_time == server
    assert info.value.local_time == server + 600


def test_short_lived_without_date() -> None:
    error_response = response(400, "invalid_grant_short_lived.json")
    with pytest.raises(ClockSkewError, match="no Date header") as info:
        parse_token_response(error_response, context=CONTEXT, local_time=0.0)
    assert info.value.server_time is None


def test_unknown_error_shows_all_fields() -> None:
    body = b'{"error": "invalid_client", "error_description": "The OAuth client."}'
    unknown = Response(status=401, headers={}, body=body, host=HOST)
    with pytest.raises(TokenEndpointError) as info:
        parse_token_response(unknown, context=CONTEXT)
    assert type(info.value) is TokenEndpointError
    assert "HTTP 401 invalid_client: The OAuth client." in str(info.value)


def test_other_invalid_grant_is_generic() -> None:
    body = b'{"error": "invalid_grant", "error_description": "Bad Request"}'
    other = Response(status=400, headers={}, body=body, host=HOST)
    with pytest.raises(InvalidGrantError, match="invalid_grant: Bad Request") as info:
        parse_token_response(other, context=CONTEXT)
    assert type(info.value) is InvalidGrantError


def test_without_context_still_typed() -> None:
    with pytest.raises(InvalidJWTSignatureError, match="unknown key ID"):
        parse_token_response(response(400, "invalid_grant_signature.json"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Sun, 01 Mar 2026 12:00:00 GMT", calendar.timegm((2026, 3, 1, 12, 0, 0))),
        ("Sun, 01 Mar 2026 12:00:00 -0000", calendar.timegm((2026, 3, 1, 12, 0, 0))),
        ("Sun, 01 Mar 2026 14:00:00 +0200", calendar.timegm((2026, 3, 1, 12, 0, 0))),
        ("not a date", None),
        ("", None),
    ],
)
def test_parse_http_date(value: str, expected: float | None) -> None:
    assert parse_http_date(value) == expected


def test_revoked_key_through_standin(
    standin: GoogleStandIn, key_file: Path, account: dict[str, str]
) -> None:
    standin.revoke_key(account["private_key_id"])
    with pytest.raises(InvalidJWTSignatureError) as info:
        credentials_for(standin, key_file).get_token()
    assert account["private_key_id"] in str(info.value)
    assert account["client_email"] in str(info.value)


def test_deleted_account_through_standin(
    standin: GoogleStandIn, key_file: Path, account: dict[str, str]
) -> None:
    standin.delete_account(account["client_email"])
    with pytest.raises(AccountNotFoundError, match=account["client_email"]):
        credentials_for(standin, key_file).get_token()


@pytest.mark.parametrize(
    ("name", "status", "text"),
    [
        ("invalid_scope.json", 400, "empty or not accepted"),
        ("disabled_client.json", 401, "is disabled"),
    ],
)
def test_cli_exit_4_with_hint(
    standin: GoogleStandIn,
    key_file: Path,
    name: str,
    status: int,
    text: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    body = fixture_bytes("token_endpoint", name)
    standin.push_fault("token", Fault(status=status, body=body))
    code = main(
        [
            "token",
            *("--key-file", str(key_file), "--client-id", standin.iap_client_id),
            *("--token-uri", standin.token_uri, "--ca-bundle", standin.ca_bundle),
        ]
    )
    err = capsys.readouterr().err
    assert code == 4
    assert text in err
    assert standin.count("token") == 1
    assert not SECRET_PATTERN.search(err)


def test_jwt_shaped_field_name_redacted() -> None:
    body = b'{"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln": 1}'
    odd = Response(status=200, headers={}, body=body, host=HOST)
    with pytest.raises(TokenEndpointError, match=r"fields: \[redacted JWT\]"):
        parse_token_response(odd)
