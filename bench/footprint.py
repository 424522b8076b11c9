"""Installed distributions and their size on disk, in two new environments.

One virtual environment gets posos-jwt from this checkout, the other
google-auth and requests, each installed by pip with its dependencies. The
distributions that ``venv`` itself installs (pip, setuptools) are left out of
both counts.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import tempfile
from typing import Any

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent

REQUIREMENTS = {
    "posos": [str(REPOSITORY)],
    "google": ["google-auth", "requests"],
}

SEED_DISTRIBUTIONS = frozenset({"pip", "setuptools", "wheel"})
"""Distributions that ``python -m venv`` installs before anything else."""

# Run inside each environment. The sizes are those of the files that each
# distribution's RECORD lists, which includes the bytecode that pip compiles
# at install time.
MEASURE_SCRIPT = """
import importlib.metadata, json, os, sys
seed = set(sys.argv[1].split(","))
found = {}
for dist in importlib.metadata.distributions():
    name = dist.metadata["Name"]
    if name.lower() in seed:
        continue
    size = 0
    for file in dist.files or []:
        path = dist.locate_file(file)
        if os.path.isfile(path):
            size += os.path.getsize(path)
    found[name] = {"version": dist.version, "bytes": size}
print(json.dumps(found))
"""


def measure(side: str, directory: pathlib.Path) -> dict[str, Any]:
    """Build an environment for one side and measure what pip installed in it."""
    environment = directory / side
    subprocess.run([sys.executable, "-m", "venv", str(environment)], check=True)
    python = str(environment / "bin" / "python")
    install = [python, "-m", "pip", "install", "--quiet", "--no-cache-dir"]
    install += ["--disable-pip-version-check", *REQUIREMENTS[side]]
    subprocess.run(install, check=True)
    seed = ",".join(sorted(SEED_DISTRIBUTIONS))
    result = subprocess.run(
        [python, "-c", MEASURE_SCRIPT, seed],
        check=True,
        capture_output=True,
        text=True,
    )
    distributions: dict[str, Any] = json.loads(result.stdout)
    return distributions


def footprint() -> dict[str, dict[str, Any]]:
    """Return, for each side, its distributions with version and size in bytes.

    Raises:
        subprocess.CalledProcessError: A venv or a pip install failed, for
            example because the package index cannot be reached.
    """
    with tempfile.TemporaryDirectory(prefix="posos-jwt-footprint-") as directory:
        return {side: measure(side, pathlib.Path(directory)) for side in REQUIREMENTS}
