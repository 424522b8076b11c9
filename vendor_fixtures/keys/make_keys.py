"""Generate the throwaway service-account key files in this directory.

Every key is made here, at random, and belongs to no Google account. The files
cover the forms a key file takes in practice, good and bad, for tests to replay.
The script also writes ../token_endpoint/success.json, whose ID token it signs
with the key of service_account.json.

Run from anywhere, with cryptography and pyjwt installed::

    python vendor_fixtures/keys/make_keys.py

It overwrites the files that it wrote before.
"""

from __future__ import annotations

import base64
import json
import pathlib
import secrets
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

KEYS_DIRECTORY: Final = pathlib.Path(__file__).resolve().parent
"""Where the key files go: the directory of this script."""

TOKEN_ENDPOINT_DIRECTORY: Final = KEYS_DIRECTORY.parent / "token_endpoint"
"""Where success.json goes."""

PROJECT_ID: Final = "posos-jwt-tests"
"""Project named in every email. It does not exist."""

PASSWORD: Final = b"posos-jwt-test-only"
"""Password of service_account_encrypted.json. Test-only, like the key."""

IAP_CLIENT_ID: Final = (
    "123456789012-abcdefghijklmnopqrstuvwxyz012345.apps.googleusercontent.com"
)
"""The ``aud`` of the ID token in success.json: the stand-in's default client id."""

SUCCESS_ISSUED_AT: Final = 1_700_000_000
"""Fixed ``iat`` of the ID token in success.json (2023-11-14), long expired."""


def rsa_key(key_size: int = 2048) -> rsa.RSAPrivateKey:
    """Generate an RSA key with the usual public exponent."""
    return rsa.generate_private_key(public_exponent=65537, key_size=key_size)


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    """Return a key as unencrypted PKCS#8 PEM, the form of Google's key files."""
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return data.decode("ascii")


def key_file(name: str, private_key: str) -> dict[str, str]:
    """Build a service-account key file with Google's fields, in Google's order.

    Args:
        name: The part of the email before the ``@``.
        private_key: The ``private_key`` value, as the file should contain it.

    Returns:
        The key-file mapping.
    """
    email = f"{name}@{PROJECT_ID}.iam.gserviceaccount.com"
    client_id = str(100000000000000000000 + secrets.randbelow(9 * 10**20))
    return {
        "type": "service_account",
        "project_id": PROJECT_ID,
        "private_key_id": secrets.token_hex(20),
        "private_key": private_key,
        "client_email": email,
        "client_id": client_id,
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
        + email.replace("@", "%40"),
        "universe_domain": "googleapis.com",
    }


def write_json(path: pathlib.Path, content: object) -> None:
    """Write JSON indented by two spaces, as Google's console does."""
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


def pkcs1_pem() -> str:
    """Return a new RSA 2048 key as PKCS#1 PEM (``BEGIN RSA PRIVATE KEY``)."""
    data = rsa_key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return data.decode("ascii")


def encrypted_pem() -> str:
    """Return a new RSA 2048 key as PKCS#8 PEM encrypted with :data:`PASSWORD`."""
    data = rsa_key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSWORD),
    )
    return data.decode("ascii")


def der_base64() -> str:
    """Return a new RSA 2048 key as base64 PKCS#8 DER on one line, without armour."""
    data = rsa_key().private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return base64.b64encode(data).decode("ascii")


def make_service_account_files() -> dict[str, dict[str, str]]:
    """Build the service-account key files, each with a key of its own.

    Returns:
        The mappings keyed by file name.
    """
    # Line breaks as the two characters backslash and n, as after a paste
    # through an environment variable.
    escaped = pem(rsa_key()).replace("\n", "\\n")
    bad_token_uri = key_file("posos-test-bad-token-uri", pem(rsa_key()))
    bad_token_uri["token_uri"] = "https://evil.example.com/token"
    ec_key = ec.generate_private_key(ec.SECP256R1())
    return {
        "service_account.json": key_file("posos-test", pem(rsa_key())),
        "service_account_pkcs1.json": key_file("posos-test-pkcs1", pkcs1_pem()),
        "service_account_rsa1024.json": key_file(
            "posos-test-rsa1024", pem(rsa_key(1024))
        ),
        "service_account_ec.json": key_file("posos-test-ec", pem(ec_key)),
        "service_account_encrypted.json": key_file(
            "posos-test-encrypted", encrypted_pem()
        ),
        "service_account_not_pem.json": key_file("posos-test-not-pem", der_base64()),
        "service_account_escaped_newlines.json": key_file(
            "posos-test-escaped-newlines", escaped
        ),
        "service_account_bad_token_uri.json": bad_token_uri,
    }


def make_other_credential_files() -> dict[str, dict[str, Any]]:
    """Build credential files of the types that are not service-account keys.

    Returns:
        The mappings keyed by file name. Every secret in them is a placeholder.
    """
    authorized_user = {
        "account": "",
        "client_id": "764086051850-test0only0placeholder.apps.googleusercontent.com",
        "client_secret": "test-only-placeholder-secret",
        "quota_project_id": PROJECT_ID,
        "refresh_token": "1//test-only-placeholder-refresh-token",
        "type": "authorized_user",
        "universe_domain": "googleapis.com",
    }
    pool = "projects/123456789012/locations/global/workloadIdentityPools/test-pool"
    external_account = {
        "type": "external_account",
        "audience": f"//iam.googleapis.com/{pool}/providers/test-provider",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": "https://sts.googleapis.com/v1/token",
        "credential_source": {"file": "/var/run/secrets/test-only/token"},
        "universe_domain": "googleapis.com",
    }
    return {
        "authorized_user.json": authorized_user,
        "external_account.json": external_account,
    }


def write_invalid_json(good: dict[str, str]) -> None:
    """Write a key file cut off inside its private_key, as a broken copy is."""
    text = json.dumps(good, indent=2)
    cut = text.index("-----BEGIN PRIVATE KEY-----") + 60
    (KEYS_DIRECTORY / "invalid_json.json").write_text(text[:cut], encoding="utf-8")


def write_success_fixture(signer: dict[str, str]) -> None:
    """Write token_endpoint/success.json with an ID token signed by ``signer``.

    Google signs real ID tokens with its own keys. This one is signed with a
    test key, so that a test can verify it against that key's public half.
    """
    claims = {
        "aud": IAP_CLIENT_ID,
        "azp": signer["client_id"],
        "email": signer["client_email"],
        "email_verified": True,
        "exp": SUCCESS_ISSUED_AT + 3600,
        "iat": SUCCESS_ISSUED_AT,
        "iss": "https://accounts.google.com",
        "sub": signer["client_id"],
    }
    token = jwt.encode(
        claims,
        signer["private_key"],
        algorithm="RS256",
        headers={"kid": signer["private_key_id"], "typ": "JWT"},
    )
    write_json(TOKEN_ENDPOINT_DIRECTORY / "success.json", {"id_token": token})


def main() -> None:
    """Write every key file and success.json."""
    service_accounts = make_service_account_files()
    for name, content in service_accounts.items():
        write_json(KEYS_DIRECTORY / name, content)
    for name, other in make_other_credential_files().items():
        write_json(KEYS_DIRECTORY / name, other)
    write_invalid_json(service_accounts["service_account.json"])
    write_success_fixture(service_accounts["service_account.json"])


if __name__ == "__main__":
    main()
