"""Profile configuration files: loading, path resolution and every error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from posos_jwt import ConfigFile, ConfigFileError, ProfileNotFoundError

VALID = """\
# Posos environments
[profiles.preprod]
key_file = "keys/preprod.json"
client_id = "1234-pre.apps.googleusercontent.com"
base_url = "https://api.preprod.posos.co"
timeout = 20

[profiles.production]
key_file = "/etc/posos/production.json"
client_id = "5678-prod.apps.googleusercontent.com"
base_url = "https://api.production.posos.co"
token_uri = "https://127.0.0.1:8443/token"
ca_bundle = "ca.pem"
proxy = "http://user:secret@proxy.example:3128"
timeout = 2.5
"""


def write_config(directory: Path, text: str) -> Path:
    path = directory / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_valid_file(tmp_path: Path) -> None:
    config = ConfigFile.load(write_config(tmp_path, VALID))
    preprod = config.profile("preprod")
    production = config.profile("production")
    assert list(config.profiles) == ["preprod", "production"]
    assert preprod.key_file == str(tmp_path / "keys" / "preprod.json")
    assert preprod.client_id == "1234-pre.apps.googleusercontent.com"
    assert preprod.base_url == "https://api.preprod.posos.co"
    assert preprod.timeout == 20.0
    assert preprod.token_uri is None
    assert preprod.ca_bundle is None
    assert preprod.proxy is None
    assert production.key_file == "/etc/posos/production.json"
    assert production.ca_bundle == str(tmp_path / "ca.pem")
    assert production.token_uri == "https://127.0.0.1:8443/token"
    assert production.timeout == 2.5


def test_relative_paths_ignore_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path, VALID)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    profile = ConfigFile.load(path).profile("preprod")
    assert profile.key_file == str(tmp_path / "keys" / "preprod.json")


def test_relative_paths_follow_the_link_not_its_target(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles"
    real.mkdir()
    target = write_config(real, VALID)
    link_directory = tmp_path / "xdg"
    link_directory.mkdir()
    link = link_directory / "config.toml"
    link.symlink_to(target)
    profile = ConfigFile.load(link).profile("preprod")
    assert profile.key_file == str(link_directory / "keys" / "preprod.json")


def test_proxy_password_not_in_repr(tmp_path: Path) -> None:
    profile = ConfigFile.load(write_config(tmp_path, VALID)).profile("production")
    assert profile.proxy == "http://user:secret@proxy.example:3128"
    assert "secret" not in repr(profile)


def test_empty_file_has_no_profiles(tmp_path: Path) -> None:
    config = ConfigFile.load(write_config(tmp_path, "# nothing yet\n"))
    assert dict(config.profiles) == {}


@pytest.mark.parametrize(
    ("xdg", "expected"),
    [
        ("/xdg/config", "/xdg/config/posos-jwt/config.toml"),
        ("relative/config", "HOME/.config/posos-jwt/config.toml"),
        ("", "HOME/.config/posos-jwt/config.toml"),
    ],
)
def test_default_path(
    xdg: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
    assert ConfigFile.default_path() == expected.replace("HOME", str(tmp_path))


def test_unknown_profile_lists_known(tmp_path: Path) -> None:
    config = ConfigFile.load(write_config(tmp_path, VALID))
    with pytest.raises(
        ProfileNotFoundError,
        match=r"config file .*config\.toml: no profile 'staging' "
        r"\(profiles defined: preprod, production\): add a \[profiles\.staging\]",
    ) as caught:
        config.profile("staging")
    assert caught.value.known == ("preprod", "production")
    assert caught.value.profile == "staging"
    assert caught.value.exit_code == 3


PROFILE_HEAD = '[profiles.p]\nkey_file = "k.json"\nclient_id = "c"\n'

# (name, file text, message pattern, line)
CONFIG_ERRORS = [
    (
        "toml syntax",
        '[profiles.p]\nkey_file = "k.json"\nclient_id = c\n',
        r"line 3: invalid TOML at column 13 \(Invalid value\): fix the syntax",
        3,
    ),
    (
        "duplicate table",
        PROFILE_HEAD + PROFILE_HEAD,
        r"line 4: invalid TOML at column \d+ \(Cannot declare .* twice\)",
        4,
    ),
    (
        "unknown top-level key",
        'default = "p"\n' + PROFILE_HEAD,
        r"line 1: unknown top-level key 'default' \(known keys: profiles\)",
        1,
    ),
    (
        "profiles not a table",
        'profiles = "p"\n',
        r"line 1: 'profiles' must be a table",
        1,
    ),
    (
        "profile not a table",
        '[profiles]\np = "x"\n',
        r"line 2: profile 'p' must be a table: write it as \[profiles\.p\]",
        2,
    ),
    (
        "unknown key",
        PROFILE_HEAD + "client_secret = 'x'\n",
        r"line 4: unknown key 'client_secret' in profile 'p' \(known keys: "
        r"key_file, client_id, base_url, token_uri, ca_bundle, proxy, timeout\): "
        r"remove it or fix its spelling",
        4,
    ),
    (
        "missing key_file",
        '[profiles.p]\nclient_id = "c"\n',
        r"line 1: profile 'p' has no 'key_file': add key_file = \"...\"",
        1,
    ),
    (
        "missing client_id",
        '[profiles.p]\nkey_file = "k.json"\n',
        r"line 1: profile 'p' has no 'client_id': add client_id = \"...\"",
        1,
    ),
    (
        "client_id wrong type",
        '[profiles.p]\nkey_file = "k.json"\nclient_id = 1234\n',
        r"line 3: 'client_id' in profile 'p' must be a string, found an integer: "
        r"put the value in double quotes",
        3,
    ),
    (
        "key_file empty",
        '[profiles.p]\nkey_file = " "\nclient_id = "c"\n',
        r"line 2: 'key_file' in profile 'p' is empty: give a value",
        2,
    ),
    (
        "timeout as text",
        PROFILE_HEAD + 'timeout = "10"\n',
        r"line 4: 'timeout' in profile 'p' must be a number of seconds, found a "
        r"string: write it without quotes",
        4,
    ),
    (
        "timeout boolean",
        PROFILE_HEAD + "timeout = true\n",
        r"line 4: 'timeout' .* found a boolean",
        4,
    ),
    (
        "timeout zero",
        PROFILE_HEAD + "timeout = 0\n",
        r"line 4: 'timeout' in profile 'p' is 0: give a positive number of seconds",
        4,
    ),
    (
        "timeout infinite",
        PROFILE_HEAD + "timeout = inf\n",
        r"line 4: 'timeout' in profile 'p' is inf: give a positive number",
        4,
    ),
    (
        "timeout above the maximum",
        PROFILE_HEAD + "timeout = 1e10\n",
        r"line 4: 'timeout' in profile 'p' is 1e\+10: give a positive number of "
        r"seconds up to 3600",
        4,
    ),
    (
        "timeout too large for a float",
        PROFILE_HEAD + "timeout = 1" + "0" * 340 + "\n",
        r"line 4: 'timeout' in profile 'p' is inf: give a positive number",
        4,
    ),
    (
        "key_file with a NUL byte",
        '[profiles.p]\nkey_file = "k\\u0000.json"\nclient_id = "c"\n',
        r"line 2: 'key_file' in profile 'p' contains a NUL byte",
        2,
    ),
    (
        "ca_bundle with a NUL byte",
        PROFILE_HEAD + 'ca_bundle = "ca\\u0000.pem"\n',
        r"line 4: 'ca_bundle' in profile 'p' contains a NUL byte",
        4,
    ),
    (
        "base_url plain http",
        PROFILE_HEAD + 'base_url = "http://api.preprod.posos.co"\n',
        r"line 4: base_url http://api\.preprod\.posos\.co uses plain http, allowed "
        r"only on a loopback address: use https",
        4,
    ),
    (
        "base_url with credentials",
        PROFILE_HEAD + 'base_url = "https://u:pw@api.preprod.posos.co"\n',
        r"line 4: base_url https://\*\*\*@api\.preprod\.posos\.co contains "
        r"credentials",
        4,
    ),
    (
        "token_uri not a url",
        PROFILE_HEAD + 'token_uri = "oauth2.googleapis.com"\n',
        r"line 4: token_uri oauth2\.googleapis\.com is not an http\(s\) URL",
        4,
    ),
    (
        "token_uri bad port",
        PROFILE_HEAD + 'token_uri = "https://127.0.0.1:99999/token"\n',
        r"line 4: token_uri .* is not a valid URL",
        4,
    ),
    (
        "proxy not http",
        PROFILE_HEAD + 'proxy = "socks5://proxy.example:1080"\n',
        r"line 4: proxy socks5://proxy\.example:1080 is not an http\(s\) URL",
        4,
    ),
    (
        "bad profile name",
        '[profiles."pre prod"]\nkey_file = "k"\nclient_id = "c"\n',
        r"line 1: profile name 'pre prod' is not valid",
        1,
    ),
]


@pytest.mark.parametrize(
    ("text", "pattern", "line"),
    [case[1:] for case in CONFIG_ERRORS],
    ids=[case[0] for case in CONFIG_ERRORS],
)
def test_config_errors(tmp_path: Path, text: str, pattern: str, line: int) -> None:
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigFileError, match=f"^config file {path}, {pattern}"):
        ConfigFile.load(path)


@pytest.mark.parametrize(
    ("text", "line"), [(case[1], case[3]) for case in CONFIG_ERRORS]
)
def test_config_error_attributes(tmp_path: Path, text: str, line: int) -> None:
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigFileError) as caught:
        ConfigFile.load(path)
    assert caught.value.path == str(path)
    assert caught.value.line == line
    assert caught.value.exit_code == 3


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(
        ConfigFileError,
        match=r"absent\.toml: not found: create it with a \[profiles\.NAME\] "
        r"table, or name another file with --config or POSOS_JWT_CONFIG",
    ):
        ConfigFile.load(path)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="is a directory: give the path"):
        ConfigFile.load(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, VALID)
    path.chmod(0)
    with pytest.raises(ConfigFileError, match=r"cannot be read .*check its perm"):
        ConfigFile.load(path)


def test_path_with_nul_byte(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigFileError, match=r"a\\0b\.toml: the path contains a NUL byte"
    ):
        ConfigFile.load(str(tmp_path / "a\0b.toml"))


def test_fifo_instead_of_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    os.mkfifo(path)
    with pytest.raises(ConfigFileError, match="is not a regular file"):
        ConfigFile.load(path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[profiles.p]\nkey_file = "\xff"\n')
    with pytest.raises(ConfigFileError, match=r"not UTF-8 text \(invalid byte at"):
        ConfigFile.load(path)


def test_too_large(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"#" * (1024 * 1024 + 1))
    with pytest.raises(ConfigFileError, match="larger than 1048576 bytes"):
        ConfigFile.load(path)
