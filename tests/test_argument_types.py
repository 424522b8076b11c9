"""Wrong argument types: every public callable raises ConfigurationError at once.

One row per argument of a public constructor, classmethod or function, called
with a value of the wrong type. Every row expects ``ConfigurationError`` whose
message names the argument. ``test_every_export_has_a_row`` walks
``posos_jwt.__all__``, so a new export fails until it gets rows here or a
reason in ``NO_ROWS``.
"""

from __future__ import annotations

import copy
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import posos_jwt
from posos_jwt import (
    AuthorizedHTTP,
    ConfigurationError,
    IDTokenCredentials,
    MetadataCredentials,
    SelfSignedCredentials,
    ServiceAccountKey,
)
from tests.support import key_info

CLIENT_ID = "1234-abc.apps.googleusercontent.com"
TARGET_EMAIL = "target@project.iam.gserviceaccount.com"
URL = "https://api.example.com/v1"
# Shaped like a JWT, but never verified: every row fails on an argument first.
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"

api: Any = posos_jwt
"""The package, typed ``Any`` so that the rows can pass wrong types."""

NO_ROWS = {
    "APIResponse": "a record that AuthorizedHTTP returns, not an entry point",
    "AccessToken": "a record that the access-token fetchers return",
    "IDToken": "a record that the credentials return",
    "Profile": "a record that ConfigFile.load returns",
}
"""Exports with no row, and why. Constants, exceptions and ``__version__``
need no reason."""


class BytesPath:
    """An ``os.PathLike`` whose path is ``bytes``, which paths must not be."""

    def __fspath__(self) -> bytes:
        return b"key.json"


@dataclass
class Parts:
    """Valid arguments for the rows, so that only the wrong one fails."""

    key: ServiceAccountKey
    key_path: Path
    credentials: Any  # typed Any so that its methods take wrong types too


@pytest.fixture
def parts(tmp_path: Path) -> Parts:
    key_path = tmp_path / "key.json"
    key_path.write_text(
        Path(__file__)
        .parent.parent.joinpath("vendor_fixtures", "keys", "service_account.json")
        .read_text()
    )
    os.chmod(key_path, 0o600)
    key = ServiceAccountKey.from_info(key_info("service_account.json"))
    return Parts(key, key_path, IDTokenCredentials(key, CLIENT_ID))


@dataclass(frozen=True)
class Row:
    export: str
    argument: str
    call: Callable[[Parts], object]


