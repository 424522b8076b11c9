"""IAPAuth as the auth= of requests and of httpx, against the stand-in's API."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import requests

from posos_jwt import ConfigurationError, IAPAuth, IDTokenCredentials
from posos_jwt.testing import GoogleStandIn
from tests.support import SECRET_PATTERN

Get = Callable[[GoogleStandIn, str, IAPAuth], tuple[int, bytes]]


def credentials_for(standin: GoogleStandIn, key_file: Path) -> IDTokenCredentials:
    return IDTokenCredentials.from_service_account_file(
        key_file,
        target_audience=standin.iap_client_id,
        token_uri=standin.token_uri,
        ca_bundle=standin.ca_bundle,
    )


def get_with_requests(
    standin: GoogleStandIn, url: str, auth: IAPAuth
) -> tuple[int, bytes]:
    with requests.Session() as session:
        session.trust_env = False  # REQUESTS_CA_BUNDLE would replace `verify`
        response = session.get(
            url, auth=auth, verify=standin.ca_bundle, allow_redirects=False
        )
        return response.status_code, response.content


def get_with_httpx(
    standin: GoogleStandIn, url: str, auth: IAPAuth
) -> tuple[int, bytes]:
    context = ssl.create_default_context(cafile=standin.ca_bundle)
    with httpx.Client(auth=auth, verify=context, trust_env=False) as client:
        response = client.get(url)
        return response.status_code, response.content


CLIENTS = pytest.mark.parametrize(
    "get", [get_with_requests, get_with_httpx], ids=["requests", "httpx"]
)


@CLIENTS
def test_client_reaches_api(
    standin: GoogleStandIn, key_file: Path, account: dict[str, str], get: Get
) -> None:
    auth = IAPAuth(credentials_for(standin, key_file))
    status, body = get(standin, standin.api_url + "/drugs", auth)
    assert status == 200
    assert json.loads(body)["email"] == account["client_email"]
    assert standin.api_requests[-1].header_used == "authorization"


@CLIENTS
def test_proxy_authorization_sent(
    standin: GoogleStandIn, key_file: Path, get: Get
) -> None:
    auth = IAPAuth(credentials_for(standin, key_file), proxy_authorization=True)
    status, _ = get(standin, standin.api_url, auth)
    assert status == 200
    assert standin.api_requests[-1].header_used == "proxy-authorization"


@CLIENTS
def test_token_cached_across_calls(
    standin: GoogleStandIn, key_file: Path, get: Get
) -> None:
    auth = IAPAuth(credentials_for(standin, key_file))
    for _ in range(3):
        get(standin, standin.api_url, auth)
    assert standin.count("token") == 1
    assert standin.count("api") == 3


@CLIENTS
def test_plain_http_rejected(standin: GoogleStandIn, key_file: Path, get: Get) -> None:
    auth = IAPAuth(credentials_for(standin, key_file))
    with pytest.raises(ConfigurationError, match="uses plain http"):
        get(standin, "http://api.example.invalid/", auth)
    assert standin.count("token") == 0


def test_repr_hides_token(standin: GoogleStandIn, key_file: Path) -> None:
    auth = IAPAuth(credentials_for(standin, key_file))
    get_with_requests(standin, standin.api_url, auth)
    assert not SECRET_PATTERN.search(repr(auth))
