"""HTTPS through urllib3, with TLS always verified and timeouts always set.

Every request that posos-jwt sends goes through one :class:`Transport`, so
the trust store, the timeouts, the proxy and the redirect policy are decided
once, here, for the token endpoint and the API alike. Redirects are never
followed: a token endpoint or an IAP that redirects is an error to report, not
a place to send a bearer credential. Retries happen above this layer, in
``_retry.py``, where each attempt signs a new assertion.
"""

from __future__ import annotations

import logging
import math
import os
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.exceptions import ProxyError as Urllib3ProxyError

from ._arguments import optional_path, optional_text, require_bool
from ._deadline import POOL_CLASSES_BY_SCHEME
from ._deadline import deadline as request_deadline
from ._defaults import DEFAULT_TIMEOUT, MAX_TIMEOUT
from ._errors import (
    ConfigurationError,
    ProxyError,
    RequestTimeoutError,
    TLSError,
    TransportError,
    excerpt,
)
from ._proxy import ProxySettings, proxy_settings

logger = logging.getLogger(__name__)

READ_CHUNK_SIZE: Final = 16 * 1024
"""Largest number of bytes read at a time, so that the size limit is checked
between reads."""

MAX_RESPONSE_SIZE: Final = 1024 * 1024
"""Largest response body read from a token endpoint, in bytes. A real response
is about 1 KB; the cap keeps a broken server from filling memory."""

_TUNNEL_STATUS: Final = re.compile(r"Tunnel connection failed: (\d{3})")
"""The text that http.client and urllib3 give a proxy's refusal of CONNECT."""

CA_BUNDLE_HINT: Final = (
    "give the CA certificate that signs it with ca_bundle= (--ca-bundle on the "
    "command line) or the SSL_CERT_FILE environment variable"
)


@dataclass(frozen=True)
class Response:
    """A complete HTTP response, its body read up to a size limit.

    Attributes:
        status: The HTTP status code.
        headers: The response headers, with case-insensitive names.
        body: The body, at most ``MAX_RESPONSE_SIZE`` bytes.
        host: The host that responded, for messages.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes
    host: str


def check_timeout(timeout: object, *, name: str = "timeout") -> float:
    """Return ``timeout`` as a float if it is a positive, finite number of seconds.

    Raises:
        ConfigurationError: It is not.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise ConfigurationError(
            f"{name} must be a number of seconds, not {type(timeout).__name__}"
        )
    try:
        seconds = float(timeout)
    except OverflowError:
        seconds = math.inf
    if not math.isfinite(seconds) or seconds <= 0 or seconds > MAX_TIMEOUT:
        raise ConfigurationError(
            f"{name} must be a positive number of seconds up to {MAX_TIMEOUT:g}, "
            f"not {seconds:g}"
        )
    return seconds


def make_ssl_context(ca_bundle: str | os.PathLike[str] | None) -> ssl.SSLContext:
    """Build a verifying TLS context.

    Without ``ca_bundle``, the system trust store is used, which OpenSSL lets
    ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` replace. With it, only the
    certificates in that file are trusted. Verification cannot be turned off.

    Raises:
        ConfigurationError: The CA bundle is missing or contains no certificate.
    """
    if ca_bundle is None:
        return ssl.create_default_context()
    path = os.fspath(ca_bundle)
    if "\0" in path:
        # os.path.exists() returns False on a NUL byte, which would read as
        # "not found".
        shown = path.replace("\0", "\\0")
        raise ConfigurationError(
            f"CA bundle {shown} contains a NUL byte, which no file name can "
            "contain: check the path"
        )
    if not os.path.exists(path):
        raise ConfigurationError(
            f"CA bundle {path} not found: give the path of a PEM file of CA "
            "certificates"
        )
    if not os.path.isfile(path):
        raise ConfigurationError(
            f"CA bundle {path} is not a regular file: give the path of a PEM "
            "file of CA certificates"
        )
    try:
        return ssl.create_default_context(cafile=path)
    except ssl.SSLError as exc:
        reason = exc.reason or "no certificate could be read"
        raise ConfigurationError(
            f"CA bundle {path} contains no valid PEM certificate ({reason}): "
            "give a PEM file of CA certificates"
        ) from exc