def rows() -> list[Row]:
    def cred(**options: Any) -> Callable[[Parts], object]:
        return lambda p: api.IDTokenCredentials(p.key, CLIENT_ID, **options)

    def sign(**options: Any) -> Callable[[Parts], object]:
        return lambda p: api.SelfSignedCredentials(p.key, **options)

    def imp(**options: Any) -> Callable[[Parts], object]:
        return lambda p: api.ImpersonatedCredentials.from_service_account_key(
            p.key, TARGET_EMAIL, CLIENT_ID, **options
        )

    def fetch(**options: Any) -> Callable[[Parts], object]:
        return lambda p: api.fetch_id_token(CLIENT_ID, p.key_path, **options)

    def find(**options: Any) -> Callable[[Parts], object]:
        return lambda p: api.find_credentials(CLIENT_ID, p.key_path, **options)

    def http(**options: Any) -> Callable[[Parts], object]:
        return lambda p: api.AuthorizedHTTP(p.credentials, **options)

    def keys(**options: Any) -> Callable[[Parts], object]:
        return lambda p: api.KeySet(URL, **options)

    def verify(**options: Any) -> Callable[[Parts], object]:
        return lambda p: api.verify_id_token(JWT, CLIENT_ID, **options)

    def verify_iap(**options: Any) -> Callable[[Parts], object]:
        return lambda p: api.verify_iap_jwt(JWT, "/projects/1/apps/a", **options)

    def policy(**options: Any) -> Callable[[Parts], object]:
        return lambda p: api.RetryPolicy(**options)

    def connection_rows(
        export: str, build: Callable[..., Callable[[Parts], object]]
    ) -> list[Row]:
        """Rows for the options that every network-facing callable takes."""
        return [
            Row(export, "token_uri", build(token_uri=5)),
            Row(export, "ca_bundle", build(ca_bundle=5)),
            Row(export, "ca_bundle", build(ca_bundle=b"ca.pem")),
            Row(export, "ca_bundle", build(ca_bundle=BytesPath())),
            Row(export, "timeout", build(timeout="10")),
            Row(export, "proxy", build(proxy=5)),
            Row(export, "trust_env", build(trust_env="no")),
            Row(export, "trust_env", build(trust_env=0)),
            Row(export, "retry", build(retry=3)),
        ]

    file_options = {"target_audience": CLIENT_ID}
    return [
        # IDTokenCredentials
        Row(
            "IDTokenCredentials",
            "key",
            lambda p: api.IDTokenCredentials(None, CLIENT_ID),
        ),
        Row(
            "IDTokenCredentials",
            "key",
            lambda p: api.IDTokenCredentials(
                key_info("service_account.json"),
                CLIENT_ID,
            ),
        ),
        Row(
            "IDTokenCredentials",
            "target_audience",
            lambda p: api.IDTokenCredentials(p.key, None),
        ),
        *connection_rows("IDTokenCredentials", cred),
        Row("IDTokenCredentials", "transport", cred(transport=5)),
        Row("IDTokenCredentials", "clock", cred(clock=5)),
        Row(
            "IDTokenCredentials",
            "path",
            lambda p: api.IDTokenCredentials.from_service_account_file(
                None, **file_options
            ),
        ),
        Row(
            "IDTokenCredentials",
            "path",
            lambda p: api.IDTokenCredentials.from_service_account_file(
                3, **file_options
            ),
        ),
        Row(
            "IDTokenCredentials",
            "path",
            lambda p: api.IDTokenCredentials.from_service_account_file(
                b"key.json", **file_options
            ),
        ),
        Row(
            "IDTokenCredentials",
            "path",
            lambda p: api.IDTokenCredentials.from_service_account_file(
                BytesPath(), **file_options
            ),
        ),
        Row(
            "IDTokenCredentials",
            "target_audience",
            lambda p: api.IDTokenCredentials.from_service_account_file(
                p.key_path, target_audience=5
            ),
        ),
        Row(
            "IDTokenCredentials",
            "retry",
            lambda p: api.IDTokenCredentials.from_service_account_file(
                p.key_path, retry=3, **file_options
            ),
        ),
        Row(
            "IDTokenCredentials",
            "info",
            lambda p: api.IDTokenCredentials.from_service_account_info(
                None, **file_options
            ),
        ),
        Row(
            "IDTokenCredentials",
            "target_audience",
            lambda p: api.IDTokenCredentials.from_service_account_info(
                key_info("service_account.json"), target_audience=5
            ),
        ),
        Row(
            "IDTokenCredentials",
            "target_audience",
            lambda p: p.credentials.with_target_audience(None),
        ),
        # Credentials: the methods that every subclass inherits
        Row("Credentials", "url", lambda p: p.credentials.get_token_for_url(None)),
        Row("Credentials", "token", lambda p: p.credentials.prime(JWT)),
        Row("Credentials", "token", lambda p: p.credentials.drop_token(5)),
        # SelfSignedCredentials
        Row("SelfSignedCredentials", "key", lambda p: api.SelfSignedCredentials(None)),
        Row("SelfSignedCredentials", "audience", sign(audience=5)),
        Row("SelfSignedCredentials", "max_audiences", sign(max_audiences="256")),
        Row("SelfSignedCredentials", "max_audiences", sign(max_audiences=True)),
        Row("SelfSignedCredentials", "clock", sign(clock=5)),
        Row(
            "SelfSignedCredentials",
            "url",
            lambda p: api.SelfSignedCredentials(p.key).get_token_for_url(None),
        ),
        Row(
            "SelfSignedCredentials",
            "url",
            lambda p: api.SelfSignedCredentials(p.key).get_id_token_for_url(
                b"https://a.b/"
            ),
        ),
        # ImpersonatedCredentials
        Row(
            "ImpersonatedCredentials",
            "key",
            lambda p: api.ImpersonatedCredentials.from_service_account_key(
                None, None, None
            ),
        ),
        Row(
            "ImpersonatedCredentials",
            "target_email",
            lambda p: api.ImpersonatedCredentials.from_service_account_key(
                p.key, 5, CLIENT_ID
            ),
        ),
        Row(
            "ImpersonatedCredentials",
            "target_audience",
            lambda p: api.ImpersonatedCredentials.from_service_account_key(
                p.key, TARGET_EMAIL, None
            ),
        ),
        *connection_rows("ImpersonatedCredentials", imp),
        Row("ImpersonatedCredentials", "iam_endpoint", imp(iam_endpoint=5)),
        Row("ImpersonatedCredentials", "clock", imp(clock=5)),
        Row(
            "ImpersonatedCredentials",
            "target_email",
            lambda p: api.ImpersonatedCredentials.from_metadata_server(None, CLIENT_ID),
        ),
        Row(
            "ImpersonatedCredentials",
            "target_audience",
            lambda p: api.ImpersonatedCredentials.from_metadata_server(TARGET_EMAIL, 5),
        ),
        Row(
            "ImpersonatedCredentials",
            "host",
            lambda p: api.ImpersonatedCredentials.from_metadata_server(
                TARGET_EMAIL, CLIENT_ID, host=5
            ),
        ),
        Row(
            "ImpersonatedCredentials",
            "trust_env",
            lambda p: api.ImpersonatedCredentials.from_metadata_server(
                TARGET_EMAIL, CLIENT_ID, trust_env="no"
            ),
        ),
        Row(
            "ImpersonatedCredentials",
            "fetch_access_token",
            lambda p: api.ImpersonatedCredentials(
                5, "key", TARGET_EMAIL, CLIENT_ID, transport=p.credentials.transport
            ),
        ),
        Row(
            "ImpersonatedCredentials",
            "source_description",
            lambda p: api.ImpersonatedCredentials(
                lambda: None,
                5,
                TARGET_EMAIL,
                CLIENT_ID,
                transport=p.credentials.transport,
            ),
        ),
        Row(
            "ImpersonatedCredentials",
            "transport",
            lambda p: api.ImpersonatedCredentials(
                lambda: None, "key", TARGET_EMAIL, CLIENT_ID, transport=None
            ),
        ),
        # MetadataCredentials
        Row(
            "MetadataCredentials",
            "target_audience",
            lambda p: api.MetadataCredentials(5),
        ),
        Row(
            "MetadataCredentials",
            "host",
            lambda p: api.MetadataCredentials(CLIENT_ID, host=5),
        ),
        Row(
            "MetadataCredentials",
            "timeout",
            lambda p: api.MetadataCredentials(CLIENT_ID, timeout="3"),
        ),
        Row(
            "MetadataCredentials",
            "clock",
            lambda p: api.MetadataCredentials(CLIENT_ID, clock=5),
        ),
        # fetch_id_token and find_credentials
        Row(
            "fetch_id_token",
            "client_id",
            lambda p: api.fetch_id_token(None, p.key_path),
        ),
        Row("fetch_id_token", "key_file", lambda p: api.fetch_id_token(CLIENT_ID, 3)),
        Row(
            "fetch_id_token",
            "key_file",
            lambda p: api.fetch_id_token(CLIENT_ID, b"key.json"),
        ),
        *connection_rows("fetch_id_token", fetch),
        Row(
            "find_credentials",
            "target_audience",
            lambda p: api.find_credentials(None, p.key_path),
        ),
        Row(
            "find_credentials",
            "key_file",
            lambda p: api.find_credentials(CLIENT_ID, b"key.json"),
        ),
        *connection_rows("find_credentials", find),
        Row("find_credentials", "metadata_server", find(metadata_server=5)),
        Row("find_credentials", "impersonate", find(impersonate=5)),
        Row("find_credentials", "iam_endpoint", find(iam_endpoint=5)),
        # AuthorizedHTTP and IAPAuth
        Row("AuthorizedHTTP", "credentials", lambda p: api.AuthorizedHTTP(None)),
        Row("AuthorizedHTTP", "credentials", lambda p: api.AuthorizedHTTP(p.key)),
        Row("AuthorizedHTTP", "proxy_authorization", http(proxy_authorization="yes")),
        Row("AuthorizedHTTP", "transport", http(transport=5)),
        Row("AuthorizedHTTP", "max_body_size", http(max_body_size="1")),
        Row("AuthorizedHTTP", "max_time", http(max_time="1")),
        Row(
            "AuthorizedHTTP",
            "method",
            lambda p: api.AuthorizedHTTP(p.credentials).request(None, URL),
        ),
        Row(
            "AuthorizedHTTP",
            "url",
            lambda p: api.AuthorizedHTTP(p.credentials).request("GET", None),
        ),
        Row(
            "AuthorizedHTTP",
            "headers",
            lambda p: api.AuthorizedHTTP(p.credentials).request("GET", URL, headers=5),
        ),
        Row(
            "AuthorizedHTTP",
            "body",
            lambda p: api.AuthorizedHTTP(p.credentials).request("POST", URL, body=5),
        ),
        Row("IAPAuth", "credentials", lambda p: api.IAPAuth(None)),
        Row(
            "IAPAuth",
            "proxy_authorization",
            lambda p: api.IAPAuth(p.credentials, proxy_authorization=1),
        ),
        # TokenCache
        Row("TokenCache", "directory", lambda p: api.TokenCache(5)),
        Row("TokenCache", "directory", lambda p: api.TokenCache(b"cache")),
        Row(
            "TokenCache", "clock", lambda p: api.TokenCache(p.key_path.parent, clock=5)
        ),
        Row(
            "TokenCache",
            "credentials",
            lambda p: api.TokenCache(p.key_path.parent).entry_path(None),
        ),
        Row(
            "TokenCache",
            "credentials",
            lambda p: api.TokenCache(p.key_path.parent).get_id_token(p.key),
        ),
        Row(
            "TokenCache",
            "credentials",
            lambda p: api.TokenCache(p.key_path.parent).load(None),
        ),
        Row(
            "TokenCache",
            "credentials",
            lambda p: api.TokenCache(p.key_path.parent).store(None, None),
        ),
        Row(
            "TokenCache",
            "token",
            lambda p: api.TokenCache(p.key_path.parent).store(p.credentials, JWT),
        ),
        Row(
            "TokenCache",
            "key_file",
            lambda p: api.TokenCache(p.key_path.parent).load_for_key_file(
                None, CLIENT_ID
            ),
        ),
        Row(
            "TokenCache",
            "target_audience",
            lambda p: api.TokenCache(p.key_path.parent).load_for_key_file(
                p.key_path, 5
            ),
        ),
        Row(
            "TokenCache",
            "token_uri",
            lambda p: api.TokenCache(p.key_path.parent).load_for_key_file(
                p.key_path, CLIENT_ID, token_uri=5
            ),
        ),
        # KeySet and verification
        Row("KeySet", "url", lambda p: api.KeySet(None)),
        Row("KeySet", "transport", keys(transport=5)),
        Row("KeySet", "ca_bundle", keys(ca_bundle=b"ca.pem")),
        Row("KeySet", "timeout", keys(timeout="1")),
        Row("KeySet", "clock", keys(clock=5)),
        Row("KeySet", "key_id", lambda p: api.KeySet(URL).get_key(None)),
        Row("verify_id_token", "token", lambda p: api.verify_id_token(None, CLIENT_ID)),
        Row(
            "verify_id_token",
            "token",
            lambda p: api.verify_id_token(JWT.encode(), CLIENT_ID),
        ),
        Row("verify_id_token", "audience", lambda p: api.verify_id_token(JWT, None)),
        Row("verify_id_token", "certs_url", verify(certs_url=5)),
        Row("verify_id_token", "key_set", verify(key_set=URL)),
        Row("verify_id_token", "transport", verify(transport=5)),
        Row("verify_id_token", "ca_bundle", verify(ca_bundle=b"ca.pem")),
        Row("verify_id_token", "timeout", verify(timeout="1")),
        Row("verify_id_token", "leeway", verify(leeway="30")),
        Row("verify_id_token", "clock", verify(clock=5)),
        Row(
            "verify_iap_jwt",
            "assertion",
            lambda p: api.verify_iap_jwt(None, "/projects/1/apps/a"),
        ),
        Row(
            "verify_iap_jwt", "expected_audience", lambda p: api.verify_iap_jwt(JWT, 5)
        ),
        Row("verify_iap_jwt", "certs_url", verify_iap(certs_url=5)),
        Row("verify_iap_jwt", "key_set", verify_iap(key_set=URL)),
        Row("verify_iap_jwt", "transport", verify_iap(transport=5)),
        Row("verify_iap_jwt", "ca_bundle", verify_iap(ca_bundle=5)),
        Row("verify_iap_jwt", "timeout", verify_iap(timeout="1")),
        Row("verify_iap_jwt", "leeway", verify_iap(leeway=None)),
        Row("verify_iap_jwt", "clock", verify_iap(clock=5)),
        Row(
            "decode_unverified_jwt", "token", lambda p: api.decode_unverified_jwt(None)
        ),
        Row(
            "decode_unverified_jwt",
            "token",
            lambda p: api.decode_unverified_jwt(JWT.encode()),
        ),
        # build_assertion
        Row(
            "build_assertion",
            "key",
            lambda p: api.build_assertion(None, CLIENT_ID, now=1),
        ),
        Row(
            "build_assertion",
            "now",
            lambda p: api.build_assertion(p.key, CLIENT_ID, now="x"),
        ),
        Row(
            "build_assertion",
            "now",
            lambda p: api.build_assertion(p.key, CLIENT_ID, now=True),
        ),
        Row(
            "build_assertion",
            "now",
            lambda p: api.build_assertion(p.key, CLIENT_ID, now=float("nan")),
        ),
        # resolve_request_url
        Row(
            "resolve_request_url",
            "target",
            lambda p: api.resolve_request_url("https://a.b", None),
        ),
        Row(
            "resolve_request_url",
            "base_url",
            lambda p: api.resolve_request_url(5, "/x"),
        ),
        Row(
            "resolve_request_url",
            "allow_other_host",
            lambda p: api.resolve_request_url(
                "https://a.b", "/x", allow_other_host="no"
            ),
        ),
        # ConfigFile
        Row("ConfigFile", "path", lambda p: api.ConfigFile.load(None)),
        Row("ConfigFile", "path", lambda p: api.ConfigFile.load(b"posos.toml")),
        Row(
            "ConfigFile",
            "name",
            lambda p: api.ConfigFile("posos.toml", {}).profile(None),
        ),
        # RetryPolicy
        Row("RetryPolicy", "max_attempts", policy(max_attempts="3")),
        Row("RetryPolicy", "max_attempts", policy(max_attempts=True)),
        Row("RetryPolicy", "deadline", policy(deadline="30")),
        Row("RetryPolicy", "initial_backoff", policy(initial_backoff=None)),
        Row("RetryPolicy", "max_backoff", policy(max_backoff=False)),
        Row("RetryPolicy", "max_retry_after", policy(max_retry_after="1")),
        Row("RetryPolicy", "sleep", policy(sleep=1)),
        Row("RetryPolicy", "jitter", policy(jitter=0.5)),
        Row("RetryPolicy", "monotonic", policy(monotonic=None)),
        # ServiceAccountKey
        Row(
            "ServiceAccountKey", "info", lambda p: api.ServiceAccountKey.from_info(None)
        ),
        Row(
            "ServiceAccountKey", "info", lambda p: api.ServiceAccountKey.from_info("{}")
        ),
        Row(
            "ServiceAccountKey",
            "path",
            lambda p: api.ServiceAccountKey.from_info(
                key_info("service_account.json"), path=5
            ),
        ),
        Row(
            "ServiceAccountKey", "path", lambda p: api.ServiceAccountKey.from_file(None)
        ),
        Row(
            "ServiceAccountKey",
            "path",
            lambda p: api.ServiceAccountKey.from_file(b"key.json"),
        ),
        Row(
            "ServiceAccountKey",
            "path",
            lambda p: api.ServiceAccountKey.from_file(BytesPath()),
        ),
    ]


