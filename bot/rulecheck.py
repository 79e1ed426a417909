"""Running every rule's examples: the rule files' own test suite.

A rule's ``examples.match`` must raise an alert from that rule and its ``examples.no_match``
must not. They run against the rule files' inline parties only, so they pass or fail the same
way on every machine, whatever lists are imported.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.matching.engine import Matcher
from bot.matching.model import Document
from bot.matching.rules import RuleSet


@dataclass(frozen=True)
class ExampleResult:
    rule_id: str
    source: str
    line: int
    text: str
    expected: bool  # True: must match
    fired: tuple[str, ...]  # rule ids that fired on the example

    @property
    def passed(self) -> bool:
        return (self.rule_id in self.fired) == self.expected

    def describe(self) -> str:
        verb = "should match" if self.expected else "should not match"
        return f"{self.source}:{self.line}: {self.rule_id} {verb}: {self.text!r} (fired: {', '.join(self.fired) or 'nothing'})"


def run_examples(rules: RuleSet, matcher: Matcher | None = None) -> list[ExampleResult]:
    """Scan every example of every rule and say which passed.

    Examples test what a rule is about (its condition), so the scorer is off: how strong an
    alert is, is measured on whole labelled articles by ``eval``, not on one sentence.
    """
    matcher = matcher or Matcher(rules, scorer=None)
    results = []
    for rule in rules.rules:
        for expected, examples in ((True, rule.must_match), (False, rule.must_not_match)):
            for example in examples:
                fired = tuple(alert.rule_id for alert in matcher.scan(Document(example.text)))
                results.append(
                    ExampleResult(rule.id, rule.source, example.line, example.text, expected, fired)
                )
    return results
