"""TokenCache: reuse across instances, file modes, tampering and key changes."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from posos_jwt import (
    REFRESH_MARGIN,
    IDTokenCredentials,
    ServiceAccountKey,
    TokenCache,
    TokenCacheError,
)
from posos_jwt._keyfile import cache_mac_key
from posos_jwt.testing import GoogleStandIn, write_key_file
from tests.clocks import ShiftedClock

AUDIENCE = "1234-pre.apps.googleusercontent.com"


@pytest.fixture(scope="module")
def shared_account(standin_session: GoogleStandIn) -> dict[str, str]:
    """One account for the module: RSA key generation is slow."""
    return standin_session.new_account()


@pytest.fixture
def account(shared_account: dict[str, str]) -> dict[str, str]:
    return dict(shared_account)


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "posos-jwt"


def credentials_for(
    standin: GoogleStandIn, key_file: Path, audience: str = AUDIENCE
) -> IDTokenCredentials:
    """New credentials, so that nothing is cached in memory.

    Loading an RSA key takes about 0.1 s, so a key is loaded once per file
    content and reused.
    """
    content = key_file.read_bytes()
    key = _loaded_keys.get(content)
    if key is None:
        key = ServiceAccountKey.from_file(key_file)
        _loaded_keys[content] = key
    return IDTokenCredentials(
        key, audience, token_uri=standin.token_uri, ca_bundle=standin.ca_bundle
    )


_loaded_keys: dict[bytes, ServiceAccountKey] = {}


def read_entry(cache: TokenCache, credentials: IDTokenCredentials) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(Path(cache.entry_path(credentials)).read_text())
    return record


def write_entry(path: str, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0)
    yield
    os.umask(old)


def test_second_instance_reuses_token(
    standin: GoogleStandIn, key_file: Path, cache_dir: Path
) -> None:
    first = TokenCache(cache_dir).get_id_token(credentials_for(standin, key_file))
    second = TokenCache(cache_dir).get_id_token(credentials_for(standin, key_file))
    assert second.value == first.value
    assert standin.count("token") == 1


def test_modes_with_permissive_umask(
    standin: GoogleStandIn, key_file: Path, tmp_path: Path, permissive_umask: None
) -> None:
    cache = TokenCache(tmp_path / "new-base" / "posos-jwt")
    credentials = credentials_for(standin, key_file)
    cache.get_id_token(credentials)
    directory_mode = stat.S_IMODE(os.stat(cache.directory).st_mode)
    file_mode = stat.S_IMODE(os.stat(cache.entry_path(credentials)).st_mode)
    parent_mode = stat.S_IMODE(os.stat(tmp_path / "new-base").st_mode)
    assert directory_mode == 0o700
    assert file_mode == 0o600
    assert parent_mode == 0o700


def test_entry_without_key_or_email(
    standin: GoogleStandIn,
    key_file: Path,
    account: dict[str, str],
    cache_dir: Path,
) -> None:
    cache = TokenCache(cache_dir)
    credentials = credentials_for(standin, key_file)
    cache.get_id_token(credentials)
    path = Path(cache.entry_path(credentials))
    text = path.read_text()
    assert "PRIVATE KEY" not in text
    assert account["client_email"] not in path.name
    assert set(json.loads(text)) == {
        "mac",
        "version",
        "client_email",
        "private_key_id",
        "audience",
        "token_uri",
        "key_fingerprint",
        "expiry",
        "id_token",
    }
    assert [p.name for p in cache_dir.iterdir()] == [path.name]


def test_one_entry_per_audience(
    standin: GoogleStandIn, key_file: Path, cache_dir: Path
) -> None:
    cache = TokenCache(cache_dir)
    pre = cache.get_id_token(credentials_for(standin, key_file, "pre-id"))
    prod = cache.get_id_token(credentials_for(standin, key_file, "prod-id"))
    assert pre.audience == "pre-id"
    assert prod.audience == "prod-id"
    assert len(list(cache_dir.iterdir())) == 2


def test_changed_key_file_content_invalidates(
    standin: GoogleStandIn,
    key_file: Path,
    account: dict[str, str],
    cache_dir: Path,
) -> None:
    cache = TokenCache(cache_dir)
    cache.get_id_token(credentials_for(standin, key_file))
    # Same account and key ID, different bytes: only the fingerprint changes.
    key_file.write_text(json.dumps(account))
    cache.get_id_token(credentials_for(standin, key_file))
    assert standin.count("token") == 2


def test_rotated_key_invalidates(
    standin: GoogleStandIn,
    key_file: Path,
    account: dict[str, str],
    cache_dir: Path,
    tmp_path: Path,
) -> None:
    cache = TokenCache(cache_dir)
    cache.get_id_token(credentials_for(standin, key_file))
    rotated = write_key_file(
        tmp_path, standin.add_key(account["client_email"]), "rotated.json"
    )
    cache.get_id_token(credentials_for(standin, rotated))
    assert standin.count("token") == 2


def test_other_token_endpoint_invalidates(
    standin: GoogleStandIn, key_file: Path, cache_dir: Path
) -> None:
    cache = TokenCache(cache_dir)
    credentials = credentials_for(standin, key_file)
    cache.get_id_token(credentials)
    other = IDTokenCredentials.from_service_account_file(
        key_file,
        target_audience=AUDIENCE,
        token_uri=standin.token_uri.replace("127.0.0.1", "localhost"),
        ca_bundle=standin.ca_bundle,
    )
    assert cache.load(other) is None


@pytest.mark.parametrize(
    ("offset", "hit"),
    [(0, True), (3600 - REFRESH_MARGIN - 5, True), (3600 - REFRESH_MARGIN, False)],
)
def test_refresh_margin(
    standin: GoogleStandIn, key_file: Path, cache_dir: Path, offset: int, hit: bool
) -> None:
    credentials = credentials_for(standin, key_file)
    TokenCache(cache_dir).get_id_token(credentials)
    later = TokenCache(cache_dir, clock=ShiftedClock(offset))
    assert (later.load(credentials) is not None) is hit


def forged_token(**claims: Any) -> str:
    return jwt.encode(claims, "k" * 32, algorithm="HS256")


def set_field(name: str, value: object) -> Callable[[dict[str, Any]], str]:
    def edit(record: dict[str, Any]) -> str:
        record[name] = value
        return json.dumps(record)

    return edit


def set_token_claims(**changes: Any) -> Callable[[dict[str, Any]], str]:
    def edit(record: dict[str, Any]) -> str:
        claims = jwt.decode(record["id_token"], options={"verify_signature": False})
        claims.update(changes)
        record["id_token"] = forged_token(**claims)
        record["expiry"] = claims["exp"]
        return json.dumps(record)

    return edit


def with_new_mac(text: str, key_file: Path) -> str:
    """Recompute the MAC of an edited entry, as a reader of the key file could,
    so that the checks behind the MAC are reached."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        return text
    if not isinstance(record, dict):
        return text
    record.pop("mac", None)
    message = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    mac_key = cache_mac_key(key_file.read_bytes())
    record["mac"] = hmac.new(mac_key, message, hashlib.sha256).hexdigest()
    return json.dumps(record)


