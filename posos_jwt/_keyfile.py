"""Load and check a Google service-account key file.

A key file is the JSON document that the Google Cloud console downloads for a
service account. posos-jwt checks it completely before any network call, so that
a wrong file fails at once with a message that names the field, and never later
as an opaque ``invalid_grant`` from Google.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import math
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, NoReturn, SupportsIndex

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from ._arguments import (
    optional_text,
    reject_copy,
    require_mapping,
    require_path,
)
from ._errors import (
    ConfigurationError,
    KeyFileFieldError,
    KeyFileFormatError,
    KeyFileNotFoundError,
    KeyFileTypeError,
    PrivateKeyError,
)
from ._files import NotRegularFileError, read_regular_file

logger = logging.getLogger(__name__)

CREDENTIALS_ENV: Final = "GOOGLE_APPLICATION_CREDENTIALS"
"""The variable that Google's tools read to find a key file."""

SERVICE_ACCOUNT_TYPE: Final = "service_account"

DEFAULT_UNIVERSE_DOMAIN: Final = "googleapis.com"
"""The universe of public Google Cloud, assumed when a key file names none."""

MIN_RSA_KEY_SIZE: Final = 2048
"""Smallest RSA modulus accepted, in bits. Google creates 2048-bit keys, and
NIST SP 800-131A disallows smaller ones for signatures."""

MIN_PUBLIC_EXPONENT: Final = 65537
"""Smallest RSA public exponent accepted. Google's keys use 65537, and NIST
SP 800-78 and FIPS 186-5 require more than 2**16."""

MAX_KEY_FILE_SIZE: Final = 1024 * 1024
"""Largest key file read, in bytes. A real one is about 2.4 KB, so this only
stops a wrong path (a log file, a device) from being read into memory."""

REQUIRED_FIELDS: Final = ("client_email", "private_key_id", "private_key")


