"""Credentials that get, check and cache a Google-signed ID token.

:class:`IDTokenCredentials` ties the steps together: sign an assertion with
the service-account key, exchange it at the token endpoint, check the ID token
that comes back, and keep it until it is about to expire.
"""

from __future__ import annotations

import abc
import logging
import os
import threading
from collections.abc import Mapping
from typing import Any, Final

from ._assertion import check_client_id
from ._clock import SYSTEM_CLOCK, Clock
from ._idtoken import IDToken, check_id_token, format_utc
from ._keyfile import ServiceAccountKey
from ._retry import RetryPolicy
from ._skew import CorrectedClock
from ._token_request import request_token
from ._token_uri import resolve_token_uri
from ._transport import DEFAULT_TIMEOUT, Transport

logger = logging.getLogger(__name__)

REFRESH_MARGIN: Final = 300
"""Seconds before expiry at which a cached token is replaced. IAP checks
``exp`` against its own clock when the request arrives, so the margin covers
clock differences, a slow upload and a retried request. Five minutes is about
8 % of a one-hour token."""


class Credentials(abc.ABC):
    """Cached ID tokens for one audience, whatever their source.

    A subclass fetches a new token in :meth:`_fetch_id_token`, and this class
    decides when to call it. The token is fetched on first use and kept
    until it expires within :data:`REFRESH_MARGIN`. The methods are safe to
    call from many threads: one fetch runs at a time, and callers that wait
    for it get its result.

    Args:
        target_audience: The OAuth client ID of the IAP resource.
        clock: The clock to read, replaceable in tests.

    Raises:
        ConfigurationError: ``target_audience`` is empty.
    """

    def __init__(self, target_audience: str, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._target_audience = check_client_id(target_audience)
        self._clock = clock
        self._lock = threading.Lock()
        self._token: IDToken | None = None

    @property
    def target_audience(self) -> str:
        """The OAuth client ID that the tokens are for."""
        return self._target_audience

    @property
    def id_token(self) -> IDToken | None:
        """The cached token, or ``None`` before the first refresh."""
        return self._token

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
            PososJWTError: The token could not be fetched.
        """
        del url
        return self.get_token()

    def get_id_token(self) -> IDToken:
        """Return a valid :class:`IDToken`, fetching a new one when needed.

        Raises:
            PososJWTError: The token could not be fetched.
        """
        token = self._token
        if token is not None and self._is_fresh(token):
            return token
        with self._lock:
            # Another thread may have refreshed while this one waited.
            token = self._token
            if token is not None and self._is_fresh(token):
                return token
            return self._refresh_locked()

    def refresh(self) -> IDToken:
        """Fetch a new ID token now, whatever the cache holds.

        Raises:
            PososJWTError: The token could not be fetched.
        """
        with self._lock:
            return self._refresh_locked()

    def invalidate(self) -> None:
        """Drop the cached token, so that the next call fetches a new one."""
        with self._lock:
            self._token = None

    def _is_fresh(self, token: IDToken) -> bool:
        return token.expiry - REFRESH_MARGIN > self._clock.time()

    def _refresh_locked(self) -> IDToken:
        token = self._fetch_id_token()
        self._token = token
        logger.debug(
            "ID token for audience %s expires at %s",
            self._target_audience,
            format_utc(token.expiry),
        )
        return token

    @abc.abstractmethod
    def _fetch_id_token(self) -> IDToken:
        """Fetch and check a new token. Called with the lock held."""


class IDTokenCredentials(Credentials):
    """ID tokens for one audience, from one service-account key.

    The key signs an assertion that Google's token endpoint exchanges for an
    ID token. Caching and refreshing are those of :class:`Credentials`.

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
        self._corrected_clock = CorrectedClock(clock)
        super().__init__(target_audience, clock=self._corrected_clock)
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
        key = ServiceAccountKey.from_info(info)
        return cls(key, target_audience, **options)

    def __repr__(self) -> str:
        return (
            f"IDTokenCredentials(client_email={self._key.client_email!r}, "
            f"target_audience={self._target_audience!r}, "
            f"token_uri={self._token_uri!r})"
        )

    @property
    def key(self) -> ServiceAccountKey:
        """The service-account key that signs the assertions."""
        return self._key

    @property
    def service_account_email(self) -> str:
        """The service account's email."""
        return self._key.client_email

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

    def _fetch_id_token(self) -> IDToken:
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
