"""``posos-jwt verify``: verify a Google ID token or IAP's signed header."""

from __future__ import annotations

import argparse
import json
from typing import Any
from urllib.parse import urlsplit

from .._defaults import DEFAULT_TIMEOUT, GOOGLE_CERTS_URL, IAP_CERTS_URL
from ._common import non_empty, positive_seconds
from ._token_input import add_token_argument, read_token


def add_parser(subparsers: Any) -> None:
    """Declare ``verify`` and its options."""
    parser = subparsers.add_parser(
        "verify",
        help="verify a Google ID token, or IAP's signed header with --iap",
        description=(
            "Verify a JWT against Google's published keys: the signature, the "
            "issuer, the audience and the times. Prints the verified claims and "
            "exits 0, or prints the failed check and exits 6. Exits 5 when the "
            "keys cannot be fetched (network, TLS, timeout, or a keys URL that "
            "returns an error or no key set), and 3 for an invalid --certs-url."
        ),
    )
    add_token_argument(parser)
    parser.add_argument(
        "--audience",
        metavar="AUD",
        required=True,
        help=(
            "the aud that the token must carry: the OAuth client ID for an ID "
            "token, /projects/NUMBER/global/backendServices/ID or "
            "/projects/NUMBER/apps/ID with --iap"
        ),
    )
    parser.add_argument(
        "--iap",
        action="store_true",
        help=(
            "verify IAP's x-goog-iap-jwt-assertion header (ES256, issuer "
            "https://cloud.google.com/iap) instead of a Google ID token (RS256)"
        ),
    )
    parser.add_argument(
        "--certs-url",
        metavar="URL",
        help=(
            "https URL of the keys, a JWK set or a map of key IDs to PEM "
            f"certificates (default: {GOOGLE_CERTS_URL}, or {IAP_CERTS_URL} "
            "with --iap)"
        ),
    )
    parser.add_argument(
        "--ca-bundle",
        metavar="PATH",
        type=non_empty,
        help="PEM file of CA certificates to trust instead of the system's",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=positive_seconds,
        default=DEFAULT_TIMEOUT,
        help=(
            "seconds allowed to connect, and again for each read "
            f"(default: {DEFAULT_TIMEOUT:g})"
        ),
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Verify the token and print its claims."""
    token = read_token(args)
    from .. import KeySet, verify_iap_jwt, verify_id_token

    default_url = IAP_CERTS_URL if args.iap else GOOGLE_CERTS_URL
    key_set = KeySet(
        args.certs_url or default_url, ca_bundle=args.ca_bundle, timeout=args.timeout
    )
    if args.iap:
        claims = verify_iap_jwt(token, args.audience, key_set=key_set)
        algorithm = "ES256"
    else:
        claims = verify_id_token(token, args.audience, key_set=key_set)
        algorithm = "RS256"
    host = urlsplit(key_set.url).hostname
    print(
        f"verified: {algorithm} signature by a key from {host}, and iss, aud, "
        "exp, iat and nbf checked"
    )
    print(json.dumps(claims, indent=2, sort_keys=True))
    return 0
