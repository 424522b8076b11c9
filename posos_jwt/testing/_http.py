"""Request and response values that the stand-in's routes exchange with the server."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

JSON_CONTENT_TYPE: Final = "application/json; charset=utf-8"
"""Content type of every JSON body, as Google's token endpoint sends it."""

HTML_CONTENT_TYPE: Final = "text/html; charset=utf-8"
"""Content type of IAP's own rejections, which are plain text labelled as HTML."""


@dataclass(frozen=True)
class Request:
    """An HTTP request as the routes see it, with its body already read.

    Attributes:
        method: The request method, for example ``"POST"``.
        path: The path without the query string.
        query: The query string without the leading ``?``.
        headers: Header values keyed by lower-case name. Repeated headers are
            joined with ``", "``.
        body: The request body.
    """

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Response:
    """An HTTP response for the server to send.

    Attributes:
        status: The status code.
        body: The body. The server adds ``Content-Length`` itself.
        headers: Extra headers, ``Content-Type`` included.
    """

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


def json_response(
    status: int, payload: object, headers: Mapping[str, str] | None = None
) -> Response:
    """Build a JSON response, indented by two spaces like Google's.

    Args:
        status: The status code.
        payload: A JSON-serialisable value.
        headers: Extra headers besides ``Content-Type``.

    Returns:
        The response.
    """
    body = json.dumps(payload, indent=2).encode("utf-8")
    all_headers = {"Content-Type": JSON_CONTENT_TYPE, **(headers or {})}
    return Response(status, body, all_headers)


def oauth_error(status: int, error: str, description: str | None = None) -> Response:
    """Build an OAuth 2.0 error response (RFC 6749, section 5.2).

    Args:
        status: The status code, 400 for every client error Google returns.
        error: The ``error`` code, for example ``"invalid_grant"``.
        description: The ``error_description``, left out when ``None``.

    Returns:
        The response.
    """
    payload = {"error": error}
    if description is not None:
        payload["error_description"] = description
    return json_response(status, payload)
