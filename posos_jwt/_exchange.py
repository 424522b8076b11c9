"""Exchange a signed assertion for an ID token at the token endpoint.

Google's token endpoint responds to a jwt-bearer grant that carries
``target_audience`` with ``{"id_token": "..."}`` and nothing else. Errors are
RFC 6749 section 5.2 objects with ``error`` and ``error_description``, and
the errors that Google documents for service accounts become typed errors with
a hint: ``InvalidJWTSignatureError``, ``AccountNotFoundError``,
``ClockSkewError``, ``InvalidAudienceError`` and ``DisabledClientError``.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from ._errors import (
    AccountNotFoundError,
    ClockSkewError,
    DisabledClientError,
    InvalidAudienceError,
    InvalidGrantError,
    InvalidJWTSignatureError,
    TokenEndpointError,
    excerpt,
)
from ._idtoken import format_utc
from ._transport import Response, Transport

logger = logging.getLogger(__name__)

JWT_BEARER_GRANT: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
"""The ``grant_type`` of RFC 7523, section 2.1."""

RETRYABLE_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})
"""Statuses after which the same request may succeed later: a timeout, a rate
limit, or a server or gateway that is failing or overloaded."""

RETRYABLE_ERRORS: Final = frozenset(
    {"internal_failure", "server_error", "temporarily_unavailable"}
)
"""OAuth ``error`` codes that report a fault on the server's side, whatever
the status that carries them."""

NEVER_RETRIED_ERRORS: Final = frozenset(
    {"invalid_grant", "invalid_scope", "unsupported_grant_type", "disabled_client"}
)
"""OAuth ``error`` codes that the same request gets again, whatever the status:
the key, the account or the audience must change first."""

# Google's error_description texts for invalid_grant, matched by prefix or by
# substring because Google appends detail to some of them.
_INVALID_SIGNATURE: Final = "Invalid JWT Signature"
_ACCOUNT_NOT_FOUND: Final = "account not found"
_NOT_SHORT_LIVED: Final = "short-lived token"


@dataclass(frozen=True)
class RequestContext:
    """The account, key and audience of a token request, for messages only.

    The exchange receives a signed assertion and never the key, so the caller
    names the account, the key and the audience here. None of them is secret.

    Attributes:
        client_email: The service account that signed the assertion.
        key_id: The ``private_key_id`` of the signing key.
        audience: The ``target_audience`` that was requested.
    """

    client_email: str | None = None
    key_id: str | None = None
    audience: str | None = None


@dataclass(frozen=True, repr=False)
class TokenResponse:
    """An ID token from the token endpoint, and the server's clock.

    ``repr`` leaves out the token, which is a bearer credential.

    Attributes:
        id_token: The ``id_token`` field, a compact JWT.
        server_time: The response's ``Date`` header in UTC epoch seconds, or
            ``None`` when it has none or an invalid one.
        local_time: This machine's clock when the response arrived.
    """

    id_token: str
    server_time: float | None
    local_time: float

    def __repr__(self) -> str:
        return (
            f"TokenResponse(server_time={self.server_time!r}, "
            f"local_time={self.local_time!r})"
        )


MAX_RETRY_AFTER_DIGITS: Final = 10
"""Digits of a ``Retry-After`` read as a number; longer ones count as infinite,
which the retry policy caps like any long wait."""

_HTML_BLOCK: Final = re.compile(r"<(style|script)\b.*?</\1\s*>", re.I | re.S)
_HTML_TAG: Final = re.compile(r"<[^>]*>")
# Any base64url run that starts like a JSON object ("{"" encodes to "eyJ"),
# with or without the dots of a compact JWT: a server may echo one segment.
_JWT_PATTERN: Final = re.compile(r"eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){0,2}")


def redact(text: str) -> str:
    """Replace anything shaped like a JWT in ``text`` with ``[redacted JWT]``.

    A server or proxy may echo the request in an error page, and the request
    contains the signed assertion, so no response text is quoted without this.
    """
    return _JWT_PATTERN.sub("[redacted JWT]", text)


def request_id_token(transport: Transport, token_uri: str, assertion: str) -> str:
    """POST the assertion and return the ``id_token`` string of the response.

    Raises:
        TokenEndpointError: The endpoint rejected the request or returned no
            ``id_token``.
        TransportError: The request failed below HTTP.
    """
    return exchange_assertion(transport, token_uri, assertion).id_token


def post_assertion(
    transport: Transport,
    token_uri: str,
    assertion: str,
    *,
    timeout: float | None = None,
) -> Response:
    """POST a signed assertion as a jwt-bearer grant (RFC 7523, section 2.1).

    Raises:
        TransportError: The request failed below HTTP.
    """
    body = urlencode({"grant_type": JWT_BEARER_GRANT, "assertion": assertion})
    return transport.request(
        "POST",
        token_uri,
        body=body.encode("ascii"),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        },
        timeout=timeout,
    )


def exchange_assertion(
    transport: Transport,
    token_uri: str,
    assertion: str,
    *,
    context: RequestContext | None = None,
    local_clock: Callable[[], float] = time.time,
    timeout: float | None = None,
) -> TokenResponse:
    """POST the assertion once and return the ID token with the server's time.

    Args:
        transport: The connection pool to send through.
        token_uri: The token endpoint.
        assertion: The signed assertion, a bearer credential.
        context: The account, key and audience, named in error messages.
        local_clock: This machine's clock in UTC epoch seconds, read when the
            response arrives, to compare with the server's ``Date``.
        timeout: Seconds allowed to connect and for each read, when shorter
            than the transport's own timeout.

    Raises:
        TokenEndpointError: The endpoint rejected the request or returned no
            ``id_token``; a subclass names a known cause.
        TransportError: The request failed below HTTP.
    """
    response = post_assertion(transport, token_uri, assertion, timeout=timeout)
    local_time = local_clock()
    try:
        id_token = parse_token_response(
            response, context=context, local_time=local_time
        )
    except TokenEndpointError as exc:
        remove_echo(exc, assertion)
        raise
    return TokenResponse(id_token, server_time(response), local_time)


_BASE64URL_RUN: Final = re.compile(r"[A-Za-z0-9_-]{8,}")


def remove_echo(error: TokenEndpointError, sent: str) -> None:
    """Redact from ``error`` every piece of ``sent`` that the server echoed.

    :func:`redact` finds whole JWTs by their shape, but a server may quote a
    piece of the assertion, such as its signature. Every run of eight or more
    base64url characters in the message that also occurs in ``sent`` is
    replaced, so at most seven characters of the assertion can show.
    """

    def scrub(text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            return "[redacted]" if match.group() in sent else match.group()

        return _BASE64URL_RUN.sub(replace, text)

    error.args = tuple(
        scrub(arg) if isinstance(arg, str) else arg for arg in error.args
    )
    if error.error_description is not None:
        error.error_description = scrub(error.error_description)
    if error.error is not None:
        error.error = scrub(error.error)


def parse_token_response(
    response: Response,
    *,
    context: RequestContext | None = None,
    local_time: float | None = None,
) -> str:
    """Check a token endpoint's response and return its ``id_token``.

    The status is checked before any field is read, so an error body that
    happens to contain an ``id_token`` field is still an error.

    Args:
        response: The token endpoint's response.
        context: The account, key and audience, named in error messages.
        local_time: This machine's clock when the response arrived, for a
            ``ClockSkewError``; ``time.time()`` when not given.

    Raises:
        TokenEndpointError: The response is an error, is not JSON, or has no
            ``id_token``; a subclass names a known cause.
    """
    if response.status != 200:
        if local_time is None:
            local_time = time.time()
        raise _error_from_response(response, context or RequestContext(), local_time)
    document = _json_object(response.body)
    if document is None:
        raise TokenEndpointError(
            f"token endpoint {response.host} returned HTTP 200 with a body that "
            f"is not a JSON object: {body_excerpt(response.body)}; check that "
            "the token endpoint URL is right",
            status=response.status,
        )
    id_token = document.get("id_token")
    if "id_token" in document and (not isinstance(id_token, str) or not id_token):
        raise TokenEndpointError(
            f"token endpoint {response.host} returned HTTP 200 with an id_token "
            f"that is not a non-empty string but a {type(id_token).__name__}: "
            "check that the token endpoint URL is right",
            status=response.status,
        )
    if not isinstance(id_token, str):
        hint = ""
        if "access_token" in document:
            hint = (
                "; an access_token alone means the request asked for a scope "
                "instead of an audience"
            )
        raise TokenEndpointError(
            f"token endpoint {response.host} returned HTTP 200 without an "
            f"id_token (fields: {_field_names(document)}){hint}: check the token "
            "endpoint URL",
            status=response.status,
        )
    logger.debug("token endpoint %s returned an ID token", response.host)
    return id_token


def _error_from_response(
    response: Response, context: RequestContext, local_time: float
) -> TokenEndpointError:
    document = _json_object(response.body)
    error = _text_field(document, "error")
    description = _text_field(document, "error_description")
    retryable = is_retryable(response.status, error)
    retry_after = _retry_after(response, local_time) if retryable else None
    if 300 <= response.status < 400:
        location = _redirect_target(response)
        return TokenEndpointError(
            f"token endpoint {response.host} redirected with HTTP "
            f"{response.status} to {location}, and posos-jwt never follows a "
            "redirect with a credential: give the final token endpoint URL",
            status=response.status,
        )
    if error is None:
        return TokenEndpointError(
            f"token endpoint {response.host} returned HTTP {response.status}: "
            f"{body_excerpt(response.body)}; {_next_step(retryable)}",
            status=response.status,
            retryable=retryable,
            retry_after=retry_after,
        )
    known = _known_error(response, error, description, context, local_time)
    if known is not None:
        return known
    return TokenEndpointError(
        f"token endpoint {response.host} rejected the request with "
        f"{_status_detail(response.status, error, description)}; "
        f"{_next_step(retryable)}",
        status=response.status,
        error=error,
        error_description=description,
        retryable=retryable,
        retry_after=retry_after,
    )


def _redirect_target(response: Response) -> str:
    location = response.headers.get("Location")
    if not location:
        return "no Location"
    # Only the origin and path: a query could carry anything.
    return repr(excerpt(redact(location.split("?", 1)[0]), 100))


def is_retryable(status: int, error: str | None) -> bool:
    """Tell whether the same token request may succeed if sent again.

    An ``error`` code decides first, because it is more specific than the
    status: ``invalid_grant`` is final even with a 5xx status, and
    ``temporarily_unavailable`` is worth a retry even with a 400.
    """
    if error in NEVER_RETRIED_ERRORS:
        return False
    if error in RETRYABLE_ERRORS:
        return True
    return status in RETRYABLE_STATUSES


def _status_detail(status: int, error: str, description: str | None) -> str:
    detail = f"{error}: {description}" if description else error
    return f"HTTP {status} {detail}"


def _known_error(
    response: Response,
    error: str,
    description: str | None,
    context: RequestContext,
    local_time: float,
) -> TokenEndpointError | None:
    """Return a typed error with a hint for a response that Google documents."""
    status_detail = _status_detail(response.status, error, description)
    if error == "invalid_grant":
        return _invalid_grant_error(
            response, description, status_detail, context, local_time
        )
    if error == "invalid_scope":
        audience = repr(context.audience) if context.audience is not None else ""
        return InvalidAudienceError(
            f"token endpoint {response.host} rejected the audience {audience} "
            f"({status_detail}): the client ID is empty or not accepted as a "
            "target_audience, so give the OAuth client ID of the IAP resource "
            "(for example 1234-abc.apps.googleusercontent.com)",
            status=response.status,
            error_description=description,
            audience=context.audience,
        )
    if error == "disabled_client":
        return DisabledClientError(
            f"token endpoint {response.host} rejected {_account(context)} "
            f"({status_detail}): the service account or its key is disabled, "
            "so enable it in the Google Cloud console or use another key",
            status=response.status,
            error="disabled_client",
            error_description=description,
        )
    return None


def _invalid_grant_error(
    response: Response,
    description: str | None,
    status_detail: str,
    context: RequestContext,
    local_time: float,
) -> InvalidGrantError:
    text = description or ""
    if text.startswith(_INVALID_SIGNATURE):
        return InvalidJWTSignatureError(
            f"token endpoint {response.host} rejected the signature of key "
            f"{context.key_id or '(unknown key ID)'} of {_account(context)} "
            f"({status_detail}): the key was deleted, disabled, expired or "
            "rotated, or the key file's client_email does not own this key; "
            "create a new key for the account and use its key file",
            status=response.status,
            error_description=description,
            client_email=context.client_email,
            key_id=context.key_id,
        )
    if _ACCOUNT_NOT_FOUND in text:
        return AccountNotFoundError(
            f"token endpoint {response.host} found no {_account(context)} "
            f"({status_detail}): the service account was deleted or disabled; "
            "restore or enable it, or use a key file of another account",
            status=response.status,
            error_description=description,
            client_email=context.client_email,
            key_id=context.key_id,
        )
    if _NOT_SHORT_LIVED in text:
        return _clock_skew_error(
            response, description, status_detail, context, local_time
        )
    return InvalidGrantError(
        f"token endpoint {response.host} rejected the assertion of "
        f"{_account(context)} ({status_detail}): check the key file and the "
        "client ID",
        status=response.status,
        error_description=description,
        client_email=context.client_email,
        key_id=context.key_id,
    )


def _clock_skew_error(
    response: Response,
    description: str | None,
    status_detail: str,
    context: RequestContext,
    local_time: float,
) -> ClockSkewError:
    remote = server_time(response)
    if remote is None:
        clocks = f"local time {format_utc(local_time)}, no Date header from the server"
    else:
        clocks = (
            f"local time {format_utc(local_time)}, server time "
            f"{format_utc(remote)} from its Date header, a difference of "
            f"{local_time - remote:+.0f} s"
        )
    return ClockSkewError(
        f"token endpoint {response.host} rejected the assertion's iat and exp "
        f"({status_detail}); {clocks}: set this machine's clock from a time "
        "server (NTP)",
        status=response.status,
        error_description=description,
        client_email=context.client_email,
        key_id=context.key_id,
        local_time=local_time,
        server_time=remote,
    )


def _account(context: RequestContext) -> str:
    if context.client_email is None:
        return "the service account"
    return f"service account {context.client_email}"


def server_time(response: Response) -> float | None:
    """Return the response's ``Date`` header in UTC epoch seconds, if valid.

    RFC 9110 section 6.6.1 gives the ``Date`` in GMT, so the result is the same
    whatever this machine's time zone.
    """
    value = response.headers.get("Date")
    return None if value is None else parse_http_date(value)


def parse_http_date(value: str) -> float | None:
    """Parse an HTTP date (RFC 9110 section 5.6.7) into UTC epoch seconds."""
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # email.utils turns a year below 100 into 19xx or 20xx, so "0001" would
    # read as 2001: the year written must be the year parsed.
    if str(moment.year) not in re.findall(r"\b\d{4}\b", value):
        return None
    if moment.tzinfo is None:
        # "-0000" and obsolete forms without a zone: HTTP dates are always GMT.
        moment = moment.replace(tzinfo=datetime.UTC)
    try:
        return moment.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


def _retry_after(response: Response, local_time: float) -> float | None:
    """Return the ``Retry-After`` delay in seconds (RFC 9110 section 10.2.3)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    # str.isdigit accepts digits of other scripts ("²") that float rejects, so
    # only ASCII digits count, and a cap keeps int() from a huge string.
    if value.isascii() and value.isdigit():
        return float(value) if len(value) <= MAX_RETRY_AFTER_DIGITS else math.inf
    moment = parse_http_date(value)
    if moment is None:
        return None
    # A date is relative to the server's clock, which may differ from ours.
    now = server_time(response)
    delay = moment - (local_time if now is None else now)
    return max(0.0, delay) if math.isfinite(delay) else None


def _next_step(retryable: bool) -> str:
    if retryable:
        return "this is usually temporary, so try again later"
    return "check the key file and the client ID"


def _json_object(body: bytes) -> Mapping[str, object] | None:
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def _text_field(document: Mapping[str, object] | None, name: str) -> str | None:
    if document is None:
        return None
    value = document.get(name)
    if not isinstance(value, str) or not value:
        return None
    return excerpt(redact(value))


def _field_names(document: Mapping[str, object]) -> str:
    # Field names are server text too, and a server may echo the assertion.
    names = sorted(redact(str(name)) for name in document)
    return excerpt(", ".join(names), 100) or "none"


def body_excerpt(body: bytes) -> str:
    """Return the start of a response body as one quoted, printable line.

    HTML tags, styles and scripts are removed, and anything shaped like a JWT
    is redacted, so an error page can be quoted in a message.
    """
    if not body:
        return "(empty body)"
    text = body.decode("utf-8", errors="replace")
    text = _HTML_BLOCK.sub(" ", text)
    text = _HTML_TAG.sub(" ", text)
    return repr(excerpt(redact(text)))
