"""Credentials that get, check and cache a Google-signed ID token.

:class:`IDTokenCredentials` ties the steps together: sign an assertion with
the service-account key, exchange it at the token endpoint, check the ID token
that comes back, and keep it until it is about to expire.
"""

from __future__ import annotations

import abc
import logging
import math
import os
import threading
from collections.abc import Mapping
from typing import Any, Final, NoReturn, Self, SupportsIndex

from ._arguments import (
    optional_instance,
    optional_text,
    reject_copy,
    require_clock,
    require_instance,
    require_mapping,
    require_path,
    require_text,
)
from ._assertion import check_client_id
from ._clock import SYSTEM_CLOCK, Clock
from ._defaults import DEFAULT_TIMEOUT
from ._errors import PososJWTError, TokenEndpointError
from ._idtoken import IDToken, check_id_token, format_utc
from ._keyfile import ServiceAccountKey
from ._keysource import KeySource
from ._retry import RetryPolicy
from ._skew import CorrectedClock
from ._token_request import request_token
from ._token_uri import resolve_token_uri
from ._transport import Transport

logger = logging.getLogger(__name__)

REFRESH_MARGIN: Final = 300
"""Seconds before expiry at which a cached token is replaced. IAP checks
``exp`` against its own clock when the request arrives, so the margin covers
clock differences, a slow upload and a retried request. google-auth uses 225 s
(3 min 45 s). Five minutes leaves more room for a large upload through a slow
proxy, and costs about one more token request a day with one-hour tokens."""

MIN_REFRESH_INTERVAL: Final = 30.0
"""Seconds, on the monotonic clock, between two tries at an early refresh while
the cached token is still valid. It bounds the requests of a token endpoint
whose tokens live shorter than :data:`REFRESH_MARGIN` to about two a minute,
and spaces out the tries while the endpoint is failing."""

MIN_TOKEN_VALIDITY: Final = 10
"""Seconds before ``exp`` from which a cached token is no longer returned, even
when a refresh fails: a request sent with it must still reach IAP in time. A
token fetched less than :data:`MIN_REFRESH_INTERVAL` ago is the exception."""


_REBUILD_IN_OTHER_PROCESS: Final = (
    "pickle the key file path and the target audience instead, and build new "
    "credentials from them in the other process"
)
_SHARE_INSTEAD: Final = (
    "share this object instead, because its methods are thread-safe, or build "
    "new credentials for another audience"
)


class _Flight:
    """One fetch of a token, and its outcome for every caller that waits on it.

    The fetching thread sets ``token`` or ``error`` before it sets ``done``.
    When the fetch is interrupted by a ``BaseException`` that is not an
    ``Exception`` (``KeyboardInterrupt``), both stay ``None`` and the waiters
    start a fetch of their own.
    """

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.done = threading.Event()
        self.token: IDToken | None = None
        self.error: Exception | None = None


