"""``posos-jwt token``: print an ID token."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._defaults import DEFAULT_IAM_ENDPOINT
from ._common import (
    Settings,
    UsageError,
    add_token_options,
    require_client_id,
    resolve_settings,
    retry_from,
)

if TYPE_CHECKING:
    from .. import Credentials, IDToken, ServiceAccountKey, TokenCache

logger = logging.getLogger(__name__)


def add_parser(subparsers: Any) -> None:
    """Declare ``token`` and its options."""
    parser = subparsers.add_parser(
        "token",
        help="print an ID token for the client ID",
        description=(
            "Fetch a Google-signed ID token for the client ID and print it, "
            "followed by a newline. Without --key-file, the key file named by "
            "GOOGLE_APPLICATION_CREDENTIALS is used, or else the metadata server "
            "of Google Cloud (GCE_METADATA_HOST replaces its host)."
        ),
    )
    add_token_options(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a JSON object with the token, its expiry and its claims",
    )
    parser.add_argument(
        "--impersonate",
        metavar="EMAIL",
        help=(
            "get the ID token for this service account from the IAM Credentials "
            "API; the key file or the metadata server account must have "
            "roles/iam.serviceAccountOpenIdTokenCreator on it"
        ),
    )
    parser.add_argument(
        "--iam-endpoint",
        metavar="URL",
        help=(
            "with --impersonate: root URL of the IAM Credentials API, any https "
            f"URL or http on a loopback address (default: {DEFAULT_IAM_ENDPOINT})"
        ),
    )
    parser.add_argument(
        "--self-signed",
        action="store_true",
        help=(
            "sign a JWT for --url with the key itself, with no request to "
            "Google; works only if the IAP in front of the API accepts "
            "service-account JWTs"
        ),
    )
    parser.add_argument(
        "--url",
        metavar="URL",
        help=(
            "with --self-signed: the https URL of the API behind IAP, or a "
            "prefix ending with '/*' that covers every path under it"
        ),
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Fetch, sign or read from the cache the token, and print it."""
    settings = resolve_settings(args)
    if args.self_signed:
        token = self_signed_token(args, settings)
    elif args.url is not None:
        raise UsageError("--url is used only with --self-signed")
    else:
        token = get_token(settings, require_client_id(settings), args)
    print(token_json(token) if args.json else token.value)
    return 0


def self_signed_token(args: argparse.Namespace, settings: Settings) -> IDToken:
    """Sign a JWT for ``--url`` with the key, without contacting Google."""
    if args.url is None:
        raise UsageError(
            "--self-signed needs --url: the https URL of the API behind IAP, or "
            "a prefix ending with '/*'"
        )
    if args.client_id is not None:
        raise UsageError(
            "--self-signed signs for --url, not for a client ID: drop --client-id"
        )
    if args.impersonate is not None:
        raise UsageError(
            "--self-signed signs with the key's own account: drop --impersonate"
        )
    if args.iam_endpoint is not None:
        raise UsageError("--iam-endpoint is used only with --impersonate")
    if settings.cache:
        logger.warning(
            "--cache is not used with --self-signed: a self-signed JWT is made "
            "locally, with no request to cache"
        )
    from .. import SelfSignedCredentials

    key = load_key(settings.key_file)
    return SelfSignedCredentials(key, audience=args.url).get_id_token()


def get_token(settings: Settings, client_id: str, args: argparse.Namespace) -> IDToken:
    """Return a token from the on-disk cache when enabled, else fetch one.

    A cache hit returns before any credentials are built, so the private key
    is neither loaded nor checked for a token that is already at hand.
    """
    _, cached = cached_token(settings, client_id, args)
    if cached is not None:
        return cached
    credentials, store = credentials_for(settings, client_id, args)
    try:
        return credentials.get_id_token()
    finally:
        store()


def cached_token(
    settings: Settings, client_id: str, args: argparse.Namespace
) -> tuple[TokenCache | None, IDToken | None]:
    """Return the on-disk cache when it applies, and its valid token if any.

    Raises:
        UsageError: ``--iam-endpoint`` is given without ``--impersonate``.
    """
    if args.impersonate is None and args.iam_endpoint is not None:
        raise UsageError("--iam-endpoint is used only with --impersonate")
    if not settings.cache or args.impersonate is not None:
        return None, None
    from .. import TokenCache

    cache = TokenCache()
    if settings.key_file is None:
        return cache, None
    cached = cache.load_for_key_file(
        settings.key_file, client_id, token_uri=settings.token_uri
    )
    return cache, cached


def credentials_for(
    settings: Settings, client_id: str, args: argparse.Namespace
) -> tuple[Credentials, Callable[[], None]]:
    """Build the credentials of the resolved settings, primed from the cache.

    The credentials come from the resolved key file, else the metadata
    server. With the on-disk cache enabled, a cached token is looked up
    before the key is even loaded, and the returned function writes the
    credentials' newest token back. Only tokens fetched with a key file are
    cached, because the cache is keyed by the key's account, ID and
    fingerprint.

    Returns:
        The credentials, and a function to call once they have been used.
    """
    from .. import IDTokenCredentials, find_credentials

    cache, cached = cached_token(settings, client_id, args)
    # A key file named by the environment is left for find_credentials to
    # read, so that its log names the variable rather than an argument.
    key_file = None if settings.key_file_from_environment else settings.key_file
    credentials = find_credentials(
        client_id,
        key_file,
        token_uri=settings.token_uri,
        ca_bundle=settings.ca_bundle,
        timeout=settings.timeout,
        impersonate=args.impersonate,
        iam_endpoint=args.iam_endpoint or DEFAULT_IAM_ENDPOINT,
        proxy=settings.proxy,
        trust_env=not args.no_env_proxy,
        retry=retry_from(args),
    )
    if cached is not None:
        credentials.prime(cached)

    if settings.cache and not isinstance(credentials, IDTokenCredentials):
        # The cache is keyed by a key file's account, key ID and content, which
        # impersonated and metadata-server credentials do not have.
        logger.warning(
            "--cache is used only for tokens fetched with a key file; this token "
            "comes from %s and is not cached",
            type(credentials).__name__,
        )

    def store() -> None:
        token = credentials.id_token
        if cache is None or token is None or token is cached:
            return
        if isinstance(credentials, IDTokenCredentials):
            cache.store(credentials, token)

    return credentials, store


def load_key(key_file: str | None) -> ServiceAccountKey:
    """Load ``--key-file``, or the file named by the environment."""
    from .. import ServiceAccountKey

    if key_file is None:
        return ServiceAccountKey.from_environment()
    return ServiceAccountKey.from_file(key_file)


def token_json(token: IDToken) -> str:
    """Format a token, its expiry and its claims as JSON.

    Raises:
        TokenCheckError: A claim is NaN or infinite, which JSON cannot hold.
    """
    document = {
        "id_token": token.value,
        "expiry": token.expiry,
        "expires_at": token.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "claims": dict(token.claims),
    }
    try:
        return json.dumps(document, indent=2, sort_keys=True, allow_nan=False)
    except ValueError:
        from .._errors import TokenCheckError

        raise TokenCheckError(
            "the token has a claim that is NaN or infinite, which JSON cannot "
            "hold: print it without --json, or check the token endpoint URL",
            claim=None,
        ) from None
