"""One new virtual environment per side, and what pip installed in each.

One environment gets posos-jwt from this checkout, the other google-auth and
requests, each installed by pip with its dependencies, as a user would
install them. The cold command, import and worker measurements run in these
environments, so neither side pays for the other's packages or for the
development tools of the environment that runs the benchmark. The
distributions that ``venv`` itself installs (pip, setuptools) are left out
of the footprint of both.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
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


def build(side: str, directory: pathlib.Path) -> pathlib.Path:
    """Create a venv for one side under ``directory`` and return its python.

    A venv that exists already is kept. posos-jwt is installed from the
    checkout again, so that the measurement runs the current code.

    Raises:
        subprocess.CalledProcessError: venv or pip failed, for example because
            the package index cannot be reached.
    """
    environment = directory / side
    python = environment / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "--quiet", "--no-cache-dir"]
    install.append("--disable-pip-version-check")
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(environment)], check=True)
        _pip(install + REQUIREMENTS[side])
    elif side == "posos":
        _pip([*install, "--force-reinstall", "--no-deps", *REQUIREMENTS[side]])
    return python


def _pip(argv: list[str]) -> None:
    # pip's output goes to the terminal only when pip fails.
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        result.check_returncode()


def footprint(python: pathlib.Path) -> dict[str, Any]:
    """Return each distribution installed for ``python``, with version and bytes."""
    seed = ",".join(sorted(SEED_DISTRIBUTIONS))
    # -I keeps the working directory off sys.path: in the repository, the
    # egg-info that pip's build leaves there would count as installed.
    result = subprocess.run(
        [str(python), "-I", "-c", MEASURE_SCRIPT, seed],
        check=True,
        capture_output=True,
        text=True,
    )
    distributions: dict[str, Any] = json.loads(result.stdout)
    return distributions
