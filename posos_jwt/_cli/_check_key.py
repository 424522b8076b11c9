"""``posos-jwt check-key``: check a key file offline."""

from __future__ import annotations

import argparse
import os
import stat
from typing import Any

from .._token_uri import resolve_token_uri
from ._common import add_key_file_option, add_profile_options, resolve_settings
from ._token import load_key


def add_parser(subparsers: Any) -> None:
    """Declare ``check-key`` and its options."""
    parser = subparsers.add_parser(
        "check-key",
        help="check a key file offline",
        description=(
            "Check a service-account key file without any network call, and "
            "print its account, key ID, key size and token endpoint. The "
            "private key is never printed."
        ),
    )
    add_key_file_option(parser)
    add_profile_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Load the key and print what it contains, except the private key."""
    settings = resolve_settings(args)
    key = load_key(settings.key_file)
    token_uri = resolve_token_uri(
        key.token_uri,
        universe_domain=key.universe_domain,
        override=settings.token_uri,
        key_path=key.path,
    )
    print(f"key file:        {key.path}")
    print(f"service account: {key.client_email}")
    print(f"key ID:          {key.private_key_id}")
    print(f"key size:        {key.key_size} bits RSA")
    print(f"token endpoint:  {token_uri}")
    print(f"permissions:     {_permissions(key.path, key.insecure_permissions)}")
    return 0


def _permissions(path: str | None, insecure: bool) -> str:
    if path is None:
        return "not a file"
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError as exc:
        return f"unknown ({exc.strerror})"
    if insecure:
        return f"{mode:o}, readable by other users: run 'chmod 600 {path}'"
    return f"{mode:o}, ok"
