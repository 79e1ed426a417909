"""The matching engine stays pure: no network, database or Telegram imports, at any depth."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

FORBIDDEN = (
    "telegram",
    "httpx",
    "sqlmodel",
    "sqlalchemy",
    "db",
    "bot.ingest",
    "bot.app",
    "bot.cli",
)


def test_engine_imports_no_io_layers() -> None:
    code = (
        "import sys, bot.matching.engine, bot.matching.model;"
        "print(','.join(sorted(m for m in sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    modules = set(loaded.strip().split(","))
    offending = sorted(m for m in modules for f in FORBIDDEN if m == f or m.startswith(f + "."))
    assert offending == []
