"""ID tokens for another service account, from the IAM Credentials API.

When the caller's own account has
``roles/iam.serviceAccountOpenIdTokenCreator`` on a target service account,
Google's IAM Service Account Credentials API issues ID tokens for the target::

    POST https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/TARGET:generateIdToken
    Authorization: Bearer ACCESS_TOKEN
    {"audience": "CLIENT_ID", "includeEmail": true}

    200 {"token": "ID_TOKEN"}

``includeEmail`` puts the target's ``email`` into the token, which IAP
requires. The call is authorised by an OAuth access token of the caller's own
account (the source), which comes either from a key, through the jwt-bearer
grant with a ``scope`` claim instead of ``target_audience``, or from the
metadata server's access-token endpoint. Access tokens are bearer credentials
like ID tokens, so they are never logged or shown either.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlsplit

from ._arguments import (
    optional_instance,
    optional_text,
    require_callable,
    require_clock,
    require_instance,
    require_text,
)
from ._assertion import ASSERTION_LIFETIME, GOOGLE_TOKEN_AUDIENCE, sign_rs256
from ._clock import SYSTEM_CLOCK, Clock
from ._credentials import REFRESH_MARGIN, Credentials
from ._defaults import DEFAULT_IAM_ENDPOINT, DEFAULT_TIMEOUT
from ._errors import ConfigurationError, TokenCheckError, TokenEndpointError, excerpt
from ._exchange import RETRYABLE_STATUSES, post_assertion, redact
from ._idtoken import IDToken, check_id_token
from ._keyfile import ServiceAccountKey
from ._metadata import (
    METADATA_TIMEOUT,
    SERVICE_ACCOUNT_PATH,
    metadata_host,
    request_metadata,
)
from ._retry import RetryPolicy, call_with_retries
from ._token_uri import is_loopback, resolve_token_uri, safe_url
from ._transport import Response, Transport

logger = logging.getLogger(__name__)

CLOUD_PLATFORM_SCOPE: Final = "https://www.googleapis.com/auth/cloud-platform"
"""The OAuth scope of the source's access token, which covers the IAM
Credentials API."""

ACCESS_TOKEN_PATH: Final = SERVICE_ACCOUNT_PATH + "/token"
"""The metadata server's endpoint for access tokens of the attached account."""


@dataclass(frozen=True, repr=False)
class AccessToken:
    """An OAuth access token of the source account, with its expiry.

    Attributes:
        value: The token, a bearer credential: never log it.
        expiry: UTC epoch seconds after which Google rejects it.
    """

    value: str
    expiry: float

    def __repr__(self) -> str:
        return f"AccessToken(expiry={self.expiry:.0f})"


def check_target_email(email: object) -> str:
    """Return ``email`` if it can name a service account in the API's URL path.

    Raises:
        ConfigurationError: It is not a string with one ``@`` and no ``/``,
            ``:``, ``?``, ``#`` or white space.
    """
    if not isinstance(email, str) or email.count("@") != 1:
        raise ConfigurationError(
            f"target service account {email!r} is not an email: give the "
            "target's email, NAME@PROJECT.iam.gserviceaccount.com"
        )
    if any(character in email for character in "/:?# \t\n"):
        raise ConfigurationError(
            f"target service account {email!r} contains a character that "
            "cannot appear in an email: give the target's email"
        )
    return email


