"""The command line, driven in-process through typer's runner with a real SQLite database."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import COMMANDS, app
from tests.conftest import ROOT, require_shared

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite'}")
    monkeypatch.setenv("RULES_DIR", str(ROOT / "rules"))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    return tmp_path


@pytest.fixture
def with_lists(env: Path) -> Path:
    sanctions = require_shared("data", "sanctions")
    result = runner.invoke(
        app,
        [
            "lists",
            "import",
            str(sanctions / "ofac" / "sdn_2021-07" / "sdn.csv"),
            str(sanctions / "un" / "UN_consolidated_2026-02-27.xml"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ofac-sdn: 8976 entities" in result.output
    assert "un: 1003 entities" in result.output
    return env


def test_scan_seed_json_contract(with_lists: Path, seed_article: Path) -> None:
    result = runner.invoke(app, ["scan", str(seed_article), "--format", "json"])
    assert result.exit_code == 0, result.output
    (line,) = [row for row in result.stdout.splitlines() if row.startswith("{")]
    data = json.loads(line)
    assert data["source"] == str(seed_article)
    assert data["title"].startswith("Reuters: Wagner Group")
    arms = next(a for a in data["alerts"] if a["rule"] == "un-dprk-arms")
    assert arms["severity"] == "high"
    assert 0.0 <= arms["score"] <= 1.0
    assert arms["regime"] == "UN-DPRK-1718"
    assert any(ref.startswith("UNSCR 1718") for ref in arms["references"])
    assert any(
        c["code"] == "KP" and c["role"] == "origin" and "North Korea" in c["matched"]
        for c in arms["countries"]
    )
    assert any(c["code"] == "RU" and c["role"] == "destination" for c in arms["countries"])
    entities = {e["id"]: e for e in arms["entities"]}
    assert entities["21171"]["matched"] == "Evgenii Prigozhin"
    assert entities["21171"]["source"] == "ofac-sdn" and entities["21171"]["type"] == "person"
    assert entities["22543"]["name"] == "PRIVATE MILITARY COMPANY 'WAGNER'"
    sentences = [e["text"] for e in arms["evidence"]]
    assert any("infantry rockets and missiles" in s for s in sentences)
    for evidence in arms["evidence"]:
        assert (
            evidence["text"]
            == seed_article.read_text(encoding="utf-8")[evidence["start"] : evidence["end"]]
        )


def test_scan_stores_alerts_once(with_lists: Path, seed_article: Path) -> None:
    from sqlmodel import Session, select

    from db.engine import make_engine
    from db.models import Alert

    for _ in range(2):
        assert runner.invoke(app, ["scan", str(seed_article)]).exit_code == 0
    engine = make_engine(f"sqlite:///{with_lists / 'cli.sqlite'}")
    with Session(engine) as session:
        rules = sorted(a.rule_id for a in session.exec(select(Alert)))
    assert rules == ["un-dprk-arms", "wagner-arms"]


def test_scan_text_output_and_stdin_html(env: Path) -> None:
    html = (
        "<html><head><title>Shells for Moscow</title></head><body><nav>Home | World</nav><article><h1>Shells for Moscow</h1>"
        "<p>North Korea shipped artillery shells and rockets to Russia last month, officials said on Tuesday.</p>"
        "<p>The shipments crossed the border by rail at night, according to a report by a research group that "
        "studies satellite images of the border crossing.</p></article><footer>Subscribe</footer></body></html>"
    )
    result = runner.invoke(app, ["scan", "-", "--no-store"], input=html)
    assert result.exit_code == 0, result.output
    assert re.search(
        r"\[(HIGH|MEDIUM)\] Arms or related materiel supplied to or from North Korea", result.stdout
    )
    assert "«North Korea» «shipped» «artillery shells»" in result.stdout
    assert "Subscribe" not in result.stdout


def test_unreadable_input_is_reported_and_others_scanned(env: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("North Korea delivered rockets to Russia.", encoding="utf-8")
    result = runner.invoke(
        app, ["scan", str(tmp_path / "missing.txt"), str(good), "--format", "json", "--no-store"]
    )
    assert result.exit_code == 2
    assert "missing.txt: no such file" in result.stderr
    assert json.loads(result.stdout.strip())["alerts"][0]["rule"] == "un-dprk-arms"


def test_fail_on_severity(env: Path, tmp_path: Path) -> None:
    article = tmp_path / "a.txt"
    article.write_text("North Korea delivered rockets to Russia.", encoding="utf-8")
    assert (
        runner.invoke(app, ["scan", str(article), "--fail-on", "medium", "--no-store"]).exit_code
        == 3
    )
    article.write_text("The weather was fine.", encoding="utf-8")
    assert (
        runner.invoke(app, ["scan", str(article), "--fail-on", "medium", "--no-store"]).exit_code
        == 0
    )
    assert (
        runner.invoke(app, ["scan", str(article), "--fail-on", "info", "--no-store"]).exit_code == 0
    )


def test_malformed_list_is_refused_with_file_and_line(env: Path, tmp_path: Path) -> None:
    bad = tmp_path / "sdn.csv"
    bad.write_text(
        '36,"AEROCARIBBEAN AIRLINES",-0- ,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n37,"BROKEN"\r\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["lists", "import", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:2:" in result.stderr


def test_rules_check(env: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["rules", "check"])
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.stdout
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "bad.yaml").write_text(
        "id: x\ntitle: X\nregime: X\nrules:\n  - id: r\n    severity: extreme\n", encoding="utf-8"
    )
    result = runner.invoke(app, ["rules", "check", str(tmp_path / "rules")])
    assert result.exit_code == 2
    assert f"{tmp_path / 'rules' / 'bad.yaml'}:6: rules.0.severity" in result.stderr


def test_python_dash_m_bot(env: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert "scan" in result.stdout and "lists" in result.stdout


def test_scan_bounds_the_text_matched_and_says_so(
    env: Path, tmp_path: Path, seed_article: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 3 MB input is matched up to MATCH_MAX_CHARS; the result says how much was read."""
    monkeypatch.setenv("MATCH_MAX_CHARS", "20000")
    filler = (
        "The committee met again on Tuesday and discussed the harbour budget at length.\n" * 40_000
    )
    big = tmp_path / "big.txt"
    big.write_text(seed_article.read_text(encoding="utf-8") + "\n" + filler, encoding="utf-8")
    result = runner.invoke(app, ["scan", str(big), "--format", "json", "--no-store"])
    assert result.exit_code == 0, result.output
    data = json.loads(next(row for row in result.stdout.splitlines() if row.startswith("{")))
    assert data["truncated"]["total_chars"] > 3_000_000
    assert 10_000 < data["truncated"]["matched_chars"] <= 20_000
    assert any(a["rule"] == "un-dprk-arms" for a in data["alerts"])  # the start is still matched
    text = runner.invoke(app, ["scan", str(big), "--no-store"])
    assert "only the first" in text.output and "characters were matched" in text.output
    small = runner.invoke(app, ["scan", str(seed_article), "--format", "json", "--no-store"])
    assert "truncated" not in json.loads(
        next(row for row in small.stdout.splitlines() if row.startswith("{"))
    )


def test_every_command_is_listed_and_a_command_imports_only_its_own_module() -> None:
    """``bot.cli.COMMANDS`` is where the root finds its commands: each one resolves (the root
    ``--help`` lists them all, each sub-command group its own), and running one leaves the
    other commands' modules unimported (what makes every command start faster)."""
    listed = runner.invoke(app, ["--help"])
    assert listed.exit_code == 0, listed.output
    for name in COMMANDS:
        assert re.search(rf"│ {name} ", listed.output), name
        assert runner.invoke(app, [name, "--help"]).exit_code == 0, name
    assert runner.invoke(app, ["rules", "--help"]).output.count("check") >= 1
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from bot.cli import app\n"
        "result = CliRunner().invoke(app, ['scan', '--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted(m for m in sys.modules if m.startswith('bot.cli.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "['bot.cli.common', 'bot.cli.scan']", done.stdout
