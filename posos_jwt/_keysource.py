"""The service-account key of a credentials object, re-read when its file changes.

A key is rotated by writing the new key file over the old one, and a revoked
key must be replaceable quickly. So a long-running process picks up the new
file without a restart: the file is checked when a token is fetched (about once
an hour), never on a call that the token cache serves.

The check compares the file's inode, size and modification time with those
seen when it was last read, and re-reads it only when one differs. The key is
replaced only when the content differs (its SHA-256 ``fingerprint``), so a
``touch`` changes nothing. A rewrite that keeps all three (``rsync --inplace
--times``, or two writes of the same size within the file system's timestamp
granularity) is not seen by this check. The token endpoint then rejects the old
key with ``invalid_grant``, and :meth:`KeySource.reload_after_rejection` reads
the file again.

A new key of another service account (another ``client_email``) is rejected:
the old key is kept and a warning names both accounts, because a file that
changes the identity a process acts as is more likely a mistake or an attack
than a rotation. Only :meth:`KeySource.drop` (``Credentials.invalidate()``)
switches to another account, once the caller asks for it. The new key's
``token_uri`` and ``universe_domain`` are not read: the credentials keep the
token endpoint resolved from the first key.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

from ._errors import KeyFileError
from ._keyfile import ServiceAccountKey

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileStamp:
    """The ``os.stat`` fields of a key file that show that it changed.

    Attributes:
        inode: The inode number, which changes when a new file is renamed over
            the old one.
        size: The size in bytes.
        mtime_ns: The modification time in nanoseconds.
    """

    inode: int
    size: int
    mtime_ns: int


def stamp_of(path: str) -> FileStamp | None:
    """Return the file's stamp, or ``None`` if it cannot be read."""
    try:
        status = os.stat(os.path.expanduser(path))
    except OSError:
        return None
    return FileStamp(status.st_ino, status.st_size, status.st_mtime_ns)


class KeySource:
    """The key that signs assertions, and the file it came from.

    Credentials for several audiences share one source, so a rotation that one
    of them notices is used by all. A key built from a mapping has no file and
    never changes. The methods are safe to call from many threads.

    Args:
        key: The key loaded at start.
    """

    def __init__(self, key: ServiceAccountKey) -> None:
        self._lock = threading.Lock()
        self._key = key
        self._stamp = None if key.path is None else stamp_of(key.path)
        self._dropped = False

    @property
    def key(self) -> ServiceAccountKey:
        """The key that the last check found."""
        return self._key

    def current(self) -> ServiceAccountKey:
        """Return the key to sign with, re-reading the file if it changed.

        A changed file that cannot be used (half written, deleted) is logged
        as a warning, and the key loaded before is kept. After :meth:`drop`,
        the file must be usable.

        Raises:
            KeyFileError: After :meth:`drop`, the file cannot be used.
        """
        path = self._key.path
        if path is None:
            return self._key
        with self._lock:
            # The stamp is taken before the read, so that a write in between
            # makes the next check read the file again.
            stamp = stamp_of(path)
            if self._dropped:
                self._replace(ServiceAccountKey.from_file(path), stamp)
                self._dropped = False
            elif stamp != self._stamp:
                self._reload_keeping_old(path, stamp)
            return self._key

    def reload_after_rejection(self, rejected: ServiceAccountKey) -> bool:
        """Re-read the file after the token endpoint rejected ``rejected``.

        Returns:
            Whether the file now contains another key to try. A file that cannot
            be used is logged as a warning and counts as no new key.
        """
        path = rejected.path
        if path is None:
            return False
        with self._lock:
            if self._key.fingerprint != rejected.fingerprint:
                # Another thread has loaded a new key since this fetch began.
                return True
            stamp = stamp_of(path)
            try:
                key = ServiceAccountKey.from_file(path)
            except KeyFileError as exc:
                logger.warning(
                    "key %s was rejected and key file %s cannot be read again: %s",
                    rejected.private_key_id,
                    path,
                    exc,
                )
                return False
            if key.fingerprint == rejected.fingerprint:
                return False
            if key.client_email != rejected.client_email:
                _warn_other_account(rejected, key)
                return False
            logger.warning(
                "key %s of %s was rejected (invalid_grant); key file %s now contains "
                "key %s, retrying with it",
                rejected.private_key_id,
                rejected.client_email,
                path,
                key.private_key_id,
            )
            self._key = key
            self._stamp = stamp
            return True

    def drop(self) -> None:
        """Forget the loaded key, so that the next fetch reads the file again.

        A key built from a mapping is kept, because there is nothing to read.
        """
        with self._lock:
            self._dropped = self._key.path is not None

    def _reload_keeping_old(self, path: str, stamp: FileStamp | None) -> None:
        old = self._key
        try:
            key = ServiceAccountKey.from_file(path)
        except KeyFileError as exc:
            # The stamp is not updated, so the next fetch tries again.
            logger.warning(
                "key file %s changed but cannot be used, so key %s is kept: %s",
                path,
                old.private_key_id,
                exc,
            )
            return
        if key.fingerprint == old.fingerprint:
            logger.debug("key file %s was touched, its content is unchanged", path)
            self._stamp = stamp
            return
        if key.client_email != old.client_email:
            # The stamp is updated, so the warning comes once per change of
            # the file, not once per fetch.
            _warn_other_account(old, key)
            self._stamp = stamp
            return
        self._replace(key, stamp)

    def _replace(self, key: ServiceAccountKey, stamp: FileStamp | None) -> None:
        old = self._key
        if key.fingerprint != old.fingerprint:
            # Key IDs and the account are not secret; the key itself is never
            # logged.
            logger.info(
                "key file %s changed: signing with key %s of %s instead of key %s",
                key.path,
                key.private_key_id,
                key.client_email,
                old.private_key_id,
            )
        self._key = key
        self._stamp = stamp


def _warn_other_account(old: ServiceAccountKey, new: ServiceAccountKey) -> None:
    logger.warning(
        "key file %s now contains a key of %s instead of %s, so it is not used "
        "and key %s is kept: restart the process, or call invalidate() on the "
        "credentials, to switch to the other service account deliberately",
        new.path,
        new.client_email,
        old.client_email,
        old.private_key_id,
    )
