"""``posos-jwt token``: print an ID token."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from .. import IDToken, IDTokenCredentials, ServiceAccountKey, TokenCache
from ._common import (
    Settings,
    add_cache_option,
    add_key_file_option,
    add_network_options,
    add_profile_options,
    require_client_id,
    resolve_settings,
)

logger = logging.getLogger(__name__)


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
        help=(
            "OAuth client ID of the IAP resource (default: $POSOS_CLIENT_ID, "
            "then the profile's client_id)"
        ),
    )
    add_network_options(parser)
    add_profile_options(parser)
    add_cache_option(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a JSON object with the token, its expiry and its claims",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Fetch the token, or read it from the cache, and print it."""
    settings = resolve_settings(args)
    token = get_token(settings, require_client_id(settings))
    print(token_json(token) if args.json else token.value)
    return 0


def get_token(settings: Settings, client_id: str) -> IDToken:
    """Return a token from the on-disk cache when enabled, else fetch one."""
    cache = TokenCache() if settings.cache else None
    if cache is not None and settings.key_file is not None:
        # Looked up before the key is loaded: a hit needs no private key.
        cached = cache.load_for_key_file(
            settings.key_file, client_id, token_uri=settings.token_uri
        )
        if cached is not None:
            return cached
    key = load_key(settings.key_file)
    # NOTE: a profile's proxy is resolved into settings.proxy but not used yet,
    # because IDTokenCredentials takes no proxy; pass proxy=settings.proxy here
    # once it does, and drop this warning.
    if settings.proxy is not None:
        logger.warning(
            "the profile sets a proxy, but this version of posos-jwt cannot use "
            "one: the token endpoint is contacted directly"
        )
    credentials = IDTokenCredentials(
        key,
        client_id,
        token_uri=settings.token_uri,
        ca_bundle=settings.ca_bundle,
        timeout=settings.timeout,
    )
    token = credentials.get_id_token()
    if cache is not None:
        cache.store(credentials, token)
    return token


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
