"""The fitted scorer: its table, its decisions and its explanations."""

from __future__ import annotations

import pytest

from bot.matching.engine import Matcher
from bot.matching.model import Document, Severity
from bot.matching.scorer import SIGNAL_NAMES, Scorer, Thresholds
from bot.rulefiles import load_rules
from tests.conftest import ROOT, require_shared

RULES = load_rules(ROOT / "rules")


def test_bundled_table_is_fitted_and_complete() -> None:
    scorer = Scorer.bundled()
    assert set(scorer.weights) == set(SIGNAL_NAMES)
    assert scorer.meta["fitted_by"] == "scripts/fit_scorer.py"
    assert scorer.meta["cases"] >= 250
    t = scorer.thresholds
    assert 0 < t.low < t.medium < t.high < 1


def test_unknown_signals_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown signals: colour"):
        Scorer.from_dict({"bias": 0, "weights": {"colour": 1.0}})


def test_every_alert_explains_each_contribution() -> None:
    matcher = Matcher(RULES)
    text = "Prosecutors charged two men with illegally shipping artillery shells from North Korea to Russia."
    (alert,) = [a for a in matcher.scan(Document(text)) if a.rule_id == "un-dprk-arms"]
    assert alert.severity.is_violation
    assert {f.name for f in alert.signals} == set(SIGNAL_NAMES)
    assert alert.scoring and all(abs(f.value) >= 0.01 for f in alert.scoring)
    assert alert.explanation[-1].startswith(f"scorer: p={alert.score:.2f}")


def test_policy_language_lowers_the_probability() -> None:
    matcher = Matcher(RULES)
    breach = "North Korea shipped artillery shells to Russia in breach of UN sanctions, investigators said."
    policy = "A draft resolution would ban North Korea from shipping artillery shells to Russia, diplomats said."
    score = {
        text: max(
            (a.score for a in matcher.scan(Document(text)) if a.rule_id == "un-dprk-arms"),
            default=0.0,
        )
        for text in (breach, policy)
    }
    assert score[breach] > score[policy]


def test_mentions_are_never_promoted_and_partyless_weak_alerts_vanish() -> None:
    scorer = Scorer(weights={"mention": 10.0, "country": -10.0}, bias=0.0, thresholds=Thresholds())
    matcher = Matcher(RULES)
    alert = matcher.candidates(
        matcher.analyze(Document("The Wagner Group's founder gave an interview to a newspaper."))
    )[-1]
    assert scorer.severity(0.99, alert, mention=True) in {Severity.LOW, Severity.INFO}
    arms = "North Korea delivered rockets and missiles to Russia."
    (candidate,) = [
        a
        for a in matcher.candidates(matcher.analyze(Document(arms)))
        if a.rule_id == "un-dprk-arms"
    ]
    assert not candidate.entities and scorer.severity(0.1, candidate) is None


def test_without_a_scorer_rules_keep_their_own_severity() -> None:
    matcher = Matcher(RULES, scorer=None)
    (alert,) = [
        a
        for a in matcher.scan(Document("North Korea delivered rockets and missiles to Russia."))
        if a.rule_id == "un-dprk-arms"
    ]
    assert alert.severity is Severity.HIGH and not alert.scoring


def test_fitting_script_reproduces_the_bundled_table() -> None:
    """The table is the fitting script's output, not edited by hand (scikit-learn: the [fit] extra)."""
    import json
    import subprocess
    import sys

    shared = require_shared("data", "sanctions").parents[1]
    command = [sys.executable, str(ROOT / "scripts" / "fit_scorer.py"), "--shared", str(shared)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)
    fitted = json.loads(out.stdout)
    bundled = Scorer.bundled()
    assert fitted["thresholds"] == {
        "high": bundled.thresholds.high,
        "medium": bundled.thresholds.medium,
        "low": bundled.thresholds.low,
    }
    for name, weight in fitted["weights"].items():
        assert abs(weight - bundled.weights[name]) < 0.01, name