@dataclass(frozen=True, repr=False)
class ServiceAccountKey:
    """A checked service-account key, ready to sign assertions.

    The private key is held as a ``cryptography`` object and never shown by
    ``repr``. Build one with :meth:`from_file`, :meth:`from_info` or
    :meth:`from_environment`.

    Attributes:
        client_email: The service account's email, used as the ``iss`` claim.
        private_key_id: The key's ID, used as the ``kid`` header.
        private_key: The RSA private key.
        token_uri: The key file's ``token_uri``, or ``None`` when it has none.
        universe_domain: The key file's ``universe_domain``.
        project_id: The key file's ``project_id``, if any.
        path: The file the key was read from, or ``None`` for a mapping.
        fingerprint: SHA-256 of the file's bytes, or ``None`` for a mapping.
            It changes when the file's content changes, not its timestamp.
        insecure_permissions: Whether group or others may read the file.
        cache_mac_key: The key that authenticates this key's token cache
            entries, from :func:`cache_mac_key`, or ``None`` for a mapping.
            It is a secret and never shown.

    A key cannot be pickled or deep-copied, because the copy would contain the
    private key: pickle the key file's path and read it again instead.
    ``copy.copy`` returns the key itself, as it does for other immutable
    objects.
    """

    client_email: str
    private_key_id: str
    private_key: rsa.RSAPrivateKey = field(compare=False)
    token_uri: str | None = None
    universe_domain: str = DEFAULT_UNIVERSE_DOMAIN
    project_id: str | None = None
    path: str | None = None
    fingerprint: str | None = None
    insecure_permissions: bool = False
    cache_mac_key: bytes | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        return (
            f"ServiceAccountKey(client_email={self.client_email!r}, "
            f"private_key_id={self.private_key_id!r}, path={self.path!r})"
        )

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        raise reject_copy(
            self,
            "pickled",
            "pickle the key file path instead, and call "
            "ServiceAccountKey.from_file() in the other process",
        )

    def __copy__(self) -> ServiceAccountKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> NoReturn:
        raise reject_copy(
            self, "deep-copied", "share this object instead, because it is immutable"
        )

    @property
    def key_size(self) -> int:
        """The RSA modulus size, in bits."""
        return self.private_key.key_size

    @classmethod
    def from_info(
        cls, info: Mapping[str, object], *, path: str | None = None
    ) -> ServiceAccountKey:
        """Check an already-parsed key file and load its private key.

        Args:
            info: The key file's JSON object.
            path: Where it was read from, for messages only.

        Raises:
            ConfigurationError: ``info`` is not a mapping, or ``path`` is
                neither a string nor ``None``.
            KeyFileTypeError: ``type`` is not ``service_account``.
            KeyFileFieldError: A required field is missing, empty or not text.
            PrivateKeyError: ``private_key`` is not a usable RSA key.
        """
        require_mapping(info, "info", "pass the key file's JSON object as a dict")
        optional_text(path, "path")
        _check_type(info, path)
        fields = {name: _required_text(info, name, path) for name in REQUIRED_FIELDS}
        _check_identifier(fields["client_email"], "client_email", path)
        _check_identifier(fields["private_key_id"], "private_key_id", path)
        return cls(
            client_email=fields["client_email"],
            private_key_id=fields["private_key_id"],
            private_key=load_private_key(fields["private_key"], path=path),
            token_uri=_optional_text(info, "token_uri", path),
            universe_domain=(
                _optional_text(info, "universe_domain", path) or DEFAULT_UNIVERSE_DOMAIN
            ),
            project_id=_optional_text(info, "project_id", path),
            path=path,
        )

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> ServiceAccountKey:
        """Read, parse and check a key file.

        A file that group or others may read is still loaded, with a warning
        in the log, because refusing it would break working deployments.

        Raises:
            ConfigurationError: ``path`` is not a ``str`` or
                ``os.PathLike[str]``.
            KeyFileNotFoundError: The file does not exist or cannot be read.
            KeyFileFormatError: The file is not a JSON object.
            KeyFileTypeError: ``type`` is not ``service_account``.
            KeyFileFieldError: A required field is missing, empty or not text.
            PrivateKeyError: ``private_key`` is not a usable RSA key.
        """
        name = require_path(path, "path")
        data, insecure = _read_key_file(name)
        info = parse_key_json(data, path=name)
        key = cls.from_info(info, path=name)
        logger.debug(
            "loaded key %s for %s from %s", key.private_key_id, key.client_email, name
        )
        return _replace_file_facts(key, data, insecure)

    @classmethod
    def from_environment(cls) -> ServiceAccountKey:
        """Load the key file named by ``GOOGLE_APPLICATION_CREDENTIALS``.

        Raises:
            ConfigurationError: The variable is unset or empty.
            KeyFileError: As :meth:`from_file`.
        """
        path = os.environ.get(CREDENTIALS_ENV, "")
        if not path.strip():
            raise ConfigurationError(
                f"no key file given and {CREDENTIALS_ENV} is not set: pass the "
                f"path of a service-account key file, or set {CREDENTIALS_ENV}"
            )
        return cls.from_file(path)


def _replace_file_facts(
    key: ServiceAccountKey, data: bytes, insecure: bool
) -> ServiceAccountKey:
    return ServiceAccountKey(
        client_email=key.client_email,
        private_key_id=key.private_key_id,
        private_key=key.private_key,
        token_uri=key.token_uri,
        universe_domain=key.universe_domain,
        project_id=key.project_id,
        path=key.path,
        fingerprint=hashlib.sha256(data).hexdigest(),
        insecure_permissions=insecure,
        cache_mac_key=cache_mac_key(data),
    )


CACHE_MAC_LABEL: Final = b"posos-jwt token cache entry MAC key\0"
"""Prefix hashed with a key file's bytes, so that the MAC key differs from the
file's published fingerprint, which is the SHA-256 of the bytes alone."""


def cache_mac_key(data: bytes) -> bytes:
    """Derive the HMAC-SHA256 key of the token cache entries from a key file.

    Only a process that can read the key file can compute it, and such a
    process has the private key anyway, so it gains nothing by forging an
    entry.
    """
    return hashlib.sha256(CACHE_MAC_LABEL + data).digest()


