"""Correct for a local clock that disagrees with the token endpoint's.

Google rejects an assertion whose ``iat`` lies in its future or whose ``exp``
lies in its past, so a machine whose clock is minutes off cannot get a token.
A token from a server ahead of a slow local clock also looks issued in the
future. Every response of the token endpoint carries a ``Date`` header
(RFC 9110 section 6.6.1), so the offset between the two clocks can be measured
there. :class:`CorrectedClock` keeps that offset and adds it to every later
reading of the wall clock: the ``iat`` and ``exp`` of assertions, the check of
a returned token, and the cache's expiry test.

The offset comes only from the token endpoint that posos-jwt chose, over TLS
that was verified. A server that could lie about its ``Date`` could also issue
any token it likes, so trusting its clock gives it nothing more.
"""

from __future__ import annotations

import logging
import threading
from typing import Final

from ._clock import Clock

logger = logging.getLogger(__name__)

MAX_OFFSET: Final = 24 * 3600.0
"""Largest offset adopted, in seconds. A clock a day off is broken beyond what
an offset should hide, and a ``Date`` that far away more likely comes from a
wrong server than from a wrong local clock."""

SKEW_TOLERANCE: Final = 10.0
"""Seconds by which the two clocks may differ before posos-jwt corrects its
own. A ``Date`` header has a resolution of one second and the response takes
time to arrive, so a smaller bound would act on noise. Google accepts an
assertion a few seconds off, so a smaller skew needs no correction."""


DATE_RESOLUTION: Final = 1.0
"""Seconds of resolution of an HTTP ``Date``: the server's clock was somewhere
in the second that it names, so the middle of that second is the estimate."""


class CorrectedClock:
    """A clock that adds the offset measured from the token endpoint's ``Date``.

    The monotonic reading is passed through unchanged, because an offset
    between wall clocks does not change intervals.

    Args:
        clock: The local clock to correct.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._offset = 0.0

    def __repr__(self) -> str:
        return f"CorrectedClock(offset={self._offset:+.0f})"

    @property
    def offset(self) -> float:
        """Seconds added to the local clock: the server's time minus ours."""
        return self._offset

    @property
    def local(self) -> Clock:
        """The uncorrected local clock."""
        return self._clock

    def time(self) -> float:
        """Return the local UTC time in epoch seconds plus the offset."""
        return self._clock.time() + self._offset

    def monotonic(self) -> float:
        """Return the local monotonic reading, uncorrected."""
        return self._clock.monotonic()

    def adopt(self, local_time: float, server_time: float | None, host: str) -> bool:
        """Adopt the server's clock if it disagrees with ours beyond the tolerance.

        Args:
            local_time: The uncorrected local clock when the response arrived.
            server_time: The response's ``Date``, or ``None`` when it had none.
            host: The token endpoint's host, for the log.

        Returns:
            Whether the offset changed, so that a rejected assertion is worth
            signing again.
        """
        if server_time is None:
            return False
        measured = server_time + DATE_RESOLUTION / 2 - local_time
        if abs(measured) > MAX_OFFSET:
            logger.warning(
                "token endpoint %s sent a Date header %.0f s away from this "
                "machine's clock, more than the %.0f s that posos-jwt corrects: "
                "the offset is not adopted; check this machine's clock and the "
                "token endpoint URL",
                host,
                measured,
                MAX_OFFSET,
            )
            return False
        with self._lock:
            if abs(measured - self._offset) <= SKEW_TOLERANCE:
                return False
            self._offset = measured
        direction = "behind" if measured > 0 else "ahead of"
        logger.warning(
            "this machine's clock is %.0f s %s the clock of token endpoint %s "
            "(measured offset %+.0f s from its Date header): posos-jwt now uses "
            "the server's time for assertions and token expiry; set this "
            "machine's clock from a time server (NTP)",
            abs(measured),
            direction,
            host,
            measured,
        )
        return True