class Transport:
    """One urllib3 connection pool with posos-jwt's TLS, timeout and proxy policy.

    Args:
        ca_bundle: A PEM file of trusted CA certificates, replacing the system
            trust store.
        timeout: Seconds allowed to connect, and again for each read.
        proxy: An ``http://[user:password@]host:port`` proxy for every https
            request, instead of ``HTTPS_PROXY``; ``""`` means no proxy. The
            hosts in ``NO_PROXY`` are still reached directly.
        trust_env: Whether to read ``HTTPS_PROXY``, ``https_proxy``,
            ``NO_PROXY`` and ``no_proxy``. ``SSL_CERT_FILE`` is read by OpenSSL
            whenever ``ca_bundle`` is not given, whatever this flag is.

    Raises:
        ConfigurationError: ``ca_bundle``, ``timeout`` or ``proxy`` is invalid.
    """

    def __init__(
        self,
        *,
        ca_bundle: str | os.PathLike[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        proxy: str | None = None,
        trust_env: bool = True,
    ) -> None:
        self.timeout = check_timeout(timeout)
        self.ca_bundle = optional_path(ca_bundle, "ca_bundle")
        proxy = optional_text(proxy, "proxy", "pass an http:// proxy URL")
        trust_env = require_bool(trust_env, "trust_env")
        self.proxy: ProxySettings | None = proxy_settings(proxy, trust_env=trust_env)
        context = make_ssl_context(self.ca_bundle)
        timeouts = urllib3.Timeout(connect=self.timeout, read=self.timeout)
        self.pool = urllib3.PoolManager(
            ssl_context=context, timeout=timeouts, retries=False
        )
        self.pool.pool_classes_by_scheme = POOL_CLASSES_BY_SCHEME
        self.proxy_pool: urllib3.ProxyManager | None = None
        if self.proxy is not None:
            # Both pools share one TLS context and timeout, so a request to
            # the token endpoint and one to the API follow the same policy
            # whichever way they go.
            self.proxy_pool = urllib3.ProxyManager(
                self.proxy.url,
                proxy_headers=self.proxy.headers,
                ssl_context=context,
                timeout=timeouts,
                retries=False,
            )
            self.proxy_pool.pool_classes_by_scheme = POOL_CLASSES_BY_SCHEME

    def __repr__(self) -> str:
        proxy = None if self.proxy is None else self.proxy.display_url
        return (
            f"Transport(ca_bundle={self.ca_bundle!r}, timeout={self.timeout}, "
            f"proxy={proxy!r})"
        )

    def pool_for(self, url: str) -> urllib3.PoolManager:
        """Return the pool that a request to ``url`` goes through.

        Only https URLs go through the proxy, because the proxy comes from
        ``HTTPS_PROXY``. Plain http is allowed only on loopback and for the
        metadata server, which must be reached directly.
        """
        parts = urlsplit(url)
        host = parts.hostname or url
        if self.proxy_pool is not None and self.proxy is not None:
            if parts.scheme == "https" and self.proxy.applies_to(host):
                return self.proxy_pool
            logger.debug("%s: connecting directly, without the proxy", host)
        return self.pool

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Response:
        """Send one request and read the whole response.

        Args:
            method: The HTTP method.
            url: An https URL, or http on loopback.
            body: The request body.
            headers: The request headers.
            timeout: Seconds allowed to connect and for each read, when
                shorter than the transport's own timeout.

        Raises:
            TLSError: The server's certificate could not be verified.
            RequestTimeoutError: Connecting or reading took too long.
            TransportError: Any other failure below HTTP, or a body over
                ``MAX_RESPONSE_SIZE``.
        """
        host = urlsplit(url).hostname or url
        seconds = self.timeout if timeout is None else min(timeout, self.timeout)
        # The timeout bounds each socket read, so a server that sends one byte
        # at a time would never trip it: every read of this request also ends
        # at connect plus read time from here (see _deadline.py).
        limit = 2 * seconds
        pool = self.pool_for(url)
        if pool is self.proxy_pool and self.proxy is not None:
            logger.debug("%s %s through proxy %s", method, host, self.proxy.display_url)
        # Compressed bodies are refused rather than decoded: the size limit
        # must count what is read, not what a small body expands to.
        sent = {"Accept-Encoding": "identity", **(headers or {})}
        try:
            with request_deadline(limit):
                response = pool.request(
                    method,
                    url,
                    body=body,
                    headers=sent,
                    redirect=False,
                    retries=False,
                    preload_content=False,
                    decode_content=False,
                    timeout=urllib3.Timeout(connect=seconds, read=seconds),
                )
                data = _read_body(response, host)
        except HTTPError as exc:
            raise transport_error(exc, host, seconds, self.proxy) from exc
        logger.debug("%s %s: HTTP %d", method, host, response.status)
        return Response(response.status, response.headers, data, host)


def _read_body(response: urllib3.BaseHTTPResponse, host: str) -> bytes:
    """Read a whole body within the size limit.

    The request's deadline bounds each read at the socket. A connection whose
    body was not read to the end is closed rather than returned to the pool,
    where the next request would read the rest.

    Raises:
        TransportError: The body is compressed or too large.
    """
    encoding = response.headers.get("Content-Encoding", "identity").lower()
    chunks: list[bytes] = []
    size = 0
    complete = False
    try:
        if encoding not in ("", "identity"):
            raise TransportError(
                f"response from {host} is compressed ({excerpt(encoding, 40)}) "
                "although the request asked for none: check that the URL names "
                "the right server",
                host=host,
                retryable=False,
            )
        # read1 returns what has arrived, so the size is checked as data comes
        # in rather than after a full chunk.
        while chunk := response.read1(READ_CHUNK_SIZE):
            size += len(chunk)
            if size > MAX_RESPONSE_SIZE:
                raise TransportError(
                    f"response from {host} is larger than {MAX_RESPONSE_SIZE} "
                    "bytes: check that the URL names the right server",
                    host=host,
                    retryable=False,
                )
            chunks.append(chunk)
        complete = True
    finally:
        if complete:
            response.release_conn()
        else:
            response.close()
    return b"".join(chunks)


def transport_error(
    exc: HTTPError,
    host: str,
    timeout: float,
    proxy: ProxySettings | None = None,
) -> TransportError:
    """Translate a urllib3 exception into posos-jwt's error for it.

    Only the exception's class, the reason OpenSSL or the OS gives, and the
    status line of a proxy's refusal are quoted: none of them ever contains a
    request header or body.
    """
    if isinstance(exc, MaxRetryError) and isinstance(exc.reason, HTTPError):
        return transport_error(exc.reason, host, timeout, proxy)
    if isinstance(exc, Urllib3ProxyError) and proxy is not None:
        return proxy_error(exc, host, timeout, proxy)
    if isinstance(exc, SSLError):
        return _tls_error(exc, host)
    # urllib3 2 derives NewConnectionError (connection refused, no route,
    # unknown host) from ConnectTimeoutError, so it is tested first.
    if isinstance(exc, NewConnectionError):
        return TransportError(
            f"cannot connect to {host} ({_os_reason(exc)}): check the host name, "
            "the network and any proxy",
            host=host,
        )
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
        if isinstance(exc, ConnectTimeoutError):
            step = "connecting to"
        else:
            step = "waiting for a response from"
        return RequestTimeoutError(
            f"timed out after {timeout:.3g} s {step} {host}: check the network "
            "or the proxy, or raise the timeout (timeout=, --timeout)",
            host=host,
            timeout=timeout,
        )
    if isinstance(exc, ProtocolError):
        return TransportError(
            f"connection to {host} failed before a complete response "
            f"({_os_reason(exc)}): try again, and check any proxy in between",
            host=host,
        )
    return TransportError(
        f"request to {host} failed ({type(exc).__name__}): try again",
        host=host,
    )


def proxy_error(
    exc: Urllib3ProxyError, host: str, timeout: float, proxy: ProxySettings
) -> TransportError:
    """Translate a failure to open a tunnel through the proxy.

    urllib3 raises its ``ProxyError`` only before the tunnel is open, so a
    TLS or timeout failure of the server behind the proxy is not reported
    as the proxy's.
    """
    cause = exc.original_error
    where = f"proxy {proxy.display_url} (from {proxy.source})"
    timed_out = isinstance(cause, ConnectTimeoutError | ReadTimeoutError)
    # urllib3 derives NewConnectionError from ConnectTimeoutError.
    if timed_out and not isinstance(cause, NewConnectionError):
        return RequestTimeoutError(
            f"timed out after {timeout:.3g} s waiting for {where} to open a tunnel "
            f"to {host}: check the proxy, or raise the timeout (timeout=, "
            "--timeout)",
            host=host,
            timeout=timeout,
        )
    match = _TUNNEL_STATUS.search(str(cause))
    if match is None:
        return ProxyError(
            f"cannot connect to {where} ({_os_reason(cause)}) to reach {host}: "
            "check the proxy URL, or bypass the proxy for this host with "
            "NO_PROXY or ignore the environment with trust_env=False "
            "(--no-env-proxy)",
            host=host,
            proxy=proxy.display_url,
            proxy_status=None,
            retryable=True,
        )
    status = int(match.group(1))
    if status == 407:
        hint = (
            "give the proxy's user name and password in the proxy URL, "
            "http://user:password@host:port, through HTTPS_PROXY or proxy="
        )
    else:
        hint = f"ask the proxy's administrator to allow {host}, or add it to NO_PROXY"
    return ProxyError(
        f"{where} rejected the tunnel to {host} with HTTP {status}: {hint}",
        host=host,
        proxy=proxy.display_url,
        proxy_status=status,
        # A proxy that is overloaded or cannot reach the host may do better
        # later. Any other refusal is its policy.
        retryable=status in (502, 503, 504),
    )


def _tls_error(exc: SSLError, host: str) -> TransportError:
    cause = exc.args[0] if exc.args else exc
    if isinstance(cause, ssl.SSLCertVerificationError):
        return TLSError(
            f"TLS certificate of {host} could not be verified "
            f"({_ssl_reason(exc)}): {CA_BUNDLE_HINT}",
            host=host,
        )
    reason = _ssl_reason(exc)
    if "WRONG_VERSION_NUMBER" in reason.upper():
        return TransportError(
            f"{host} did not respond with TLS ({reason}): check that the URL's "
            "port serves https, not plain http",
            host=host,
            retryable=False,
        )
    return TransportError(
        f"TLS handshake with {host} failed ({reason}): check the URL and any "
        "proxy or TLS inspection in between",
        host=host,
        retryable=False,
    )


def _ssl_reason(exc: SSLError) -> str:
    cause = exc.args[0] if exc.args else exc
    if isinstance(cause, ssl.SSLCertVerificationError):
        return str(cause.verify_message or cause.reason)
    if isinstance(cause, ssl.SSLError):
        return str(cause.reason or type(cause).__name__)
    return type(cause).__name__


def _os_reason(exc: BaseException) -> str:
    for arg in exc.args:
        if isinstance(arg, OSError):
            return arg.strerror or type(arg).__name__
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, OSError):
        return cause.strerror or type(cause).__name__
    return type(exc).__name__
