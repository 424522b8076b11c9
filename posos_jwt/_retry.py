"""Retry a token request that failed for a reason that may pass.

The token request is safe to repeat: each attempt signs a new assertion, and
Google issues a new ID token for each one, so a retry never reuses a credential
and never changes state on the server. Only errors with ``retryable`` set are
retried (connection failures, timeouts, HTTP 408, 429 and 5xx, and Google's
``internal_failure``, ``server_error`` and ``temporarily_unavailable``). A
rejected key, account or audience and a TLS certificate failure are raised at
once, because only a change of configuration can fix them.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, TypeVar

from ._arguments import require_callable
from ._deadline import deadline
from ._defaults import DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_DEADLINE
from ._errors import ConfigurationError, TokenEndpointError, TransportError

logger = logging.getLogger(__name__)

T = TypeVar("T")

INITIAL_BACKOFF: Final = 1.0
"""Seconds of the first wait between attempts, before jitter; each wait
doubles."""

MAX_BACKOFF: Final = 10.0
"""Maximum wait between attempts from the doubling, before jitter."""

MAX_RETRY_AFTER: Final = 30.0
"""Maximum wait that a ``Retry-After`` header can impose, in seconds, so that a
server cannot park the client for hours."""


MIN_ATTEMPT_TIME: Final = 1.0
"""Seconds that must be left before the deadline for a retry to start: less
would fail on its timeout before a slow but working server could respond."""


def _random_fraction() -> float:
    return random.random()  # noqa: S311 - jitter spreads load, it guards no secret


@dataclass(frozen=True)
class RetryPolicy:
    """Limits and waits for retrying a token request that may succeed later.

    The wait before retry ``n`` (1 for the first retry) is
    ``min(MAX_BACKOFF, INITIAL_BACKOFF * 2 ** (n - 1))``, scaled by a random
    factor between 0.5 and 1 so that many clients do not retry in step. A
    ``Retry-After`` header, capped at ``max_retry_after``, replaces a shorter
    wait. Attempts run within ``deadline`` seconds of the first request: each
    one's timeout is cut to the time left, and no retry starts when less than
    ``MIN_ATTEMPT_TIME`` would be left after its wait. The time left also
    bounds every socket read of an attempt, so a server that sends one byte at
    a time cannot hold it past the deadline.

    Attributes:
        max_attempts: Requests sent at most, the first included; 1 turns
            retries off.
        deadline: Seconds from the first request within which attempts run.
        initial_backoff: Seconds of the first wait, before jitter.
        max_backoff: Maximum wait from the doubling, before jitter.
        max_retry_after: Maximum wait that ``Retry-After`` can impose.
        sleep: The function that waits, replaceable so that tests run at once.
        jitter: Returns a number in [0, 1) for the random factor.
        monotonic: The clock that measures the deadline.

    Raises:
        ConfigurationError: ``max_attempts`` is not a positive integer, or a
            number of seconds is negative or not finite.
    """

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    deadline: float = DEFAULT_RETRY_DEADLINE
    initial_backoff: float = INITIAL_BACKOFF
    max_backoff: float = MAX_BACKOFF
    max_retry_after: float = MAX_RETRY_AFTER
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    jitter: Callable[[], float] = field(default=_random_fraction, repr=False)
    monotonic: Callable[[], float] = field(default=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        attempts = self.max_attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ConfigurationError(
                f"max_attempts must be an integer of 1 or more, not {attempts!r}"
            )
        for name in ("deadline", "initial_backoff", "max_backoff", "max_retry_after"):
            value = getattr(self, name)
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not number or not math.isfinite(value) or value < 0:
                raise ConfigurationError(
                    f"{name} must be a number of seconds of 0 or more, not {value!r}"
                )
        if self.deadline == 0:
            raise ConfigurationError("deadline must be more than 0 seconds")
        for name in ("sleep", "jitter", "monotonic"):
            require_callable(getattr(self, name), name)

    def backoff(self, retry: int, retry_after: float | None) -> float:
        """Return the seconds to wait before retry number ``retry`` (from 1)."""
        doubled = self.initial_backoff * 2.0 ** min(retry - 1, 30)
        wait: float = min(self.max_backoff, doubled) * (0.5 + self.jitter() / 2)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait


def call_with_retries(attempt: Callable[[float], T], policy: RetryPolicy) -> T:
    """Call ``attempt`` until it returns, or raise its last error.

    Args:
        attempt: Sends one request within the seconds it is given, the time
            left before the deadline. It must raise a ``TokenEndpointError``
            or a ``TransportError`` whose ``retryable`` states whether to try
            again.
        policy: The limits on attempts, waits and total time.

    Returns:
        What ``attempt`` returned.

    Raises:
        TokenEndpointError: The last attempt's error, with ``attempts`` set.
        TransportError: The last attempt's error, with ``attempts`` set.
    """
    started = policy.monotonic()
    number = 1
    while True:
        try:
            time_left = policy.deadline - (policy.monotonic() - started)
            # A sleep that overran must not leave a timeout of 0 or less. The
            # socket deadline also stops a server that keeps sending slowly.
            seconds = max(time_left, MIN_ATTEMPT_TIME)
            with deadline(seconds):
                return attempt(seconds)
        except (TokenEndpointError, TransportError) as exc:
            wait = _wait_before_retry(exc, number, policy, started)
            if wait is None:
                raise
            logger.warning(
                "token request %d of %d failed (%s); retrying in %.1f s",
                number,
                policy.max_attempts,
                _short_cause(exc),
                wait,
            )
            policy.sleep(wait)
            number += 1


def _wait_before_retry(
    exc: TokenEndpointError | TransportError,
    number: int,
    policy: RetryPolicy,
    started: float,
) -> float | None:
    """Return the wait before the next attempt, or mark ``exc`` final and
    return ``None``."""
    exc.attempts = number
    if not exc.retryable:
        _append(exc, f"not retried: {_attempts(number)}, and this error is final")
        return None
    if number >= policy.max_attempts:
        _append(
            exc,
            f"retryable, but gave up after {_attempts(number)} (RetryPolicy("
            f"max_attempts={policy.max_attempts}), --max-attempts)",
        )
        return None
    retry_after = exc.retry_after if isinstance(exc, TokenEndpointError) else None
    wait = policy.backoff(number, retry_after)
    elapsed = policy.monotonic() - started
    if elapsed + wait + MIN_ATTEMPT_TIME > policy.deadline:
        _append(
            exc,
            f"retryable, but gave up after {_attempts(number)} in {elapsed:.1f} s, "
            f"because after the next wait of {wait:.1f} s less than "
            f"{MIN_ATTEMPT_TIME:g} s would be left before the retry deadline of "
            f"{policy.deadline:g} s (RetryPolicy(deadline=), --retry-deadline)",
        )
        return None
    return wait


def _attempts(number: int) -> str:
    # One attempt sends two requests when it corrects the clock: see
    # _token_request.request_token.
    return "1 attempt" if number == 1 else f"{number} attempts"


def _append(exc: Exception, note: str) -> None:
    # The message is rebuilt rather than given a PEP 678 note, because the
    # command prints str(exc) alone and the note would be lost there.
    exc.args = (f"{exc.args[0]} [{note}]", *exc.args[1:])


def _short_cause(exc: TokenEndpointError | TransportError) -> str:
    if isinstance(exc, TokenEndpointError):
        return f"HTTP {exc.status}" + (f" {exc.error}" if exc.error else "")
    return f"{type(exc).__name__} from {exc.host}"
