"""An on-disk cache of ID tokens, shared by the commands of one user.

A shell script that runs ``posos-jwt token`` in a loop would otherwise ask
Google for a new token each time. The cache keeps each token in its own file
until it is about to expire, so every run within the hour reuses it.

The cache contains bearer tokens, so it is a secret store, and these rules
keep it one:

- The directory is created with mode 0700 and each file with mode 0600, from
  the start: ``os.mkdir`` and ``tempfile.mkstemp`` set the mode when they
  create, so there is no moment when another user could open them.
- A file is written to a temporary name in the same directory and moved into
  place with ``os.replace``, which is atomic on POSIX. So a reader sees the
  old or the new file, never half of one, and concurrent writers each leave
  a whole file (the last one wins).
- A directory or file owned by another user, or that group or others may
  access, is not trusted: it is skipped with a warning that gives the fix,
  and the token is fetched as if there were no cache. posos-jwt does not
  change the mode of a directory it did not create, because the owner may
  have a reason for it.
- Each entry carries an HMAC-SHA256 over its other fields, keyed by
  :func:`cache_mac_key` of the key file's bytes. An entry edited by someone
  who cannot read the key file, such as a token swapped for another with the
  same claims, fails the check and is fetched again, with a warning.
- A token read back is checked again, like one just received: its ``aud``,
  ``email`` and ``exp`` claims, the key file's fingerprint and the token
  endpoint. An entry that fails is ignored and replaced.
- The private key is never written. An entry contains the token, its expiry,
  the key's fingerprint, the names that the entry is for and its MAC.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Final

from ._arguments import (
    optional_path,
    optional_text,
    require_clock,
    require_instance,
    require_path,
    require_text,
)
from ._clock import SYSTEM_CLOCK, Clock
from ._credentials import REFRESH_MARGIN, IDTokenCredentials
from ._errors import KeyFileError, TokenCacheError, TokenCheckError
from ._idtoken import IDToken, check_id_token, format_utc
from ._keyfile import _read_key_file, cache_mac_key, parse_key_json
from ._token_uri import DEFAULT_TOKEN_URI, TOKEN_URI_ENV

logger = logging.getLogger(__name__)

CACHE_DIR_NAME: Final = "posos-jwt"

ENTRY_VERSION: Final = 2
"""Format version written in each entry; an entry of another version is a miss.
Version 2 added the ``mac`` field."""

MAX_ENTRY_SIZE: Final = 64 * 1024
"""Largest entry read, in bytes. A Google ID token is about 1 KB, so a larger
file was not written by posos-jwt."""

ENTRY_NAME: Final = re.compile(r"[0-9a-f]{64}\.json")
"""Entry file names: the SHA-256 of the account, key ID and audience."""

TEMP_PREFIX: Final = ".tmp-"

MIN_TEMP_FILE_AGE: Final = 60.0
"""Seconds since its last change before ``clear`` deletes a temporary file.
Another process writes and renames its file within milliseconds, so a younger
file may still be in use, and deleting it would make that write fail."""

_OPEN_FLAGS: Final = (
    os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_NOFOLLOW", 0)
)
"""Open entries without following a symbolic link, so that a link planted in
the directory cannot point the cache at another file, and without waiting for
a writer when the entry is a FIFO, whose type is checked before any read."""


@dataclass(frozen=True)
class _Identity:
    """The account, key, audience and endpoint of an entry, all of which must
    match for its token to be used."""

    client_email: str
    private_key_id: str
    audience: str
    token_uri: str
    key_fingerprint: str

    @classmethod
    def of(cls, credentials: IDTokenCredentials) -> tuple[_Identity, bytes] | None:
        """Return the identity and the MAC key of ``credentials``' entry."""
        key = credentials.key
        if key.fingerprint is None or key.cache_mac_key is None:
            logger.debug("token cache skipped: the key was not read from a file")
            return None
        identity = cls(
            client_email=key.client_email,
            private_key_id=key.private_key_id,
            audience=credentials.target_audience,
            token_uri=credentials.token_uri,
            key_fingerprint=key.fingerprint,
        )
        return identity, key.cache_mac_key

    def file_name(self) -> str:
        # A hash, so that a directory listing shows no account name.
        names = [self.client_email, self.private_key_id, self.audience]
        digest = hashlib.sha256(json.dumps(names).encode("utf-8")).hexdigest()
        return digest + ".json"