# (case, edit of the stored record, log level, log text)
TAMPERED = [
    ("not json", lambda record: "{not json", logging.WARNING, "not valid JSON"),
    ("not an object", lambda record: "[1]", logging.WARNING, "not a JSON object"),
    ("no token", set_field("id_token", None), logging.WARNING, "has no id_token"),
    ("not a jwt", set_field("id_token", "abc"), logging.WARNING, "not a valid JWT"),
    (
        "expiry field",
        set_field("expiry", 4102444800),
        logging.WARNING,
        "differs from its token's exp claim",
    ),
    (
        "token audience",
        set_token_claims(aud="other-audience"),
        logging.WARNING,
        "for audience 'other-audience'",
    ),
    (
        "token email",
        set_token_claims(email="mallory@evil.example"),
        logging.WARNING,
        "for account 'mallory@evil.example'",
    ),
    ("token expired", set_token_claims(exp=1000), logging.WARNING, "expired at"),
    ("audience field", set_field("audience", "x"), logging.DEBUG, "audience differs"),
    ("version", set_field("version", 99), logging.DEBUG, "version differs"),
    (
        "fingerprint",
        set_field("key_fingerprint", "0" * 64),
        logging.DEBUG,
        "key_fingerprint differs",
    ),
]


@pytest.mark.parametrize(
    ("edit", "level", "text"),
    [case[1:] for case in TAMPERED],
    ids=[case[0] for case in TAMPERED],
)
def test_tampered_entry_ignored_and_replaced(
    standin: GoogleStandIn,
    key_file: Path,
    cache_dir: Path,
    caplog: pytest.LogCaptureFixture,
    edit: Callable[[dict[str, Any]], str],
    level: int,
    text: str,
) -> None:
    cache = TokenCache(cache_dir)
    credentials = credentials_for(standin, key_file)
    cache.get_id_token(credentials)
    path = cache.entry_path(credentials)
    write_entry(path, with_new_mac(edit(read_entry(cache, credentials)), key_file))
    caplog.clear()
    token = cache.get_id_token(credentials_for(standin, key_file))
    assert standin.count("token") == 2
    assert any(r.levelno == level and text in r.getMessage() for r in caplog.records), [
        r.getMessage() for r in caplog.records
    ]
    assert read_entry(cache, credentials)["id_token"] == token.value