ROWS = rows()


@pytest.mark.parametrize(
    "row",
    ROWS,
    ids=[f"{row.export}-{row.argument}-{index}" for index, row in enumerate(ROWS)],
)
def test_wrong_type_raises_configuration_error(row: Row, parts: Parts) -> None:
    with pytest.raises(ConfigurationError) as caught:
        row.call(parts)
    assert row.argument in str(caught.value)
    assert "expected" in str(caught.value) or "must be" in str(caught.value)


def test_every_export_has_a_row() -> None:
    covered = {row.export for row in ROWS}
    for name in posos_jwt.__all__:
        value = getattr(posos_jwt, name)
        if name.isupper() or name == "__version__":
            continue
        if isinstance(value, type) and issubclass(value, Exception):
            continue
        assert name in covered or name in NO_ROWS, f"{name} has no row"


def test_no_rows_lists_only_exports() -> None:
    assert set(NO_ROWS) <= set(posos_jwt.__all__)


def test_paths_accept_path_like(parts: Parts) -> None:
    key = ServiceAccountKey.from_file(parts.key_path)
    assert key.path == str(parts.key_path)


def test_credentials_pickle_rejected(parts: Parts) -> None:
    with pytest.raises(ConfigurationError, match=r"cannot be pickled.*key file path"):
        pickle.dumps(parts.credentials)


