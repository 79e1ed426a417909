"""Broken rule files fail with the file, the line and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.rulefiles import RuleFileError, load_rules

GOOD = """\
id: test-family
title: Test family
regime: TEST
terms:
  things: [widget]
rules:
  - id: test-rule
    title: Widgets to Ruritania
    severity: high
    description: A rule used by the tests of the rule loader.
    references: [{text: "Test resolution, para 1"}]
    selections:
      place: {countries: [KP]}
      goods: {terms: [things]}
    condition: place and goods
    examples:
      match: [North Korea bought a widget.]
      no_match: [A widget.]
"""


def write(tmp_path: Path, text: str, name: str = "test.yaml") -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def problems(tmp_path: Path) -> list[str]:
    with pytest.raises(RuleFileError) as caught:
        load_rules(tmp_path)
    return caught.value.problems


def test_a_good_file_loads(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, GOOD))
    assert [r.id for r in rules.rules] == ["test-rule"]
    assert rules.rules[0].line == 7


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        (
            "condition: place and goods",
            "condition: place and gods",
            15,
            "unknown selection(s): gods",
        ),
        ("condition: place and goods", "condition: place and (goods", 15, "ends too early"),
        ("condition: place and goods", "condition: place or or goods", 15, "unexpected 'or'"),
        ("goods: {terms: [things]}", "goods: {terms: [thingz]}", 14, "unknown term group 'thingz'"),
        ("severity: high", "severity: severe", 9, "severity"),
        (
            "place: {countries: [KP]}",
            "place: {countries: [North Korea]}",
            13,
            "not an ISO 3166 alpha-2 code",
        ),
        (
            "    title: Widgets to Ruritania\n",
            "    title: Widgets to Ruritania\n    colour: red\n",
            9,
            "colour: Extra inputs are not permitted",
        ),
        (
            "      match: [North Korea bought a widget.]\n",
            "      match: []\n",
            17,
            "at least 1 item",
        ),
        (
            "goods: {terms: [things]}",
            "goods: {terms: [things], countries: [KP]}",
            14,
            "exactly one of countries, terms or parties",
        ),
    ],
)
def test_errors_name_file_line_and_problem(
    tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    assert old in GOOD
    write(tmp_path, GOOD.replace(old, new))
    found = problems(tmp_path)
    assert any(p.startswith(f"{tmp_path / 'test.yaml'}:{line}:") and message in p for p in found), (
        found
    )


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    write(tmp_path, GOOD.replace("      goods: {terms: [things]}", "      goods: {terms: [things]"))
    (problem,) = problems(tmp_path)
    assert problem.startswith(f"{tmp_path / 'test.yaml'}:")
    assert "YAML syntax error" in problem


def test_duplicate_rule_ids_across_files(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.yaml")
    write(
        tmp_path,
        GOOD.replace("id: test-family", "id: other-family")
        .replace("things:", "stuff:")
        .replace("[things]", "[stuff]"),
        "b.yaml",
    )
    found = problems(tmp_path)
    assert any("b.yaml:7:" in p and "rule id 'test-rule' already used" in p for p in found), found


def test_deprecated_rules_are_not_loaded(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    (tmp_path / "deprecated").mkdir()
    write(tmp_path / "deprecated", "this: is: not: yaml: [", "old.yaml")
    assert [r.id for r in load_rules(tmp_path).rules] == ["test-rule"]


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    assert "no rule files" in problems(tmp_path)[0]


def test_schema_and_condition_errors_are_shown_together(tmp_path: Path) -> None:
    """One run shows every problem: a schema error in one rule does not hide the others'."""
    second = (
        GOOD.split("rules:\n", 1)[1]
        .replace("id: test-rule", "id: second-rule")
        .replace("condition: place and goods", "condition: place and gods")
    )
    broken = GOOD.replace("severity: high", "severity: severe") + second
    write(tmp_path, broken)
    found = problems(tmp_path)
    path = tmp_path / "test.yaml"
    assert any(p.startswith(f"{path}:9:") and "severity" in p for p in found), found
    assert any(p.startswith(f"{path}:27:") and "unknown selection(s): gods" in p for p in found), (
        found
    )
