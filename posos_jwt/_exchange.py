"""Exchange a signed assertion for an ID token at the token endpoint.

Google's token endpoint answers a jwt-bearer grant that carries
``target_audience`` with ``{"id_token": "..."}`` and nothing else. Errors are
RFC 6749 section 5.2 objects with ``error`` and ``error_description``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlencode

from ._errors import TokenEndpointError, excerpt
from ._transport import Response, Transport

logger = logging.getLogger(__name__)

JWT_BEARER_GRANT: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
"""The ``grant_type`` of RFC 7523, section 2.1."""

RETRYABLE_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})
"""Statuses after which the same request may succeed later."""

_HTML_BLOCK: Final = re.compile(r"<(style|script)\b.*?</\1\s*>", re.I | re.S)
_HTML_TAG: Final = re.compile(r"<[^>]*>")
_JWT_PATTERN: Final = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*")


def redact(text: str) -> str:
    """Replace anything shaped like a JWT in ``text`` with ``[redacted JWT]``.

    A server or proxy may echo the request in an error page, and the request
    holds the signed assertion, so no response text is quoted without this.
    """
    return _JWT_PATTERN.sub("[redacted JWT]", text)


def request_id_token(transport: Transport, token_uri: str, assertion: str) -> str:
    """POST the assertion and return the ``id_token`` string of the answer.

    Raises:
        TokenEndpointError: The endpoint rejected the request or returned no
            ``id_token``.
        TransportError: The request failed below HTTP.
    """
    body = urlencode({"grant_type": JWT_BEARER_GRANT, "assertion": assertion})
    response = transport.request(
        "POST",
        token_uri,
        body=body.encode("ascii"),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        },
    )
    return parse_token_response(response)


def parse_token_response(response: Response) -> str:
    """Check a token endpoint's response and return its ``id_token``.

    The status is checked before any field is read, so an error body that
    happens to contain an ``id_token`` field is still an error.

    Raises:
        TokenEndpointError: The response is an error, is not JSON, or has no
            ``id_token``.
    """
    if response.status != 200:
        raise _error_from_response(response)
    document = _json_object(response.body)
    if document is None:
        raise TokenEndpointError(
            f"token endpoint {response.host} returned HTTP 200 with a body that "
            f"is not a JSON object: {_body_excerpt(response.body)}; check that "
            "the token endpoint URL is right",
            status=response.status,
        )
    id_token = document.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise TokenEndpointError(
            f"token endpoint {response.host} returned HTTP 200 without an "
            f"id_token (fields: {_field_names(document)}); an access_token alone "
            "means the request asked for a scope instead of an audience, so "
            "check the token endpoint URL",
            status=response.status,
        )
    logger.debug("token endpoint %s returned an ID token", response.host)
    return id_token


def _error_from_response(response: Response) -> TokenEndpointError:
    document = _json_object(response.body)
    error = _text_field(document, "error")
    description = _text_field(document, "error_description")
    retryable = response.status in RETRYABLE_STATUSES
    if error is None:
        return TokenEndpointError(
            f"token endpoint {response.host} returned HTTP {response.status}: "
            f"{_body_excerpt(response.body)}; {_next_step(retryable)}",
            status=response.status,
            retryable=retryable,
        )
    detail = f"{error}: {description}" if description else error
    return TokenEndpointError(
        f"token endpoint {response.host} rejected the request with HTTP "
        f"{response.status} {detail}; {_next_step(retryable)}",
        status=response.status,
        error=error,
        error_description=description,
        retryable=retryable,
    )


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
    return redact(excerpt(value))


def _field_names(document: Mapping[str, object]) -> str:
    names = sorted(str(name) for name in document)
    return excerpt(", ".join(names), 100) or "none"


def _body_excerpt(body: bytes) -> str:
    if not body:
        return "(empty body)"
    text = body.decode("utf-8", errors="replace")
    text = _HTML_BLOCK.sub(" ", text)
    text = _HTML_TAG.sub(" ", text)
    return repr(redact(excerpt(text)))