@pytest.mark.parametrize(
    "edit",
    [
        set_token_claims(sub="someone-else"),
        set_field("mac", "0" * 64),
        set_field("mac", None),
    ],
    ids=["swapped token", "wrong mac", "no mac"],
)
def test_entry_without_its_mac_ignored_and_replaced(
    standin: GoogleStandIn,
    key_file: Path,
    cache_dir: Path,
    caplog: pytest.LogCaptureFixture,
    edit: Callable[[dict[str, Any]], str],
) -> None:
    cache = TokenCache(cache_dir)
    credentials = credentials_for(standin, key_file)
    cache.get_id_token(credentials)
    write_entry(cache.entry_path(credentials), edit(read_entry(cache, credentials)))
    caplog.clear()
    token = cache.get_id_token(credentials_for(standin, key_file))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert standin.count("token") == 2
    assert any("has a wrong MAC" in message for message in warnings), warnings
    assert read_entry(cache, credentials)["id_token"] == token.value


def test_swapped_token_missed_by_key_file_lookup(
    standin: GoogleStandIn, key_file: Path, cache_dir: Path
) -> None:
    cache = TokenCache(cache_dir)
    credentials = credentials_for(standin, key_file)
    cache.get_id_token(credentials)
    swapped = set_token_claims(sub="someone-else")(read_entry(cache, credentials))
    write_entry(cache.entry_path(credentials), swapped)
    assert (
        cache.load_for_key_file(key_file, AUDIENCE, token_uri=standin.token_uri) is None
    )


