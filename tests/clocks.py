"""A clock for tests: real time shifted by a settable offset."""

from __future__ import annotations

import time


class ShiftedClock:
    """Real time plus ``offset`` seconds, on both readings.

    The stand-in checks assertions against real time, so tests move this
    clock instead of freezing it.
    """

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def time(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset
