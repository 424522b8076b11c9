"""``posos-jwt profiles``: list the profiles and check their key files offline."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ._common import add_config_option, config_path

if TYPE_CHECKING:
    from .. import Profile

EXIT_BROKEN_PROFILE = 3
"""Exit status when a profile's key file cannot be used, the same as for a bad
key file given to any other command."""


def add_parser(subparsers: Any) -> None:
    """Declare ``profiles`` and its options."""
    parser = subparsers.add_parser(
        "profiles",
        help="list the profiles and check their key files offline",
        description=(
            "List the profiles of the configuration file, each with its key "
            "file, service account, client ID and base URL, and check each key "
            "file without any network call. Keys and tokens are never printed. "
            f"Exits with {EXIT_BROKEN_PROFILE} when a key file cannot be used."
        ),
    )
    add_config_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print each profile; return 3 if any key file is unusable, else 0."""
    from .. import ConfigFile

    config = ConfigFile.load(config_path(args))
    print(f"config file: {config.path}")
    if not config.profiles:
        print("no profiles: add a [profiles.NAME] table")
        return 0
    broken = 0
    for profile in config.profiles.values():
        print()
        broken += not _print_profile(profile)
    return EXIT_BROKEN_PROFILE if broken else 0


def _print_profile(profile: Profile) -> bool:
    """Print one profile; return whether its key file is usable."""
    from .. import KeyFileError, ServiceAccountKey

    print(f"[{profile.name}]")
    print(f"  key file:        {profile.key_file}")
    try:
        key = ServiceAccountKey.from_file(profile.key_file)
    except KeyFileError as exc:
        # The message names the file and the field, never the key's content.
        print(f"  problem:         {exc}")
        usable = False
    else:
        print(f"  service account: {key.client_email}")
        print(f"  key ID:          {key.private_key_id}")
        usable = True
    print(f"  client ID:       {profile.client_id}")
    if profile.base_url is not None:
        print(f"  base URL:        {profile.base_url}")
    if profile.token_uri is not None:
        print(f"  token endpoint:  {profile.token_uri}")
    return usable
