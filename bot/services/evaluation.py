"""Detection measured on labelled articles: the inputs read, the matcher chosen (the database's
lists, or list files given), and the report."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.app import App
from bot.corpus import Part, labels_of, read_corpus
from bot.evaluation import Label, Report, evaluate, group_by_id, read_jsonl, read_labels
from bot.lists import load_list
from bot.matching.engine import Matcher, replace_scorer
from bot.rulefiles import load_rules
from bot.services.common import reading_files
from bot.settings import Settings


def eval_inputs(
    articles: Path | None, labels: Path | None, corpus: Path | None, part: Part
) -> tuple[dict[str, Mapping[str, Any]], list[Label]]:
    """Articles by id and their labels: from a labelled corpus, or two JSON-lines files."""
    with reading_files():
        if corpus is not None:
            cases = read_corpus(corpus, part)
            return group_by_id(cases), labels_of(cases)
        assert articles is not None and labels is not None
        return group_by_id(read_jsonl(articles)), read_labels(labels)


def eval_matcher(
    settings: Settings,
    open_app: Callable[[Settings], App],
    *,
    list_files: Sequence[Path] = (),
    scorer: str = "fitted",
) -> Matcher:
    """The configured rules with the lists in ``list_files`` (else the database's, through
    ``open_app``); with ``scorer="rules"`` each rule's own severity instead of the weights."""
    if list_files:
        parsed = load_list(list(list_files))
        entities = [entity for lists in parsed for entity in lists.entities]
        matcher = Matcher(load_rules(settings.rules_dir), entities)
    else:
        matcher = open_app(settings).matcher()
    return replace_scorer(matcher, None) if scorer == "rules" else matcher


def run_evaluation(
    matcher: Matcher, articles: Mapping[str, Mapping[str, Any]], labels: Sequence[Label]
) -> Report:
    return evaluate(matcher, articles, labels)
