"""``posos-jwt demo``: run the whole flow against a local stand-in for Google.

The demo needs no credentials and no network: it starts
``posos_jwt.testing.GoogleStandIn`` on 127.0.0.1, makes a throwaway key, and
runs the same code as ``posos-jwt token`` and an API call against it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(subparsers: Any) -> None:
    """Declare ``demo``."""
    parser = subparsers.add_parser(
        "demo",
        help="run the whole flow against a local stand-in for Google",
        description=(
            "Start a stand-in for Google's token endpoint and for IAP on "
            "127.0.0.1, make a throwaway service-account key, fetch an ID token "
            "and call the protected API with it. Needs no credentials."
        ),
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo and print each step."""
    del args
    import tempfile

    from .. import IDTokenCredentials, ServiceAccountKey

    # Imported here: the stand-in is test tooling, never needed by the
    # commands that talk to Google.
    from ..testing import GoogleStandIn, write_key_file

    with GoogleStandIn() as standin, tempfile.TemporaryDirectory() as directory:
        _step(1, f"started a stand-in for Google and IAP at {standin.base_url}")
        key_path = write_key_file(directory, standin.new_account())
        key = ServiceAccountKey.from_file(key_path)
        _step(2, f"made a throwaway key {key.private_key_id} for {key.client_email}")

        credentials = IDTokenCredentials(
            key,
            standin.iap_client_id,
            token_uri=standin.token_uri,
            ca_bundle=standin.ca_bundle,
        )
        token = credentials.get_id_token()
        _step(3, f"fetched an ID token from {credentials.token_uri}")
        for name in ("iss", "aud", "email", "exp"):
            print(f"     {name}: {token.claims.get(name)}")
        print(f"     expires at {token.expires_at:%Y-%m-%d %H:%M:%S} UTC")

        url = standin.api_url + "/hello"
        refused = credentials.transport.request("GET", url)
        _step(
            4,
            f"GET {url} without a token: HTTP {refused.status}, "
            f"{refused.body.decode('utf-8', 'replace').strip()}",
        )
        response = credentials.transport.request(
            "GET", url, headers={"Authorization": "Bearer " + token.value}
        )
        _step(5, f"GET {url} with the token: HTTP {response.status}")
        print("     " + json.dumps(json.loads(response.body), sort_keys=True))
    return 0 if response.status == 200 else 1


def _step(number: int, text: str) -> None:
    print(f"{number}. {text}", flush=True)
