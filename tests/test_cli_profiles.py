"""The command line with profiles, the token cache and setting precedence."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
import urllib3

from posos_jwt import ConfigFile, resolve_request_url
from posos_jwt._cli import build_parser, main
from posos_jwt._cli._common import resolve_settings
from posos_jwt.testing import ConnectProxy, Fault, GoogleStandIn, write_key_file
from tests.support import KEYS, SECRET_PATTERN

PRODUCTION_CLIENT_ID = "5678-prod.apps.googleusercontent.com"

SETTING_VARIABLES = (
    "HTTPS_PROXY",
    "https_proxy",
    "NO_PROXY",
    "no_proxy",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "POSOS_CLIENT_ID",
    "POSOS_JWT_TOKEN_URI",
    "SSL_CERT_FILE",
    "POSOS_JWT_CA_BUNDLE",
    "POSOS_JWT_CONFIG",
    "POSOS_PROFILE",
    "POSOS_JWT_CACHE",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in SETTING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture(scope="module")
def accounts(standin_session: GoogleStandIn) -> dict[str, dict[str, str]]:
    """One account per environment, made once: RSA key generation is slow."""
    return {
        "preprod": standin_session.new_account(),
        "production": standin_session.new_account(),
    }


@pytest.fixture
def key_file(accounts: dict[str, dict[str, str]], tmp_path: Path) -> Path:
    return write_key_file(tmp_path, accounts["preprod"])


@pytest.fixture
def production_key_file(accounts: dict[str, dict[str, str]], tmp_path: Path) -> Path:
    directory = tmp_path / "production"
    directory.mkdir()
    return write_key_file(directory, accounts["production"])


def profile_table(name: str, settings: dict[str, str | float]) -> str:
    lines = [f"[profiles.{name}]"]
    for key, value in settings.items():
        shown = json.dumps(value) if isinstance(value, str) else repr(value)
        lines.append(f"{key} = {shown}")
    return "\n".join(lines) + "\n\n"


@pytest.fixture
def preprod(standin: GoogleStandIn, key_file: Path) -> dict[str, str | float]:
    """Preprod's settings, its key file and CA relative to the config file."""
    return {
        "key_file": key_file.name,
        "client_id": standin.iap_client_id,
        "base_url": "https://api.preprod.posos.co",
        "token_uri": standin.token_uri,
        "ca_bundle": os.path.relpath(standin.ca_bundle, key_file.parent),
        "timeout": 5,
    }


@pytest.fixture
def production(
    standin: GoogleStandIn, production_key_file: Path
) -> dict[str, str | float]:
    return {
        "key_file": str(production_key_file),
        "client_id": PRODUCTION_CLIENT_ID,
        "base_url": "https://api.production.posos.co",
        "token_uri": standin.token_uri,
        "ca_bundle": standin.ca_bundle,
    }


def write_config(
    path: Path, preprod: dict[str, str | float], production: dict[str, str | float]
) -> Path:
    text = profile_table("preprod", preprod) + profile_table("production", production)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def config_file(
    tmp_path: Path,
    preprod: dict[str, str | float],
    production: dict[str, str | float],
) -> Path:
    """Preprod and production profiles that point at the stand-in."""
    return write_config(tmp_path / "config.toml", preprod, production)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def claims_of(token: str) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(
        token.strip(), options={"verify_signature": False}
    )
    return claims


def error_line(err: str) -> str:
    lines = err.splitlines()
    assert lines, "no output on stderr"
    assert lines[-1].startswith("posos-jwt: error: "), err
    assert not SECRET_PATTERN.search(err)
    return lines[-1]


# Profiles pointing at the stand-in


def test_token_for_preprod_profile(
    standin: GoogleStandIn, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        ["token", "--config", str(config_file), "--profile", "preprod"], capsys
    )
    http = urllib3.PoolManager(ca_certs=standin.ca_bundle)
    response = http.request(
        "GET", standin.api_url + "/", headers={"Authorization": "Bearer " + out.strip()}
    )
    assert code == 0
    assert claims_of(out)["aud"] == standin.iap_client_id
    assert response.status == 200


