"""Fetch and cache the public keys that Google publishes for its signed tokens.

Google publishes each set of signing keys at a URL, in one of two formats:

- a JWK set (RFC 7517, section 5), ``{"keys": [{"kid": ..., "kty": ...}]}``, at
  ``https://www.googleapis.com/oauth2/v3/certs`` for ID tokens and at
  ``https://www.gstatic.com/iap/verify/public_key-jwk`` for IAP's signed header;
- a map from key ID to a PEM X.509 certificate, at
  ``https://www.googleapis.com/oauth2/v1/certs``.

:class:`KeySet` detects the format from the document itself. It keeps the keys
for the ``max-age`` of the response's ``Cache-Control``, within a floor and a
ceiling, and fetches them again early when a token names a key ID that the set
lacks, at most once per :data:`UNKNOWN_KEY_REFETCH_INTERVAL`.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, TypeAlias
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ._arguments import optional_instance, optional_path, require_clock, require_text
from ._base64url import decode_base64url
from ._clock import SYSTEM_CLOCK, Clock
from ._defaults import DEFAULT_TIMEOUT
from ._errors import (
    ConfigurationError,
    KeySetError,
    KeySetUnavailableError,
    TransportError,
    UnknownKeyError,
    excerpt,
)
from ._exchange import redact
from ._token_uri import safe_url
from ._transport import Response, Transport, check_timeout

logger = logging.getLogger(__name__)

PublicKey: TypeAlias = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

MIN_KEYS_CACHE_TIME: Final = 60.0
"""Minimum seconds that a fetched key set is kept, even when the response has
``no-cache``, ``max-age=0`` or no ``Cache-Control``. Each key set then sends at
most one request a minute for expiry, whatever the server sends."""

MAX_KEYS_CACHE_TIME: Final = 24 * 3600.0
"""Maximum seconds that a fetched key set is kept, whatever its ``max-age``. It
bounds how long a key that Google has withdrawn stays trusted."""

UNKNOWN_KEY_REFETCH_INTERVAL: Final = 30.0
"""Minimum seconds between two fetches of one key set. A token with a key ID
that the cached set lacks triggers a fetch only after this interval, so tokens
with forged key IDs cost Google at most one request per interval. A failed
fetch is followed by the next one only after this interval too, so a keys URL
that keeps failing gets at most one request per interval."""

MAX_DELTA_SECONDS_DIGITS: Final = 10
"""Maximum digits read from ``max-age`` or ``Age``. Ten digits cover any lifetime
up to 300 years, and a longer value is treated as invalid."""

_DELTA_SECONDS: Final = re.compile(rf"[0-9]{{1,{MAX_DELTA_SECONDS_DIGITS}}}")
"""Delta-seconds of RFC 9111, section 1.2.2, in ASCII digits only: ``str.isdigit``
and ``int`` would also accept other Unicode digits."""

_URL_CHARACTERS: Final = re.compile(r"[!-~]+")
"""Printable ASCII without the space, the only characters that a keys URL may
contain: a control character or a space could split the request line."""


@dataclass(frozen=True)
class PublishedKey:
    """One public key of a key set.

    Attributes:
        key_id: The key ID that tokens name in their ``kid`` header.
        public_key: The RSA or EC public key.
        algorithm: The JWK's ``alg`` member, or ``None`` when the JWK has none
            or the key came from a certificate.
    """

    key_id: str
    public_key: PublicKey
    algorithm: str | None


def check_keys_url(url: object) -> str:
    """Return ``url`` if it is a valid https URL with a host and no credentials.

    Plain http is rejected even on loopback, because an attacker who can change
    the keys in transit can sign tokens that verify. A ``user:password@`` part
    is rejected too: published keys are public, so credentials in their URL
    can only be a mistake, and rejecting them keeps them out of every message,
    log line and ``repr`` that shows the URL.

    Raises:
        ConfigurationError: ``url`` is not such a URL.
    """
    if not isinstance(url, str):
        raise ConfigurationError(f"keys URL must be a string, not {type(url).__name__}")
    fix = "give the https URL of a JWK set or of a map of key IDs to certificates"
    shown = _show_url(url)
    if not _URL_CHARACTERS.fullmatch(url):
        raise ConfigurationError(
            f"keys URL {shown} is empty or contains a space, a control character "
            f"or a non-ASCII character: {fix}, percent-encoded where needed"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        # urlsplit's own message can quote the user name and password.
        raise ConfigurationError(
            f"keys URL {shown} is not a valid URL: check the brackets around an "
            f"IPv6 host and the port (1 to 65535), and {fix}"
        ) from None
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigurationError(f"keys URL {shown} is not an https URL: {fix}")
    if port == 0:
        raise ConfigurationError(
            f"keys URL {shown} has port 0, which no server listens on: {fix}"
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(
            f"keys URL {shown} contains a user name or password, which a URL of "
            f"public keys never needs: remove the part up to '@' and {fix}"
        )
    return url


def _check_connection_options(
    transport: object, ca_bundle: object, timeout: object
) -> None:
    """Check the types of the options, before they are hashed or compared.

    Raises:
        ConfigurationError: An option has the wrong type, or the timeout is
            out of range.
    """
    optional_instance(transport, Transport, "transport")
    optional_path(ca_bundle, "ca_bundle")
    check_timeout(timeout)


def _show_url(url: str) -> str:
    """Quote ``url`` for a message, without its ``user:password@``."""
    try:
        urlsplit(url)
    except ValueError:
        # safe_url quotes and shortens a URL that it cannot parse.
        return safe_url(url)
    return excerpt(repr(safe_url(url)), 100)


class KeySet:
    """The public keys published at one URL, fetched on first use and cached.

    One key set serves any number of verifications and threads. Only one fetch
    runs at a time. Threads that need the new keys wait for it, and threads
    whose key is cached do not. When a fetch fails, its error is raised and
    expired keys are not used in the meantime. The next fetch then waits for
    :data:`UNKNOWN_KEY_REFETCH_INTERVAL`, and callers that need one before
    that get :class:`KeySetUnavailableError`.

    Args:
        url: The https URL of a JWK set or of a map of key IDs to PEM
            certificates.
        transport: A transport to share with other clients; when given,
            ``ca_bundle`` and ``timeout`` must not be.
        ca_bundle: A PEM file of CA certificates to trust instead of the
            system's.
        timeout: Seconds allowed to connect, and again for each read.
        clock: The clock whose monotonic reading times the cache.

    Raises:
        ConfigurationError: ``url`` is not https, or the options conflict or
            are invalid.
    """

    def __init__(
        self,
        url: str,
        *,
        transport: Transport | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        require_text(url, "url", "pass the https URL of the published keys")
        self._url = check_keys_url(url)
        _check_connection_options(transport, ca_bundle, timeout)
        require_clock(clock)
        if transport is not None and (
            ca_bundle is not None or timeout != DEFAULT_TIMEOUT
        ):
            raise ConfigurationError(
                "give either transport= or ca_bundle= and timeout=, not both: a "
                "shared transport brings its own CA bundle and timeout"
            )
        self._transport = transport or Transport(ca_bundle=ca_bundle, timeout=timeout)
        self._clock = clock
        # _lock guards the cached state below and is never held during a
        # request. _fetch_lock lets one fetch run at a time.
        self._lock = threading.Lock()
        self._fetch_lock = threading.Lock()
        self._keys: dict[str, PublishedKey] = {}
        self._fetched_at: float | None = None
        self._expires_at = 0.0
        # The error of the last fetch, or None when it succeeded.
        self._failure: TransportError | KeySetError | None = None

    def __repr__(self) -> str:
        return f"KeySet(url={self._url!r}, key_ids={sorted(self.key_ids)!r})"

    @property
    def url(self) -> str:
        """The URL that the keys are fetched from."""
        return self._url

    @property
    def transport(self) -> Transport:
        """The connection pool that the keys are fetched through."""
        return self._transport

    @property
    def key_ids(self) -> frozenset[str]:
        """The key IDs of the cached keys, empty before the first fetch."""
        with self._lock:
            return frozenset(self._keys)

    def get_key(self, key_id: str) -> PublishedKey:
        """Return the key with ``key_id``, fetching the keys when needed.

        The keys are fetched when none are cached or the cached ones have
        expired, and again when ``key_id`` is missing and the last fetch is
        older than :data:`UNKNOWN_KEY_REFETCH_INTERVAL`. A fetch never blocks
        the threads that find their key in the cache. Threads that wait for a
        fetch share its outcome: when it fails, they and every later caller
        that needs a fetch get :class:`KeySetUnavailableError` until the
        interval has passed, without a request of their own.

        Raises:
            UnknownKeyError: No key has this ID, even after a new fetch.
            KeySetUnavailableError: The keys could not be fetched or read, now
                or in a fetch less than the interval ago.
            TransportError: The request for the keys failed below HTTP.
            ConfigurationError: ``key_id`` is not a string.
        """
        require_text(key_id, "key_id")
        key, fetch_reason = self._look_up(key_id)
        if key is not None:
            return key
        if fetch_reason is not None:
            with self._fetch_lock:
                # Another thread may have fetched, or failed to, while this one
                # waited: _look_up then returns its keys or raises its failure.
                key, fetch_reason = self._look_up(key_id)
                if fetch_reason is not None:
                    logger.debug(
                        "fetching the keys from %s: %s", self._url, fetch_reason
                    )
                    self._fetch()
                    key, _ = self._look_up(key_id)
        if key is None:
            raise self._unknown_key(key_id)
        return key

    def refresh(self) -> None:
        """Fetch the keys now, whatever the cache holds.

        Raises:
            KeySetUnavailableError: The keys could not be fetched or read.
            TransportError: The request for the keys failed below HTTP.
        """
        with self._fetch_lock:
            self._fetch()

    def _look_up(self, key_id: str) -> tuple[PublishedKey | None, str | None]:
        """Return the cached key, or None and the reason to fetch, if any.

        Raises:
            KeySetUnavailableError: A fetch is needed, but the last one failed
                less than :data:`UNKNOWN_KEY_REFETCH_INTERVAL` ago.
        """
        with self._lock:
            now = self._clock.monotonic()
            fetched_at = self._fetched_at
            expired = fetched_at is None or now >= self._expires_at
            key = None if expired else self._keys.get(key_id)
            if key is not None:
                return key, None
            elapsed = None if fetched_at is None else now - fetched_at
            recent = elapsed is not None and elapsed < UNKNOWN_KEY_REFETCH_INTERVAL
            if recent and elapsed is not None and self._failure is not None:
                raise self._throttled(elapsed)
            if expired:
                # Also while another thread's first fetch runs: this thread
                # then waits for its outcome.
                return None, "no keys cached, or the cached ones expired"
            if recent:
                return None, None
            shown = excerpt(repr(key_id), 100)
            return None, f"key ID {shown} is not in the cached keys"

    def _throttled(self, elapsed: float) -> KeySetUnavailableError:
        """Build the error for a caller in the interval after a failed fetch.

        Called with ``_lock`` held.
        """
        failure = self._failure
        cause = "unknown" if failure is None else type(failure).__name__
        wait = max(UNKNOWN_KEY_REFETCH_INTERVAL - elapsed, 0.0)
        return KeySetUnavailableError(
            f"keys at {self._url} are unavailable: the last fetch, {elapsed:.0f} s "
            f"ago, failed ({cause}), and the next is allowed in {wait:.0f} s; try "
            "again then, and check the keys URL and the network if it keeps "
            "failing",
            url=self._url,
            status=getattr(failure, "status", None),
        )

    def _unknown_key(self, key_id: str) -> UnknownKeyError:
        with self._lock:
            known = ", ".join(sorted(self._keys)) or "none"
        return UnknownKeyError(
            f"token header kid {excerpt(repr(key_id), 100)} names no key at "
            f"{self._url} (key IDs: {known}): the token was not signed with a "
            "key published there, so check the keys URL, or try again in "
            f"{UNKNOWN_KEY_REFETCH_INTERVAL:g} s if the key is new",
            url=self._url,
            expected=known,
            actual=excerpt(key_id, 100),
        )

    def _fetch(self) -> None:
        """Fetch and store the keys. Called with ``_fetch_lock`` held."""
        with self._lock:
            # A failed fetch also counts: a server that keeps failing then gets
            # at most one request per interval.
            started = self._clock.monotonic()
            self._fetched_at = started
        # The request runs without _lock, so that threads whose key is cached
        # carry on while it waits for the server.
        try:
            response = self._transport.request(
                "GET", self._url, headers={"Accept": "application/json"}
            )
            keys = parse_key_set(response, self._url)
        except (TransportError, KeySetError) as exc:
            with self._lock:
                self._failure = exc
            logger.debug(
                "fetching the keys from %s failed; the next fetch is allowed in "
                "%g s: %s",
                self._url,
                UNKNOWN_KEY_REFETCH_INTERVAL,
                exc,
            )
            raise
        lifetime = cache_lifetime(response.headers)
        with self._lock:
            self._keys = keys
            self._expires_at = started + lifetime
            self._failure = None
        logger.debug(
            "fetched %d keys from %s, cached for %g s: %s",
            len(keys),
            self._url,
            lifetime,
            ", ".join(sorted(keys)),
        )


def cache_lifetime(headers: Mapping[str, str]) -> float:
    """Return how long to keep a key set, from its ``Cache-Control`` and ``Age``.

    The result is ``max-age`` minus ``Age``, clamped to
    :data:`MIN_KEYS_CACHE_TIME` and :data:`MAX_KEYS_CACHE_TIME`. It is the
    minimum without exactly one valid ``max-age``, with ``no-cache`` or
    ``no-store``, or with an invalid ``Age``. A valid value is 1 to
    :data:`MAX_DELTA_SECONDS_DIGITS` ASCII digits.
    """
    directives = _cache_directives(headers.get("Cache-Control", ""))
    if "no-cache" in directives or "no-store" in directives:
        return MIN_KEYS_CACHE_TIME
    max_age_values = directives.get("max-age", [])
    max_age = _delta_seconds(max_age_values[0]) if len(max_age_values) == 1 else None
    age = _delta_seconds(headers.get("Age", "0"))
    if max_age is None or age is None:
        return MIN_KEYS_CACHE_TIME
    lifetime = float(max_age - age)
    return min(max(lifetime, MIN_KEYS_CACHE_TIME), MAX_KEYS_CACHE_TIME)


def _cache_directives(header: str) -> dict[str, list[str]]:
    """Split ``Cache-Control`` into directive names, each with its values."""
    directives: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.partition("=")
        # RFC 9111, section 5.2: names are case-insensitive, and a value may
        # be a quoted string.
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        directives.setdefault(name.strip().lower(), []).append(value)
    return directives


def _delta_seconds(text: str) -> int | None:
    """Parse delta-seconds, or return None for an invalid or too long value."""
    text = text.strip()
    return int(text) if _DELTA_SECONDS.fullmatch(text) else None


def parse_key_set(response: Response, url: str) -> dict[str, PublishedKey]:
    """Read the keys of a response, as a JWK set or a map of certificates.

    Raises:
        KeySetUnavailableError: The status is not 200, or the body is neither
            format, or it contains no usable key.
    """
    if response.status != 200:
        body = redact(excerpt(response.body.decode("utf-8", errors="replace")))
        raise KeySetUnavailableError(
            f"keys URL {url} returned HTTP {response.status}: {body!r}; check the "
            "URL, or try again later",
            url=url,
            status=response.status,
        )
    try:
        document = json.loads(response.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        document = None
    if isinstance(document, dict) and isinstance(document.get("keys"), list):
        keys = _keys_from_jwks(document["keys"], url)
    elif isinstance(document, dict) and document:
        keys = _keys_from_certificates(document, url)
    else:
        raise KeySetUnavailableError(
            f"keys URL {url} returned a body that is not a JSON object: give the "
            "URL of a JWK set or of a map of key IDs to certificates",
            url=url,
            status=response.status,
        )
    if not keys:
        raise KeySetUnavailableError(
            f"keys URL {url} returned no usable signing key (RSA, or EC on "
            "P-256): check the URL",
            url=url,
            status=response.status,
        )
    return keys


def _keys_from_jwks(entries: list[object], url: str) -> dict[str, PublishedKey]:
    keys: dict[str, PublishedKey] = {}
    for entry in entries:
        key = _key_from_jwk(entry)
        if key is None:
            continue
        if key.key_id in keys:
            # Two keys under one ID would make the choice of key ambiguous.
            raise KeySetUnavailableError(
                f"keys URL {url} publishes key ID {key.key_id} twice: check the URL",
                url=url,
                status=200,
            )
        keys[key.key_id] = key
    return keys


def _key_from_jwk(entry: object) -> PublishedKey | None:
    """Build a key from one JWK, or return None for a JWK that cannot sign."""
    if not isinstance(entry, dict):
        return None
    key_id = entry.get("kid")
    algorithm = entry.get("alg")
    if not isinstance(key_id, str) or not key_id:
        logger.debug("skipped a JWK without a kid")
        return None
    if entry.get("use", "sig") != "sig" or "d" in entry:
        # An encryption key, or a private key that a key set should never hold.
        logger.debug("skipped JWK %s: not a public signing key", key_id)
        return None
    try:
        public_key = _public_key_from_jwk(entry)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        logger.warning("skipped JWK %s, which is not a valid key: %s", key_id, exc)
        return None
    if public_key is None:
        logger.debug("skipped JWK %s: key type %s", key_id, entry.get("kty"))
        return None
    return PublishedKey(
        key_id, public_key, algorithm if isinstance(algorithm, str) else None
    )


def _public_key_from_jwk(entry: Mapping[str, object]) -> PublicKey | None:
    # RFC 7518, section 6: the numbers are unpadded base64url, big-endian.
    if entry.get("kty") == "RSA":
        modulus = _jwk_integer(entry, "n")
        exponent = _jwk_integer(entry, "e")
        return rsa.RSAPublicNumbers(exponent, modulus).public_key()
    if entry.get("kty") == "EC" and entry.get("crv") == "P-256":
        x = _jwk_bytes(entry, "x")
        y = _jwk_bytes(entry, "y")
        if len(x) != 32 or len(y) != 32:
            raise ValueError("x and y of a P-256 key must be 32 bytes each")
        # from_encoded_point checks that the point lies on the curve.
        point = b"\x04" + x + y
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    return None


def _jwk_bytes(entry: Mapping[str, object], name: str) -> bytes:
    value = entry.get(name)
    if not isinstance(value, str):
        raise ValueError(f"member {name} is missing")
    return decode_base64url(value)


def _jwk_integer(entry: Mapping[str, object], name: str) -> int:
    return int.from_bytes(_jwk_bytes(entry, name), "big")


def _keys_from_certificates(
    document: Mapping[str, object], url: str
) -> dict[str, PublishedKey]:
    keys: dict[str, PublishedKey] = {}
    for key_id, pem in document.items():
        if not isinstance(pem, str) or "-----BEGIN CERTIFICATE-----" not in pem:
            raise KeySetUnavailableError(
                f"keys URL {url} returned an object that is neither a JWK set (no "
                f"keys member) nor a map of key IDs to PEM certificates (key ID "
                f"{excerpt(repr(key_id), 60)}): check the URL",
                url=url,
                status=200,
            )
        # The certificate only carries the key: Google's are self-signed, and
        # the https fetch from the keys URL is what makes them trusted, so the
        # certificate's issuer and dates are not checked.
        try:
            certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
            public_key = certificate.public_key()
        except (ValueError, UnicodeEncodeError, UnsupportedAlgorithm) as exc:
            logger.warning(
                "skipped certificate %s, which is not a valid PEM certificate: %s",
                key_id,
                type(exc).__name__,
            )
            continue
        if isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            keys[key_id] = PublishedKey(key_id, public_key, None)
    return keys


MAX_SHARED_KEY_SETS: Final = 32
"""Key sets that :func:`shared_key_set` keeps. A program verifies against one
or two URLs, so the bound only matters for a caller that makes a new transport
for each call, whose key sets would otherwise pile up."""

_shared_lock = threading.Lock()
_shared: collections.OrderedDict[tuple[object, ...], KeySet] = collections.OrderedDict()


def shared_key_set(
    url: str,
    *,
    transport: Transport | None,
    ca_bundle: str | os.PathLike[str] | None,
    timeout: float,
) -> KeySet:
    """Return the process-wide key set for a URL and connection options.

    Calls with the same URL and the same transport (or the same CA bundle and
    timeout) share one :class:`KeySet`, so its cache lasts across calls. The
    least recently used set is dropped beyond :data:`MAX_SHARED_KEY_SETS`.

    Raises:
        ConfigurationError: The URL or the options are invalid.
    """
    url = check_keys_url(url)
    _check_connection_options(transport, ca_bundle, timeout)
    bundle = None if ca_bundle is None else os.fspath(ca_bundle)
    cache_key: tuple[object, ...] = (url, transport, bundle, timeout)
    with _shared_lock:
        key_set = _shared.get(cache_key)
        if key_set is not None:
            _shared.move_to_end(cache_key)
            return key_set
    key_set = KeySet(url, transport=transport, ca_bundle=ca_bundle, timeout=timeout)
    with _shared_lock:
        # Another thread may have added one meanwhile: keep the first.
        key_set = _shared.setdefault(cache_key, key_set)
        _shared.move_to_end(cache_key)
        while len(_shared) > MAX_SHARED_KEY_SETS:
            _shared.popitem(last=False)
    return key_set
