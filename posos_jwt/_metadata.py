"""ID tokens from the metadata server of Google Cloud, with no key file.

On Compute Engine, GKE, Cloud Run and the other Google Cloud runtimes, a
metadata server at ``metadata.google.internal`` issues ID tokens for the
service account attached to the workload. It speaks plain HTTP, because it
sits on the host's own link-local network, and it serves only requests that
carry ``Metadata-Flavor: Google``. Every response of the real server carries
that header too, so a response without it comes from something else, and is
rejected.

The identity endpoint is asked for ``format=full``: without it, the token has
no ``email`` claim, and IAP rejects it.

``GCE_METADATA_HOST`` replaces the host, as ``host`` or ``host:port``, the way
Google's client libraries read it, and the older name ``GCE_METADATA_ROOT`` is
read when it is unset.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Final
from urllib.parse import urlencode

from ._arguments import optional_text
from ._clock import SYSTEM_CLOCK, Clock
from ._credentials import Credentials
from ._errors import ConfigurationError, MetadataServerError, TokenCheckError
from ._exchange import RETRYABLE_STATUSES, body_excerpt
from ._idtoken import IDToken, check_id_token, decode_unverified
from ._transport import Response, Transport

logger = logging.getLogger(__name__)

DEFAULT_METADATA_HOST: Final = "metadata.google.internal"
"""The metadata server's name inside Google Cloud."""

METADATA_HOST_ENV: Final = "GCE_METADATA_HOST"
"""Environment variable that replaces the host, as Google's libraries read it."""

LEGACY_METADATA_HOST_ENV: Final = "GCE_METADATA_ROOT"
"""The older name of :data:`METADATA_HOST_ENV`, read only when that is unset."""

METADATA_TIMEOUT: Final = 3.0
"""Seconds allowed to connect to the metadata server, and again for each read.
It is on the local host's network and responds in milliseconds, so a longer
wait only delays the error off Google Cloud."""

FLAVOR_HEADER: Final = "Metadata-Flavor"
"""Header that every request to the metadata server and every response carry."""

FLAVOR_VALUE: Final = "Google"
"""The value of :data:`FLAVOR_HEADER`."""

SERVICE_ACCOUNT_PATH: Final = "/computeMetadata/v1/instance/service-accounts/default"
"""Path of the default service account attached to the workload."""

IDENTITY_PATH: Final = SERVICE_ACCOUNT_PATH + "/identity"
"""Path of the endpoint that issues ID tokens."""

MAX_TOKEN_LENGTH: Final = 16 * 1024
"""Longest ID token accepted, in characters. Real ones are about 1 KB, so a
longer body is not a token."""


def metadata_host(override: str | None = None) -> str:
    """Return the metadata server's ``host[:port]``.

    ``override`` wins, then ``GCE_METADATA_HOST``, then ``GCE_METADATA_ROOT``,
    then ``metadata.google.internal``.

    Raises:
        ConfigurationError: The chosen value is not a ``host[:port]``.
    """
    if override is not None:
        return check_metadata_host(override, source="metadata_host")
    for name in (METADATA_HOST_ENV, LEGACY_METADATA_HOST_ENV):
        value = os.environ.get(name, "").strip()
        if value:
            return check_metadata_host(value, source=name)
    return DEFAULT_METADATA_HOST


def check_metadata_host(value: str, *, source: str) -> str:
    """Return ``value`` if it is a bare ``host`` or ``host:port``.

    A scheme, a path or a ``user@`` part would change where the request goes
    in ways that the caller did not mean, so each is rejected.

    Raises:
        ConfigurationError: It is not.
    """
    host = value.strip()
    if not _HOST_PORT.fullmatch(host) or not _port_is_valid(host):
        raise ConfigurationError(
            f"metadata server {value[:100]!r} from {source} is not a host or "
            "host:port with a port from 1 to 65535: give a value such as "
            "metadata.google.internal or 127.0.0.1:8080, without http://"
        )
    return host


# A DNS name or IPv4 address, or a bracketed IPv6 address, and an optional port.
_HOST_PORT: Final = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?"
)


def _port_is_valid(host: str) -> bool:
    _, colon, port = host.rpartition(":")
    if not colon or port.endswith("]") or not port.isdigit():
        return True
    return 1 <= int(port) <= 65535


