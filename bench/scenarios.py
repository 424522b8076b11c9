"""The measurements, each run side by side for posos-jwt and google-auth.

Every measurement alternates the two sides run by run and keeps the median,
so that a slow moment of the machine falls on both sides alike.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from posos_jwt.testing import GoogleStandIn, write_key_file

BENCH_DIRECTORY = pathlib.Path(__file__).resolve().parent
WORKER = BENCH_DIRECTORY / "worker.py"
SIDES = ("posos", "google")
GNU_TIME = pathlib.Path("/usr/bin/time")

GOOGLE_COLD_SCRIPT = (
    "from google.oauth2 import id_token; "
    "from google.auth.transport.requests import Request; "
    "print(id_token.fetch_id_token(Request(), {audience!r}))"
)
"""google-auth's cold command: the two lines that Posos's documentation shows,
with GOOGLE_APPLICATION_CREDENTIALS naming the key file."""

IMPORT_SCRIPT = (
    "import time; start = time.perf_counter(); {statement}; "
    "print(time.perf_counter() - start)"
)
IMPORT_STATEMENTS = {
    "posos": "import posos_jwt",
    "google": "import google.oauth2.id_token, google.auth.transport.requests",
}


@dataclass(frozen=True)
class ChildRun:
    """The wall time, CPU time, peak memory and output of a finished process.

    ``cpu_seconds`` (user plus system) and ``max_rss_kib`` are 0 when GNU time
    is missing.
    """

    seconds: float
    cpu_seconds: float
    max_rss_kib: int
    stdout: str


@dataclass
class Setup:
    """A running stand-in, the key files that name it, and a python per side.

    The stand-in's own key file keeps Google's ``token_uri``, so posos-jwt is
    pointed at the stand-in with ``--token-uri`` and ``--ca-bundle``.
    google-auth sends to any ``token_uri``, so its copy of the key file names
    the stand-in, and ``REQUESTS_CA_BUNDLE`` makes requests trust its CA.
    """

    standin: GoogleStandIn
    directory: pathlib.Path
    key_file: pathlib.Path
    google_key_file: pathlib.Path
    pythons: dict[str, pathlib.Path]

    @classmethod
    def start(cls, pythons: dict[str, pathlib.Path]) -> Setup:
        """Start a stand-in and write both key files for one new account.

        Args:
            pythons: The interpreter that runs each side's child processes.
        """
        standin = GoogleStandIn().start()
        directory = pathlib.Path(tempfile.mkdtemp(prefix="posos-jwt-bench-"))
        key_info = standin.new_account()
        key_file = write_key_file(directory, key_info)
        google_info = dict(key_info, token_uri=standin.token_uri)
        google_key_file = write_key_file(directory, google_info, "google-key.json")
        return cls(standin, directory, key_file, google_key_file, pythons)

    def stop(self) -> None:
        """Stop the stand-in and delete the key files."""
        self.standin.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def python(self, side: str) -> str:
        """Return the interpreter that runs one side."""
        return str(self.pythons[side])

    def config(self) -> dict[str, str]:
        """Return what a worker needs to reach the stand-in."""
        return {
            "key_file": str(self.key_file),
            "google_key_file": str(self.google_key_file),
            "audience": self.standin.iap_client_id,
            "token_uri": self.standin.token_uri,
            "ca_bundle": self.standin.ca_bundle,
            "api_url": self.standin.api_url + "/bench",
        }

    def environment(self, side: str) -> dict[str, str]:
        """Return the child environment for one side."""
        environment = dict(os.environ)
        for name in ("GOOGLE_APPLICATION_CREDENTIALS", "REQUESTS_CA_BUNDLE"):
            environment.pop(name, None)
        if side == "google":
            environment["GOOGLE_APPLICATION_CREDENTIALS"] = str(self.google_key_file)
            environment["REQUESTS_CA_BUNDLE"] = self.standin.ca_bundle
        return environment


def run_child(
    argv: list[str], environment: dict[str, str], cwd: pathlib.Path
) -> ChildRun:
    """Run a command to its end and return its wall time and peak memory.

    ``cwd`` must not be the repository: ``python -c`` puts the working
    directory first on ``sys.path``, so it would import posos_jwt from the
    checkout instead of from the environment under test.

    The peak resident size is measured by GNU time, not with ``os.wait4`` or
    ``getrusage(RUSAGE_CHILDREN)`` here. Linux keeps ``ru_maxrss`` across
    ``execve``, and Python starts children with vfork, so a child of this
    process reports this process's own peak whenever that is larger: the
    stand-in alone is about 40 MiB. GNU time forks from a small process.

    Raises:
        RuntimeError: The command exited with a non-zero status.
    """
    with tempfile.TemporaryDirectory() as scratch:
        usage_file = pathlib.Path(scratch) / "usage"
        if GNU_TIME.exists():
            argv = [str(GNU_TIME), "-o", str(usage_file), "-f", "%M %U %S", *argv]
        stdout_file = pathlib.Path(scratch) / "stdout"
        stderr_file = pathlib.Path(scratch) / "stderr"
        with stdout_file.open("wb") as stdout, stderr_file.open("wb") as stderr:
            start = time.perf_counter()
            process = subprocess.run(
                argv, env=environment, cwd=cwd, stdout=stdout, stderr=stderr
            )
            seconds = time.perf_counter() - start
        output = stdout_file.read_text("utf-8", "replace")
        if process.returncode != 0:
            errors = stderr_file.read_text("utf-8", "replace").strip()
            raise RuntimeError(
                f"{argv[0]} exited with status {process.returncode}: {errors}"
            )
        max_rss_kib, cpu_seconds = 0, 0.0
        if usage_file.exists():
            # The last line contains "%M %U %S": KiB, then user and system seconds.
            fields = usage_file.read_text().splitlines()[-1].split()
            max_rss_kib = int(fields[0])
            cpu_seconds = float(fields[1]) + float(fields[2])
    return ChildRun(seconds, cpu_seconds, max_rss_kib, output)


def alternate(runs: int, measure: Callable[[str], Any]) -> dict[str, list[Any]]:
    """Call ``measure(side)`` for each side in turn, ``runs`` times each."""
    results: dict[str, list[Any]] = {side: [] for side in SIDES}
    for _ in range(runs):
        for side in SIDES:
            results[side].append(measure(side))
    return results


def posos_command(python: str) -> list[str]:
    """Return the ``posos-jwt`` console script installed next to ``python``."""
    script = pathlib.Path(python).parent / "posos-jwt"
    if script.exists():
        return [str(script)]
    return [python, "-m", "posos_jwt"]


# Cold command, and its peak memory


def cold_command(setup: Setup, runs: int) -> dict[str, list[ChildRun]]:
    """Run a new process that prints one ID token, for each side in turn."""
    config = setup.config()
    posos_argv = [
        *posos_command(setup.python("posos")),
        "token",
        "--key-file",
        config["key_file"],
        "--client-id",
        config["audience"],
        "--token-uri",
        config["token_uri"],
        "--ca-bundle",
        config["ca_bundle"],
    ]
    google_argv = [
        setup.python("google"),
        "-c",
        GOOGLE_COLD_SCRIPT.format(audience=config["audience"]),
    ]

    def measure(side: str) -> ChildRun:
        argv = posos_argv if side == "posos" else google_argv
        run = run_child(argv, setup.environment(side), setup.directory)
        _check_is_jwt(run.stdout, side)
        return run

    # One untimed run each, so that both start with warm file caches and
    # compiled bytecode.
    measure("posos")
    measure("google")
    return alternate(runs, measure)


def _check_is_jwt(output: str, side: str) -> None:
    token = output.strip()
    if token.count(".") != 2 or not token.startswith("eyJ"):
        raise RuntimeError(f"the {side} cold command printed no ID token")


# Import


def import_time(setup: Setup, runs: int) -> dict[str, list[float]]:
    """Time the import statement alone, in a new interpreter each run."""

    def measure(side: str) -> float:
        script = IMPORT_SCRIPT.format(statement=IMPORT_STATEMENTS[side])
        argv = [setup.python(side), "-c", script]
        run = run_child(argv, setup.environment(side), setup.directory)
        return float(run.stdout)

    measure("posos")
    measure("google")
    return alternate(runs, measure)


# Measurements in worker processes


def run_worker(task: str, side: str, setup: Setup) -> dict[str, Any]:
    """Run one worker task for one side and return its JSON result."""
    argv = [setup.python(side), str(WORKER), task, side, json.dumps(setup.config())]
    run = run_child(argv, setup.environment(side), setup.directory)
    result: dict[str, Any] = json.loads(run.stdout)
    return result


def hot_token(setup: Setup, runs: int) -> dict[str, list[float]]:
    """Time a still-valid token per call, one worker process per run and side."""

    def measure(side: str) -> float:
        return float(run_worker("hot", side, setup)["seconds_per_call"])

    return alternate(runs, measure)


def cold_threads(setup: Setup, runs: int) -> dict[str, list[dict[str, Any]]]:
    """Start 64 threads on cold credentials, and count the token requests."""

    def measure(side: str) -> dict[str, Any]:
        setup.standin.reset_counts()
        result = run_worker("threads", side, setup)
        result["token_requests"] = setup.standin.count("token")
        return result

    return alternate(runs, measure)


def request_overhead(setup: Setup, runs: int) -> list[dict[str, Any]]:
    """Time authorized requests with posos-jwt and with plain urllib3.

    Both clients run in the same worker process, batch by batch in turns.
    """
    return [run_worker("overhead", "posos", setup) for _ in range(runs)]