def _read_key_file(path: str) -> tuple[bytes, bool]:
    """Read at most MAX_KEY_FILE_SIZE bytes and report loose permissions."""
    if "\0" in path:
        # os.open() raises ValueError, not OSError, on a NUL byte.
        raise KeyFileNotFoundError(
            "the path contains a NUL byte, which no file name can contain: "
            "check the path",
            path=path.replace("\0", "\\0"),
        )
    try:
        data, status = read_regular_file(os.path.expanduser(path), MAX_KEY_FILE_SIZE)
    except NotRegularFileError:
        raise KeyFileNotFoundError(
            "is not a regular file (a device, a FIFO or a socket): give the "
            "path of the JSON key file",
            path=path,
        ) from None
    except OSError as exc:
        raise _open_error(path, exc) from exc
    insecure = _warn_if_readable_by_others(path, status)
    if len(data) > MAX_KEY_FILE_SIZE:
        raise KeyFileFormatError(
            f"larger than {MAX_KEY_FILE_SIZE} bytes, so not a key file: check the path",
            path=path,
        )
    return data, insecure


def _open_error(path: str, exc: OSError) -> KeyFileNotFoundError:
    if isinstance(exc, FileNotFoundError):
        return KeyFileNotFoundError(
            "not found: check the path, or set " + CREDENTIALS_ENV, path=path
        )
    if isinstance(exc, IsADirectoryError):
        return KeyFileNotFoundError(
            "is a directory: give the path of the JSON key file inside it",
            path=path,
        )
    if exc.errno == errno.ELOOP:
        return KeyFileNotFoundError(
            "is a loop of symbolic links: give the path of the key file itself",
            path=path,
        )
    return KeyFileNotFoundError(
        f"cannot be read ({exc.strerror}): check the path and its permissions",
        path=path,
    )


def _warn_if_readable_by_others(path: str, status: os.stat_result) -> bool:
    if not stat.S_ISREG(status.st_mode):
        return False
    if status.st_mode & (stat.S_IRWXG | stat.S_IRWXO) == 0:
        return False
    logger.warning(
        "key file %s can be read by other users (mode %o): run 'chmod 600 %s'",
        path,
        stat.S_IMODE(status.st_mode),
        path,
    )
    return True


def parse_key_json(data: bytes, *, path: str | None = None) -> Mapping[str, object]:
    """Parse a key file's bytes into a JSON object.

    Messages give the position of a syntax error, never the text around it,
    because the text may be part of the private key.

    Raises:
        KeyFileFormatError: The bytes are not UTF-8 JSON, or not an object.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise KeyFileFormatError(
            f"not UTF-8 text (invalid byte at offset {exc.start}): "
            "download the key file again",
            path=path,
        ) from exc
    try:
        info = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeyFileFormatError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno} ({exc.msg}): "
            "download the key file again",
            path=path,
            line=exc.lineno,
            column=exc.colno,
        ) from exc
    except RecursionError as exc:
        raise KeyFileFormatError("invalid JSON: nested too deeply", path=path) from exc
    except ValueError:
        # Python refuses integers of more than 4300 digits with a plain
        # ValueError, whose hint to raise a limit does not apply here.
        raise KeyFileFormatError(
            "invalid JSON: a number has too many digits to read: download the "
            "key file again",
            path=path,
        ) from None
    if not isinstance(info, dict):
        raise KeyFileFormatError(
            f"expected a JSON object, found a JSON {_json_type_name(info)}: "
            "give the service-account key file downloaded from Google Cloud",
            path=path,
        )
    return info


def _json_type_name(value: object) -> str:
    names = {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        type(None): "null",
    }
    return names.get(type(value), "number")


def _check_type(info: Mapping[str, object], path: str | None) -> None:
    key_type = info.get("type")
    if key_type is None:
        raise KeyFileFieldError(
            "missing field 'type': a service-account key file has "
            f'"type": "{SERVICE_ACCOUNT_TYPE}"',
            path=path,
            field="type",
        )
    if not isinstance(key_type, str):
        raise KeyFileFieldError(
            "field 'type' must be a string", path=path, field="type"
        )
    if key_type != SERVICE_ACCOUNT_TYPE:
        raise KeyFileTypeError(
            f"type is {key_type!r}, but posos-jwt needs a service-account key "
            f"(type {SERVICE_ACCOUNT_TYPE!r}): create a key for the service "
            "account in Google Cloud (IAM > Service accounts > Keys)",
            path=path,
            key_type=key_type,
        )


def _required_text(info: Mapping[str, object], name: str, path: str | None) -> str:
    value = info.get(name)
    if value is None:
        raise KeyFileFieldError(
            f"missing field {name!r}: download the key file again",
            path=path,
            field=name,
        )
    if not isinstance(value, str):
        raise KeyFileFieldError(
            f"field {name!r} must be a string, found {_json_type_name(value)}",
            path=path,
            field=name,
        )
    if not value.strip():
        raise KeyFileFieldError(
            f"field {name!r} is empty: download the key file again",
            path=path,
            field=name,
        )
    return value


_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_IDENTIFIER_LENGTH: Final = 254
"""Longest ``client_email`` or ``private_key_id`` accepted: the maximum length
of an email address (RFC 5321), far above Google's 40-character key IDs."""


