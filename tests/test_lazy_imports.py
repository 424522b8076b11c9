"""Each command loads only the modules that it runs, checked in a new interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from posos_jwt.testing import GoogleStandIn

FLOW_MODULES = (
    "jwt",
    "urllib3",
    "tomllib",
    "cryptography",
    "posos_jwt.testing",
    "posos_jwt._config",
    "posos_jwt._credentials",
    "posos_jwt._http",
    "posos_jwt._impersonated",
    "posos_jwt._metadata",
    "posos_jwt._token_cache",
    "posos_jwt._transport",
    "posos_jwt._verify",
)
"""Modules that building the parser must not load."""

TOKEN_PATH_EXCLUDED = (
    "jwt",
    "tomllib",
    "posos_jwt.testing",
    "posos_jwt._config",
    "posos_jwt._impersonated",
    "posos_jwt._metadata",
    "posos_jwt._self_signed",
    "posos_jwt._token_cache",
    "posos_jwt._verify",
)
"""Modules that ``posos-jwt token --key-file ...`` must not load."""


def loaded_after(
    statements: str, environment: dict[str, str] | None = None
) -> set[str]:
    """Run ``statements`` in a new interpreter and return the modules it loaded."""
    code = f"{statements}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_parser_loads_no_flow_module() -> None:
    loaded = loaded_after("import posos_jwt._cli\nposos_jwt._cli.build_parser()")
    for module in FLOW_MODULES:
        assert module not in loaded, module


def test_help_loads_no_flow_module() -> None:
    code = (
        "import contextlib, io, posos_jwt._cli\n"
        "out = io.StringIO()\n"
        "for command in ('token', 'request', 'verify', 'check-key'):\n"
        "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(out):\n"
        "        posos_jwt._cli.main([command, '--help'])"
    )
    loaded = loaded_after(code)
    for module in FLOW_MODULES:
        assert module not in loaded, module


def test_check_key_loads_no_network(key_file: Path) -> None:
    argv = ["check-key", "--key-file", str(key_file)]
    code = (
        "import contextlib, io, posos_jwt._cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert posos_jwt._cli.main({argv!r}) == 0"
    )
    loaded = loaded_after(code)
    assert "cryptography" in loaded
    for module in ("jwt", "urllib3", "posos_jwt._transport", "posos_jwt._verify"):
        assert module not in loaded, module


def test_token_loads_no_pyjwt(standin: GoogleStandIn, key_file: Path) -> None:
    argv = [
        "token",
        "--key-file",
        str(key_file),
        "--client-id",
        standin.iap_client_id,
        "--token-uri",
        standin.token_uri,
        "--ca-bundle",
        standin.ca_bundle,
    ]
    code = (
        "import contextlib, io, posos_jwt._cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert posos_jwt._cli.main({argv!r}) == 0"
    )
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("POSOS_", "GOOGLE_"))
    }
    loaded = loaded_after(code, environment)
    assert "urllib3" in loaded
    for module in TOKEN_PATH_EXCLUDED:
        assert module not in loaded, module
