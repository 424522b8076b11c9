"""Impersonation through the IAM Credentials API, against the stand-in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import urllib3

from posos_jwt import (
    ConfigurationError,
    ImpersonatedCredentials,
    ServiceAccountKey,
    TokenEndpointError,
    find_credentials,
)
from posos_jwt._cli import main
from posos_jwt.testing import ConnectProxy, Fault, GoogleStandIn, MetadataServer
from tests.support import SECRET_PATTERN

WORKLOAD_EMAIL = "workload@posos-standin.iam.gserviceaccount.com"


@pytest.fixture
def target(standin: GoogleStandIn) -> str:
    """A new service account to impersonate, with no key handed out."""
    return standin.new_account()["client_email"]


@pytest.fixture
def metadata(standin: GoogleStandIn) -> Iterator[MetadataServer]:
    with MetadataServer(standin, WORKLOAD_EMAIL) as server:
        yield server


def from_key(
    standin: GoogleStandIn, account: dict[str, str], target: str
) -> ImpersonatedCredentials:
    return ImpersonatedCredentials.from_service_account_key(
        ServiceAccountKey.from_info(account),
        target,
        standin.iap_client_id,
        token_uri=standin.token_uri,
        iam_endpoint=standin.iam_endpoint,
        ca_bundle=standin.ca_bundle,
    )


def call_api(standin: GoogleStandIn, token: str) -> urllib3.BaseHTTPResponse:
    http = urllib3.PoolManager(ca_certs=standin.ca_bundle, retries=False)
    return http.request(
        "GET", standin.api_url + "/ping", headers={"Authorization": "Bearer " + token}
    )


def test_key_source_reaches_api(
    standin: GoogleStandIn, account: dict[str, str], target: str
) -> None:
    standin.grant_token_creator(account["client_email"], target)
    token = from_key(standin, account, target).get_id_token()
    response = call_api(standin, token.value)
    assert token.email == target
    assert response.status == 200
    assert json.loads(response.data)["email"] == target
    assert standin.count("iam") == 1


def test_key_source_asks_for_scope(
    standin: GoogleStandIn, account: dict[str, str], target: str
) -> None:
    standin.grant_token_creator(account["client_email"], target)
    from_key(standin, account, target).get_token()
    assertion = standin.token_requests[-1].assertion or ""
    claims = jwt.decode(assertion, options={"verify_signature": False})
    assert claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
    assert "target_audience" not in claims


def test_access_token_reused(
    standin: GoogleStandIn, account: dict[str, str], target: str
) -> None:
    standin.grant_token_creator(account["client_email"], target)
    credentials = from_key(standin, account, target)
    credentials.refresh()
    credentials.refresh()
    assert standin.count("token") == 1
    assert standin.count("iam") == 2


def test_metadata_source_reaches_api(
    standin: GoogleStandIn, metadata: MetadataServer, target: str
) -> None:
    standin.grant_token_creator(WORKLOAD_EMAIL, target)
    credentials = ImpersonatedCredentials.from_metadata_server(
        target,
        standin.iap_client_id,
        host=metadata.host,
        iam_endpoint=standin.iam_endpoint,
        ca_bundle=standin.ca_bundle,
    )
    assert call_api(standin, credentials.get_token()).status == 200
    assert metadata.requests[-1].path.endswith("/service-accounts/default/token")
    assert standin.count("token") == 0


def test_without_grant_permission_denied(
    standin: GoogleStandIn, account: dict[str, str], target: str
) -> None:
    with pytest.raises(TokenEndpointError, match="PERMISSION_DENIED") as info:
        from_key(standin, account, target).get_token()
    assert info.value.status == 403
    assert info.value.error == "PERMISSION_DENIED"
    assert "roles/iam.serviceAccountOpenIdTokenCreator" in str(info.value)


def test_grant_is_per_target(
    standin: GoogleStandIn, account: dict[str, str], target: str
) -> None:
    other = standin.new_account()["client_email"]
    standin.grant_token_creator(account["client_email"], other)
    with pytest.raises(TokenEndpointError, match="HTTP 403"):
        from_key(standin, account, target).get_token()


def test_bad_access_token_unauthenticated(
    standin: GoogleStandIn, account: dict[str, str], target: str
) -> None:
    standin.grant_token_creator(account["client_email"], target)
    http = urllib3.PoolManager(ca_certs=standin.ca_bundle, retries=False)
    url = (
        f"{standin.iam_endpoint}/v1/projects/-/serviceAccounts/{target}:generateIdToken"
    )
    id_token = standin.issue_id_token(standin.iap_client_id, account["client_email"])
    response = http.request(
        "POST",
        url,
        body=b'{"audience": "x", "includeEmail": true}',
        headers={"Authorization": "Bearer " + id_token},
    )
    assert response.status == 401
    assert json.loads(response.data)["error"]["status"] == "UNAUTHENTICATED"


def test_standin_omits_email_when_not_asked(
    standin: GoogleStandIn, account: dict[str, str], target: str
) -> None:
    standin.grant_token_creator(account["client_email"], target)
    http = urllib3.PoolManager(ca_certs=standin.ca_bundle, retries=False)
    url = (
        f"{standin.iam_endpoint}/v1/projects/-/serviceAccounts/{target}:generateIdToken"
    )
    access = standin.issue_access_token(account["client_email"])
    response = http.request(
        "POST",
        url,
        body=b'{"audience": "x"}',
        headers={"Authorization": "Bearer " + access},
    )
    token = json.loads(response.data)["token"]
    assert response.status == 200
    assert "email" not in jwt.decode(token, options={"verify_signature": False})


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("http://iam.example.com", "not an https URL"),
        ("https://iam.example.com/?x=1", "not an https URL"),
        ("iamcredentials.googleapis.com", "not an https URL"),
    ],
)
def test_iam_endpoint_checked(
    account: dict[str, str], endpoint: str, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ImpersonatedCredentials.from_service_account_key(
            ServiceAccountKey.from_info(account),
            "target@p.iam.gserviceaccount.com",
            "client-id",
            iam_endpoint=endpoint,
        )


@pytest.mark.parametrize(
    "email", ["", "no-at-sign", "a@b/../x", "a@b:generateAccessToken", "a@@b"]
)
def test_target_email_checked(account: dict[str, str], email: str) -> None:
    with pytest.raises(ConfigurationError, match="target service account"):
        ImpersonatedCredentials.from_service_account_key(
            ServiceAccountKey.from_info(account), email, "client-id"
        )


def test_repr_and_errors_hide_tokens(
    standin: GoogleStandIn, account: dict[str, str], target: str
) -> None:
    credentials = from_key(standin, account, target)
    with pytest.raises(TokenEndpointError) as info:
        credentials.get_token()
    text = repr(credentials) + str(info.value) + repr(info.value)
    assert account["client_email"] in repr(credentials)
    assert not SECRET_PATTERN.search(text)
    assert "ya29" not in text


def test_find_credentials_impersonates(
    standin: GoogleStandIn,
    key_file: Path,
    account: dict[str, str],
    target: str,
) -> None:
    standin.grant_token_creator(account["client_email"], target)
    credentials = find_credentials(
        standin.iap_client_id,
        key_file,
        token_uri=standin.token_uri,
        ca_bundle=standin.ca_bundle,
        impersonate=target,
        iam_endpoint=standin.iam_endpoint,
    )
    assert isinstance(credentials, ImpersonatedCredentials)
    assert credentials.get_id_token().email == target


def test_cli_impersonate_from_metadata(
    standin: GoogleStandIn,
    metadata: MetadataServer,
    target: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("GCE_METADATA_HOST", metadata.host)
    standin.grant_token_creator(WORKLOAD_EMAIL, target)
    args = ["token", "--client-id", standin.iap_client_id, "--json"]
    args += ["--impersonate", target, "--iam-endpoint", standin.iam_endpoint]
    code = main([*args, "--ca-bundle", standin.ca_bundle])
    captured = capsys.readouterr()
    assert code == 0
    assert json.loads(captured.out)["claims"]["email"] == target
    assert "not Google's" in captured.err


def test_cli_impersonate_denied(
    standin: GoogleStandIn,
    key_file: Path,
    target: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["token", "--client-id", standin.iap_client_id, "--key-file", str(key_file)]
    args += ["--impersonate", target, "--iam-endpoint", standin.iam_endpoint]
    args += ["--token-uri", standin.token_uri, "--ca-bundle", standin.ca_bundle]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 4
    assert "posos-jwt: error: IAM Credentials API 127.0.0.1 rejected" in err
    assert not SECRET_PATTERN.search(err)


def impersonate_args(
    standin: GoogleStandIn, key_file: Path, target: str, *extra: str
) -> list[str]:
    args = ["token", "--client-id", standin.iap_client_id, "--key-file", str(key_file)]
    args += ["--impersonate", target, "--iam-endpoint", standin.iam_endpoint]
    args += ["--token-uri", standin.token_uri, "--ca-bundle", standin.ca_bundle]
    return [*args, "--no-cache", *extra]


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ConnectProxy]:
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with ConnectProxy() as running:
        yield running


def test_cli_impersonate_uses_proxy(
    standin: GoogleStandIn,
    key_file: Path,
    account: dict[str, str],
    target: str,
    proxy: ConnectProxy,
    capsys: pytest.CaptureFixture[str],
) -> None:
    standin.grant_token_creator(account["client_email"], target)
    code = main(impersonate_args(standin, key_file, target, "--proxy", proxy.url))
    capsys.readouterr()
    port = standin.token_uri.split(":")[2].split("/")[0]
    assert code == 0
    assert {tunnel.target for tunnel in proxy.tunnels} == {f"127.0.0.1:{port}"}
    assert standin.count("iam") == 1


def test_cli_impersonate_no_env_proxy(
    standin: GoogleStandIn,
    key_file: Path,
    account: dict[str, str],
    target: str,
    proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    standin.grant_token_creator(account["client_email"], target)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    code = main(impersonate_args(standin, key_file, target, "--no-env-proxy"))
    capsys.readouterr()
    assert code == 0
    assert proxy.tunnels == []


def test_metadata_source_stays_direct(
    standin: GoogleStandIn,
    metadata: MetadataServer,
    target: str,
    proxy: ConnectProxy,
) -> None:
    standin.grant_token_creator(WORKLOAD_EMAIL, target)
    credentials = find_credentials(
        standin.iap_client_id,
        ca_bundle=standin.ca_bundle,
        metadata_server=metadata.host,
        impersonate=target,
        iam_endpoint=standin.iam_endpoint,
        proxy=proxy.url,
    )
    assert credentials.get_id_token().email == target
    port = standin.iam_endpoint.split(":")[2].split("/")[0]
    assert {tunnel.target for tunnel in proxy.tunnels} == {f"127.0.0.1:{port}"}
    assert metadata.requests != []


@pytest.mark.parametrize(
    ("max_attempts", "code", "iam_requests"), [(1, 4, 1), (2, 0, 2)]
)
def test_cli_impersonate_max_attempts(
    standin: GoogleStandIn,
    key_file: Path,
    account: dict[str, str],
    target: str,
    capsys: pytest.CaptureFixture[str],
    max_attempts: int,
    code: int,
    iam_requests: int,
) -> None:
    standin.grant_token_creator(account["client_email"], target)
    standin.push_fault("iam", Fault(status=503, body=b"busy"))
    args = impersonate_args(
        standin, key_file, target, "--max-attempts", str(max_attempts)
    )
    assert main([*args, "--no-env-proxy"]) == code
    capsys.readouterr()
    assert standin.count("iam") == iam_requests


def test_retry_deadline_reaches_iam(
    standin: GoogleStandIn,
    key_file: Path,
    account: dict[str, str],
    target: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    standin.grant_token_creator(account["client_email"], target)
    standin.push_fault("iam", Fault(status=503, body=b"busy"))
    args = impersonate_args(standin, key_file, target, "--retry-deadline", "0.5")
    assert main([*args, "--no-env-proxy"]) == 4
    assert "--retry-deadline" in capsys.readouterr().err
    assert standin.count("iam") == 1