def _check_identifier(value: str, name: str, path: str | None) -> None:
    """Reject a ``client_email`` or ``private_key_id`` that could not be Google's.

    Both reach log lines and JWT headers, so line breaks, control characters
    and non-ASCII text are rejected here rather than passed on.
    """
    shown = repr(value[:60])
    if (
        len(value) > MAX_IDENTIFIER_LENGTH
        or not value.isascii()
        or not value.isprintable()
        or value != value.strip()
    ):
        raise KeyFileFieldError(
            f"field {name!r} is {shown}, which contains characters that Google "
            "never uses: download the key file again",
            path=path,
            field=name,
        )
    if name == "client_email" and not _EMAIL.fullmatch(value):
        raise KeyFileFieldError(
            f"field 'client_email' is {shown}, not an email address: download the "
            "key file again",
            path=path,
            field=name,
        )


def _optional_text(
    info: Mapping[str, object], name: str, path: str | None
) -> str | None:
    value = info.get(name)
    if value is None or isinstance(value, str):
        return value
    raise KeyFileFieldError(
        f"field {name!r} must be a string, found {_json_type_name(value)}",
        path=path,
        field=name,
    )


def load_private_key(pem: str, *, path: str | None = None) -> rsa.RSAPrivateKey:
    """Load an unencrypted RSA private key from PEM text (PKCS#8 or PKCS#1).

    Args:
        pem: The ``private_key`` field of a key file.
        path: The key file, for messages only.

    Raises:
        PrivateKeyError: The text is not PEM, is encrypted, is not RSA, is
            smaller than 2048 bits, or cannot be parsed.
    """
    pem = _repair_escaped_newlines(pem, path)
    _check_pem_armour(pem, path)
    try:
        # cryptography's own validation also tests p and q for primality. For
        # a 2048-bit key that took 44 ms, about a sixth of the token command,
        # on the machine that BENCHMARKS.md describes. _check_rsa_consistency
        # replaces it and keeps the part that protects the key.
        key = serialization.load_pem_private_key(
            pem.encode("ascii"), password=None, unsafe_skip_rsa_key_validation=True
        )
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        # cryptography's message can quote parts of the input, so it is not
        # shown; its class name is enough to search for.
        raise PrivateKeyError(
            f"field 'private_key' is PEM but cannot be parsed "
            f"({type(exc).__name__}): download the key file again",
            path=path,
            reason="invalid",
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PrivateKeyError(
            f"field 'private_key' is not an RSA key but {_key_kind(key)}: Google "
            "service-account keys are RSA, create a new key in Google Cloud",
            path=path,
            reason="not_rsa",
        )
    if key.key_size < MIN_RSA_KEY_SIZE:
        raise PrivateKeyError(
            f"field 'private_key' is a {key.key_size}-bit RSA key, smaller than "
            f"the minimum of {MIN_RSA_KEY_SIZE} bits: create a new key",
            path=path,
            reason="too_small",
        )
    _check_rsa_consistency(key, path)
    return key


def _check_rsa_consistency(key: rsa.RSAPrivateKey, path: str | None) -> None:
    """Check that the key's CRT parameters agree with its modulus and exponents.

    Signing uses the Chinese remainder theorem with p, q, d mod (p-1),
    d mod (q-1) and q^-1 mod p. If one of them is wrong, for example in a
    corrupted key file, the signature is right modulo one prime and wrong
    modulo the other, and anyone who obtains it can factor n with one gcd
    (the fault attack on RSA-CRT). These identities rule that out for any key
    whose n is the product of its p and q.

    Primality of p and q is not tested. A composite factor cannot come from
    corruption, because n = p * q is checked, so only whoever built the key
    on purpose could supply one, and that party already holds the key.

    Raises:
        PrivateKeyError: An identity does not hold.
    """
    numbers = key.private_numbers()
    p, q, d = numbers.p, numbers.q, numbers.d
    public = numbers.public_numbers
    carmichael = math.lcm(p - 1, q - 1)
    consistent = (
        p > 1
        and q > 1
        and p != q
        and p * q == public.n
        and public.e * d % carmichael == 1
        and numbers.dmp1 == d % (p - 1)
        and numbers.dmq1 == d % (q - 1)
        and q * numbers.iqmp % p == 1
    )
    if public.e < MIN_PUBLIC_EXPONENT:
        raise PrivateKeyError(
            f"field 'private_key' is an RSA key with public exponent {public.e}, "
            f"smaller than {MIN_PUBLIC_EXPONENT}: create a new key in Google Cloud",
            path=path,
            reason="weak_exponent",
        )
    if not consistent:
        raise PrivateKeyError(
            "field 'private_key' is an RSA key whose parameters do not agree "
            "with each other, so it is corrupted: download the key file again",
            path=path,
            reason="inconsistent",
        )


def _repair_escaped_newlines(pem: str, path: str | None) -> str:
    # A PEM pasted through an environment variable or a secret store often
    # arrives with each line break as the two characters backslash and "n".
    # Only that exact case is repaired: a value with no real line break, whose
    # armour and every line are separated by the escape.
    if "\n" in pem or "\\n" not in pem or not pem.startswith("-----BEGIN "):
        return pem
    logger.warning(
        "key %s: field 'private_key' had its line breaks escaped as '\\n' "
        "and they were repaired; store the key file as downloaded",
        path or "(mapping)",
    )
    return pem.replace("\\n", "\n")


_PEM_BLOCK: Final = re.compile(
    r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL
)
_PRIVATE_KEY_LABELS: Final = frozenset(
    {"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"}
)
_OTHER_LABELS: Final = {
    "CERTIFICATE": "a certificate",
    "PUBLIC KEY": "a public key",
    "RSA PUBLIC KEY": "a public key",
    "OPENSSH PRIVATE KEY": "an OpenSSH key",
}


def _check_pem_armour(pem: str, path: str | None) -> None:
    """Require exactly one PEM block of an unencrypted private key.

    Anything else is rejected rather than guessed at: text around the block,
    a second key, or a certificate before the key could each mean that the
    file is not the one that was downloaded.
    """
    if "-----BEGIN " not in pem:
        raise PrivateKeyError(
            "field 'private_key' is not in PEM format (no '-----BEGIN' line): "
            "give the key file downloaded from Google Cloud unchanged",
            path=path,
            reason="not_pem",
        )
    if "ENCRYPTED" in pem:
        raise PrivateKeyError(
            "field 'private_key' is encrypted, and posos-jwt takes no passphrase: "
            "use the unencrypted key file downloaded from Google Cloud",
            path=path,
            reason="encrypted",
        )
    blocks = _PEM_BLOCK.findall(pem)
    labels = [label for label, _ in blocks]
    if len(blocks) == 1 and labels[0] in _OTHER_LABELS:
        raise PrivateKeyError(
            f"field 'private_key' is {_OTHER_LABELS[labels[0]]}, not a private "
            "key: give the key file downloaded from Google Cloud unchanged",
            path=path,
            reason="not_private_key",
        )
    if len(blocks) != 1 or _PEM_BLOCK.sub("", pem).strip():
        raise PrivateKeyError(
            f"field 'private_key' must be one PEM block and nothing else, but has "
            f"{len(blocks)} block(s) ({', '.join(labels) or 'none complete'}) "
            "or text around them: give the key file downloaded from Google Cloud "
            "unchanged",
            path=path,
            reason="not_private_key",
        )


def _key_kind(key: object) -> str:
    kinds: tuple[tuple[type, str], ...] = (
        (ec.EllipticCurvePrivateKey, "an EC key"),
        (ed25519.Ed25519PrivateKey, "an Ed25519 key"),
        (ed448.Ed448PrivateKey, "an Ed448 key"),
        (dsa.DSAPrivateKey, "a DSA key"),
    )
    for key_class, kind in kinds:
        if isinstance(key, key_class):
            return kind
    return f"a key of type {type(key).__name__}"