class Credentials(abc.ABC):
    """Cached ID tokens for one audience, whatever their source.

    A subclass fetches a new token in :meth:`_fetch_id_token`, and this class
    decides when to call it:

    - A cached token is returned until it expires within
      :data:`REFRESH_MARGIN`. The token and its expiry are one immutable
      :class:`IDToken`, so no caller sees one without the other.
    - Single flight: at most one fetch runs at a time. Callers that need a
      token while it runs wait for it and get its token, or raise its
      exception. A failure is not remembered, so the next call fetches again.
    - An early refresh (the cached token expires within the margin but is
      still valid for :data:`MIN_TOKEN_VALIDITY`) is tried at most once per
      :data:`MIN_REFRESH_INTERVAL`. If it fails, a warning is logged and the
      cached token is returned; other callers get the cached token without
      waiting while it runs.
    - A token fetched less than :data:`MIN_REFRESH_INTERVAL` ago is returned
      until it expires, even within :data:`MIN_TOKEN_VALIDITY`. So a token
      endpoint whose tokens live less than that (a stand-in, a
      misconfigured proxy) costs one request per token lifetime, not one per
      call. A request sent with such a token may reach IAP after it expired,
      and then :class:`AuthorizedHTTP` and :class:`IAPAuth` retry once with a
      new token.

    Expiry is compared with ``clock.time()`` (UTC epoch seconds, like ``exp``),
    and the interval between tries with ``clock.monotonic()``, which does not
    jump when the system clock is set.

    Credentials cannot be pickled, copied or deep-copied, because the copy
    would contain the key or the token and share or lose the lock. Share one
    object between threads instead: every method is thread-safe.

    Args:
        target_audience: The OAuth client ID of the IAP resource.
        clock: The clock to read, replaceable in tests.

    Raises:
        ConfigurationError: ``target_audience`` is not a string, or is empty.
    """

    def __init__(self, target_audience: str, *, clock: Clock = SYSTEM_CLOCK) -> None:
        require_text(target_audience, "target_audience", "pass the OAuth client ID")
        self._target_audience = check_client_id(target_audience)
        self._clock = require_clock(clock)
        # The lock guards the four fields below it. Reading ``_token`` alone
        # needs no lock, because it is replaced by one assignment.
        self._lock = threading.Lock()
        self._token: IDToken | None = None
        self._flight: _Flight | None = None
        self._generation = 0
        self._next_early_refresh = -math.inf
        # When the cached token was fetched, on the monotonic clock.
        self._fetched_at = -math.inf

    @property
    def target_audience(self) -> str:
        """The OAuth client ID that the tokens are for."""
        return self._target_audience

    @property
    def id_token(self) -> IDToken | None:
        """The cached token, or ``None`` before the first refresh."""
        return self._token

    @property
    def transport(self) -> Transport | None:
        """The connection pool that the credentials fetch tokens through, for an
        HTTP client to share, or ``None`` if they use none."""
        return None

    def get_token(self) -> str:
        """Return a valid ID token, fetching a new one when needed.

        Raises:
            PososJWTError: The token could not be fetched. Each subclass lists
                its errors.
        """
        return self.get_id_token().value

    def get_token_for_url(self, url: str) -> str:
        """Return a valid ID token for a request to ``url``.

        Credentials with one audience return :meth:`get_token` whatever the
        URL; credentials whose audience depends on the URL override this.

        Raises:
            ConfigurationError: ``url`` is not a string.
            PososJWTError: The token could not be fetched.
        """
        require_text(url, "url")
        return self.get_token()

    def get_id_token(self) -> IDToken:
        """Return a valid :class:`IDToken`, fetching a new one when needed.

        Raises:
            PososJWTError: The token could not be fetched and no cached token
                is still valid.
        """
        token = self._token
        if token is not None and self._remaining(token) > REFRESH_MARGIN:
            return token
        while True:
            with self._lock:
                token = self._token
                remaining = -math.inf if token is None else self._remaining(token)
                if token is not None and remaining > REFRESH_MARGIN:
                    return token
                if token is not None and remaining > 0 and self._is_recent():
                    return token
                usable = token if remaining > MIN_TOKEN_VALIDITY else None
                if usable is not None and (
                    self._flight is not None
                    or self._clock.monotonic() < self._next_early_refresh
                ):
                    return usable
                flight, leader = self._join_or_start_flight()
            if leader:
                self._fly(flight)
            result = self._outcome(flight, fallback=usable, leader=leader)
            if result is not None:
                return result

    def refresh(self) -> IDToken:
        """Fetch a new ID token now, whatever the cache holds.

        A fetch that another thread has started is joined instead of starting
        a second one.

        Raises:
            PososJWTError: The token could not be fetched.
        """
        while True:
            with self._lock:
                flight, leader = self._join_or_start_flight()
            if leader:
                self._fly(flight)
            result = self._outcome(flight, fallback=None, leader=leader)
            if result is not None:
                return result

    def prime(self, token: IDToken) -> None:
        """Cache ``token``, obtained elsewhere, if no token is cached yet.

        The command line uses this for a token read back from its on-disk
        cache, already checked there. A token that is not for this audience,
        or that expires within :data:`REFRESH_MARGIN`, is ignored.

        Raises:
            ConfigurationError: ``token`` is not an :class:`IDToken`.
        """
        require_instance(token, IDToken, "token")
        if token.audience != self._target_audience:
            return
        if self._remaining(token) <= REFRESH_MARGIN:
            return
        with self._lock:
            if self._token is None and self._flight is None:
                self._token = token

    def drop_token(self, token: str | None = None) -> None:
        """Drop the cached token, so that the next call fetches a new one.

        Args:
            token: The token that a server rejected. When given, the cache is
                dropped only if it still contains this token, so that many
                threads that saw the same rejection cause one new fetch.

        Raises:
            ConfigurationError: ``token`` is neither a string nor ``None``.
        """
        optional_text(token, "token")
        with self._lock:
            cached = self._token
            if token is not None and (cached is None or cached.value != token):
                return
            self._token = None
            # A fetch in progress may carry the dropped token's state: its
            # waiters still get its outcome, but it is not cached.
            self._flight = None
            self._generation += 1
            self._next_early_refresh = -math.inf
            self._fetched_at = -math.inf

    def invalidate(self) -> None:
        """Drop the cached token and what was loaded to make one, such as a key.

        Call it when the key was rotated by a means that the credentials
        cannot see, or to accept a key file that now contains another service
        account's key. The next call loads again and fetches a new token.
        """
        self.drop_token()
        self._drop_source()

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        raise reject_copy(self, "pickled", _REBUILD_IN_OTHER_PROCESS)

    def __copy__(self) -> NoReturn:
        raise reject_copy(self, "copied", _SHARE_INSTEAD)

    def __deepcopy__(self, memo: dict[int, object]) -> NoReturn:
        raise reject_copy(self, "deep-copied", _SHARE_INSTEAD)

    def _shallow_copy(self) -> Self:
        """Return a new object that shares every attribute of this one.

        The caller must give the copy its own lock and cache at once, as
        :meth:`IDTokenCredentials.with_target_audience` does.
        """
        other = object.__new__(type(self))
        other.__dict__.update(self.__dict__)
        return other

    def _drop_source(self) -> None:  # noqa: B027 (an optional hook, not abstract)
        """Forget what the subclass loaded to fetch tokens. Nothing by default."""

    def _remaining(self, token: IDToken) -> float:
        return token.expiry - self._clock.time()

    def _is_recent(self) -> bool:
        """Tell whether the cached token was fetched less than
        :data:`MIN_REFRESH_INTERVAL` ago; called with the lock held."""
        return self._clock.monotonic() < self._fetched_at + MIN_REFRESH_INTERVAL

    def _join_or_start_flight(self) -> tuple[_Flight, bool]:
        """Return the fetch in progress, or a new one; called with the lock held.

        The boolean is true when the caller started the fetch and must run it.
        """
        if self._flight is not None:
            return self._flight, False
        self._flight = _Flight(self._generation)
        return self._flight, True

    def _fly(self, flight: _Flight) -> None:
        try:
            flight.token = self._fetch_id_token()
        except Exception as exc:
            flight.error = exc
        finally:
            self._land(flight)

    def _land(self, flight: _Flight) -> None:
        with self._lock:
            if self._flight is flight:
                self._flight = None
            self._next_early_refresh = self._clock.monotonic() + MIN_REFRESH_INTERVAL
            token = flight.token
            if token is not None and flight.generation == self._generation:
                self._token = token
                self._fetched_at = self._clock.monotonic()
                logger.debug(
                    "ID token for audience %s expires at %s",
                    self._target_audience,
                    format_utc(token.expiry),
                )
        flight.done.set()

    def _outcome(
        self, flight: _Flight, *, fallback: IDToken | None, leader: bool
    ) -> IDToken | None:
        """Wait for ``flight``, and return its token or raise its error.

        Returns:
            ``None`` when the fetch was interrupted, so that the caller tries
            again.
        """
        flight.done.wait()
        if flight.token is not None:
            return flight.token
        error = flight.error
        if error is None:
            return None
        if fallback is not None and isinstance(error, PososJWTError):
            if leader:
                logger.warning(
                    "early refresh of the ID token for audience %s failed, so the "
                    "cached token is used until it expires at %s: %s",
                    self._target_audience,
                    format_utc(fallback.expiry),
                    error,
                )
            return fallback
        # Every waiter raises the same exception object, as
        # concurrent.futures.Future.result() does.
        raise error

    @abc.abstractmethod
    def _fetch_id_token(self) -> IDToken:
        """Fetch and check a new token.

        At most one call runs at a time, except after :meth:`drop_token` while
        a fetch is in progress.
        """


