"""``posos-jwt token``: print an ID token."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .. import IDToken, IDTokenCredentials, ServiceAccountKey
from ._common import (
    add_key_file_option,
    add_network_options,
    add_proxy_and_retry_options,
    client_id_from,
    retry_from,
)


def add_parser(subparsers: Any) -> None:
    """Declare ``token`` and its options."""
    parser = subparsers.add_parser(
        "token",
        help="print an ID token for the client ID",
        description=(
            "Fetch a Google-signed ID token for the client ID and print it, "
            "followed by a newline."
        ),
    )
    add_key_file_option(parser)
    parser.add_argument(
        "--client-id",
        metavar="ID",
        help="OAuth client ID of the IAP resource (default: $POSOS_CLIENT_ID)",
    )
    add_network_options(parser)
    add_proxy_and_retry_options(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a JSON object with the token, its expiry and its claims",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Fetch the token and print it."""
    client_id = client_id_from(args)
    key = load_key(args.key_file)
    credentials = IDTokenCredentials(
        key,
        client_id,
        token_uri=args.token_uri,
        ca_bundle=args.ca_bundle,
        timeout=args.timeout,
        proxy=args.proxy,
        trust_env=not args.no_env_proxy,
        retry=retry_from(args),
    )
    token = credentials.get_id_token()
    print(token_json(token) if args.json else token.value)
    return 0


def load_key(key_file: str | None) -> ServiceAccountKey:
    """Load ``--key-file``, or the file named by the environment."""
    if key_file is None:
        return ServiceAccountKey.from_environment()
    return ServiceAccountKey.from_file(key_file)


def token_json(token: IDToken) -> str:
    """Format a token, its expiry and its claims as JSON."""
    document = {
        "id_token": token.value,
        "expiry": token.expiry,
        "expires_at": token.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "claims": dict(token.claims),
    }
    return json.dumps(document, indent=2, sort_keys=True)
