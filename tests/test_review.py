"""Review feedback: marks are stored, tallied, and tuning changes apply at once, versioned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.app import App
from bot.cli import app
from bot.domain.tuning import DEMOTE_ALIAS, NEGATIVE_EXAMPLE, REVERT, SUPPRESS_ENTITY, Change
from bot.matching.model import Document, Entity, EntityType, Name, NameKind
from bot.settings import Settings
from bot.tuning import active, apply_to_entities
from tests.conftest import ROOT, require_shared

runner = CliRunner()
SENTENCE = "Korea Ryonbong General Corporation paid for the shipment through a front company."


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'review.sqlite'}")
    monkeypatch.setenv("RULES_DIR", str(ROOT / "rules"))
    un = require_shared("data", "sanctions", "un", "UN_consolidated_2026-02-27.xml")
    assert runner.invoke(app, ["lists", "import", str(un)]).exit_code == 0
    return tmp_path


def _scan(text: str, tmp_path: Path) -> dict:
    article = tmp_path / "article.txt"
    article.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["scan", str(article), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_marks_are_tallied_by_entity_and_rule(db: Path) -> None:
    scanned = _scan(SENTENCE, db)
    assert [a["rule"] for a in scanned["alerts"]] == ["un-dprk-designated-dealing"]
    result = runner.invoke(
        app,
        ["review", "mark", "1", "--false-positive", "--entity", "un:KPe.002", "--author", "ana"],
    )
    assert result.exit_code == 0, result.output
    assert (
        runner.invoke(app, ["review", "mark", "1", "--relevant", "--author", "ben"]).exit_code == 0
    )
    summary = runner.invoke(app, ["review"]).stdout
    assert "1 fp    1 ok  un:KPe.002  KOREA RYONBONG GENERAL CORPORATION" in summary
    assert "1 fp    1 ok  un-dprk-designated-dealing" in summary
    bad = runner.invoke(app, ["review", "mark", "1", "--entity", "un:KPe.999"])
    assert bad.exit_code == 2 and "names no party" in bad.stderr
    assert runner.invoke(app, ["review", "mark", "99"]).exit_code == 2


def test_suppress_applies_at_once_and_revert_restores(db: Path) -> None:
    settings = Settings()
    application = App.open(settings)
    assert _keys(application, SENTENCE) >= {"un:KPe.002"}
    result = runner.invoke(
        app, ["review", "suppress", "un:KPe.002", "--reason", "test", "--author", "ana"]
    )
    assert result.exit_code == 0 and "tuning version 1" in result.stdout
    assert "un:KPe.002" not in _keys(application, SENTENCE)  # same process, rebuilt matcher
    assert runner.invoke(app, ["review", "revert", "1", "--reason", "undo"]).stdout.startswith(
        "tuning version 2"
    )
    assert "un:KPe.002" in _keys(application, SENTENCE)
    history = runner.invoke(app, ["review"]).stdout
    assert (
        "#1" in history
        and "suppress_entity un:KPe.002" in history
        and "#2" in history
        and "revert of #1" in history
    )


def test_demoted_alias_needs_support(db: Path) -> None:
    application = App.open(Settings())
    plain = "Investigators said Changgwang Sinyong Corporation was involved."
    assert "un:KPe.001" in _keys(application, plain)
    result = runner.invoke(
        app,
        [
            "review",
            "demote",
            "un:KPe.001",
            "CHANGGWANG SINYONG CORPORATION",
            "--reason",
            "too noisy",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "un:KPe.001" not in _keys(application, plain)
    assert "un:KPe.001" in _keys(
        application, "North Korea's Changgwang Sinyong Corporation was involved."
    )
    unknown = runner.invoke(
        app, ["review", "demote", "un:KPe.001", "No Such Name", "--reason", "x"]
    )
    assert unknown.exit_code == 2 and "has no name" in unknown.stderr


def test_negative_example_is_run_by_rules_check(db: Path) -> None:
    assert runner.invoke(app, ["rules", "check"]).exit_code == 0
    added = runner.invoke(
        app,
        [
            "review",
            "add-example",
            "un-dprk-arms",
            "North Korea delivered rockets to Russia.",
            "--reason",
            "x",
        ],
    )
    assert added.exit_code == 0, added.output
    check = runner.invoke(app, ["rules", "check"])
    assert check.exit_code == 1
    assert (
        "un-dprk-arms should not match: 'North Korea delivered rockets to Russia.'" in check.stdout
    )
    assert (
        runner.invoke(
            app, ["review", "add-example", "no-such-rule", "text", "--reason", "x"]
        ).exit_code
        == 2
    )


def _keys(application: App, text: str) -> set[str]:
    return {m.match.entity.key for m in application.matcher().analyze(Document(text)).parties}


def test_tuning_is_pure_and_revertible() -> None:
    entity = Entity(
        "k",
        "test",
        "1",
        EntityType.ORGANIZATION,
        (Name("ACME TRADING", NameKind.PRIMARY), Name("ACME")),
    )
    other = Entity("o", "test", "2", EntityType.ORGANIZATION, (Name("OTHER CO", NameKind.PRIMARY),))
    changes = [
        Change(1, SUPPRESS_ENTITY, entity_key="o"),
        Change(2, DEMOTE_ALIAS, entity_key="k", alias="acme"),
        Change(3, NEGATIVE_EXAMPLE, rule_id="r", text="t"),
        Change(4, REVERT, target_id=1),
    ]
    assert [c.id for c in active(changes)] == [2, 3]
    (result, kept) = apply_to_entities([entity, other], changes)
    assert kept.key == "o"
    assert [n.kind for n in result.names] == [NameKind.PRIMARY, NameKind.WEAK]