class IDTokenCredentials(Credentials):
    """ID tokens for one audience, from one service-account key.

    The key signs an assertion that Google's token endpoint exchanges for an
    ID token. Caching and refreshing are those of :class:`Credentials`.

    A key read from a file follows the file: when its content changes, the
    next fetch signs with the new key, without a restart. When the token
    endpoint rejects a key with ``invalid_grant``, the file is read once more
    and the fetch is retried if it contains another key. ``_keysource.py`` describes
    how a change is noticed. A new key of another service account is not
    used: the old key is kept and a warning names both accounts, until
    :meth:`invalidate` or a restart switches accounts deliberately. The
    token endpoint stays the one resolved at construction: a rotated key's
    ``token_uri`` and ``universe_domain`` are not read.

    Args:
        key: The service-account key that signs the assertions.
        target_audience: The OAuth client ID of the IAP resource.
        token_uri: The token endpoint, overriding the key file's.
        ca_bundle: A PEM file of CA certificates to trust instead of the
            system's.
        timeout: Seconds allowed to connect, and again for each read.
        proxy: An ``http://[user:password@]host:port`` proxy instead of
            ``HTTPS_PROXY``; ``""`` means no proxy.
        trust_env: Whether to read ``HTTPS_PROXY`` and ``NO_PROXY``.
        transport: A transport to share with other credentials; when given,
            ``ca_bundle``, ``timeout``, ``proxy`` and ``trust_env`` must not be.
        retry: How often and how long to retry a token request that failed
            for a reason that may pass; ``RetryPolicy(max_attempts=1)`` sends
            one request only.
        clock: The clock to read, replaceable in tests. When the token
            endpoint's ``Date`` shows it off by more than ``SKEW_TOLERANCE``,
            the measured offset is added to it from then on.

    Raises:
        ConfigurationError: An argument is invalid.
    """

    def __init__(
        self,
        key: ServiceAccountKey,
        target_audience: str,
        *,
        token_uri: str | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        proxy: str | None = None,
        trust_env: bool = True,
        transport: Transport | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        require_instance(
            key,
            ServiceAccountKey,
            "key",
            "build it with ServiceAccountKey.from_file(), or call "
            "IDTokenCredentials.from_service_account_file()",
        )
        token_uri = optional_text(token_uri, "token_uri", "pass an https:// URL")
        transport = optional_instance(transport, Transport, "transport")
        retry = optional_instance(retry, RetryPolicy, "retry")
        self._corrected_clock = CorrectedClock(require_clock(clock))
        super().__init__(target_audience, clock=self._corrected_clock)
        self._key_source = KeySource(key)
        # The key that the fetch in progress signs with.
        self._key = key
        self._token_uri = resolve_token_uri(
            key.token_uri,
            universe_domain=key.universe_domain,
            override=token_uri,
            key_path=key.path,
        )
        self._transport = transport or Transport(
            ca_bundle=ca_bundle, timeout=timeout, proxy=proxy, trust_env=trust_env
        )
        self._retry = retry or RetryPolicy()

    @classmethod
    def from_service_account_file(
        cls, path: str | os.PathLike[str], *, target_audience: str, **options: Any
    ) -> IDTokenCredentials:
        """Build credentials from a key file.

        Args:
            path: The service-account key file.
            target_audience: The OAuth client ID of the IAP resource.
            **options: ``token_uri``, ``ca_bundle``, ``timeout``, ``proxy``,
                ``trust_env``, ``transport``, ``retry`` or ``clock``, as for
                the constructor.

        Raises:
            KeyFileError: The key file cannot be used.
            ConfigurationError: An option is invalid.
        """
        require_path(path, "path")
        require_text(target_audience, "target_audience", "pass the OAuth client ID")
        key = ServiceAccountKey.from_file(path)
        return cls(key, target_audience, **options)

    @classmethod
    def from_service_account_info(
        cls, info: Mapping[str, object], *, target_audience: str, **options: Any
    ) -> IDTokenCredentials:
        """Build credentials from an already-parsed key file.

        Raises:
            KeyFileError: The mapping is not a usable key.
            ConfigurationError: An option is invalid.
        """
        require_mapping(info, "info", "pass the key file's JSON object as a dict")
        require_text(target_audience, "target_audience", "pass the OAuth client ID")
        key = ServiceAccountKey.from_info(info)
        return cls(key, target_audience, **options)

    def with_target_audience(self, target_audience: str) -> IDTokenCredentials:
        """Return credentials for another audience that share this key.

        The new credentials share the key (and its rotation), the token
        endpoint and the transport, and have a cache of their own. Use them
        for another IAP resource of the same service, such as a FHIR or CDS
        Hooks endpoint with its own OAuth client ID.

        Raises:
            ConfigurationError: ``target_audience`` is not a string, or is empty.
        """
        require_text(target_audience, "target_audience", "pass the OAuth client ID")
        other = self._shallow_copy()
        # The copy shares every attribute of this object; the base class's
        # initialiser then gives it its own audience, lock and empty cache.
        Credentials.__init__(other, target_audience, clock=self._clock)
        return other

    def __repr__(self) -> str:
        return (
            f"IDTokenCredentials(client_email={self.key.client_email!r}, "
            f"target_audience={self._target_audience!r}, "
            f"token_uri={self._token_uri!r})"
        )

    @property
    def key(self) -> ServiceAccountKey:
        """The service-account key that signs the assertions: the key that the
        last fetch found in the file, for a key read from a file."""
        return self._key_source.key

    @property
    def service_account_email(self) -> str:
        """The service account's email."""
        return self.key.client_email

    @property
    def token_uri(self) -> str:
        """The token endpoint that receives the assertions."""
        return self._token_uri

    @property
    def transport(self) -> Transport:
        """The connection pool that the credentials send requests through."""
        return self._transport

    @property
    def clock_offset(self) -> float:
        """Seconds added to the local clock, measured from the token endpoint's
        ``Date``; 0 until a skew beyond ``SKEW_TOLERANCE`` is seen."""
        return self._corrected_clock.offset

    def _drop_source(self) -> None:
        self._key_source.drop()

    def _fetch_id_token(self) -> IDToken:
        # NOTE: the token endpoint stays the one resolved from the first key;
        # the token_uri and universe_domain of a rotated key are not read.
        key = self._key = self._key_source.current()
        try:
            return self._fetch_with_key()
        except TokenEndpointError as exc:
            if exc.error != "invalid_grant":
                raise
            if not self._key_source.reload_after_rejection(key):
                raise
        self._key = self._key_source.key
        return self._fetch_with_key()

    def _fetch_with_key(self) -> IDToken:
        logger.debug(
            "fetching an ID token for %s, audience %s, from %s",
            self._key.client_email,
            self._target_audience,
            self._token_uri,
        )
        response = request_token(
            self._key,
            self._target_audience,
            token_uri=self._token_uri,
            transport=self._transport,
            clock=self._corrected_clock,
            retry=self._retry,
        )
        return check_id_token(
            response.id_token,
            audience=self._target_audience,
            email=self._key.client_email,
            now=self._corrected_clock.time(),
        )
