"""JWTs that a service account signs for IAP itself, with no request to Google.

IAP accepts, besides a Google-signed ID token, a JWT that the service account
signs with its own key: header ``alg`` RS256 and ``kid`` = the key's
``private_key_id``; claims ``iss`` and ``sub`` = the account's email, ``aud`` =
the URL of the protected resource, ``iat``, and ``exp`` at most 3600 s later.
IAP checks the signature against the account's public keys, which Google
publishes, so nothing is sent to Google's token endpoint. That suits hosts that
cannot reach Google, but it works only where the IAP in front of the API is
configured to accept service-account JWTs.

The ``aud`` claim is either the exact URL of the request or a prefix that ends
with ``/*``, which covers every path under it. posos-jwt writes the URL as
``https://HOST[:PORT]/PATH``: scheme and host in lower case, port 443 left out,
an empty path written as ``/``, and the query string dropped. A URL that
URL parsers or servers could read in two ways is rejected rather than
normalized, as :func:`audience_for_url` lists.

The signed JWT is a bearer credential for that URL until it expires, like an
ID token, and is never logged.
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import Final
from urllib.parse import urlsplit

from ._arguments import (
    optional_text,
    require_clock,
    require_instance,
    require_text,
)
from ._assertion import sign_rs256
from ._clock import SYSTEM_CLOCK, Clock
from ._credentials import Credentials
from ._errors import ConfigurationError
from ._idtoken import IDToken, format_utc
from ._keyfile import ServiceAccountKey
from ._url_target import resolve_request_url

logger = logging.getLogger(__name__)

SELF_SIGNED_LIFETIME: Final = 3600
"""Seconds between ``iat`` and ``exp`` of a self-signed JWT: the maximum that
IAP accepts, so that each JWT is reused for as long as possible."""

MAX_CACHED_AUDIENCES: Final = 256
"""Audiences whose JWTs are kept in per-URL mode. Past this, the least recently
used audience is dropped and signed again when needed, so that a client that
calls many distinct paths cannot grow the cache without bound."""

PER_URL_AUDIENCE: Final = "(the URL of each request)"
"""The ``target_audience`` shown by credentials in per-URL mode, which have no
single audience."""

WILDCARD_SUFFIX: Final = "/*"
"""The end of an ``aud`` that covers every path under its prefix."""


def audience_for_url(url: str, *, allow_prefix: bool = True) -> str:
    """Return the ``aud`` that IAP expects for a request to ``url``.

    A URL whose path ends with ``/*`` is returned in the same form, as a
    prefix audience, when ``allow_prefix`` is true. The URL is checked as
    :func:`resolve_request_url` checks a request target, because the signed
    audience must name the URL that is requested and nothing else.

    Raises:
        ConfigurationError: ``url`` is not an https URL with an ASCII host
            name or IP address, or has a ``user:password@`` part, a fragment,
            a ``.`` or ``..`` path segment, port 0, a space, a control
            character, a backslash, a host that ends with a dot, or a ``*``
            other than a final ``/*``.
    """
    prefix = allow_prefix and url.endswith(WILDCARD_SUFFIX)
    exact = url[: -len("*")] if prefix else url
    try:
        parts = urlsplit(exact)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(
            f"URL {url[:100]!r} is not valid ({exc}): give the https URL of the "
            "API behind IAP"
        ) from None
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise ConfigurationError(
            f"URL {url[:100]!r} is not an https URL with a host: IAP serves only "
            "https, so give a URL such as https://api.example.com/path"
        )
    host = _audience_host(parts.hostname, url)
    if port == 0:
        raise ConfigurationError(
            f"URL {url[:100]!r} has port 0, on which no server listens: give the "
            "API's port, or none for 443"
        )
    # Spaces, control characters, backslashes, userinfo, fragments and dot
    # segments are rejected by the rules of a request target.
    resolve_request_url(None, exact)
    if "*" in f"{parts.netloc}{parts.path}":
        raise ConfigurationError(
            f"URL {url[:100]!r} has a '*' that is not a final '/*': IAP reads '*' "
            "only at the end of a prefix audience, so percent-encode a literal "
            "'*' in a path as %2A"
        )
    if port is not None and port != 443:
        host = f"{host}:{port}"
    # NOTE: IAP's documentation gives exact match and a '/*' prefix, but not
    # how it writes the request URL before comparing. Dropping port 443 and
    # the query is this library's guess, as browsers do.
    return f"https://{host}{parts.path or '/'}" + ("*" if prefix else "")


def _audience_host(hostname: str, url: str) -> str:
    """Return the host as the ``aud`` writes it: lower case, IPv6 in brackets.

    Raises:
        ConfigurationError: The host is not ASCII or ends with a dot.
    """
    if not hostname.isascii():
        # Unicode has several spellings of one name (fullwidth letters, IDNA
        # mappings), and the browser or client sends the ASCII form, so only
        # that form can match the request.
        raise ConfigurationError(
            f"URL {url[:100]!r} has a host that is not ASCII: give the host in "
            "its ASCII form, with an internationalized name as 'xn--...'"
        )
    host = hostname.lower()
    if host.endswith("."):
        raise ConfigurationError(
            f"URL {url[:100]!r} has a host that ends with a dot: give the host "
            "without the trailing dot"
        )
    return f"[{host}]" if ":" in host else host


def audience_matches(audience: str, url_audience: str) -> bool:
    """Tell whether ``audience`` covers a request whose own audience is given.

    Args:
        audience: An exact audience, or a prefix ending with ``/*``.
        url_audience: The audience of the request URL, from
            :func:`audience_for_url`.
    """
    if audience.endswith(WILDCARD_SUFFIX):
        return url_audience.startswith(audience[:-1])
    return audience == url_audience


def sign_self_signed_jwt(
    key: ServiceAccountKey, audience: str, *, now: float
) -> IDToken:
    """Sign a JWT that IAP accepts for ``audience`` without Google's token endpoint.

    Args:
        key: The service-account key that signs.
        audience: The ``aud`` claim, from :func:`audience_for_url`.
        now: The current UTC time in epoch seconds. ``iat`` is its integer part.

    Returns:
        The JWT with its claims. Its value is a bearer credential for an hour:
        never log it.
    """
    issued_at = int(now)
    claims = {
        "iss": key.client_email,
        "sub": key.client_email,
        "aud": audience,
        "iat": issued_at,
        "exp": issued_at + SELF_SIGNED_LIFETIME,
    }
    value = sign_rs256(claims, key)
    return IDToken(value=value, expiry=issued_at + SELF_SIGNED_LIFETIME, claims=claims)


class SelfSignedCredentials(Credentials):
    """JWTs signed by the service account's own key, for IAP only.

    No request is sent to Google: the key signs each JWT locally. This works
    only if the IAP in front of the API accepts service-account JWTs. An IAP
    that accepts Google-signed ID tokens alone rejects these with HTTP 401.

    The credentials have two modes:

    - With ``audience``, every JWT carries that ``aud``: the exact https URL of
      one resource, or a prefix ending with ``/*`` such as
      ``https://api.example.com/*``. :meth:`get_token` returns it, and
      :meth:`get_token_for_url` checks that the URL falls under it.
    - Without, each request URL is its own audience, so
      :meth:`get_token_for_url` must be used. JWTs are cached per audience.

    Args:
        key: The service-account key that signs.
        audience: The fixed audience, or ``None`` for per-URL mode.
        max_audiences: In per-URL mode, how many audiences' JWTs to keep.
        clock: The clock to read, replaceable in tests.

    Raises:
        ConfigurationError: ``audience`` is not an https URL, or
            ``max_audiences`` is not positive.
    """

    def __init__(
        self,
        key: ServiceAccountKey,
        *,
        audience: str | None = None,
        max_audiences: int = MAX_CACHED_AUDIENCES,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        require_instance(
            key, ServiceAccountKey, "key", "build it with ServiceAccountKey.from_file()"
        )
        optional_text(audience, "audience", "pass an https:// URL")
        require_instance(max_audiences, int, "max_audiences")
        require_clock(clock)
        if max_audiences < 1:
            raise ConfigurationError(
                f"max_audiences must be 1 or more, not {max_audiences}"
            )
        fixed = None if audience is None else audience_for_url(audience)
        super().__init__(fixed or PER_URL_AUDIENCE, clock=clock)
        self._key = key
        self._audience = fixed
        self._max_audiences = max_audiences
        self._per_url_lock = threading.Lock()
        self._per_url: collections.OrderedDict[str, SelfSignedCredentials] = (
            collections.OrderedDict()
        )

    def __repr__(self) -> str:
        return (
            f"SelfSignedCredentials(client_email={self._key.client_email!r}, "
            f"audience={self._audience!r})"
        )

    @property
    def audience(self) -> str | None:
        """The fixed audience, or ``None`` in per-URL mode."""
        return self._audience

    @property
    def service_account_email(self) -> str:
        """The service account's email, the ``iss`` and ``sub`` of each JWT."""
        return self._key.client_email

    def get_token_for_url(self, url: str) -> str:
        """Return a JWT that IAP accepts for a request to ``url``.

        Raises:
            ConfigurationError: ``url`` is not an https URL, or falls outside
                the fixed audience.
        """
        return self.get_id_token_for_url(url).value

    def get_id_token_for_url(self, url: str) -> IDToken:
        """Return the JWT for a request to ``url`` as an :class:`IDToken`.

        Raises:
            ConfigurationError: ``url`` is not an https URL, as
                :func:`audience_for_url` checks it, or falls outside the fixed
                audience.
        """
        require_text(url, "url")
        # A request URL is an exact audience: a path ending with '/*' must not
        # turn the JWT into a prefix audience for every path under it.
        url_audience = audience_for_url(url, allow_prefix=False)
        if self._audience is not None:
            if not audience_matches(self._audience, url_audience):
                raise ConfigurationError(
                    f"URL {url_audience} is not covered by the audience "
                    f"{self._audience} of these self-signed credentials: use an "
                    "audience ending with '/*' that covers it, or per-URL mode"
                )
            return self.get_id_token()
        return self._credentials_for(url_audience).get_id_token()

    def _credentials_for(self, audience: str) -> SelfSignedCredentials:
        with self._per_url_lock:
            credentials = self._per_url.get(audience)
            if credentials is None:
                credentials = SelfSignedCredentials(
                    self._key, audience=audience, clock=self._clock
                )
                self._per_url[audience] = credentials
                if len(self._per_url) > self._max_audiences:
                    self._per_url.popitem(last=False)
            else:
                self._per_url.move_to_end(audience)
            return credentials

    def _fetch_id_token(self) -> IDToken:
        if self._audience is None:
            raise ConfigurationError(
                "these self-signed credentials have no fixed audience: call "
                "get_token_for_url(url), or pass audience= (a URL, or a prefix "
                "ending with '/*')"
            )
        token = sign_self_signed_jwt(self._key, self._audience, now=self._clock.time())
        logger.debug(
            "signed a JWT for %s, audience %s, expiring at %s, with no request "
            "to Google",
            self._key.client_email,
            self._audience,
            format_utc(token.expiry),
        )
        return token
