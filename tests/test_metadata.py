"""ID tokens from the metadata server, against the stand-in on plain HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator

import jwt
import pytest
import urllib3

from posos_jwt import (
    ConfigurationError,
    MetadataCredentials,
    MetadataServerError,
    TokenCheckError,
    TransportError,
    find_credentials,
)
from posos_jwt._metadata import metadata_host
from posos_jwt.testing import ConnectProxy, GoogleStandIn, MetadataServer
from tests.support import SECRET_PATTERN

EMAIL = "workload@posos-standin.iam.gserviceaccount.com"


@pytest.fixture
def metadata(standin: GoogleStandIn) -> Iterator[MetadataServer]:
    with MetadataServer(standin, EMAIL) as server:
        yield server


def call_api(standin: GoogleStandIn, token: str) -> urllib3.BaseHTTPResponse:
    http = urllib3.PoolManager(ca_certs=standin.ca_bundle, retries=False)
    return http.request(
        "GET", standin.api_url + "/ping", headers={"Authorization": "Bearer " + token}
    )


def test_token_has_email_and_reaches_api(
    standin: GoogleStandIn, metadata: MetadataServer
) -> None:
    credentials = MetadataCredentials(standin.iap_client_id, host=metadata.host)
    token = credentials.get_id_token()
    response = call_api(standin, token.value)
    assert token.email == EMAIL
    assert token.audience == standin.iap_client_id
    assert response.status == 200
    assert json.loads(response.data)["email"] == EMAIL
    assert standin.count("token") == 0


def test_request_format(standin: GoogleStandIn, metadata: MetadataServer) -> None:
    MetadataCredentials(standin.iap_client_id, host=metadata.host).get_token()
    request = metadata.requests[-1]
    assert request.path == (
        "/computeMetadata/v1/instance/service-accounts/default/identity"
    )
    assert request.query == {"audience": standin.iap_client_id, "format": "full"}
    assert request.flavor == "Google"


def test_token_cached(standin: GoogleStandIn, metadata: MetadataServer) -> None:
    credentials = MetadataCredentials(standin.iap_client_id, host=metadata.host)
    first = credentials.get_token()
    assert credentials.get_token() == first
    assert len(metadata.requests) == 1


def test_host_from_environment(
    standin: GoogleStandIn,
    metadata: MetadataServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GCE_METADATA_HOST", metadata.host)
    credentials = MetadataCredentials(standin.iap_client_id)
    assert credentials.host == metadata.host
    assert credentials.get_id_token().email == EMAIL


def test_response_without_flavor_rejected(
    standin: GoogleStandIn, metadata: MetadataServer
) -> None:
    metadata.send_flavor_header = False
    credentials = MetadataCredentials(standin.iap_client_id, host=metadata.host)
    with pytest.raises(MetadataServerError, match="is not a Google metadata server"):
        credentials.get_token()


def test_no_service_account(standin: GoogleStandIn, metadata: MetadataServer) -> None:
    metadata.service_account_email = None
    credentials = MetadataCredentials(standin.iap_client_id, host=metadata.host)
    with pytest.raises(MetadataServerError, match="HTTP 404") as info:
        credentials.get_token()
    assert info.value.status == 404
    assert info.value.exit_code == 4
    assert "service account is attached" in str(info.value)


def test_standin_requires_flavor_header(metadata: MetadataServer) -> None:
    http = urllib3.PoolManager(retries=False)
    url = f"http://{metadata.host}/computeMetadata/v1/instance/service-accounts/"
    response = http.request("GET", url + "default/identity?audience=x&format=full")
    assert response.status == 403
    assert response.headers["Metadata-Flavor"] == "Google"


def test_standin_omits_email_without_full(metadata: MetadataServer) -> None:
    http = urllib3.PoolManager(retries=False)
    url = f"http://{metadata.host}/computeMetadata/v1/instance/service-accounts/"
    response = http.request(
        "GET",
        url + "default/identity?audience=x",
        headers={"Metadata-Flavor": "Google"},
    )
    claims = jwt.decode(response.data, options={"verify_signature": False})
    assert response.status == 200
    assert "email" not in claims
    assert claims["aud"] == "x"


def test_token_without_email_rejected(
    standin: GoogleStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    class NoEmailServer(MetadataServer):
        def _identity(
            self, query: dict[str, str], email: str
        ) -> tuple[int, bytes, str]:
            return super()._identity({**query, "format": "minimal"}, email)

    with NoEmailServer(standin, EMAIL) as server:
        credentials = MetadataCredentials(standin.iap_client_id, host=server.host)
        with pytest.raises(TokenCheckError, match="has no email claim") as info:
            credentials.get_token()
    assert info.value.claim == "email"


def test_unreachable_metadata_server() -> None:
    # The autouse fixture points GCE_METADATA_HOST at a closed port.
    credentials = MetadataCredentials("client-id")
    with pytest.raises(TransportError, match=r"cannot connect to 127\.0\.0\.1"):
        credentials.get_token()


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, "metadata.google.internal"),
        ({"GCE_METADATA_HOST": "10.0.0.2"}, "10.0.0.2"),
        ({"GCE_METADATA_HOST": "127.0.0.1:8080"}, "127.0.0.1:8080"),
        ({"GCE_METADATA_ROOT": "legacy.internal"}, "legacy.internal"),
        (
            {"GCE_METADATA_HOST": "new.internal", "GCE_METADATA_ROOT": "old"},
            "new.internal",
        ),
    ],
)
def test_metadata_host_sources(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], expected: str
) -> None:
    monkeypatch.delenv("GCE_METADATA_HOST", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert metadata_host() == expected


@pytest.mark.parametrize(
    "value",
    [
        "http://127.0.0.1:8080",
        "127.0.0.1/path",
        "user@host",
        "host:",
        ":8080",
        "",
        "127.0.0.1:abc",
        "127.0.0.1:99999",
        "127.0.0.1:0",
        "127.0.0.1\\x",
        "host name",
    ],
)
def test_metadata_host_rejects(value: str) -> None:
    with pytest.raises(ConfigurationError, match="is not a host or host:port"):
        metadata_host(value)


def test_repr_and_errors_hide_token(
    standin: GoogleStandIn, metadata: MetadataServer
) -> None:
    credentials = MetadataCredentials(standin.iap_client_id, host=metadata.host)
    token = credentials.get_id_token()
    assert token.value not in repr(credentials)
    assert not SECRET_PATTERN.search(repr(credentials) + repr(token))


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"])
def test_never_through_proxy(
    standin: GoogleStandIn,
    metadata: MetadataServer,
    variable: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The metadata server sends tokens over plain HTTP, so no proxy may carry them."""
    with ConnectProxy() as proxy:
        monkeypatch.setenv(variable, proxy.url)
        monkeypatch.setenv(variable.lower(), proxy.url)
        monkeypatch.setenv("GCE_METADATA_HOST", metadata.host)
        credentials = find_credentials(standin.iap_client_id)
        assert credentials.get_id_token().email == EMAIL
        assert proxy.tunnels == []
