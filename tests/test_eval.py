"""Detection quality on real labelled news, as a regression test, and the eval command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.corpus import labels_of, read_corpus
from bot.evaluation import (
    EvalInputError,
    evaluate,
    group_by_id,
    read_jsonl,
    read_labels,
    report_dict,
)
from bot.matching.engine import Matcher, replace_scorer
from tests.conftest import ROOT, require_shared

# The level reached on the development labels (101 articles, 18 positive), which the fitted
# scorer never saw. Raise them when detection improves; never lower them to make a change pass.
# (Recall was 0.89 with each rule's own severity, set by hand while looking at these labels;
# the fitted scorer gives up two borderline positives and one false alarm: see README.)
MIN_PRECISION = 0.94
MIN_RECALL = 0.77
MIN_ENTITY_RECALL = 0.95

# The labelled corpus (tests/data/corpus): floors for its frozen validation part, which no
# change to the engine or the scorer was developed on, and for the fitting part.
CORPUS_FLOORS = {"validation": (0.90, 0.88), "fit": (0.95, 0.87)}


@pytest.fixture(scope="module")
def news() -> Path:
    return require_shared("data", "news")


def test_dev_labels_regression(real_matcher: Matcher, news: Path) -> None:
    articles = group_by_id(read_jsonl(news / "articles.jsonl"))
    labels = read_labels(news / "dev-labels.jsonl")
    assert len(labels) == 101 and sum(label.is_positive for label in labels) == 18
    report = evaluate(real_matcher, articles, labels)
    data = report_dict(report)
    overall = data["overall"]
    summary = json.dumps(data["mistakes"], indent=1)[:4000]
    assert overall["precision"] >= MIN_PRECISION, summary
    assert overall["recall"] >= MIN_RECALL, summary
    assert data["entity_recall"]["recall"] >= MIN_ENTITY_RECALL, data["missed_entities"]
    assert overall["tp"] + overall["fp"] + overall["fn"] + overall["tn"] == 101
    for mistake in data["mistakes"]:
        assert mistake["kind"] in {"fp", "fn"}
        if mistake["kind"] == "fp":
            assert all(alert["explanation"] for alert in mistake["alerts"])


@pytest.mark.parametrize("part", sorted(CORPUS_FLOORS))
def test_corpus_regression(real_matcher: Matcher, part: str) -> None:
    """Only the figures are asserted (and shown on failure): the validation part stays unread."""
    cases = read_corpus(ROOT / "tests" / "data" / "corpus", part)  # type: ignore[arg-type]
    report = evaluate(real_matcher, group_by_id(cases), labels_of(cases))
    overall = report_dict(report, details=False)["overall"]
    precision, recall = CORPUS_FLOORS[part]
    assert overall["precision"] >= precision, overall
    assert overall["recall"] >= recall, overall


def test_fitted_scorer_beats_rule_severities_on_validation(real_matcher: Matcher) -> None:
    """The reason the scorer exists: on unseen cases it is better than the rules' own severities."""
    cases = read_corpus(ROOT / "tests" / "data" / "corpus", "validation")
    articles, labels = group_by_id(cases), labels_of(cases)
    fitted = evaluate(real_matcher, articles, labels).overall
    by_rules = evaluate(replace_scorer(real_matcher, None), articles, labels).overall
    assert fitted.f1 > by_rules.f1, (fitted.as_dict(), by_rules.as_dict())


def test_eval_command_on_the_corpus_shows_no_case_with_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'eval.sqlite'}")
    corpus = tmp_path / "corpus.jsonl"
    cases = read_corpus(ROOT / "tests" / "data" / "corpus", "fit")[:12]
    corpus.write_text("".join(json.dumps(case) + "\n" for case in cases), encoding="utf-8")
    result = CliRunner().invoke(
        app, ["eval", "--corpus", str(corpus), "--summary", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["articles"] == 12 and "mistakes" not in data
    full = CliRunner().invoke(
        app, ["eval", "--corpus", str(corpus), "--format", "json", "--scorer", "rules"]
    )
    assert "mistakes" in json.loads(full.stdout)
    both = CliRunner().invoke(app, ["eval", "--corpus", str(corpus), "--articles", str(corpus)])
    assert both.exit_code == 2 and "either --corpus" in both.output


def test_negative_traps_stay_quiet(real_matcher: Matcher, news: Path) -> None:
    """The labels' deliberate traps: a coast guard captain named Wagner, piranha, Jerusalem, coal."""
    articles = group_by_id(read_jsonl(news / "articles.jsonl"))
    labels = {label.id: label for label in read_labels(news / "dev-labels.jsonl")}
    traps = [
        i
        for i, label in labels.items()
        if not label.is_positive
        and any(w in label.rationale.lower() for w in ("wagner", "piranha", "jerusalem", "coal"))
    ]
    assert len(traps) >= 3
    report = evaluate(real_matcher, articles, [labels[i] for i in traps])
    assert report.overall.fp == 0
    for outcome in report.outcomes:
        assert not any(
            "wagner" in m.entity.caption.lower() for a in outcome.alerts for m in a.entities
        ), outcome.label.id


def test_bad_label_files_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "labels.jsonl"
    bad.write_text('{"id": "a", "is_positive": true}\n{not json}\n', encoding="utf-8")
    with pytest.raises(EvalInputError, match=r"labels.jsonl:2: not JSON"):
        read_labels(bad)
    bad.write_text('{"id": "a", "is_positive": "yes"}\n', encoding="utf-8")
    with pytest.raises(EvalInputError, match="no boolean is_positive"):
        read_labels(bad)


def test_eval_command_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'e.sqlite'}")
    monkeypatch.setenv("RULES_DIR", str(ROOT / "rules"))
    articles = tmp_path / "articles.jsonl"
    labels = tmp_path / "labels.jsonl"
    rows = [
        {
            "id": "p",
            "title": "Shells",
            "text": "North Korea shipped artillery shells to Russia last month.",
        },
        {"id": "n", "title": "Football", "text": "North Korea's football team won in Pyongyang."},
        {"id": "m", "title": "Missed", "text": "The tanker delivered something somewhere."},
    ]
    articles.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    labels.write_text(
        "\n".join(
            json.dumps({"id": i, "is_positive": p, "regime": "UN-DPRK-1718" if p else None})
            for i, p in (("p", True), ("n", False), ("m", True))
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        app, ["eval", "--articles", str(articles), "--labels", str(labels), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["overall"] == {
        "tp": 1,
        "fp": 0,
        "fn": 1,
        "tn": 1,
        "precision": 1.0,
        "recall": 0.5,
        "f1": 0.6667,
    }
    assert [m["id"] for m in data["mistakes"]] == ["m"]
    text = CliRunner().invoke(app, ["eval", "--articles", str(articles), "--labels", str(labels)])
    assert "FALSE NEGATIVE m: Missed" in text.stdout
