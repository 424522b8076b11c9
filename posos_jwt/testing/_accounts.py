"""Service accounts, their keys, and Google-format key files.

The registry plays the part of Google's IAM. It records which key id belongs to
which account, which keys were revoked and which accounts were deleted. It stores
public keys only. The private keys go to the caller in key-file mappings.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import pathlib
import secrets
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final, TypeAlias

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PublicKey: TypeAlias = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

GOOGLE_TOKEN_URI: Final = "https://oauth2.googleapis.com/token"
"""Google's token endpoint: the ``token_uri`` of real key files and the ``aud`` of
every assertion."""

GOOGLE_AUTH_URI: Final = "https://accounts.google.com/o/oauth2/auth"
"""The ``auth_uri`` that Google writes into every key file."""

GOOGLE_CERTS_URL: Final = "https://www.googleapis.com/oauth2/v1/certs"
"""The ``auth_provider_x509_cert_url`` that Google writes into every key file."""

ROBOT_CERTS_URL: Final = "https://www.googleapis.com/robot/v1/metadata/x509/"
"""Prefix of ``client_x509_cert_url``, which ends with the URL-encoded email."""

UNIVERSE_DOMAIN: Final = "googleapis.com"
"""The ``universe_domain`` of the public Google Cloud."""

ACCOUNT_DOMAIN_SUFFIX: Final = ".iam.gserviceaccount.com"
"""Service-account emails read NAME@PROJECT.iam.gserviceaccount.com."""

DEFAULT_PROJECT_ID: Final = "posos-standin"
"""Project of generated emails, and of any email without the usual suffix."""

CLIENT_ID_DIGITS: Final = 21
"""Length of Google's numeric service-account ids (the ``sub`` of ID tokens)."""

MIN_KEY_SIZE: Final = 1024
"""Smallest RSA key that cryptography generates. new_account raises ValueError
below it."""


@dataclass(frozen=True)
class ServiceAccount:
    """A registered service account.

    Attributes:
        email: The ``client_email``, which assertions carry as ``iss``.
        client_id: The numeric ``client_id``, which ID tokens carry as ``sub``.
        project_id: The project that owns the account.
    """

    email: str
    client_id: str
    project_id: str


@dataclass(frozen=True)
class RegisteredKey:
    """A public key registered for a service account.

    Attributes:
        key_id: The ``private_key_id`` of the key file, sent as the ``kid``.
        email: The email of the account that owns the key.
        public_key: The key that verifies the account's assertions.
        revoked: Whether the key was revoked, after which Google rejects its
            signatures.
    """

    key_id: str
    email: str
    public_key: PublicKey
    revoked: bool = False


def new_client_id() -> str:
    """Return a random numeric client id of Google's length, without a leading 0."""
    first = str(1 + secrets.randbelow(9))
    rest = "".join(str(secrets.randbelow(10)) for _ in range(CLIENT_ID_DIGITS - 1))
    return first + rest


def new_key_id() -> str:
    """Return a random key id of 40 hex digits, the form of Google's key ids."""
    return secrets.token_hex(20)


def project_id_from_email(email: str) -> str:
    """Return the project in NAME@PROJECT.iam.gserviceaccount.com.

    Args:
        email: A service-account email.

    Returns:
        The project id, or :data:`DEFAULT_PROJECT_ID` for other emails.
    """
    _, _, domain = email.partition("@")
    if domain.endswith(ACCOUNT_DOMAIN_SUFFIX):
        return domain.removesuffix(ACCOUNT_DOMAIN_SUFFIX) or DEFAULT_PROJECT_ID
    return DEFAULT_PROJECT_ID


def build_key_info(
    account: ServiceAccount, key_id: str, private_key: rsa.RSAPrivateKey
) -> dict[str, str]:
    """Build a key-file mapping with the fields, in the order, of Google's files.

    Args:
        account: The account that owns the key.
        key_id: The key's ``private_key_id``.
        private_key: The key, written as unencrypted PKCS#8 PEM.

    Returns:
        The mapping, ready for ``json.dump``.
    """
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return {
        "type": "service_account",
        "project_id": account.project_id,
        "private_key_id": key_id,
        "private_key": pem.decode("ascii"),
        "client_email": account.email,
        "client_id": account.client_id,
        "auth_uri": GOOGLE_AUTH_URI,
        "token_uri": GOOGLE_TOKEN_URI,
        "auth_provider_x509_cert_url": GOOGLE_CERTS_URL,
        "client_x509_cert_url": ROBOT_CERTS_URL + urllib.parse.quote(account.email),
        "universe_domain": UNIVERSE_DOMAIN,
    }