def test_loose_entry_mode_ignored_and_replaced(
    standin: GoogleStandIn,
    key_file: Path,
    cache_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = TokenCache(cache_dir)
    credentials = credentials_for(standin, key_file)
    cache.get_id_token(credentials)
    path = cache.entry_path(credentials)
    os.chmod(path, 0o644)
    cache.get_id_token(credentials_for(standin, key_file))
    assert standin.count("token") == 2
    assert "can be accessed by other users (mode 644)" in caplog.text
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_symlink_entry_not_followed(
    standin: GoogleStandIn,
    key_file: Path,
    cache_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = TokenCache(cache_dir)
    credentials = credentials_for(standin, key_file)
    cache.get_id_token(credentials)
    path = cache.entry_path(credentials)
    planted = tmp_path / "planted.json"
    os.replace(path, planted)
    os.symlink(planted, path)
    assert cache.load(credentials) is None
    assert "cannot be opened" in caplog.text


def test_oversized_entry_ignored(
    standin: GoogleStandIn,
    key_file: Path,
    cache_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = TokenCache(cache_dir)
    credentials = credentials_for(standin, key_file)
    cache.get_id_token(credentials)
    write_entry(cache.entry_path(credentials), " " * (64 * 1024 + 1))
    assert cache.load(credentials) is None
    assert "larger than 65536 bytes" in caplog.text


def test_loose_directory_not_used(
    standin: GoogleStandIn,
    key_file: Path,
    cache_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache_dir.mkdir(parents=True, mode=0o700)
    cache_dir.chmod(0o755)
    cache = TokenCache(cache_dir)
    cache.get_id_token(credentials_for(standin, key_file))
    cache.get_id_token(credentials_for(standin, key_file))
    assert standin.count("token") == 2
    assert list(cache_dir.iterdir()) == []
    assert f"run 'chmod 700 {cache_dir}'" in caplog.text
    assert caplog.text.count("tokens are not cached") == 1
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o755


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file away")
def test_directory_of_other_user_not_used(
    standin: GoogleStandIn,
    key_file: Path,
    cache_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache_dir.mkdir(parents=True, mode=0o700)
    os.chown(cache_dir, 54321, -1)
    TokenCache(cache_dir).get_id_token(credentials_for(standin, key_file))
    assert list(cache_dir.iterdir()) == []
    assert "is owned by user ID 54321, not by this user" in caplog.text


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file away")
def test_entry_of_other_user_ignored(
    standin: GoogleStandIn,
    key_file: Path,
    cache_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = TokenCache(cache_dir)
    credentials = credentials_for(standin, key_file)
    cache.get_id_token(credentials)
    os.chown(cache.entry_path(credentials), 54321, -1)
    assert cache.load(credentials) is None
    assert "is owned by user ID 54321" in caplog.text


def test_cache_path_is_a_file(
    standin: GoogleStandIn,
    key_file: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    blocker = tmp_path / "posos-jwt"
    blocker.write_text("")
    token = TokenCache(blocker).get_id_token(credentials_for(standin, key_file))
    assert token.value.count(".") == 2
    assert "is not a directory" in caplog.text


def test_key_without_file_not_cached(
    standin: GoogleStandIn, account: dict[str, str], cache_dir: Path
) -> None:
    credentials = IDTokenCredentials(
        ServiceAccountKey.from_info(account),
        AUDIENCE,
        token_uri=standin.token_uri,
        ca_bundle=standin.ca_bundle,
    )
    TokenCache(cache_dir).get_id_token(credentials)
    assert not cache_dir.exists()


def test_concurrent_writers_leave_whole_files(
    standin: GoogleStandIn, key_file: Path, cache_dir: Path
) -> None:
    cache = TokenCache(cache_dir)
    credentials = credentials_for(standin, key_file)
    token = cache.get_id_token(credentials)
    failures: list[str] = []

    def write_and_read() -> None:
        for _ in range(20):
            cache.store(credentials, token)
            if cache.load(credentials) is None:
                failures.append("miss")

    threads = [threading.Thread(target=write_and_read) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert [p.name for p in cache_dir.iterdir()] == [
        Path(cache.entry_path(credentials)).name
    ]


def test_clear_counts_entries(
    standin: GoogleStandIn, key_file: Path, cache_dir: Path
) -> None:
    cache = TokenCache(cache_dir)
    cache.get_id_token(credentials_for(standin, key_file, "a"))
    cache.get_id_token(credentials_for(standin, key_file, "b"))
    left_over = cache_dir / ".tmp-left-over.json"
    write_entry(str(left_over), "{}")
    os.utime(left_over, (time.time() - 3600, time.time() - 3600))
    (cache_dir / "notes.txt").write_text("kept")
    assert cache.clear() == 2
    assert [p.name for p in cache_dir.iterdir()] == ["notes.txt"]


def test_clear_keeps_a_temporary_file_being_written(
    standin: GoogleStandIn, key_file: Path, cache_dir: Path
) -> None:
    cache = TokenCache(cache_dir)
    cache.get_id_token(credentials_for(standin, key_file))
    in_flight = cache_dir / ".tmp-in-flight.json"
    write_entry(str(in_flight), "{}")
    cache.clear()
    assert in_flight.exists()


def test_clear_regular_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "posos-jwt"
    path.write_text("not a directory")
    with pytest.raises(
        TokenCacheError, match=r"posos-jwt: is not a directory: remove it"
    ):
        TokenCache(path).clear()


def test_directory_with_nul_byte_raises(tmp_path: Path) -> None:
    with pytest.raises(TokenCacheError, match=r"contains a NUL byte"):
        TokenCache(str(tmp_path) + "/a\0b")


def test_fifo_entry_ignored_without_blocking(
    standin: GoogleStandIn,
    key_file: Path,
    cache_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = TokenCache(cache_dir)
    credentials = credentials_for(standin, key_file)
    cache_dir.mkdir(parents=True, mode=0o700)
    os.mkfifo(cache.entry_path(credentials), 0o600)
    assert cache.load(credentials) is None
    assert any("is not a regular file" in r.getMessage() for r in caplog.records)


def test_clear_missing_directory(tmp_path: Path) -> None:
    assert TokenCache(tmp_path / "absent").clear() == 0


def test_clear_loose_directory_raises(cache_dir: Path) -> None:
    cache_dir.mkdir(parents=True)
    cache_dir.chmod(0o777)
    with pytest.raises(
        TokenCacheError,
        match=r"token cache .*posos-jwt: can be accessed by other users "
        r"\(mode 777\): run 'chmod 700",
    ) as caught:
        TokenCache(cache_dir).clear()
    assert caught.value.path == str(cache_dir)


@pytest.mark.parametrize(
    ("xdg", "expected"),
    [
        ("/xdg/cache", "/xdg/cache/posos-jwt"),
        ("relative", "HOME/.cache/posos-jwt"),
        ("", "HOME/.cache/posos-jwt"),
    ],
)
def test_default_directory(
    xdg: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    assert TokenCache.default_directory() == expected.replace("HOME", str(tmp_path))


def test_repr_shows_directory_only(cache_dir: Path) -> None:
    assert repr(TokenCache(cache_dir)) == f"TokenCache(directory={str(cache_dir)!r})"


def test_entry_expiry_matches_token(
    standin: GoogleStandIn, key_file: Path, cache_dir: Path
) -> None:
    cache = TokenCache(cache_dir)
    credentials = credentials_for(standin, key_file)
    token = cache.get_id_token(credentials)
    record = read_entry(cache, credentials)
    assert record["expiry"] == token.expiry
    assert record["expiry"] > time.time()


def test_lookup_by_key_file_hit(
    standin: GoogleStandIn, key_file: Path, cache_dir: Path
) -> None:
    cache = TokenCache(cache_dir)
    token = cache.get_id_token(credentials_for(standin, key_file))
    found = cache.load_for_key_file(key_file, AUDIENCE, token_uri=standin.token_uri)
    assert found is not None
    assert found.value == token.value


@pytest.mark.parametrize(
    ("audience", "token_uri"),
    [
        ("other-audience", "SAME"),
        (AUDIENCE, "https://localhost:1/token"),
        (AUDIENCE, None),
    ],
)
def test_lookup_by_key_file_miss(
    standin: GoogleStandIn,
    key_file: Path,
    cache_dir: Path,
    audience: str,
    token_uri: str | None,
) -> None:
    cache = TokenCache(cache_dir)
    cache.get_id_token(credentials_for(standin, key_file))
    uri = standin.token_uri if token_uri == "SAME" else token_uri
    assert cache.load_for_key_file(key_file, audience, token_uri=uri) is None


def test_lookup_by_key_file_reads_token_uri_variable(
    standin: GoogleStandIn,
    key_file: Path,
    cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = TokenCache(cache_dir)
    cache.get_id_token(credentials_for(standin, key_file))
    monkeypatch.setenv("POSOS_JWT_TOKEN_URI", standin.token_uri)
    assert cache.load_for_key_file(key_file, AUDIENCE) is not None


def test_lookup_by_key_file_changed_content(
    standin: GoogleStandIn,
    key_file: Path,
    account: dict[str, str],
    cache_dir: Path,
) -> None:
    cache = TokenCache(cache_dir)
    cache.get_id_token(credentials_for(standin, key_file))
    key_file.write_text(json.dumps(account))
    found = cache.load_for_key_file(key_file, AUDIENCE, token_uri=standin.token_uri)
    assert found is None


@pytest.mark.parametrize(
    "content", ["", "{", "[]", '{"client_email": 1, "private_key_id": "k"}']
)
def test_lookup_by_broken_key_file_is_miss(
    tmp_path: Path, cache_dir: Path, content: str
) -> None:
    path = tmp_path / "broken.json"
    path.write_text(content)
    assert TokenCache(cache_dir).load_for_key_file(path, AUDIENCE) is None


def test_lookup_by_missing_key_file_is_miss(tmp_path: Path, cache_dir: Path) -> None:
    cache = TokenCache(cache_dir)
    assert cache.load_for_key_file(tmp_path / "absent.json", AUDIENCE) is None