def test_credentials_deepcopy_rejected(parts: Parts) -> None:
    with pytest.raises(ConfigurationError, match="cannot be deep-copied"):
        copy.deepcopy(parts.credentials)


def test_credentials_copy_rejected(parts: Parts) -> None:
    with pytest.raises(ConfigurationError, match=r"cannot be copied.*thread-safe"):
        copy.copy(parts.credentials)


def test_other_credentials_pickle_rejected(parts: Parts) -> None:
    for credentials in (
        SelfSignedCredentials(parts.key),
        MetadataCredentials(CLIENT_ID, host="127.0.0.1:1"),
    ):
        with pytest.raises(ConfigurationError, match="cannot be pickled"):
            pickle.dumps(credentials)


def test_authorized_http_pickle_rejected(parts: Parts) -> None:
    with pytest.raises(ConfigurationError, match="IDTokenCredentials cannot be"):
        pickle.dumps(AuthorizedHTTP(parts.credentials))


def test_with_target_audience_still_copies(parts: Parts) -> None:
    other = parts.credentials.with_target_audience("other-client-id")
    assert other.target_audience == "other-client-id"
    assert other.key is parts.credentials.key
    assert other.transport is parts.credentials.transport
    assert parts.credentials.target_audience == CLIENT_ID


def test_key_pickle_rejected(parts: Parts) -> None:
    with pytest.raises(ConfigurationError, match="from_file\\(\\) in the other"):
        pickle.dumps(parts.key)


def test_key_deepcopy_rejected(parts: Parts) -> None:
    with pytest.raises(ConfigurationError, match="cannot be deep-copied"):
        copy.deepcopy(parts.key)


def test_key_copy_is_same_object(parts: Parts) -> None:
    assert copy.copy(parts.key) is parts.key


def test_refusal_hides_private_key(parts: Parts) -> None:
    with pytest.raises(ConfigurationError) as caught:
        pickle.dumps(parts.key)
    assert "PRIVATE KEY" not in str(caught.value)
