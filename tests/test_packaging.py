"""The install path a user outside `scripts/setup` takes: a plain `pip install .` with an old pip.

Debian's Python ships pip 23.x, which does not match justext's `lxml[html_clean]` to lxml's
`html-clean` extra and so leaves `lxml_html_clean` out; every command then died on import. The
project declares the cleaner itself; this test resolves the install with that pip and checks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OLD_PIP = "pip==23.2.1"


@pytest.mark.timeout(600)
def test_plain_pip_install_with_old_pip_resolves_the_html_cleaner(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "install", OLD_PIP], check=True)
    report = tmp_path / "report.json"
    subprocess.run(
        [*pip, "install", "--dry-run", "--ignore-installed", "--report", str(report), str(ROOT)],
        check=True,
    )
    names = {
        item["metadata"]["name"].lower().replace("_", "-")
        for item in json.loads(report.read_text())["install"]
    }
    assert {"sanctions-bot", "trafilatura", "justext", "lxml"} <= names
    assert "lxml-html-clean" in names


def test_the_installed_project_imports_the_extractor() -> None:
    """The same import chain that failed for users: trafilatura -> justext -> lxml.html.clean."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import lxml.html.clean, trafilatura, bot.ingest.extract; print('ok')",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip() == "ok"