class MetadataCredentials(Credentials):
    """ID tokens for one audience from the metadata server of Google Cloud.

    Needs no key: the metadata server requests a token from Google for the
    service account attached to the workload. Caching and
    refreshing are those of :class:`Credentials`.

    Args:
        target_audience: The OAuth client ID of the IAP resource.
        host: The metadata server's ``host[:port]``, overriding
            ``GCE_METADATA_HOST`` and the default.
        timeout: Seconds allowed to connect, and again for each read.
        clock: The clock to read, replaceable in tests.

    Raises:
        ConfigurationError: An argument is invalid.
    """

    def __init__(
        self,
        target_audience: str,
        *,
        host: str | None = None,
        timeout: float = METADATA_TIMEOUT,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__(target_audience, clock=clock)
        optional_text(host, "host", "pass the metadata server's host[:port]")
        self._host = metadata_host(host)
        # The metadata server is link-local and returns tokens in plain
        # HTTP, so it is never reached through a proxy.
        self._transport = Transport(timeout=timeout, trust_env=False)

    def __repr__(self) -> str:
        return (
            f"MetadataCredentials(host={self._host!r}, "
            f"target_audience={self._target_audience!r})"
        )

    @property
    def host(self) -> str:
        """The metadata server's ``host[:port]``."""
        return self._host

    def _fetch_id_token(self) -> IDToken:
        query = urlencode({"audience": self._target_audience, "format": "full"})
        url = f"http://{self._host}{IDENTITY_PATH}?{query}"
        logger.debug(
            "fetching an ID token for audience %s from the metadata server %s",
            self._target_audience,
            self._host,
        )
        response = request_metadata(self._transport, url, self._host)
        value = parse_identity_response(response, self._host)
        return check_metadata_token(value, self._target_audience, self._clock.time())


def request_metadata(transport: Transport, url: str, host: str) -> Response:
    """GET a metadata URL and check that the metadata server sent the response.

    Raises:
        MetadataServerError: The response lacks ``Metadata-Flavor: Google``.
        TransportError: The request failed below HTTP.
    """
    response = transport.request("GET", url, headers={FLAVOR_HEADER: FLAVOR_VALUE})
    if response.headers.get(FLAVOR_HEADER) != FLAVOR_VALUE:
        raise MetadataServerError(
            f"the server at {host} returned HTTP {response.status} without the "
            f"header '{FLAVOR_HEADER}: {FLAVOR_VALUE}', so it is not a Google "
            f"metadata server: check {METADATA_HOST_ENV}, or run on Google Cloud",
            host=host,
            status=response.status,
        )
    return response


def parse_identity_response(response: Response, host: str) -> str:
    """Return the ID token in the body of a response from the identity endpoint.

    Raises:
        MetadataServerError: The status is not 200, or the body is not one
            token.
    """
    if response.status != 200:
        retryable = response.status in RETRYABLE_STATUSES
        raise MetadataServerError(
            f"metadata server {host} returned HTTP {response.status} for an ID "
            f"token: {body_excerpt(response.body)}; check that a service "
            "account is attached to this workload",
            host=host,
            status=response.status,
            retryable=retryable,
        )
    value = response.body.decode("ascii", errors="replace").strip()
    if not value or len(value) > MAX_TOKEN_LENGTH or any(c.isspace() for c in value):
        raise MetadataServerError(
            f"metadata server {host} returned HTTP 200 with a body of "
            f"{len(response.body)} bytes that is not one ID token: check "
            f"{METADATA_HOST_ENV}",
            host=host,
            status=response.status,
        )
    return value


def check_metadata_token(value: str, audience: str, now: float) -> IDToken:
    """Check a token from the metadata server: ``exp``, ``aud`` and ``email``.

    The metadata server names no account in its response, so ``email`` is
    required to be present and is returned in the claims, and is not compared
    with an expected value.

    Raises:
        TokenCheckError: The token is not a JWT, a claim is wrong, or it has
            no ``email`` claim.
    """
    _, claims = decode_unverified(value)
    email = claims.get("email")
    if not isinstance(email, str) or not email:
        raise TokenCheckError(
            "the ID token from the metadata server has no email claim, so IAP "
            "would reject it: the request asks for format=full, so check that "
            "the metadata server is Google's",
            claim="email",
            expected="a service-account email",
            actual=None if email is None else repr(email)[:100],
        )
    return check_id_token(value, audience=audience, email=email, now=now)


def check_metadata_server(host: str, *, timeout: float = METADATA_TIMEOUT) -> None:
    """Check that a Google metadata server responds at ``host``.

    The server's root path returns a short listing with ``Metadata-Flavor:
    Google``, so one GET distinguishes a metadata server from anything else.

    Raises:
        MetadataServerError: Something responded, but not a metadata server.
        TransportError: Nothing responded within ``timeout``.
    """
    request_metadata(
        Transport(timeout=timeout, trust_env=False), f"http://{host}/", host
    )
