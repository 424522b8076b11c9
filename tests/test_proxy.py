"""Proxies: HTTPS_PROXY, NO_PROXY, proxy=, credentials and refusals, through a
CONNECT proxy on loopback."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from posos_jwt import (
    AuthorizedHTTP,
    ConfigurationError,
    IDTokenCredentials,
    ProxyError,
    RetryPolicy,
    TLSError,
)
from posos_jwt._cli import main
from posos_jwt._proxy import bypasses_proxy, proxy_settings
from posos_jwt._transport import Transport
from posos_jwt.testing import ConnectProxy, GoogleStandIn, write_key_file

PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy")
PASSWORD = "s3cret-proxy-pass"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine's environment may name a proxy: each test sets its own."""
    for name in (*PROXY_VARIABLES, "HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "POSOS_JWT_TOKEN_URI"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def key_file(
    standin_session: GoogleStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """One key for the whole module: no test here changes the account."""
    return write_key_file(tmp_path_factory.mktemp("key"), standin_session.new_account())


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    with ConnectProxy() as running:
        yield running


@pytest.fixture
def auth_proxy() -> Iterator[ConnectProxy]:
    with ConnectProxy(username="alice", password=PASSWORD) as running:
        yield running


def credentials_for(
    standin: GoogleStandIn, key_file: Path, **options: object
) -> IDTokenCredentials:
    settings: dict[str, object] = {
        "token_uri": standin.token_uri,
        "ca_bundle": standin.ca_bundle,
        "retry": RetryPolicy(max_attempts=1),
    }
    settings.update(options)
    return IDTokenCredentials.from_service_account_file(
        key_file, target_audience=standin.iap_client_id, **settings
    )


def localhost_api_url(standin: GoogleStandIn) -> str:
    # Another host name for the same server, so that the API call needs a
    # tunnel of its own and the proxy records it apart from the token request.
    return standin.api_url.replace("127.0.0.1", "localhost") + "/ping"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_https_proxy_carries_token_and_api(
    standin: GoogleStandIn,
    key_file: Path,
    proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    credentials = credentials_for(standin, key_file)
    token = credentials.get_token()
    response = credentials.transport.request(
        "GET", localhost_api_url(standin), headers={"Authorization": "Bearer " + token}
    )
    port = standin.token_uri.split(":")[2].split("/")[0]
    targets = {tunnel.target for tunnel in proxy.tunnels}
    assert response.status == 200
    assert targets == {f"127.0.0.1:{port}", f"localhost:{port}"}
    assert all(tunnel.status == 200 for tunnel in proxy.tunnels)


@pytest.mark.parametrize(
    "no_proxy", ["127.0.0.1,localhost", "*", "127.0.0.0/8,.localhost"]
)
def test_no_proxy_bypasses_proxy(
    standin: GoogleStandIn,
    key_file: Path,
    proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
    no_proxy: str,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    credentials = credentials_for(standin, key_file)
    token = credentials.get_token()
    response = credentials.transport.request(
        "GET", localhost_api_url(standin), headers={"Authorization": "Bearer " + token}
    )
    assert response.status == 200
    assert proxy.tunnels == []


def test_lower_case_variables(
    standin: GoogleStandIn,
    key_file: Path,
    proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("https_proxy", proxy.url)
    credentials_for(standin, key_file).get_token()
    assert len(proxy.tunnels) == 1
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    credentials_for(standin, key_file).get_token()
    assert len(proxy.tunnels) == 1


def test_explicit_proxy_wins_over_environment(
    standin: GoogleStandIn,
    key_file: Path,
    proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{closed_port()}")
    credentials_for(standin, key_file, proxy=proxy.url).get_token()
    assert len(proxy.tunnels) == 1


@pytest.mark.parametrize("options", [{"trust_env": False}, {"proxy": ""}])
def test_environment_ignored(
    standin: GoogleStandIn,
    key_file: Path,
    proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
    options: dict[str, object],
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    credentials_for(standin, key_file, **options).get_token()
    assert proxy.tunnels == []


def test_proxy_credentials_sent(
    standin: GoogleStandIn,
    key_file: Path,
    auth_proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"http://alice:{PASSWORD}@127.0.0.1:{auth_proxy.port}"
    monkeypatch.setenv("HTTPS_PROXY", url)
    credentials = credentials_for(standin, key_file)
    credentials.get_token()
    assert [tunnel.username for tunnel in auth_proxy.tunnels] == ["alice"]
    assert PASSWORD not in repr(credentials.transport)
    assert PASSWORD not in caplog.text


def test_percent_encoded_credentials(standin: GoogleStandIn, key_file: Path) -> None:
    with ConnectProxy(username="bob@corp", password="p:ss/word") as proxy:
        url = f"http://bob%40corp:p%3Ass%2Fword@127.0.0.1:{proxy.port}"
        credentials_for(standin, key_file, proxy=url).get_token()
        assert [tunnel.status for tunnel in proxy.tunnels] == [200]


@pytest.mark.parametrize("userinfo", ["", "alice:wrong@"])
def test_proxy_407(
    standin: GoogleStandIn,
    key_file: Path,
    auth_proxy: ConnectProxy,
    userinfo: str,
) -> None:
    url = f"http://{userinfo}127.0.0.1:{auth_proxy.port}"
    credentials = credentials_for(standin, key_file, proxy=url)
    with pytest.raises(ProxyError, match="rejected the tunnel") as info:
        credentials.get_token()
    assert info.value.proxy_status == 407
    assert not info.value.retryable
    assert "user name and password" in str(info.value)
    assert "wrong" not in str(info.value)
    assert standin.count("token") == 0


def test_proxy_rejects_connect(
    standin: GoogleStandIn, key_file: Path, proxy: ConnectProxy
) -> None:
    proxy.reject_status = 403
    credentials = credentials_for(standin, key_file, proxy=proxy.url)
    with pytest.raises(ProxyError, match="HTTP 403") as info:
        credentials.get_token()
    assert info.value.host == "127.0.0.1"
    assert "NO_PROXY" in str(info.value)
    assert not info.value.retryable


def test_proxy_unreachable(standin: GoogleStandIn, key_file: Path) -> None:
    url = f"http://user:{PASSWORD}@127.0.0.1:{closed_port()}"
    credentials = credentials_for(standin, key_file, proxy=url)
    with pytest.raises(ProxyError, match="cannot connect to proxy") as info:
        credentials.get_token()
    assert info.value.retryable
    assert info.value.proxy_status is None
    assert PASSWORD not in str(info.value)
    assert "***@127.0.0.1" in str(info.value)


def test_tls_failure_through_proxy_names_server(
    standin: GoogleStandIn,
    key_file: Path,
    proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    credentials = credentials_for(standin, key_file, proxy=proxy.url, ca_bundle=None)
    with pytest.raises(TLSError, match="--ca-bundle") as info:
        credentials.get_token()
    assert info.value.host == "127.0.0.1"
    assert [tunnel.status for tunnel in proxy.tunnels] == [200]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("socks5://127.0.0.1:1080", "must be http://host:port"),
        ("https://127.0.0.1:3128", "must be http://host:port"),
        ("http://127.0.0.1:notaport", "not a valid URL"),
        ("http://", "must be http://host:port"),
        ("http://u:12/ss@127.0.0.1:3128", r"has a path.*percent-encoded"),
        ("http://u:12?ss@127.0.0.1:3128", "has a path"),
        ("http://u:pa/ss@127.0.0.1:3128", "not a valid URL"),
    ],
)
def test_invalid_proxy_url(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as info:
        Transport(proxy=url)
    assert "ss@" not in str(info.value)


def test_proxy_without_scheme_is_http() -> None:
    settings = proxy_settings("proxy.example:3128", trust_env=False)
    assert settings is not None
    assert settings.url == "http://proxy.example:3128"


def test_cli_proxy_with_password_rejected(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"http://alice:{PASSWORD}@127.0.0.1:3128"
    code = main(["token", "--client-id", "x", "--proxy", url])
    err = capsys.readouterr().err
    assert code == 2
    assert "must not contain a password" in err
    assert PASSWORD not in err


def test_cli_proxy_and_no_env_proxy(
    standin: GoogleStandIn,
    key_file: Path,
    proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{closed_port()}")
    base = [
        "token",
        *("--key-file", str(key_file), "--client-id", standin.iap_client_id),
        *("--token-uri", standin.token_uri, "--ca-bundle", standin.ca_bundle),
    ]
    assert main([*base, "--proxy", proxy.url]) == 0
    assert len(proxy.tunnels) == 1
    assert main([*base, "--no-env-proxy"]) == 0
    assert len(proxy.tunnels) == 1
    assert main([*base, "--max-attempts", "1"]) == 5
    assert "cannot connect to proxy" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("host", "entries", "bypassed"),
    [
        ("example.com", ("example.com",), True),
        ("api.example.com", ("example.com",), True),
        ("api.example.com", (".example.com",), True),
        ("badexample.com", ("example.com",), False),
        ("example.com", ("example.com:443",), True),
        ("10.1.2.3", ("10.0.0.0/8",), True),
        ("11.1.2.3", ("10.0.0.0/8",), False),
        ("::1", ("::1",), True),
        ("[::1]", ("[::1]:443",), True),
        ("anything", ("*",), True),
        ("example.com", (), False),
        ("example.com", ("",), False),
        ("example.com", ("not-a-net/99",), False),
    ],
)
def test_no_proxy_matching(host: str, entries: tuple[str, ...], bypassed: bool) -> None:
    assert bypasses_proxy(host, entries) is bypassed


def test_authorized_http_through_proxy(
    standin: GoogleStandIn,
    key_file: Path,
    proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    http = AuthorizedHTTP(credentials_for(standin, key_file))
    response = http.request("GET", localhost_api_url(standin))
    port = standin.token_uri.split(":")[2].split("/")[0]
    targets = {tunnel.target for tunnel in proxy.tunnels}
    assert response.status == 200
    assert targets == {f"127.0.0.1:{port}", f"localhost:{port}"}


def test_cli_request_through_proxy(
    standin: GoogleStandIn,
    key_file: Path,
    proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    code = main(
        [
            "request",
            "--key-file",
            str(key_file),
            "--client-id",
            standin.iap_client_id,
            "--token-uri",
            standin.token_uri,
            "--ca-bundle",
            standin.ca_bundle,
            localhost_api_url(standin),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert len(proxy.tunnels) == 2


def test_api_call_proxy_407(
    standin: GoogleStandIn, key_file: Path, auth_proxy: ConnectProxy
) -> None:
    # The token comes directly, and only the API call goes through the proxy.
    transport = Transport(ca_bundle=standin.ca_bundle, proxy=auth_proxy.url)
    http = AuthorizedHTTP(credentials_for(standin, key_file), transport=transport)
    with pytest.raises(ProxyError, match="rejected the tunnel") as info:
        http.request("GET", localhost_api_url(standin))
    assert info.value.proxy_status == 407
    assert "user name and password" in str(info.value)
    assert standin.count("api") == 0


def test_api_call_proxy_stopped(standin: GoogleStandIn, key_file: Path) -> None:
    with ConnectProxy() as stopped:
        url = stopped.url
    transport = Transport(ca_bundle=standin.ca_bundle, proxy=url)
    http = AuthorizedHTTP(credentials_for(standin, key_file), transport=transport)
    with pytest.raises(ProxyError, match="cannot connect to proxy") as info:
        http.request("GET", localhost_api_url(standin))
    assert info.value.proxy_status is None
    assert info.value.retryable