class TokenCache:
    """ID tokens kept on disk between processes, one file per account, key ID
    and audience.

    Use :meth:`get_id_token` in place of ``credentials.get_id_token()``: it
    returns the cached token while it is valid and fetches and stores a new
    one otherwise. Reading and writing never raise on a cache problem; they
    log it and fall back to fetching.

    Args:
        directory: The cache directory. Defaults to :meth:`default_directory`.
        clock: The clock to read, replaceable in tests.

    Raises:
        ConfigurationError: ``directory`` is not a ``str`` or
            ``os.PathLike[str]``, or ``clock`` is not a clock.
        TokenCacheError: ``directory`` contains a NUL byte.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        path = optional_path(directory, "directory")
        require_clock(clock)
        self._directory = path if path is not None else self.default_directory()
        if "\0" in self._directory:
            # os functions raise ValueError, not OSError, on a NUL byte.
            raise TokenCacheError(
                "the path contains a NUL byte, which no directory name can "
                "contain: give another directory",
                path=self._directory.replace("\0", "\\0"),
            )
        self._clock = clock
        self._warned = False

    def __repr__(self) -> str:
        return f"TokenCache(directory={self._directory!r})"

    @staticmethod
    def default_directory() -> str:
        """Return ``$XDG_CACHE_HOME/posos-jwt``, or ``~/.cache/posos-jwt``.

        ``XDG_CACHE_HOME`` is ignored when it is not an absolute path, as the
        XDG Base Directory specification requires.
        """
        base = os.environ.get("XDG_CACHE_HOME", "")
        if not os.path.isabs(base):
            base = os.path.join(os.path.expanduser("~"), ".cache")
        return os.path.join(base, CACHE_DIR_NAME)

    @property
    def directory(self) -> str:
        """The cache directory."""
        return self._directory

    def entry_path(self, credentials: IDTokenCredentials) -> str:
        """Return the file that contains the token for ``credentials``.

        The name is a hash of the account, key ID and audience, so a directory
        listing shows no account name.
        """
        _check_credentials(credentials)
        key = credentials.key
        identity = _Identity(
            key.client_email,
            key.private_key_id,
            credentials.target_audience,
            credentials.token_uri,
            key.fingerprint or "",
        )
        return os.path.join(self._directory, identity.file_name())

    def get_id_token(self, credentials: IDTokenCredentials) -> IDToken:
        """Return the cached token for ``credentials``, or fetch and store one.

        Raises:
            PososJWTError: A new token was needed and could not be fetched, as
                :meth:`IDTokenCredentials.get_id_token`.
        """
        _check_credentials(credentials)
        token = self.load(credentials)
        if token is not None:
            return token
        token = credentials.get_id_token()
        self.store(credentials, token)
        return token

    def load(self, credentials: IDTokenCredentials) -> IDToken | None:
        """Return the cached token if it is still valid, else ``None``.

        Valid means: the entry is a file of this user that no other user may
        access, for the same key file content and token endpoint, its MAC is
        right, and its token passes the checks of a new token and does not
        expire within :data:`REFRESH_MARGIN`.
        """
        _check_credentials(credentials)
        found = _Identity.of(credentials)
        return None if found is None else self._load(*found)

    def load_for_key_file(
        self,
        key_file: str | os.PathLike[str],
        target_audience: str,
        *,
        token_uri: str | None = None,
    ) -> IDToken | None:
        """Return the cached token for a key file, without loading its private key.

        Loading and validating an RSA private key takes about a tenth of a
        second, which dominates a command that finds its token in the cache.
        Skipping it is safe because an entry matches only a key file whose
        SHA-256 fingerprint equals that of a file that was fully loaded and
        checked when the entry was written.

        Args:
            key_file: The service-account key file.
            target_audience: The OAuth client ID that the token is for.
            token_uri: The token endpoint that the credentials would be given,
                or ``None`` for ``$POSOS_JWT_TOKEN_URI``, then the key file's.

        Returns:
            The token, or ``None`` on a miss, including when the key file
            cannot be read: building credentials from it then raises the
            error.
        """
        name = require_path(key_file, "key_file")
        require_text(target_audience, "target_audience", "pass the OAuth client ID")
        optional_text(token_uri, "token_uri", "pass an https:// URL")
        try:
            # The same read as ServiceAccountKey.from_file, with its warning
            # for a key file that others may read.
            data, _ = _read_key_file(name)
            info = parse_key_json(data, path=name)
        except KeyFileError:
            return None
        email, key_id = info.get("client_email"), info.get("private_key_id")
        if not isinstance(email, str) or not isinstance(key_id, str):
            return None
        identity = _Identity(
            client_email=email,
            private_key_id=key_id,
            audience=target_audience,
            token_uri=_expected_token_uri(token_uri, info.get("token_uri")),
            key_fingerprint=hashlib.sha256(data).hexdigest(),
        )
        return self._load(identity, cache_mac_key(data))

    def _load(self, identity: _Identity, mac_key: bytes) -> IDToken | None:
        if not self._directory_is_safe(create=False):
            return None
        path = os.path.join(self._directory, identity.file_name())
        record = self._read_entry(path)
        if record is None:
            return None
        token = self._check_entry(record, identity, mac_key, path)
        if token is None:
            return None
        logger.debug(
            "token cache hit for %s, audience %s, expires at %s",
            identity.client_email,
            identity.audience,
            format_utc(token.expiry),
        )
        return token

    def store(self, credentials: IDTokenCredentials, token: IDToken) -> bool:
        """Write ``token`` atomically to its entry; return whether it was written.

        A failure (an unsafe directory, a full disk) is logged as a warning
        and not raised, because the token itself is good.
        """
        _check_credentials(credentials)
        require_instance(token, IDToken, "token")
        found = _Identity.of(credentials)
        if found is None or not self._directory_is_safe(create=True):
            return False
        identity, mac_key = found
        record: dict[str, object] = {
            "version": ENTRY_VERSION,
            **asdict(identity),
            "expiry": token.expiry,
            "id_token": token.value,
        }
        record["mac"] = _entry_mac(record, mac_key)
        path = os.path.join(self._directory, identity.file_name())
        try:
            _write_atomically(path, json.dumps(record).encode("utf-8"))
        except OSError as exc:
            logger.warning(
                "token cache %s: cannot write an entry (%s); the token is used "
                "without being cached",
                self._directory,
                exc.strerror,
            )
            return False
        logger.debug(
            "token cache stored the token for %s, audience %s",
            credentials.service_account_email,
            credentials.target_audience,
        )
        return True

    def clear(self) -> int:
        """Delete every entry, and leftover temporary files; return the count
        of entries deleted.

        A temporary file changed less than :data:`MIN_TEMP_FILE_AGE` seconds
        ago is kept, because another process may be about to rename it into
        place.

        Raises:
            TokenCacheError: The path is not a directory, the directory is not
                this user's, other users may access it, or a file cannot be
                deleted.
        """
        try:
            names = os.listdir(self._directory)
        except FileNotFoundError:
            return 0
        except NotADirectoryError as exc:
            raise TokenCacheError(
                "is not a directory: remove it, or set XDG_CACHE_HOME to another "
                "directory",
                path=self._directory,
            ) from exc
        except OSError as exc:
            raise TokenCacheError(
                f"cannot be listed ({exc.strerror}): check its permissions",
                path=self._directory,
            ) from exc
        problem = _directory_problem(self._directory)
        if problem is not None:
            raise TokenCacheError(problem, path=self._directory)
        removed = 0
        for name in names:
            is_entry = ENTRY_NAME.fullmatch(name) is not None
            if not is_entry and not name.startswith(TEMP_PREFIX):
                continue
            path = os.path.join(self._directory, name)
            try:
                if not is_entry and self._is_recent(path):
                    continue
                os.unlink(path)
            except FileNotFoundError:
                continue  # another process removed or replaced it first
            except OSError as exc:
                raise TokenCacheError(
                    f"cannot delete {name} ({exc.strerror})", path=self._directory
                ) from exc
            removed += is_entry
        logger.debug("token cache %s: removed %d entries", self._directory, removed)
        return removed

    def _is_recent(self, path: str) -> bool:
        age = self._clock.time() - os.lstat(path).st_mtime
        return age < MIN_TEMP_FILE_AGE

    def _directory_is_safe(self, *, create: bool) -> bool:
        if create:
            try:
                _make_private_directory(self._directory)
            except OSError as exc:
                logger.warning(
                    "token cache %s: cannot create the directory (%s); tokens "
                    "are not cached",
                    self._directory,
                    exc.strerror,
                )
                return False
        elif not os.path.lexists(self._directory):
            logger.debug("token cache miss: %s does not exist", self._directory)
            return False
        problem = _directory_problem(self._directory)
        if problem is None:
            return True
        # Loading and then storing both check, so warn once per instance.
        if not self._warned:
            self._warned = True
            logger.warning(
                "token cache %s: %s; tokens are not cached", self._directory, problem
            )
        return False

    def _read_entry(self, path: str) -> Mapping[str, object] | None:
        try:
            descriptor = os.open(path, _OPEN_FLAGS)
        except FileNotFoundError:
            logger.debug("token cache miss: no entry")
            return None
        except OSError as exc:
            # ELOOP for a symbolic link, EACCES for a file of another user.
            logger.warning(
                "token cache entry %s cannot be opened (%s); it is ignored and "
                "will be replaced",
                path,
                exc.strerror,
            )
            return None
        data = b""
        try:
            with os.fdopen(descriptor, "rb") as file:
                problem = _file_problem(os.fstat(file.fileno()))
                if problem is None:
                    data = file.read(MAX_ENTRY_SIZE + 1)
        except OSError as exc:
            logger.warning(
                "token cache entry %s cannot be read (%s); it is ignored",
                path,
                exc.strerror,
            )
            return None
        if problem is None and len(data) > MAX_ENTRY_SIZE:
            problem = f"is larger than {MAX_ENTRY_SIZE} bytes"
        if problem is not None:
            logger.warning(
                "token cache entry %s %s; it is ignored and will be replaced",
                path,
                problem,
            )
            return None
        try:
            record = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            logger.warning(
                "token cache entry %s is not valid JSON; it is ignored and will "
                "be replaced",
                path,
            )
            return None
        if not isinstance(record, dict):
            logger.warning("token cache entry %s is not a JSON object", path)
            return None
        return record

    def _check_entry(
        self,
        record: Mapping[str, object],
        identity: _Identity,
        mac_key: bytes,
        path: str,
    ) -> IDToken | None:
        expected = {"version": ENTRY_VERSION, **asdict(identity)}
        for field, value in expected.items():
            if record.get(field) != value:
                # A changed key file is the usual cause, so this is DEBUG.
                logger.debug(
                    "token cache miss: the entry's %s differs from the current one",
                    field,
                )
                return None
        mac = record.get("mac")
        content = {name: value for name, value in record.items() if name != "mac"}
        if not isinstance(mac, str) or not hmac.compare_digest(
            mac, _entry_mac(content, mac_key)
        ):
            logger.warning(
                "token cache entry %s has a wrong MAC, so it was changed after "
                "posos-jwt wrote it; it is ignored and will be replaced",
                path,
            )
            return None
        value = record.get("id_token")
        if not isinstance(value, str):
            logger.warning("token cache entry %s has no id_token; it is ignored", path)
            return None
        try:
            token = check_id_token(
                value,
                audience=identity.audience,
                email=identity.client_email,
                now=self._clock.time(),
            )
        except TokenCheckError as exc:
            logger.warning(
                "token cache entry %s failed its check (%s); it is ignored and "
                "will be replaced",
                path,
                exc,
            )
            return None
        if record.get("expiry") != token.expiry:
            logger.warning(
                "token cache entry %s has an expiry that differs from its token's "
                "exp claim; it is ignored and will be replaced",
                path,
            )
            return None
        if token.expiry - REFRESH_MARGIN <= self._clock.time():
            logger.debug(
                "token cache miss: the token expires at %s, within %d s",
                format_utc(token.expiry),
                REFRESH_MARGIN,
            )
            return None
        return token


def _check_credentials(credentials: object) -> None:
    require_instance(
        credentials,
        IDTokenCredentials,
        "credentials",
        "the cache stores tokens of key-file credentials only",
    )


def _entry_mac(content: Mapping[str, object], mac_key: bytes) -> str:
    """Return the hex HMAC-SHA256 of an entry's fields other than ``mac``.

    The fields are serialized with sorted keys and no spaces, so the writer
    and the reader, which parses the JSON back, hash the same bytes.
    """
    message = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hmac.new(mac_key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def _expected_token_uri(override: str | None, key_token_uri: object) -> str:
    """Return the endpoint that credentials would use, without checking it.

    This follows the order of ``resolve_token_uri`` but skips its checks and
    its log lines. The result is only compared with the endpoint stored in
    an entry, which was checked when the entry was written, so a wrong guess
    can only cause a miss.
    """
    chosen = override or os.environ.get(TOKEN_URI_ENV) or None
    if chosen is not None:
        return chosen
    if isinstance(key_token_uri, str) and key_token_uri.strip():
        return key_token_uri
    return DEFAULT_TOKEN_URI


def _make_private_directory(path: str) -> None:
    """Create ``path`` and missing parents with mode 0700; keep an existing one."""
    parent = os.path.dirname(path)
    if parent and not os.path.isdir(parent):
        # The XDG specification requires 0700 for a base directory it creates.
        os.makedirs(parent, mode=0o700, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, mode=0o700)


def _directory_problem(path: str) -> str | None:
    try:
        status = os.stat(path)
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if not stat.S_ISDIR(status.st_mode):
        return "is not a directory: remove it"
    if status.st_uid != os.geteuid():
        return (
            f"is owned by user ID {status.st_uid}, not by this user: remove it, "
            "or set XDG_CACHE_HOME to a directory of your own"
        )
    mode = stat.S_IMODE(status.st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (
            f"can be accessed by other users (mode {mode:o}): run "
            f"'chmod 700 {path}' and 'posos-jwt cache clear'"
        )
    return None


def _file_problem(status: os.stat_result) -> str | None:
    if not stat.S_ISREG(status.st_mode):
        return "is not a regular file"
    if status.st_uid != os.geteuid():
        return f"is owned by user ID {status.st_uid}, not by this user"
    mode = stat.S_IMODE(status.st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return f"can be accessed by other users (mode {mode:o})"
    return None


def _write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to a new 0600 file next to ``path``, then move it there."""
    directory = os.path.dirname(path)
    # mkstemp creates the file with O_EXCL and mode 0600, whatever the umask.
    descriptor, temporary = tempfile.mkstemp(
        prefix=TEMP_PREFIX, suffix=".json", dir=directory
    )
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
