"""Measure posos-jwt against google-auth with requests, and print the table.

Usage, from the repository root::

    pip install '.[bench]' && python bench/run.py

Both libraries run against one local stand-in for Google's token endpoint and
IAP (``posos_jwt.testing.GoogleStandIn``) on 127.0.0.1; nothing is sent to
Google. Each row alternates the two sides run by run and reports medians.
A ratio is the median of the ratios of runs made one after the other, so
that both numbers of a pair meet the same load on the machine.

The measurements run in two new virtual environments, one per side, which
pip fills from the package index. ``--current-python`` runs both sides with
the current interpreter instead, and leaves out the footprint row.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import pathlib
import platform
import statistics
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import environments
import scenarios

MIB = 1024 * 1024
SIDES = scenarios.SIDES
ROWS = ("cold", "import", "hot", "threads", "overhead", "footprint")
PACKAGES = ("posos-jwt", "pyjwt", "cryptography", "urllib3", "google-auth", "requests")


def main() -> int:
    """Run every measurement and print the machine and the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs",
        type=int,
        default=9,
        help="runs of each side per row, alternated; the median is reported "
        "(default: 9)",
    )
    parser.add_argument(
        "--current-python",
        action="store_true",
        help="run both sides with this interpreter instead of two new venvs, "
        "and skip the footprint row",
    )
    parser.add_argument(
        "--venvs",
        metavar="DIR",
        help="build the two venvs in DIR and keep them for the next run, "
        "instead of in a temporary directory",
    )
    parser.add_argument(
        "--rows",
        metavar="NAMES",
        default=",".join(ROWS),
        help=f"comma-separated rows to measure (default: {','.join(ROWS)})",
    )
    parser.add_argument(
        "--json",
        metavar="PATH",
        help="also write every raw measurement to this JSON file",
    )
    args = parser.parse_args()

    print(machine_description(), flush=True)
    rows = set(args.rows.split(","))
    unknown = rows - set(ROWS)
    if unknown:
        parser.error(f"unknown rows: {', '.join(sorted(unknown))}")
    if args.current_python:
        rows.discard("footprint")
        here = pathlib.Path(sys.executable)
        results = measure_all(args.runs, rows, {side: here for side in SIDES})
    elif args.venvs:
        pythons = build_environments(pathlib.Path(args.venvs).resolve())
        results = measure_all(args.runs, rows, pythons)
    else:
        with tempfile.TemporaryDirectory(prefix="posos-jwt-bench-") as directory:
            pythons = build_environments(pathlib.Path(directory))
            results = measure_all(args.runs, rows, pythons)
    print()
    print(format_table(results, args.runs))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


def machine_description() -> str:
    """Return the date, CPU, Python and package versions, one per line."""
    cpu = "unknown CPU"
    cpuinfo = pathlib.Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            f"date:     {today}",
            f"machine:  {len(os.sched_getaffinity(0))} CPUs (nproc), {cpu}, "
            f"{platform.system()} {platform.release()}",
            f"python:   {platform.python_implementation()} {platform.python_version()}",
            f"packages that run the stand-in: {', '.join(versions)}",
        ]
    )


def build_environments(directory: pathlib.Path) -> dict[str, pathlib.Path]:
    """Build one venv per side under ``directory`` and return their pythons."""
    pythons = {}
    for side in SIDES:
        print(f"installing: {side} into a new venv", file=sys.stderr, flush=True)
        pythons[side] = environments.build(side, directory)
    return pythons


def measure_all(
    runs: int, rows: set[str], pythons: dict[str, pathlib.Path]
) -> dict[str, Any]:
    """Run the measurements of the named rows and return the raw results."""
    results: dict[str, Any] = {}
    setup = scenarios.Setup.start(pythons)
    try:
        steps: dict[str, Callable[[], Any]] = {
            "cold": lambda: scenarios.cold_command(setup, runs),
            "import": lambda: scenarios.import_time(setup, runs),
            "hot": lambda: scenarios.hot_token(setup, runs),
            "threads": lambda: scenarios.cold_threads(setup, runs),
            "overhead": lambda: scenarios.request_overhead(setup, runs),
        }
        for name, step in steps.items():
            if name in rows:
                print(f"measuring: {name}", file=sys.stderr, flush=True)
                results[name] = _as_json(step())
    finally:
        setup.stop()
    if "footprint" in rows:
        print("measuring: footprint", file=sys.stderr, flush=True)
        results["footprint"] = {
            side: environments.footprint(python) for side, python in pythons.items()
        }
    return results


def _as_json(value: Any) -> Any:
    if isinstance(value, scenarios.ChildRun):
        return {
            "seconds": value.seconds,
            "cpu_seconds": value.cpu_seconds,
            "max_rss_kib": value.max_rss_kib,
        }
    if isinstance(value, dict):
        return {key: _as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_json(item) for item in value]
    return value


# The table


def paired_ratio(posos: list[float], google: list[float]) -> float:
    """Return the median of posos / google over runs made one after the other."""
    return statistics.median(p / g for p, g in zip(posos, google, strict=True))


