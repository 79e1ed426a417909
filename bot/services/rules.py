"""Rule files checked: validated whole, then every rule's examples run (with review's negative
examples for the configured rules)."""

from __future__ import annotations

from pathlib import Path

from bot.app import App
from bot.matching.rules import RuleSet
from bot.rulecheck import ExampleResult, run_examples
from bot.rulefiles import load_rules
from bot.tuning import apply_to_rules
from db.engine import session_scope
from db.review import tuning_changes


def load_rule_files(folder: Path) -> RuleSet:
    """Every rule file of ``folder``; a broken one raises ``RuleFileError`` with every problem."""
    return load_rules(folder)


def with_review_changes(app: App, rules: RuleSet) -> RuleSet:
    """The rules with review's changes applied (negative examples, suppressed parties)."""
    with session_scope(app.engine) as session:
        return apply_to_rules(rules, tuning_changes(session=session))


def check_examples(rules: RuleSet) -> list[ExampleResult]:
    """Every rule's examples run: a ``match`` example must fire its rule, a ``no_match`` not."""
    return run_examples(rules)
