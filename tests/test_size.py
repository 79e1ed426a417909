"""Every module and function stays small enough to read in one sitting.

The limits are the house rules of the clean-house issue: no file in ``bot/`` or ``db/`` over 400
lines, no function over 50 (from ``def`` to the end of its body). Generated migration scripts are
exempt: alembic writes them, nobody reads them as code.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 50


def _sources() -> list[Path]:
    return sorted(
        path
        for package in ("bot", "db")
        for path in (ROOT / package).rglob("*.py")
        if "versions" not in path.parts
    )


def test_there_are_sources_to_check() -> None:
    assert len(_sources()) > 50


def test_no_file_over_the_limit() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in _sources()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES
    }
    assert long == {}


def test_no_function_over_the_limit() -> None:
    long = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.name}"] = lines
    assert long == {}
