"""``posos-jwt token``: print an ID token."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .. import (
    DEFAULT_IAM_ENDPOINT,
    IDToken,
    SelfSignedCredentials,
    ServiceAccountKey,
    find_credentials,
)
from ._common import (
    UsageError,
    add_key_file_option,
    add_network_options,
    client_id_from,
)


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
    add_key_file_option(parser)
    parser.add_argument(
        "--client-id",
        metavar="ID",
        help="OAuth client ID of the IAP resource (default: $POSOS_CLIENT_ID)",
    )
    add_network_options(parser)
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
        default=DEFAULT_IAM_ENDPOINT,
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
    """Fetch or sign the token and print it."""
    if args.self_signed:
        token = self_signed_token(args)
    elif args.url is not None:
        raise UsageError("--url is used only with --self-signed")
    else:
        token = fetched_token(args)
    print(token_json(token) if args.json else token.value)
    return 0


def self_signed_token(args: argparse.Namespace) -> IDToken:
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
    key = load_key(args.key_file)
    return SelfSignedCredentials(key, audience=args.url).get_id_token()


def fetched_token(args: argparse.Namespace) -> IDToken:
    """Fetch a Google-signed ID token for the client ID.

    The credentials come from ``--key-file``, else the file named by
    ``GOOGLE_APPLICATION_CREDENTIALS``, else the metadata server.
    """
    client_id = client_id_from(args)
    credentials = find_credentials(
        client_id,
        args.key_file,
        token_uri=args.token_uri,
        ca_bundle=args.ca_bundle,
        timeout=args.timeout,
        impersonate=args.impersonate,
        iam_endpoint=args.iam_endpoint,
    )
    return credentials.get_id_token()


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
