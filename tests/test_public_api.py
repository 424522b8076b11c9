"""The public front door: exports, docstrings and import boundaries."""

from __future__ import annotations

import json
import subprocess
import sys

import posos_jwt


def export_order(name: str) -> tuple[int, str]:
    """Constants first, then classes, then functions, as ruff's RUF022 sorts."""
    if name.isupper():
        return (0, name)
    return (1 if name[0].isupper() else 2, name)


def test_all_is_sorted() -> None:
    assert posos_jwt.__all__ == sorted(posos_jwt.__all__, key=export_order)


def test_all_matches_public_names() -> None:
    public = {
        name
        for name, value in vars(posos_jwt).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("posos_jwt")
    }
    assert public <= set(posos_jwt.__all__)
    for name in posos_jwt.__all__:
        assert hasattr(posos_jwt, name), name


def test_every_export_documented() -> None:
    for name in posos_jwt.__all__:
        value = getattr(posos_jwt, name)
        if callable(value):
            assert value.__doc__, name


def test_errors_share_one_root() -> None:
    for name in posos_jwt.__all__:
        value = getattr(posos_jwt, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, posos_jwt.PososJWTError), name
            assert name.endswith("Error"), name


def test_runtime_never_imports_testing() -> None:
    code = (
        "import sys, posos_jwt, posos_jwt._cli;"
        "print(any(m.startswith('posos_jwt.testing') for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_runtime_dependencies_only() -> None:
    code = (
        "import json, sys, posos_jwt, posos_jwt._cli;"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(result.stdout))
    for forbidden in ("google", "requests", "httpx", "certifi"):
        assert forbidden not in loaded