def format_table(results: dict[str, Any], runs: int) -> str:
    """Format the results as a Markdown table with the targets."""
    rows = [
        "| row | posos-jwt | google-auth + requests | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    if "cold" in results:
        rows += _cold_rows(results["cold"])
    if "import" in results:
        rows.append(_import_row(results["import"]))
    if "hot" in results:
        rows.append(_hot_row(results["hot"]))
    if "threads" in results:
        rows.append(_threads_row(results["threads"]))
    if "overhead" in results:
        rows.append(_overhead_row(results["overhead"]))
    if "footprint" in results:
        rows.append(_footprint_row(results["footprint"]))
    rows.append("")
    rows.append(f"Medians of {runs} runs of each side, alternated.")
    return "\n".join(rows)


def _row(name: str, posos: str, google: str, ratio: str, target: str, met: bool) -> str:
    return f"| {name} | {posos} | {google} | {ratio} | {target} | {_yes(met)} |"


def _yes(met: bool) -> str:
    return "yes" if met else "**no**"


def _cold_rows(cold: dict[str, list[dict[str, Any]]]) -> list[str]:
    seconds = {side: [run["seconds"] for run in cold[side]] for side in cold}
    cpu = {side: [run["cpu_seconds"] for run in cold[side]] for side in cold}
    memory = {side: [run["max_rss_kib"] / 1024 for run in cold[side]] for side in cold}
    time_ratio = paired_ratio(seconds["posos"], seconds["google"])
    if min(cpu["google"]) == 0 or min(memory["google"]) == 0:
        # GNU time is missing, so only the wall time was measured.
        return [_cold_time_row(seconds, time_ratio)]
    cpu_ratio = paired_ratio(cpu["posos"], cpu["google"])
    memory_ratio = paired_ratio(memory["posos"], memory["google"])
    return [
        _cold_time_row(seconds, time_ratio),
        "| cold command, CPU time (user + system) | "
        f"{statistics.median(cpu['posos']) * 1000:.0f} ms | "
        f"{statistics.median(cpu['google']) * 1000:.0f} ms | "
        f"{cpu_ratio:.0%} | none: shown because it depends less on the "
        "machine's load | - |",
        _row(
            "cold command, peak RSS",
            f"{statistics.median(memory['posos']):.1f} MiB",
            f"{statistics.median(memory['google']):.1f} MiB",
            f"{memory_ratio:.0%}",
            "≤ 80 %",
            memory_ratio <= 0.8,
        ),
    ]


def _cold_time_row(seconds: dict[str, list[float]], ratio: float) -> str:
    return _row(
        "cold command, wall time",
        f"{statistics.median(seconds['posos']) * 1000:.0f} ms",
        f"{statistics.median(seconds['google']) * 1000:.0f} ms",
        f"{ratio:.0%}",
        "≤ 50 %",
        ratio <= 0.5,
    )


def _import_row(imports: dict[str, list[float]]) -> str:
    ratio = paired_ratio(imports["posos"], imports["google"])
    return _row(
        "import",
        f"{statistics.median(imports['posos']) * 1000:.0f} ms",
        f"{statistics.median(imports['google']) * 1000:.0f} ms",
        f"{ratio:.0%}",
        "≤ 50 %",
        ratio <= 0.5,
    )


def _hot_row(hot: dict[str, list[float]]) -> str:
    ratio = paired_ratio(hot["posos"], hot["google"])
    return _row(
        "hot token, per call",
        f"{statistics.median(hot['posos']) * 1e6:.2f} µs",
        f"{statistics.median(hot['google']) * 1e6:.2f} µs",
        f"{ratio:.0%}",
        "≤ 50 %",
        ratio <= 0.5,
    )


def _threads_row(threads: dict[str, list[dict[str, Any]]]) -> str:
    def describe(side: str) -> str:
        counts = [run["token_requests"] for run in threads[side]]
        seconds = statistics.median(run["seconds"] for run in threads[side])
        span = str(min(counts))
        if max(counts) != min(counts):
            span += f" to {max(counts)}"
        return f"token requests: {span}; {seconds * 1000:.0f} ms"

    posos_counts = {run["token_requests"] for run in threads["posos"]}
    all_ok = all(
        run["ok"] == run["threads"] for side in threads for run in threads[side]
    )
    ratio = paired_ratio(
        [run["seconds"] for run in threads["posos"]],
        [run["seconds"] for run in threads["google"]],
    )
    return _row(
        f"64 threads on cold credentials (posos-jwt: {threads['posos'][0]['client']})",
        describe("posos"),
        describe("google"),
        f"{ratio:.0%} of the wall time",
        "1 token request",
        posos_counts == {1} and all_ok,
    )


def _overhead_row(overhead: list[dict[str, Any]]) -> str:
    posos = [run["posos_seconds_per_request"] for run in overhead]
    plain = [run["plain_seconds_per_request"] for run in overhead]
    ratio = paired_ratio(posos, plain)
    return _row(
        f"authorized request (posos-jwt: {overhead[0]['client']}; "
        "other column: plain urllib3 with a fixed header)",
        f"{statistics.median(posos) * 1000:.3f} ms",
        f"{statistics.median(plain) * 1000:.3f} ms",
        f"{ratio:.1%}",
        "≤ 105 %",
        ratio <= 1.05,
    )


def _footprint_row(sizes: dict[str, dict[str, Any]]) -> str:
    def describe(side: str) -> str:
        total = sum(dist["bytes"] for dist in sizes[side].values()) / MIB
        names = ", ".join(
            f"{name} {sizes[side][name]['version']}"
            for name in sorted(sizes[side], key=str.lower)
        )
        return f"{len(sizes[side])} distributions, {total:.1f} MiB: {names}"

    counts = {side: len(sizes[side]) for side in sizes}
    totals = {side: sum(d["bytes"] for d in sizes[side].values()) for side in sizes}
    return _row(
        "footprint, installed",
        describe("posos"),
        describe("google"),
        f"{totals['posos'] / totals['google']:.0%} of the size",
        "fewer and smaller",
        counts["posos"] < counts["google"] and totals["posos"] < totals["google"],
    )


if __name__ == "__main__":
    sys.exit(main())