def check_iam_endpoint(url: str) -> str:
    """Return ``url`` without a trailing ``/`` if it can be the API's root.

    Any https URL is accepted, and plain http on a loopback address, for
    stand-ins. A host other than Google's is logged, because it receives the
    source's access token.

    Raises:
        ConfigurationError: It is not such a URL.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    plain_remote = (
        parts is not None
        and parts.scheme == "http"
        and not is_loopback(parts.hostname or "")
    )
    valid = (
        parts is not None
        and parts.scheme in ("https", "http")
        and bool(parts.hostname)
        and parts.username is None
        and not parts.query
        and not parts.fragment
    )
    if not valid or plain_remote:
        raise ConfigurationError(
            f"IAM endpoint {safe_url(url)} is not an https URL with a host and "
            f"no query: give a root URL such as {DEFAULT_IAM_ENDPOINT}"
        )
    if url != DEFAULT_IAM_ENDPOINT:
        logger.warning(
            "using IAM endpoint %s, which is not Google's: it receives the "
            "source account's access token",
            safe_url(url),
        )
    return url.rstrip("/")


class ImpersonatedCredentials(Credentials):
    """ID tokens for a target service account, from a source's access token.

    Build one with :meth:`from_service_account_key` or
    :meth:`from_metadata_server`. The source's access token is cached until
    :data:`REFRESH_MARGIN` seconds before it expires, and the ID token is
    cached as in :class:`Credentials`.

    Args:
        fetch_access_token: Returns a new access token of the source account.
        source_description: Names the source in logs and ``repr``, never a
            secret.
        target_email: The service account that the ID tokens are for.
        target_audience: The OAuth client ID of the IAP resource.
        iam_endpoint: The root URL of the IAM Credentials API.
        transport: The transport for the IAM Credentials API.
        retry: How often and how long to retry a ``generateIdToken`` request
            that failed for a reason that may pass. Each request issues a new
            token and changes nothing, so it is safe to repeat.
        clock: The clock to read, replaceable in tests.

    Raises:
        ConfigurationError: An argument is invalid.
    """

    def __init__(
        self,
        fetch_access_token: Callable[[], AccessToken],
        source_description: str,
        target_email: str,
        target_audience: str,
        *,
        iam_endpoint: str = DEFAULT_IAM_ENDPOINT,
        transport: Transport,
        retry: RetryPolicy | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        require_callable(fetch_access_token, "fetch_access_token")
        require_text(source_description, "source_description")
        require_text(target_email, "target_email", "pass the target's email")
        require_text(iam_endpoint, "iam_endpoint", "pass an https:// URL")
        require_instance(transport, Transport, "transport")
        optional_instance(retry, RetryPolicy, "retry")
        super().__init__(target_audience, clock=clock)
        self._retry = retry or RetryPolicy()
        self._fetch_access_token = fetch_access_token
        self._source = source_description
        self._target_email = check_target_email(target_email)
        self._iam_endpoint = check_iam_endpoint(iam_endpoint)
        self._transport = transport
        self._access_lock = threading.Lock()
        self._access_token: AccessToken | None = None

    @classmethod
    def from_service_account_key(
        cls,
        key: ServiceAccountKey,
        target_email: str,
        target_audience: str,
        *,
        token_uri: str | None = None,
        iam_endpoint: str = DEFAULT_IAM_ENDPOINT,
        ca_bundle: str | os.PathLike[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        proxy: str | None = None,
        trust_env: bool = True,
        retry: RetryPolicy | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> ImpersonatedCredentials:
        """Impersonate ``target_email`` with an access token from ``key``.

        Args:
            key: The source account's key.
            target_email: The service account that the ID tokens are for.
            target_audience: The OAuth client ID of the IAP resource.
            token_uri: The token endpoint, overriding the key file's.
            iam_endpoint: The root URL of the IAM Credentials API.
            ca_bundle: A PEM file of CA certificates to trust instead of the
                system's, for both endpoints.
            timeout: Seconds allowed to connect, and again for each read.
            proxy: An ``http://[user:password@]host:port`` proxy for both
                endpoints, instead of ``HTTPS_PROXY``; ``""`` means no proxy.
            trust_env: Whether to read ``HTTPS_PROXY`` and ``NO_PROXY``.
            retry: How often and how long to retry a request to either
                endpoint that failed for a reason that may pass.
            clock: The clock to read, replaceable in tests.

        Raises:
            ConfigurationError: An argument is invalid.
        """
        require_instance(
            key, ServiceAccountKey, "key", "build it with ServiceAccountKey.from_file()"
        )
        _check_common_arguments(target_email, target_audience, iam_endpoint, retry)
        optional_text(token_uri, "token_uri", "pass an https:// URL")
        require_clock(clock)
        transport = Transport(
            ca_bundle=ca_bundle, timeout=timeout, proxy=proxy, trust_env=trust_env
        )
        policy = retry or RetryPolicy()
        uri = resolve_token_uri(
            key.token_uri,
            universe_domain=key.universe_domain,
            override=token_uri,
            key_path=key.path,
        )

        def attempt(time_left: float) -> AccessToken:
            return request_access_token_with_key(
                transport, uri, key, clock.time(), timeout=time_left
            )

        def fetch() -> AccessToken:
            return call_with_retries(attempt, policy)

        return cls(
            fetch,
            f"key {key.private_key_id} of {key.client_email}",
            target_email,
            target_audience,
            iam_endpoint=iam_endpoint,
            transport=transport,
            retry=policy,
            clock=clock,
        )

    @classmethod
    def from_metadata_server(
        cls,
        target_email: str,
        target_audience: str,
        *,
        host: str | None = None,
        iam_endpoint: str = DEFAULT_IAM_ENDPOINT,
        ca_bundle: str | os.PathLike[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        proxy: str | None = None,
        trust_env: bool = True,
        retry: RetryPolicy | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> ImpersonatedCredentials:
        """Impersonate ``target_email`` with the workload's own access token.

        Args:
            target_email: The service account that the ID tokens are for.
            target_audience: The OAuth client ID of the IAP resource.
            host: The metadata server's ``host[:port]``, overriding
                ``GCE_METADATA_HOST``.
            iam_endpoint: The root URL of the IAM Credentials API.
            ca_bundle: A PEM file of CA certificates to trust instead of the
                system's, for the IAM Credentials API.
            timeout: Seconds allowed to connect to the IAM Credentials API,
                and again for each read.
            proxy: An ``http://[user:password@]host:port`` proxy for the IAM
                Credentials API, instead of ``HTTPS_PROXY``; ``""`` means no
                proxy. The metadata server is always reached directly.
            trust_env: Whether to read ``HTTPS_PROXY`` and ``NO_PROXY`` for
                the IAM Credentials API.
            retry: How often and how long to retry a request to the IAM
                Credentials API that failed for a reason that may pass.
            clock: The clock to read, replaceable in tests.

        Raises:
            ConfigurationError: An argument is invalid.
        """
        _check_common_arguments(target_email, target_audience, iam_endpoint, retry)
        optional_text(host, "host", "pass the metadata server's host[:port]")
        require_clock(clock)
        server = metadata_host(host)
        metadata_transport = Transport(timeout=METADATA_TIMEOUT, trust_env=False)

        def fetch() -> AccessToken:
            return request_access_token_from_metadata(
                metadata_transport, server, clock.time()
            )

        return cls(
            fetch,
            f"metadata server {server}",
            target_email,
            target_audience,
            iam_endpoint=iam_endpoint,
            transport=Transport(
                ca_bundle=ca_bundle, timeout=timeout, proxy=proxy, trust_env=trust_env
            ),
            retry=retry,
            clock=clock,
        )

    def __repr__(self) -> str:
        return (
            f"ImpersonatedCredentials(source={self._source!r}, "
            f"target_email={self._target_email!r}, "
            f"target_audience={self._target_audience!r})"
        )

    @property
    def target_email(self) -> str:
        """The service account that the ID tokens are for."""
        return self._target_email

    def _fetch_id_token(self) -> IDToken:
        access_token = self._get_access_token()
        url = (
            f"{self._iam_endpoint}/v1/projects/-/serviceAccounts/"
            f"{quote(self._target_email, safe='@')}:generateIdToken"
        )
        logger.debug(
            "requesting an ID token for %s, audience %s, from %s as %s",
            self._target_email,
            self._target_audience,
            safe_url(self._iam_endpoint),
            self._source,
        )
        value = call_with_retries(
            lambda time_left: self._generate_id_token(url, access_token, time_left),
            self._retry,
        )
        token = check_id_token(
            value,
            audience=self._target_audience,
            email=self._target_email,
            now=self._clock.time(),
        )
        if token.email is None:
            raise TokenCheckError(
                "the ID token from the IAM Credentials API has no email claim, "
                "so IAP would reject it: check the IAM endpoint URL",
                claim="email",
                expected=self._target_email,
            )
        return token

    def _generate_id_token(
        self, url: str, access_token: AccessToken, time_left: float
    ) -> str:
        """Send one ``generateIdToken`` request and return its token."""
        body = {"audience": self._target_audience, "includeEmail": True}
        response = self._transport.request(
            "POST",
            url,
            body=json.dumps(body).encode("utf-8"),
            headers={
                "Authorization": "Bearer " + access_token.value,
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            timeout=time_left,
        )
        if response.status == 401:
            # Google rejected the cached access token, perhaps revoked early.
            with self._access_lock:
                self._access_token = None
        return parse_generate_id_token_response(response)

    def _get_access_token(self) -> AccessToken:
        with self._access_lock:
            token = self._access_token
            if token is None or token.expiry - REFRESH_MARGIN <= self._clock.time():
                token = self._fetch_access_token()
                self._access_token = token
            return token


def _check_common_arguments(
    target_email: object, target_audience: object, iam_endpoint: object, retry: object
) -> None:
    """Check the types of the arguments that both classmethods take, before
    either one builds a transport or reads the environment."""
    require_text(target_email, "target_email", "pass the target's email")
    require_text(target_audience, "target_audience", "pass the OAuth client ID")
    require_text(iam_endpoint, "iam_endpoint", "pass an https:// URL")
    optional_instance(retry, RetryPolicy, "retry")


def build_scope_assertion(key: ServiceAccountKey, scope: str, *, now: float) -> str:
    """Sign an assertion that requests an access token from the token endpoint.

    It is the ID-token assertion with ``scope`` in place of
    ``target_audience``, as Google documents for service accounts.

    Returns:
        The compact JWT. It is a bearer credential for an hour: never log it.
    """
    issued_at = int(now)
    claims = {
        "iss": key.client_email,
        "aud": GOOGLE_TOKEN_AUDIENCE,
        "iat": issued_at,
        "exp": issued_at + ASSERTION_LIFETIME,
        "scope": scope,
    }
    return sign_rs256(claims, key)


def request_access_token_with_key(
    transport: Transport,
    token_uri: str,
    key: ServiceAccountKey,
    now: float,
    *,
    timeout: float | None = None,
) -> AccessToken:
    """Exchange a scoped assertion for the key's access token.

    ``timeout`` shortens the transport's timeout, for a retry near its
    deadline.

    Raises:
        TokenEndpointError: The endpoint rejected the request or returned no
            ``access_token``.
        TransportError: The request failed below HTTP.
    """
    assertion = build_scope_assertion(key, CLOUD_PLATFORM_SCOPE, now=now)
    response = post_assertion(transport, token_uri, assertion, timeout=timeout)
    logger.debug("token endpoint %s: HTTP %d", response.host, response.status)
    return parse_access_token_response(response, now, "token endpoint")


def request_access_token_from_metadata(
    transport: Transport, host: str, now: float
) -> AccessToken:
    """Get the attached account's access token from the metadata server.

    Raises:
        MetadataServerError: The response is not from a metadata server.
        TokenEndpointError: The server returned an error or no token.
        TransportError: The request failed below HTTP.
    """
    response = request_metadata(transport, f"http://{host}{ACCESS_TOKEN_PATH}", host)
    return parse_access_token_response(response, now, "metadata server")


def parse_access_token_response(
    response: Response, now: float, what: str
) -> AccessToken:
    """Return the ``access_token`` and expiry of an OAuth token response.

    Raises:
        TokenEndpointError: The status is not 200, or the body has no
            ``access_token`` and positive ``expires_in``.
    """
    document = _json_object(response.body)
    if response.status != 200:
        raise _api_error(response, document, what, "check the source credentials")
    access_token = document.get("access_token") if document else None
    expires_in = document.get("expires_in") if document else None
    # bool is a subclass of int, but JSON true is not a number of seconds.
    if (
        isinstance(access_token, str)
        and access_token
        and isinstance(expires_in, int)
        and not isinstance(expires_in, bool)
        and expires_in > 0
    ):
        return AccessToken(access_token, now + expires_in)
    raise TokenEndpointError(
        f"{what} {response.host} returned HTTP 200 without an access_token and "
        "a positive whole number expires_in: check the endpoint URL",
        status=response.status,
    )


def parse_generate_id_token_response(response: Response) -> str:
    """Return the ``token`` of a ``generateIdToken`` response.

    Raises:
        TokenEndpointError: The status is not 200, or there is no ``token``.
    """
    document = _json_object(response.body)
    if response.status != 200:
        advice = (
            "grant the source account roles/iam.serviceAccountOpenIdTokenCreator "
            "on the target service account"
            if response.status == 403
            else "check the source credentials and the target service account"
        )
        raise _api_error(response, document, "IAM Credentials API", advice)
    token = document.get("token") if document else None
    if not isinstance(token, str) or not token:
        raise TokenEndpointError(
            f"IAM Credentials API {response.host} returned HTTP 200 without a "
            "token: check the IAM endpoint URL",
            status=response.status,
        )
    return token


def _api_error(
    response: Response,
    document: Mapping[str, Any] | None,
    what: str,
    advice: str,
) -> TokenEndpointError:
    # Google APIs send {"error": {"code", "message", "status"}}; the token
    # endpoint sends RFC 6749 {"error", "error_description"}.
    error = document.get("error") if document else None
    if isinstance(error, dict):
        code, description = error.get("status"), error.get("message")
    else:
        code = error
        description = document.get("error_description") if document else None
    code = redact(excerpt(code)) if isinstance(code, str) else None
    detail = redact(excerpt(description)) if isinstance(description, str) else None
    retryable = response.status in RETRYABLE_STATUSES
    if retryable:
        advice = "this is usually temporary, so try again later"
    summary = ": ".join(part for part in (code, detail) if part) or "no error detail"
    return TokenEndpointError(
        f"{what} {response.host} rejected the request with HTTP "
        f"{response.status} {summary}; {advice}",
        status=response.status,
        error=code,
        error_description=detail,
        retryable=retryable,
    )


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None