def load_public_key(private_key_text: str, password: bytes | None = None) -> PublicKey:
    """Return the public half of a key file's ``private_key``.

    The parser is lenient on purpose, because it plays Google, which has every
    public key no matter what became of the key file. It accepts PKCS#8 and PKCS#1 PEM,
    encrypted PKCS#8 PEM given the password, line breaks written as the two
    characters ``\\n``, and base64 DER without PEM armour.

    Args:
        private_key_text: The ``private_key`` value of a key file.
        password: The password of an encrypted key.

    Returns:
        The RSA or EC public key.

    Raises:
        ValueError: If the text is not a private key in any of those forms, if it
            is encrypted and no password was given, or if it is neither RSA nor EC.
    """
    text = private_key_text
    if "\n" not in text and "\\n" in text:
        text = text.replace("\\n", "\n")
    if "ENCRYPTED" in text and password is None:
        raise ValueError("private_key is encrypted: pass its password to register it")
    try:
        if "-----BEGIN" in text:
            key = serialization.load_pem_private_key(text.encode("ascii"), password)
        else:
            der = base64.b64decode("".join(text.split()), validate=True)
            key = serialization.load_der_private_key(der, password)
    except (ValueError, TypeError, UnicodeEncodeError, binascii.Error) as error:
        raise ValueError(f"private_key is not a readable key: {error}") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"private_key is a {type(key).__name__}, not RSA or EC")
    return key.public_key()


def write_key_file(
    directory: str | os.PathLike[str],
    key_info: Mapping[str, str],
    name: str = "key.json",
) -> pathlib.Path:
    """Write a key-file mapping as JSON that only the owner can read.

    Args:
        directory: An existing directory.
        key_info: The key-file mapping, for example from ``new_account``.
        name: The file name.

    Returns:
        The path of the file written.

    Raises:
        FileExistsError: If the file exists already.
    """
    path = pathlib.Path(directory) / name
    # O_EXCL and mode 0600 at creation, so that the private key is never
    # readable by others and an existing file is never overwritten.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(dict(key_info), file, indent=2)
        file.write("\n")
    return path


class AccountRegistry:
    """Service accounts and their keys, safe to use from several threads."""

    def __init__(self) -> None:
        """Create an empty registry."""
        self._lock = threading.Lock()
        self._accounts: dict[str, ServiceAccount] = {}
        self._keys: dict[str, RegisteredKey] = {}

    def find_account(self, email: str) -> ServiceAccount | None:
        """Return the live account with this email, or None."""
        with self._lock:
            return self._accounts.get(email)

    def find_key(self, key_id: str) -> RegisteredKey | None:
        """Return the key with this id, revoked or not, or None."""
        with self._lock:
            return self._keys.get(key_id)

    def add_account(self, account: ServiceAccount) -> ServiceAccount:
        """Register an account unless its email is registered already.

        Args:
            account: The account.

        Returns:
            The registered account with that email, which is the earlier one if
            there was one.
        """
        with self._lock:
            return self._accounts.setdefault(account.email, account)

    def add_key(self, key: RegisteredKey) -> None:
        """Register a key for an existing account.

        Registering the same key id again for the same account and public key
        changes nothing.

        Args:
            key: The key.

        Raises:
            KeyError: If the account does not exist.
            ValueError: If the key id is registered to another account or key.
        """
        with self._lock:
            if key.email not in self._accounts:
                raise KeyError(f"no service account {key.email!r}: add it first")
            known = self._keys.get(key.key_id)
            if known is not None and not _same_key(known, key):
                raise ValueError(f"key id {key.key_id!r} is registered already")
            if known is None:
                self._keys[key.key_id] = key

    def revoke_key(self, key_id: str) -> None:
        """Mark a key revoked, so that its signatures are rejected from now on.

        Raises:
            KeyError: If no key has this id.
        """
        with self._lock:
            key = self._keys.get(key_id)
            if key is None:
                raise KeyError(f"no key with private_key_id {key_id!r}")
            self._keys[key_id] = replace(key, revoked=True)

    def delete_account(self, email: str) -> None:
        """Delete an account and revoke its keys.

        The keys stay known as revoked, so that an account created later with
        the same email does not inherit them.

        Raises:
            KeyError: If no live account has this email.
        """
        with self._lock:
            if self._accounts.pop(email, None) is None:
                raise KeyError(f"no service account {email!r}")
            for key_id, key in self._keys.items():
                if key.email == email:
                    self._keys[key_id] = replace(key, revoked=True)


def _same_key(first: RegisteredKey, second: RegisteredKey) -> bool:
    der = serialization.Encoding.DER
    public_format = serialization.PublicFormat.SubjectPublicKeyInfo
    return first.email == second.email and first.public_key.public_bytes(
        der, public_format
    ) == second.public_key.public_bytes(der, public_format)
