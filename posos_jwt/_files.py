"""Read a small file that a user named, without hanging on a wrong path.

Key files and configuration files are named by users, so the path may point
at a FIFO, a device or a directory. Each is detected before any read:
``open()`` on a FIFO with no writer would wait forever, and a device such as
``/dev/zero`` never ends.
"""

from __future__ import annotations

import errno
import os
import stat


class NotRegularFileError(OSError):
    """The path names a device, a FIFO or a socket, not a regular file."""


def read_regular_file(path: str, limit: int) -> tuple[bytes, os.stat_result]:
    """Read at most ``limit + 1`` bytes of the regular file at ``path``.

    Reading one byte past ``limit`` lets the caller tell a file of exactly
    ``limit`` bytes from a larger one.

    Returns:
        The bytes read and the file's status, taken from the open descriptor.

    Raises:
        IsADirectoryError: The path names a directory.
        NotRegularFileError: The path names a device, a FIFO or a socket.
        OSError: The file cannot be opened or read.
    """
    # O_NONBLOCK keeps open() from waiting forever on a FIFO with no writer.
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        os.close(descriptor)
        if stat.S_ISDIR(status.st_mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", path)
        raise NotRegularFileError(f"{path} is not a regular file")
    with os.fdopen(descriptor, "rb") as file:
        return file.read(limit + 1), status
