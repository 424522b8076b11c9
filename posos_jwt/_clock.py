"""The clock that posos-jwt reads, replaceable in tests.

Two readings serve two purposes. JWT claims (``iat``, ``exp``) are UTC epoch
seconds, so they come from :func:`time.time`, which no time zone setting
changes. Cache bookkeeping (when to try a refresh again) uses
:func:`time.monotonic`, which never jumps when the wall clock is set.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """A source of wall-clock and monotonic time, in seconds."""

    def time(self) -> float:
        """Return the current UTC time as seconds since the epoch."""
        ...

    def monotonic(self) -> float:
        """Return a monotonic reading, for measuring intervals only."""
        ...


class SystemClock:
    """The real clock of the machine."""

    def time(self) -> float:
        """Return :func:`time.time`."""
        return time.time()

    def monotonic(self) -> float:
        """Return :func:`time.monotonic`."""
        return time.monotonic()


SYSTEM_CLOCK = SystemClock()
