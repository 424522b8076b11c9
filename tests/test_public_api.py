"""The public front door: exports, docstrings and import boundaries."""

from __future__ import annotations

import ast
import importlib
import json
import pathlib
import subprocess
import sys

import pytest

import posos_jwt

LOAD_EVERYTHING = (
    "[getattr(posos_jwt, name) for name in posos_jwt.__all__];"
    "posos_jwt._cli.build_parser()"
)
"""Python statements that load every public name and build the parser, as the
runtime path can, for the tests that check what gets loaded."""


def export_order(name: str) -> tuple[int, str]:
    """Constants first, then classes, then functions, as ruff's RUF022 sorts."""
    if name.isupper():
        return (0, name)
    return (1 if name[0].isupper() else 2, name)


def test_all_is_sorted() -> None:
    assert posos_jwt.__all__ == sorted(posos_jwt.__all__, key=export_order)


def test_all_matches_public_names() -> None:
    for name in posos_jwt.__all__:
        getattr(posos_jwt, name)  # loads the lazy names into vars(posos_jwt)
    public = {
        name
        for name, value in vars(posos_jwt).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("posos_jwt")
    }
    assert public <= set(posos_jwt.__all__)
    for name in posos_jwt.__all__:
        assert hasattr(posos_jwt, name), name


def test_lazy_table_matches_all() -> None:
    assert set(posos_jwt._EXPORTS) == set(posos_jwt.__all__) - {"__version__"}
    for name, module in posos_jwt._EXPORTS.items():
        defining = importlib.import_module("posos_jwt." + module)
        assert getattr(defining, name) is getattr(posos_jwt, name), name


def test_type_checking_imports_match_table() -> None:
    """The imports that type checkers read name the same modules as the table."""
    source = pathlib.Path(posos_jwt.__file__).read_text(encoding="utf-8")
    block = next(
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    imported = {
        alias.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert imported == posos_jwt._EXPORTS


def test_unknown_name_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        posos_jwt.no_such_name  # noqa: B018


def test_dir_lists_every_export() -> None:
    assert set(posos_jwt.__all__) <= set(dir(posos_jwt))


def test_import_loads_no_submodule() -> None:
    code = (
        "import sys, posos_jwt;"
        "print(sorted(m for m in sys.modules if m.startswith('posos_jwt.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_from_import_still_works() -> None:
    code = "from posos_jwt import IDTokenCredentials, verify_id_token; print('ok')"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "ok"


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
        "import importlib, sys, posos_jwt, posos_jwt._cli;"
        f"{LOAD_EVERYTHING};"
        "print(any(m.startswith('posos_jwt.testing') for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_runtime_dependencies_only() -> None:
    code = (
        "import importlib, json, sys, posos_jwt, posos_jwt._cli;"
        f"{LOAD_EVERYTHING};"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(result.stdout))
    for forbidden in ("google", "requests", "httpx", "certifi"):
        assert forbidden not in loaded
