"""Every bundled rule's examples, run as tests: what must match matches, what must not does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.matching.engine import Matcher
from bot.rulecheck import ExampleResult, run_examples
from bot.rulefiles import load_rules

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
RULES = load_rules(RULES_DIR)
RESULTS = run_examples(RULES, Matcher(RULES, scorer=None))


def _id(result: ExampleResult) -> str:
    return f"{result.rule_id}:{'match' if result.expected else 'no_match'}:{result.line}"


@pytest.mark.parametrize("result", RESULTS, ids=[_id(r) for r in RESULTS])
def test_rule_example(result: ExampleResult) -> None:
    assert result.passed, result.describe()


def test_every_rule_has_positive_and_negative_examples() -> None:
    for rule in RULES.rules:
        assert rule.must_match, f"{rule.source}:{rule.line}: {rule.id} has no examples.match"
        assert rule.must_not_match, f"{rule.source}:{rule.line}: {rule.id} has no examples.no_match"


def test_rule_ids_are_unique_and_referenced_fully() -> None:
    ids = [rule.id for rule in RULES.rules]
    assert len(ids) == len(set(ids))
    for rule in RULES.rules:
        assert rule.references, f"{rule.id} cites no legal reference"
        assert rule.regime, f"{rule.id} has no regime"


def test_benign_text_fires_nothing() -> None:
    matcher = Matcher(RULES)
    benign = [
        "North Korea's football team beat Japan 2-1 in the Asian Cup qualifier.",
        "Germany delivered Patriot missiles and IRIS-T launchers to Ukraine.",
        "Richard Wagner's operas return to Bayreuth this summer with a new Ring.",
        "South Korea exported K9 howitzers and rocket launchers to Poland.",
        "The shipping line expanded its ocean freight business in Asia.",
    ]
    from bot.matching.model import Document

    for text in benign:
        assert matcher.scan(Document(text)) == [], text