def test_token_for_production_profile(
    standin: GoogleStandIn,
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("POSOS_JWT_CONFIG", str(config_file))
    monkeypatch.setenv("POSOS_PROFILE", "production")
    code, out, _ = run(["token"], capsys)
    assert code == 0
    assert claims_of(out)["aud"] == PRODUCTION_CLIENT_ID


def test_default_config_location(
    tmp_path: Path,
    preprod: dict[str, str | float],
    production: dict[str, str | float],
    capsys: pytest.CaptureFixture[str],
) -> None:
    default = tmp_path / "xdg-config" / "posos-jwt" / "config.toml"
    default.parent.mkdir(parents=True)
    preprod["key_file"] = str(tmp_path / "key.json")
    preprod["ca_bundle"] = os.path.join(tmp_path, str(preprod["ca_bundle"]))
    write_config(default, preprod, production)
    code, out, _ = run(["token", "--profile", "preprod"], capsys)
    assert code == 0
    assert out.count(".") == 2


# Precedence: option, then environment, then profile, then default


PROFILE_ARGS = ["token", "--profile", "preprod", "--timeout", "2"]


def set_levels(
    winner: str,
    good: str,
    bad: str,
    option: str,
    variable: str,
    key: str,
    args: list[str],
    preprod: dict[str, str | float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Give the winning level ``good``, the levels below it ``bad``."""
    order = ["option", "environment", "profile"]
    for level in order[order.index(winner) :] if winner in order else []:
        value = good if level == winner else bad
        if level == "option":
            args += [option, value]
        elif level == "environment":
            monkeypatch.setenv(variable, value)
        else:
            preprod[key] = value
    if winner == "default":
        preprod.pop(key, None)


@pytest.mark.parametrize("winner", ["option", "environment", "profile"])
def test_key_file_precedence(
    winner: str,
    tmp_path: Path,
    preprod: dict[str, str | float],
    production: dict[str, str | float],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = [*PROFILE_ARGS, "--config", str(tmp_path / "config.toml")]
    good, bad = str(tmp_path / "key.json"), str(tmp_path / "missing.json")
    set_levels(
        winner,
        good,
        bad,
        "--key-file",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "key_file",
        args,
        preprod,
        monkeypatch,
    )
    write_config(tmp_path / "config.toml", preprod, production)
    code, out, err = run(args, capsys)
    assert code == 0, err
    assert out.count(".") == 2


def test_key_file_default_is_discovery(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["token", "--client-id", "x"], capsys)
    assert code == 3
    assert "no credentials found" in error_line(err)
    assert "GOOGLE_APPLICATION_CREDENTIALS: not set" in error_line(err)


@pytest.mark.parametrize("winner", ["option", "environment", "profile"])
def test_client_id_precedence(
    winner: str,
    tmp_path: Path,
    preprod: dict[str, str | float],
    production: dict[str, str | float],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = [*PROFILE_ARGS, "--config", str(tmp_path / "config.toml")]
    set_levels(
        winner,
        f"{winner}-client-id",
        "lower-level-client-id",
        "--client-id",
        "POSOS_CLIENT_ID",
        "client_id",
        args,
        preprod,
        monkeypatch,
    )
    write_config(tmp_path / "config.toml", preprod, production)
    code, out, _ = run(args, capsys)
    assert code == 0
    assert claims_of(out)["aud"] == f"{winner}-client-id"


def test_client_id_default_is_usage_error(
    key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["token", "--key-file", str(key_file)], capsys)
    assert code == 2
    assert "choose a profile with --profile" in error_line(err)


# (setting, option, environment variable, value in the profile, default)
SETTINGS = [
    ("key_file", "--key-file", "GOOGLE_APPLICATION_CREDENTIALS", "/p/key.json", None),
    ("client_id", "--client-id", "POSOS_CLIENT_ID", "profile-id", None),
    ("token_uri", "--token-uri", "POSOS_JWT_TOKEN_URI", "https://p.example/t", None),
    ("ca_bundle", "--ca-bundle", "POSOS_JWT_CA_BUNDLE", "/p/ca.pem", None),
    ("timeout", "--timeout", None, 7.0, 10.0),
]


def resolved(args: list[str], setting: str) -> object:
    return getattr(resolve_settings(build_parser().parse_args(args)), setting)


LEVELS = ["option", "environment", "profile", "default"]

PRECEDENCE_CASES = [
    pytest.param(winner, *setting, id=f"{setting[0]}-{winner}")
    for setting in SETTINGS
    for winner in LEVELS
    # timeout has no environment variable, so that level cannot win.
    if not (winner == "environment" and setting[2] is None)
]


@pytest.mark.parametrize(
    ("winner", "setting", "option", "variable", "in_profile", "default"),
    PRECEDENCE_CASES,
)
def test_precedence_of_each_setting(
    winner: str,
    setting: str,
    option: str,
    variable: str | None,
    in_profile: str | float,
    default: object,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The winning level and every level below it are set, so it must beat them."""
    given = LEVELS[LEVELS.index(winner) :]
    option_text, option_value = ("2.5", 2.5) if setting == "timeout" else ("/o", "/o")
    args = ["token", "--config", str(tmp_path / "config.toml")]
    table: dict[str, str | float] = {"key_file": "/p/key.json", "client_id": "c"}
    if "profile" in given:
        args += ["--profile", "p"]
        table[setting] = in_profile
    (tmp_path / "config.toml").write_text(profile_table("p", table))
    if "option" in given:
        args += [option, option_text]
    if "environment" in given and variable is not None:
        monkeypatch.setenv(variable, "/e")
    expected = {
        "option": option_value,
        "environment": "/e",
        "profile": in_profile,
        "default": default,
    }[winner]
    assert resolved(args, setting) == expected


def test_empty_variable_counts_as_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "c.toml").write_text(
        profile_table("p", {"key_file": "/p/k.json", "client_id": "c"})
    )
    monkeypatch.setenv("POSOS_CLIENT_ID", "")
    args = ["token", "--config", str(tmp_path / "c.toml"), "--profile", "p"]
    assert resolved(args, "client_id") == "c"


def test_profile_proxy_and_base_url_resolved(tmp_path: Path) -> None:
    table: dict[str, str | float] = {
        "key_file": "k.json",
        "client_id": "c",
        "base_url": "https://api.preprod.posos.co",
        "proxy": "http://proxy.example:3128",
    }
    (tmp_path / "c.toml").write_text(profile_table("p", table))
    args = ["token", "--config", str(tmp_path / "c.toml"), "--profile", "p"]
    assert resolved(args, "proxy") == "http://proxy.example:3128"
    assert resolved(args, "base_url") == "https://api.preprod.posos.co"


def test_profile_timeout_used_for_requests(
    standin: GoogleStandIn,
    tmp_path: Path,
    preprod: dict[str, str | float],
    production: dict[str, str | float],
    capsys: pytest.CaptureFixture[str],
) -> None:
    preprod["timeout"] = 0.2
    write_config(tmp_path / "config.toml", preprod, production)
    standin.push_fault("token", Fault(delay=0.6))
    config = str(tmp_path / "config.toml")
    args = ["token", "--profile", "preprod", "--config", config, "--max-attempts", "1"]
    code, _, err = run(args, capsys)
    assert code == 5
    assert "timed out" in error_line(err)


def test_environment_override_of_profile_is_logged(
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("POSOS_CLIENT_ID", "from-environment")
    args = ["token", "--config", str(config_file), "--profile", "preprod"]
    code, _, err = run(args, capsys)
    assert code == 0
    assert (
        "posos-jwt: warning: $POSOS_CLIENT_ID overrides client_id of profile preprod"
        in err
    )


def test_profile_option_beats_environment(
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("POSOS_PROFILE", "preprod")
    monkeypatch.setenv("POSOS_JWT_CONFIG", str(config_file.parent / "absent.toml"))
    args = ["token", "--config", str(config_file), "--profile", "production"]
    code, out, _ = run(args, capsys)
    assert code == 0
    assert claims_of(out)["aud"] == PRODUCTION_CLIENT_ID


# Configuration errors: exit 3, one line naming the file, the line and the fix


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[profiles.preprod\n", r", line 1: invalid TOML at column 18"),
        (
            '[profiles.preprod]\nkey_file = "k"\nclient_id = "c"\nscope = "x"\n',
            r", line 4: unknown key 'scope' in profile 'preprod' \(known keys: ",
        ),
        (
            '[profiles.preprod]\nkey_file = "k"\n',
            r", line 1: profile 'preprod' has no 'client_id': add client_id",
        ),
        (
            '[profiles.preprod]\nkey_file = ["k"]\nclient_id = "c"\n',
            r", line 2: 'key_file' in profile 'preprod' must be a string, found an "
            r"array",
        ),
        (
            '[profiles.prod]\nkey_file = "k"\nclient_id = "c"\n',
            r": no profile 'preprod' \(profiles defined: prod\): add a "
            r"\[profiles\.preprod\] table",
        ),
    ],
)
def test_config_errors_exit_3(
    text: str,
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    args = ["token", "--config", str(path), "--profile", "preprod"]
    code, out, err = run(args, capsys)
    assert code == 3
    assert out == ""
    assert re.search(
        f"^posos-jwt: error: config file {re.escape(str(path))}{message}",
        error_line(err),
    )


def test_profile_without_config_file_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["token", "--profile", "preprod"], capsys)
    default = tmp_path / "xdg-config" / "posos-jwt" / "config.toml"
    assert code == 3
    assert error_line(err) == (
        f"posos-jwt: error: config file {default}: not found: create it with a "
        "[profiles.NAME] table, or name another file with --config or "
        "POSOS_JWT_CONFIG"
    )


def test_config_ignored_without_profile(
    standin: GoogleStandIn,
    key_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A broken file does not stop a command that names no profile."""
    (tmp_path / "broken.toml").write_text("[[[")
    args = ["token", "--config", str(tmp_path / "broken.toml"), "--key-file"]
    args += [str(key_file), "--client-id", "c", "--token-uri", standin.token_uri]
    code, _, _ = run([*args, "--ca-bundle", standin.ca_bundle], capsys)
    assert code == 0


def test_invalid_cache_variable_is_usage_error(
    key_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POSOS_JWT_CACHE", "yes")
    code, _, err = run(
        ["token", "--key-file", str(key_file), "--client-id", "c"], capsys
    )
    assert code == 2
    assert "POSOS_JWT_CACHE is 'yes': set it to 1 or 0" in error_line(err)


# posos-jwt profiles


def test_profiles_lists_each_profile(
    config_file: Path,
    accounts: dict[str, dict[str, str]],
    standin: GoogleStandIn,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(["profiles", "--config", str(config_file)], capsys)
    assert code == 0, err
    assert out.startswith(f"config file: {config_file}\n")
    assert "[preprod]\n" in out
    assert "[production]\n" in out
    assert f"service account: {accounts['preprod']['client_email']}" in out
    assert f"service account: {accounts['production']['client_email']}" in out
    assert f"client ID:       {PRODUCTION_CLIENT_ID}" in out
    assert "base URL:        https://api.preprod.posos.co" in out
    assert f"key file:        {config_file.parent / 'key.json'}" in out
    assert "problem" not in out
    assert not SECRET_PATTERN.search(out + err)
    assert standin.count("token") == 0


@pytest.mark.parametrize(
    ("key_file_name", "problem"),
    [
        ("does_not_exist.json", "not found"),
        ("service_account_encrypted.json", "is encrypted"),
        ("authorized_user.json", "type is 'authorized_user'"),
        ("invalid_json.json", "invalid JSON at line"),
    ],
)
def test_profiles_broken_key_exit_3(
    key_file_name: str,
    problem: str,
    tmp_path: Path,
    preprod: dict[str, str | float],
    production: dict[str, str | float],
    capsys: pytest.CaptureFixture[str],
) -> None:
    production["key_file"] = str(KEYS / key_file_name)
    write_config(tmp_path / "config.toml", preprod, production)
    code, out, err = run(
        ["profiles", "--config", str(tmp_path / "config.toml")], capsys
    )
    production_part = out.partition("[production]")[2]
    assert code == 3
    assert problem in production_part
    assert "problem" not in out.partition("[production]")[0]
    assert "service account:" not in production_part
    assert not SECRET_PATTERN.search(out + err)


def test_profiles_empty_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.toml").write_text("")
    code, out, _ = run(["profiles", "--config", str(tmp_path / "config.toml")], capsys)
    assert code == 0
    assert "no profiles: add a [profiles.NAME] table" in out


def test_profiles_bad_file_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["profiles"], capsys)
    assert code == 3
    assert "config.toml: not found" in error_line(err)


# The token cache on the command line


def cache_directory(tmp_path: Path) -> Path:
    return tmp_path / "xdg-cache" / "posos-jwt"


def test_hundred_cached_commands_one_request(
    standin: GoogleStandIn,
    config_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["token", "--config", str(config_file), "--profile", "preprod", "--cache"]
    outputs = set()
    for _ in range(100):
        code, out, err = run(args, capsys)
        assert code == 0, err
        outputs.add(out)
    assert standin.count("token") == 1
    assert len(outputs) == 1


def test_changed_key_file_new_request(
    standin: GoogleStandIn,
    config_file: Path,
    key_file: Path,
    accounts: dict[str, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["token", "--config", str(config_file), "--profile", "preprod", "--cache"]
    run(args, capsys)
    key_file.write_text(json.dumps(accounts["preprod"], indent=4))
    code, _, _ = run(args, capsys)
    run(args, capsys)
    assert code == 0
    assert standin.count("token") == 2


def test_cache_variable_and_no_cache_option(
    standin: GoogleStandIn,
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("POSOS_JWT_CACHE", "1")
    args = ["token", "--config", str(config_file), "--profile", "preprod"]
    run(args, capsys)
    run(args, capsys)
    run([*args, "--no-cache"], capsys)
    assert standin.count("token") == 2


def test_without_cache_no_file_written(
    standin: GoogleStandIn,
    config_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["token", "--config", str(config_file), "--profile", "preprod"]
    run(args, capsys)
    run(args, capsys)
    assert standin.count("token") == 2
    assert not cache_directory(tmp_path).exists()


def test_cache_modes_with_permissive_umask(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = os.umask(0)
    try:
        code, _, _ = run(
            ["token", "--config", str(config_file), "--profile", "preprod", "--cache"],
            capsys,
        )
    finally:
        os.umask(old)
    directory = cache_directory(tmp_path)
    entries = list(directory.iterdir())
    assert code == 0
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert len(entries) == 1
    assert stat.S_IMODE(entries[0].stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("count", "noun"), [(0, "tokens"), (1, "token"), (2, "tokens")]
)
def test_cache_clear(
    count: int,
    noun: str,
    config_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for profile in ("preprod", "production")[:count]:
        args = ["token", "--config", str(config_file), "--profile", profile]
        run([*args, "--cache"], capsys)
    code, out, _ = run(["cache", "clear"], capsys)
    assert code == 0
    assert out == f"removed {count} cached {noun} from {cache_directory(tmp_path)}\n"


def test_cache_clear_unsafe_directory_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache_directory(tmp_path).mkdir(parents=True, mode=0o700)
    cache_directory(tmp_path).chmod(0o750)
    code, _, err = run(["cache", "clear"], capsys)
    assert code == 3
    assert "can be accessed by other users (mode 750)" in error_line(err)


def test_cache_across_processes(
    standin: GoogleStandIn, config_file: Path, tmp_path: Path
) -> None:
    """Two real processes: the second reads what the first wrote."""
    script = Path(sys.executable).parent / "posos-jwt"
    environment = {
        **os.environ,
        "POSOS_JWT_CONFIG": str(config_file),
        "POSOS_PROFILE": "preprod",
        "POSOS_JWT_CACHE": "1",
    }
    outputs = [
        subprocess.run(
            [str(script), "token"],
            capture_output=True,
            text=True,
            check=False,
            env=environment,
        )
        for _ in range(2)
    ]
    assert [result.returncode for result in outputs] == [0, 0]
    assert outputs[0].stdout == outputs[1].stdout
    assert standin.count("token") == 1


def test_ssl_cert_file_keeps_profile_ca_bundle(
    config_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A system-wide SSL_CERT_FILE changes the default trust store only."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "system-ca.pem"))
    args = ["token", "--config", str(config_file), "--profile", "preprod"]
    code, out, err = run(args, capsys)
    assert code == 0, err
    assert "overrides" not in err
    assert out.count(".") == 2


def test_profile_proxy_used(
    tmp_path: Path,
    preprod: dict[str, str | float],
    production: dict[str, str | float],
    capsys: pytest.CaptureFixture[str],
) -> None:
    with ConnectProxy(username="user", password="secret") as proxy:
        preprod["proxy"] = f"http://user:secret@127.0.0.1:{proxy.port}"
        write_config(tmp_path / "config.toml", preprod, production)
        config = str(tmp_path / "config.toml")
        code, _, err = run(
            ["-v", "token", "--config", config, "--profile", "preprod"], capsys
        )
        tunnels = proxy.tunnels
    assert code == 0, err
    assert len(tunnels) == 1
    assert "secret" not in err


def test_environment_proxy_beats_profile(
    tmp_path: Path,
    preprod: dict[str, str | float],
    production: dict[str, str | float],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    preprod["proxy"] = "http://127.0.0.1:9"
    write_config(tmp_path / "config.toml", preprod, production)
    with ConnectProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        config = str(tmp_path / "config.toml")
        code, _, err = run(
            ["token", "--config", config, "--profile", "preprod"], capsys
        )
        tunnels = proxy.tunnels
    assert code == 0, err
    assert len(tunnels) == 1


def test_profile_base_url_reaches_api(
    standin: GoogleStandIn,
    tmp_path: Path,
    preprod: dict[str, str | float],
    production: dict[str, str | float],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The pieces that a request command joins: profile, token and URL."""
    preprod["base_url"] = standin.base_url
    write_config(tmp_path / "config.toml", preprod, production)
    args = ["token", "--config", str(tmp_path / "config.toml"), "--profile", "preprod"]
    _, token, _ = run(args, capsys)
    profile = ConfigFile.load(tmp_path / "config.toml").profile("preprod")
    url = resolve_request_url(profile.base_url, "/api/autocomplete?query=doli")
    http = urllib3.PoolManager(ca_certs=standin.ca_bundle)
    response = http.request(
        "GET", url, headers={"Authorization": "Bearer " + token.strip()}
    )
    assert url == f"{standin.base_url}/api/autocomplete?query=doli"
    assert response.status == 200
    assert standin.count("api") == 1


def test_check_key_with_profile(
    config_file: Path,
    accounts: dict[str, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["check-key", "--config", str(config_file), "--profile", "production"]
    code, out, _ = run(args, capsys)
    assert code == 0
    assert f"service account: {accounts['production']['client_email']}" in out


# `posos-jwt request` with profiles: the base URL and the audience


@pytest.fixture
def api_config(
    tmp_path: Path,
    standin: GoogleStandIn,
    preprod: dict[str, str | float],
    production: dict[str, str | float],
) -> Path:
    """Profiles whose base URL is the stand-in, as the real ones are Posos's."""
    preprod = {**preprod, "base_url": standin.base_url}
    production = {**production, "base_url": standin.base_url}
    return write_config(tmp_path / "config.toml", preprod, production)


def test_request_path_against_profile(
    api_config: Path, standin: GoogleStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["request", "--config", str(api_config), "--profile", "preprod"]
    code, out, err = run([*args, "/api/autocomplete-api/autocomplete?query=x"], capsys)
    echo = json.loads(out)
    assert code == 0, err
    assert echo["path"] == "/api/autocomplete-api/autocomplete"
    assert echo["aud"] == standin.iap_client_id


def test_request_uses_profile_audience(
    api_config: Path, standin: GoogleStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["request", "--config", str(api_config), "--profile", "production"]
    code, out, err = run([*args, "/api/x"], capsys)
    assert code == 7
    assert out == ""
    assert PRODUCTION_CLIENT_ID in error_line(err)
    assert standin.token_requests[-1].assertion is not None


def test_request_other_host_refused(
    api_config: Path, standin: GoogleStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["request", "--config", str(api_config), "--profile", "preprod"]
    code, _, err = run([*args, "https://evil.example/api/x"], capsys)
    assert code == 2
    assert "evil.example" in error_line(err)
    assert standin.count("token") == 0


def test_request_loop_with_cache(
    api_config: Path, standin: GoogleStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["request", "--config", str(api_config), "--profile", "preprod", "--cache"]
    codes = [run([*args, "/api/loop"], capsys)[0] for _ in range(20)]
    assert codes == [0] * 20
    assert standin.count("token") == 1
    assert standin.count("api") == 20


def test_request_scheme_relative_target_exit_2(
    api_config: Path, standin: GoogleStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["request", "--config", str(api_config), "--profile", "preprod"]
    code, _, err = run([*args, "//evil.com/x"], capsys)
    assert code == 2
    assert "'//evil.com/x' is scheme-relative" in error_line(err)
    assert standin.count("token") == 0


def test_request_profile_base_url_with_path_exit_3(
    tmp_path: Path,
    preprod: dict[str, str | float],
    production: dict[str, str | float],
    capsys: pytest.CaptureFixture[str],
) -> None:
    preprod["base_url"] = "https://api.preprod.posos.co/v1"
    config = write_config(tmp_path / "config.toml", preprod, production)
    args = ["request", "--config", str(config), "--profile", "preprod", "/health"]
    code, _, err = run(args, capsys)
    assert code == 3
    assert "base URL https://api.preprod.posos.co/v1 has a path" in error_line(err)


@pytest.mark.parametrize("timeout", ["1e10", "1" + "0" * 340])
def test_profile_timeout_above_maximum_exit_3(
    timeout: str,
    tmp_path: Path,
    preprod: dict[str, str | float],
    production: dict[str, str | float],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path / "config.toml", preprod, production)
    text = config.read_text().replace("timeout = 5", f"timeout = {timeout}")
    config.write_text(text)
    code, _, err = run(
        ["token", "--config", str(config), "--profile", "preprod"], capsys
    )
    assert code == 3
    assert re.search(
        rf"config file {re.escape(str(config))}, line 7: 'timeout' .* up to 3600",
        error_line(err),
    )


def test_profile_key_file_with_nul_byte_exit_3(
    tmp_path: Path,
    preprod: dict[str, str | float],
    production: dict[str, str | float],
    capsys: pytest.CaptureFixture[str],
) -> None:
    preprod["key_file"] = "k\0.json"
    config = write_config(tmp_path / "config.toml", preprod, production)
    code, _, err = run(
        ["token", "--config", str(config), "--profile", "preprod"], capsys
    )
    assert code == 3
    assert "line 2: 'key_file' in profile 'preprod' contains a NUL" in error_line(err)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--key-file", r"key file .*k\\0\.json: the path contains a NUL byte"),
        ("--config", r"config file .*k\\0\.json: the path contains a NUL byte"),
        ("--ca-bundle", r"CA bundle .*k\\0\.json contains a NUL byte"),
    ],
)
def test_path_option_with_nul_byte_exit_3(
    option: str,
    message: str,
    config_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["token", "--config", str(config_file), "--profile", "preprod"]
    code, _, err = run([*args, option, str(tmp_path / "k\0.json")], capsys)
    assert code == 3
    assert re.search(message, error_line(err))


def test_key_file_not_utf8_exit_3(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = os.fsdecode(os.fsencode(str(tmp_path)) + b"/k\xff.json")
    args = ["token", "--config", str(config_file), "--profile", "preprod"]
    code, _, err = run([*args, "--key-file", odd], capsys)
    assert code == 3
    assert "not found: check the path" in error_line(err)


def test_config_fifo_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    os.mkfifo(path)
    code, _, err = run(["token", "--config", str(path), "--profile", "p"], capsys)
    assert code == 3
    assert "is not a regular file" in error_line(err)


@pytest.mark.parametrize(
    "option",
    [
        "--profile",
        "--config",
        "--key-file",
        "--client-id",
        "--token-uri",
        "--ca-bundle",
    ],
)
@pytest.mark.parametrize("command", ["token", "request"])
@pytest.mark.parametrize("value", ["", " "])
def test_empty_option_is_usage_error(
    option: str,
    command: str,
    value: str,
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("POSOS_JWT_CONFIG", str(config_file))
    monkeypatch.setenv("POSOS_PROFILE", "preprod")
    target = ["/health"] if command == "request" else []
    code, _, err = run([command, option, value, *target], capsys)
    assert code == 2
    assert f"argument {option}: must not be empty" in error_line(err)


def test_environment_proxy_named_in_error(
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://u:pw@127.0.0.1:9")
    args = ["token", "--config", str(config_file), "--profile", "preprod"]
    code, _, err = run([*args, "--max-attempts", "1"], capsys)
    assert code == 5
    assert "proxy http://***@127.0.0.1:9 (from HTTPS_PROXY)" in error_line(err)


def test_profile_proxy_named_in_error(
    tmp_path: Path,
    preprod: dict[str, str | float],
    production: dict[str, str | float],
    capsys: pytest.CaptureFixture[str],
) -> None:
    preprod["proxy"] = "http://127.0.0.1:9"
    config = write_config(tmp_path / "config.toml", preprod, production)
    args = ["token", "--config", str(config), "--profile", "preprod"]
    code, _, err = run([*args, "--max-attempts", "1"], capsys)
    assert code == 5
    assert "(from proxy= (--proxy or a profile's proxy))" in error_line(err)


def test_key_file_from_environment_logged_as_such(
    config_file: Path,
    key_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    args = ["token", "-v", "--config", str(config_file), "--profile", "preprod"]
    code, _, err = run(args, capsys)
    assert code == 0, err
    assert f"using the key file {key_file} from GOOGLE_APPLICATION_CREDENTIALS" in err
    assert "passed explicitly" not in err
