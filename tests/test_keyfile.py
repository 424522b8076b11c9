"""Loading and checking service-account key files, offline."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from posos_jwt import (
    ConfigurationError,
    KeyFileFieldError,
    KeyFileFormatError,
    KeyFileNotFoundError,
    KeyFileTypeError,
    PrivateKeyError,
    ServiceAccountKey,
)
from tests.support import KEYS, key_info


def write(path: Path, info: object, mode: int = 0o600) -> Path:
    path.write_text(json.dumps(info))
    path.chmod(mode)
    return path


def test_from_file_reads_fields() -> None:
    info = key_info("service_account.json")
    key = ServiceAccountKey.from_file(KEYS / "service_account.json")
    assert key.client_email == info["client_email"]
    assert key.private_key_id == info["private_key_id"]
    assert isinstance(key.private_key, rsa.RSAPrivateKey)
    assert key.key_size == 2048
    assert key.token_uri == info["token_uri"]
    assert key.path == str(KEYS / "service_account.json")
    assert key.fingerprint is not None


def test_from_info_accepts_mapping() -> None:
    key = ServiceAccountKey.from_info(key_info("service_account.json"))
    assert key.path is None
    assert key.fingerprint is None


def test_pkcs1_key_accepted() -> None:
    key = ServiceAccountKey.from_info(key_info("service_account_pkcs1.json"))
    assert key.key_size == 2048


def test_from_environment_reads_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    path = KEYS / "service_account.json"
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    assert ServiceAccountKey.from_environment().path == str(path)


@pytest.mark.parametrize("value", [None, "", "  "])
def test_from_environment_unset(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    else:
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", value)
    with pytest.raises(ConfigurationError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        ServiceAccountKey.from_environment()


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    with pytest.raises(KeyFileNotFoundError, match=r"absent\.json: not found"):
        ServiceAccountKey.from_file(path)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileNotFoundError, match="is a directory"):
        ServiceAccountKey.from_file(tmp_path)


def test_unreadable_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    path = write(tmp_path / "key.json", {}, mode=0o000)
    with pytest.raises(KeyFileNotFoundError, match="cannot be read"):
        ServiceAccountKey.from_file(path)


def test_invalid_json_names_position() -> None:
    path = KEYS / "invalid_json.json"
    with pytest.raises(KeyFileFormatError, match=r"invalid JSON at line \d+") as info:
        ServiceAccountKey.from_file(path)
    assert info.value.line is not None
    assert info.value.column is not None
    assert str(path) in str(info.value)
    assert "PRIVATE" not in str(info.value)
    assert "MII" not in str(info.value)


def test_invalid_json_hides_content(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_text('{"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEsecret",')
    with pytest.raises(KeyFileFormatError) as info:
        ServiceAccountKey.from_file(path)
    assert "secret" not in str(info.value)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_bytes(b'{"type": "\xff"}')
    with pytest.raises(KeyFileFormatError, match="not UTF-8"):
        ServiceAccountKey.from_file(path)


@pytest.mark.parametrize(
    ("document", "found"),
    [("[]", "array"), ('"text"', "string"), ("3", "number"), ("null", "null")],
)
def test_not_an_object(tmp_path: Path, document: str, found: str) -> None:
    path = tmp_path / "key.json"
    path.write_text(document)
    with pytest.raises(KeyFileFormatError, match=f"found a JSON {found}"):
        ServiceAccountKey.from_file(path)


def test_file_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b" " * (1024 * 1024 + 1))
    with pytest.raises(KeyFileFormatError, match="larger than"):
        ServiceAccountKey.from_file(path)


@pytest.mark.parametrize(
    ("name", "key_type"),
    [
        ("authorized_user.json", "authorized_user"),
        ("external_account.json", "external_account"),
    ],
)
def test_other_credential_type(name: str, key_type: str) -> None:
    with pytest.raises(KeyFileTypeError, match="needs a service-account key") as info:
        ServiceAccountKey.from_file(KEYS / name)
    assert info.value.key_type == key_type
    assert repr(key_type) in str(info.value)


def test_type_missing() -> None:
    info = key_info("service_account.json")
    del info["type"]
    with pytest.raises(KeyFileFieldError, match="missing field 'type'"):
        ServiceAccountKey.from_info(info)


@pytest.mark.parametrize("field", ["client_email", "private_key_id", "private_key"])
@pytest.mark.parametrize(
    ("value", "message"),
    [(None, "missing field"), ("", "is empty"), ("   ", "is empty"), (7, "string")],
)
def test_required_field_invalid(field: str, value: object, message: str) -> None:
    info: dict[str, object] = dict(key_info("service_account.json"))
    if value is None:
        del info[field]
    else:
        info[field] = value
    with pytest.raises(KeyFileFieldError, match=message) as caught:
        ServiceAccountKey.from_info(info)
    assert caught.value.field == field
    assert field in str(caught.value)


def test_optional_field_wrong_type() -> None:
    info: dict[str, object] = dict(key_info("service_account.json"))
    info["token_uri"] = ["https://oauth2.googleapis.com/token"]
    with pytest.raises(KeyFileFieldError, match="'token_uri' must be a string"):
        ServiceAccountKey.from_info(info)


@pytest.mark.parametrize(
    ("name", "reason", "message"),
    [
        ("service_account_encrypted.json", "encrypted", "is encrypted"),
        ("service_account_ec.json", "not_rsa", "not an RSA key but an EC key"),
        ("service_account_not_pem.json", "not_pem", "not in PEM format"),
        ("service_account_rsa1024.json", "too_small", "1024-bit RSA key"),
    ],
)
def test_unusable_private_key(name: str, reason: str, message: str) -> None:
    with pytest.raises(PrivateKeyError, match=message) as info:
        ServiceAccountKey.from_file(KEYS / name)
    assert info.value.reason == reason
    assert "MII" not in str(info.value)


def test_corrupt_pem() -> None:
    info = key_info("service_account.json")
    info["private_key"] = (
        "-----BEGIN PRIVATE KEY-----\nMIIBroken\n-----END PRIVATE KEY-----\n"
    )
    with pytest.raises(PrivateKeyError, match="cannot be parsed") as caught:
        ServiceAccountKey.from_info(info)
    assert caught.value.reason == "invalid"
    assert "MIIBroken" not in str(caught.value)


def _corrupt_private_key(parameter: str) -> str:
    """Return the test key as PEM with one CRT parameter or d off by two."""
    info = key_info("service_account.json")
    key = ServiceAccountKey.from_info(info).private_key
    numbers = key.private_numbers()
    values = {
        "d": numbers.d,
        "dmp1": numbers.dmp1,
        "dmq1": numbers.dmq1,
        "iqmp": numbers.iqmp,
    }
    values[parameter] += 2
    corrupt = rsa.RSAPrivateNumbers(
        p=numbers.p,
        q=numbers.q,
        public_numbers=numbers.public_numbers,
        **values,
    ).private_key(unsafe_skip_rsa_key_validation=True)
    pem = corrupt.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem.decode("ascii")


@pytest.mark.parametrize("parameter", ["d", "dmp1", "dmq1", "iqmp"])
def test_inconsistent_rsa_key_rejected(parameter: str) -> None:
    info = key_info("service_account.json")
    info["private_key"] = _corrupt_private_key(parameter)
    with pytest.raises(PrivateKeyError, match="do not agree") as caught:
        ServiceAccountKey.from_info(info)
    assert caught.value.reason == "inconsistent"
    assert "MII" not in str(caught.value)


def test_escaped_newlines_repaired(caplog: pytest.LogCaptureFixture) -> None:
    key = ServiceAccountKey.from_file(KEYS / "service_account_escaped_newlines.json")
    assert key.key_size == 2048
    assert "line breaks escaped" in caplog.text


def test_escaped_newlines_only_exact_case() -> None:
    info = key_info("service_account.json")
    # Real line breaks and an escaped one together are not the pasted case.
    info["private_key"] = info["private_key"].replace("\n", "\n\\n", 1)
    with pytest.raises(PrivateKeyError, match="cannot be parsed"):
        ServiceAccountKey.from_info(info)


def test_readable_by_others_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "key.json", key_info("service_account.json"), 0o644)
    key = ServiceAccountKey.from_file(path)
    assert key.insecure_permissions
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(path) in warnings[0].getMessage()
    assert "chmod 600" in warnings[0].getMessage()


def test_private_file_does_not_warn(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "key.json", key_info("service_account.json"), 0o600)
    assert not ServiceAccountKey.from_file(path).insecure_permissions
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_repr_hides_private_key() -> None:
    key = ServiceAccountKey.from_file(KEYS / "service_account.json")
    text = repr(key)
    assert "client_email" in text
    assert "PRIVATE" not in text
    assert "RSAPrivateKey" not in text


def test_fingerprint_follows_content(tmp_path: Path) -> None:
    path = write(tmp_path / "key.json", key_info("service_account.json"))
    first = ServiceAccountKey.from_file(path).fingerprint
    write(path, key_info("service_account_pkcs1.json"))
    assert ServiceAccountKey.from_file(path).fingerprint != first


def test_fifo_rejected_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "key.fifo"
    os.mkfifo(path)
    with pytest.raises(KeyFileNotFoundError, match="not a regular file"):
        ServiceAccountKey.from_file(path)


def test_device_rejected() -> None:
    with pytest.raises(KeyFileNotFoundError, match="not a regular file"):
        ServiceAccountKey.from_file("/dev/null")


def test_symlink_loop(tmp_path: Path) -> None:
    path = tmp_path / "loop.json"
    path.symlink_to(path)
    with pytest.raises(KeyFileNotFoundError, match="loop of symbolic links"):
        ServiceAccountKey.from_file(path)


def test_huge_integer(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_text('{"type": "service_account", "x": ' + "9" * 5000 + "}")
    with pytest.raises(KeyFileFormatError, match="invalid JSON"):
        ServiceAccountKey.from_file(path)


def test_object_type_named() -> None:
    info: dict[str, object] = dict(key_info("service_account.json"))
    info["private_key_id"] = {"a": 1}
    with pytest.raises(KeyFileFieldError, match="found object"):
        ServiceAccountKey.from_info(info)


def pem_of(label: str, body: str = "MIIBroken") -> str:
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


@pytest.mark.parametrize(
    ("private_key", "message"),
    [
        (pem_of("CERTIFICATE"), "is a certificate, not a private key"),
        (pem_of("PUBLIC KEY"), "is a public key"),
        (pem_of("OPENSSH PRIVATE KEY"), "is an OpenSSH key"),
        (pem_of("CERTIFICATE") + pem_of("PRIVATE KEY"), "2 block"),
        ("garbage\n" + pem_of("PRIVATE KEY"), "text around them"),
        (pem_of("PRIVATE KEY") + "trailing", "text around them"),
    ],
)
def test_not_exactly_one_private_key(private_key: str, message: str) -> None:
    info = key_info("service_account.json")
    info["private_key"] = private_key
    with pytest.raises(PrivateKeyError, match=message) as caught:
        ServiceAccountKey.from_info(info)
    assert caught.value.reason == "not_private_key"


def test_two_real_keys_rejected() -> None:
    info = key_info("service_account.json")
    info["private_key"] = info["private_key"] * 2
    with pytest.raises(PrivateKeyError, match="2 block"):
        ServiceAccountKey.from_info(info)


def test_crlf_pem_accepted() -> None:
    info = key_info("service_account.json")
    info["private_key"] = info["private_key"].replace("\n", "\r\n")
    assert ServiceAccountKey.from_info(info).key_size == 2048


def test_small_public_exponent_rejected() -> None:
    from cryptography.hazmat.primitives import serialization

    weak = rsa.generate_private_key(public_exponent=3, key_size=2048)
    info = key_info("service_account.json")
    info["private_key"] = weak.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(PrivateKeyError, match="public exponent 3") as caught:
        ServiceAccountKey.from_info(info)
    assert caught.value.reason == "weak_exponent"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("client_email", "no-at-sign", "not an email address"),
        ("client_email", "a@b", "not an email address"),
        ("client_email", "x@y.example\nforged log line", "characters that Google"),
        ("client_email", "\ud800x@y.example", "characters that Google"),
        ("client_email", " x@y.example", "characters that Google"),
        ("client_email", "é@y.example", "characters that Google"),
        ("private_key_id", "abc\ndef", "characters that Google"),
        ("private_key_id", "k" * 300, "characters that Google"),
    ],
)
def test_identifier_rejected(field: str, value: str, message: str) -> None:
    info = key_info("service_account.json")
    info[field] = value
    with pytest.raises(KeyFileFieldError, match=message) as caught:
        ServiceAccountKey.from_info(info)
    assert caught.value.field == field
    assert "\n" not in str(caught.value)


def test_path_with_nul_byte(tmp_path: Path) -> None:
    with pytest.raises(
        KeyFileNotFoundError, match=r"k\\0\.json: the path contains a NUL byte"
    ):
        ServiceAccountKey.from_file(str(tmp_path / "k\0.json"))
