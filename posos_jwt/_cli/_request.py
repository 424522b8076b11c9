"""``posos-jwt request``: send one HTTP request with the ID token, like curl."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any, Final

from .._defaults import DEFAULT_API_MAX_TIME, DEFAULT_MAX_BODY_SIZE
from ._common import (
    UsageError,
    add_token_options,
    positive_integer,
    positive_seconds,
    require_client_id,
    resolve_settings,
)
from ._token import credentials_for

HTTP_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""An RFC 9110 ``token``, the grammar of a method and of a header name."""

CREDENTIAL_HEADERS: Final = frozenset({"authorization", "proxy-authorization"})
"""Headers that carry credentials, which the command sets itself and never
takes as an argument, because arguments are visible to other users in ``ps``."""

ROUTING_HEADERS: Final = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "upgrade", "te"}
)
"""Headers that choose where a request goes or how its body is framed. A front
end such as IAP routes by ``Host``, so a ``Host`` of another API would carry
the token to it past the URL check. urllib3 sets the others itself."""

MAX_REQUEST_BODY_SIZE: Final = 64 * 1024 * 1024
"""Largest ``-d`` body read, in bytes, so that ``-d @/dev/zero`` or an endless
producer on stdin fails instead of filling memory."""


def add_parser(subparsers: Any) -> None:
    """Declare ``request`` and its options."""
    parser = subparsers.add_parser(
        "request",
        help="send an HTTP request with an ID token, like curl",
        description=(
            "Send one HTTP request to an IAP-protected URL with a fresh ID "
            "token, and write the response body to stdout unchanged. A status "
            "outside 200-299 exits with code 7, its status and the start of "
            "its body on stderr. The token is never printed."
        ),
    )
    parser.add_argument(
        "url",
        metavar="URL",
        help=(
            "https URL to request, or a path such as /autocomplete-api/... that "
            "is resolved against the profile's base_url"
        ),
    )
    parser.add_argument(
        "-X",
        "--request",
        dest="method",
        metavar="METHOD",
        help="HTTP method (default: GET, or POST with -d)",
    )
    parser.add_argument(
        "-H",
        "--header",
        dest="headers",
        metavar="'NAME: VALUE'",
        action="append",
        default=[],
        help="request header, repeatable; Authorization and Proxy-Authorization "
        "are set by posos-jwt",
    )
    parser.add_argument(
        "-d",
        "--data",
        metavar="DATA",
        help="request body: the text itself, @FILE for a file's bytes, or @- for stdin",
    )
    parser.add_argument(
        "--proxy-authorization",
        action="store_true",
        help="send the token in Proxy-Authorization instead of Authorization, "
        "which IAP reads first, leaving Authorization to the application",
    )
    parser.add_argument(
        "--allow-other-host",
        action="store_true",
        help=(
            "send the token to an absolute URL on another host than the "
            "profile's base_url (refused by default, so that a token for one "
            "API is not sent to another)"
        ),
    )
    parser.add_argument(
        "--max-body-size",
        metavar="BYTES",
        type=positive_integer,
        default=DEFAULT_MAX_BODY_SIZE,
        help=(
            "largest response body read, in bytes; a larger one fails with "
            f"exit code 5 (default: {DEFAULT_MAX_BODY_SIZE})"
        ),
    )
    parser.add_argument(
        "--max-time",
        metavar="SECONDS",
        type=positive_seconds,
        default=DEFAULT_API_MAX_TIME,
        help=(
            "seconds within which the whole response must arrive, however "
            f"slowly the server sends it (default: {DEFAULT_API_MAX_TIME:g})"
        ),
    )
    add_token_options(parser)
    parser.set_defaults(run=run, impersonate=None, iam_endpoint=None)


def run(args: argparse.Namespace) -> int:
    """Send the request and write the body of a 2xx response to stdout."""
    from .. import AuthorizedHTTP

    headers = parse_headers(args.headers)
    body = read_body(args.data)
    method = args.method or ("POST" if body is not None else "GET")
    if not HTTP_TOKEN.fullmatch(method):
        raise UsageError(f"-X {method!r}: give an HTTP method such as GET or POST")
    settings = resolve_settings(args)
    url = request_url(settings.base_url, args.url, args.allow_other_host)
    credentials, store = credentials_for(settings, require_client_id(settings), args)
    http = AuthorizedHTTP(
        credentials,
        proxy_authorization=args.proxy_authorization,
        max_body_size=args.max_body_size,
        max_time=args.max_time,
    )
    try:
        response = http.request(method.upper(), url, body=body, headers=headers)
    finally:
        store()
    response.raise_for_status()
    sys.stdout.buffer.write(response.body)
    sys.stdout.buffer.flush()
    return 0


def request_url(base_url: str | None, target: str, allow_other_host: bool) -> str:
    """Resolve the URL argument against the profile's ``base_url``.

    Raises:
        UsageError: The URL argument is rejected, which exit code 2 reports as
            an invalid argument.
        RequestTargetError: The profile's ``base_url`` is rejected, which is a
            configuration error (exit code 3).
    """
    from .. import RequestTargetError, resolve_request_url

    try:
        return resolve_request_url(base_url, target, allow_other_host=allow_other_host)
    except RequestTargetError as exc:
        if exc.reason == "base_url":
            raise
        raise UsageError(str(exc)) from exc


def parse_headers(values: list[str]) -> dict[str, str]:
    """Parse ``-H 'Name: value'`` options.

    Raises:
        UsageError: A header is malformed or carries credentials.
    """
    headers: dict[str, str] = {}
    for value in values:
        name, colon, text = value.partition(":")
        name = name.strip()
        if not colon or not HTTP_TOKEN.fullmatch(name):
            raise UsageError(f"-H {name!r}: give a header as 'Name: value'")
        if not text.isascii() or any(character in text for character in "\r\n\0"):
            raise UsageError(
                f"-H {name}: the value must be ASCII without line breaks or NUL"
            )
        if name.lower() in CREDENTIAL_HEADERS:
            raise UsageError(
                f"-H {name}: posos-jwt sets the token header itself and takes no "
                "credential as an argument"
            )
        if name.lower() in ROUTING_HEADERS:
            raise UsageError(
                f"-H {name}: this header is set from the URL and the body, so "
                "that the token goes only where the URL says: drop it"
            )
        headers[name] = text.strip()
    return headers


def read_body(data: str | None) -> bytes | None:
    """Return the bytes of ``-d``: the text, a file's bytes, or stdin.

    Raises:
        UsageError: The file cannot be read.
    """
    if data is None:
        return None
    if not data.startswith("@"):
        return data.encode("utf-8")
    path = data[1:]
    if path == "-":
        return _capped(sys.stdin.buffer.read(MAX_REQUEST_BODY_SIZE + 1), "@-")
    if "\0" in path:
        # open() raises ValueError, not OSError, on a NUL byte.
        raise UsageError("-d @FILE: the path contains a NUL byte: check the path")
    try:
        with open(path, "rb") as file:
            return _capped(file.read(MAX_REQUEST_BODY_SIZE + 1), "@" + path)
    except OSError as exc:
        raise UsageError(f"-d @{path}: cannot read the file ({exc.strerror})") from None


def _capped(body: bytes, source: str) -> bytes:
    if len(body) > MAX_REQUEST_BODY_SIZE:
        raise UsageError(
            f"-d {source}: the body is larger than {MAX_REQUEST_BODY_SIZE} bytes: "
            "send a smaller one"
        )
    return body
