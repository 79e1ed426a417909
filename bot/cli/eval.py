"""``sanctions-bot eval``: detection measured on labelled articles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import CommandError, application, check_format, settings
from bot.corpus import Part
from bot.evaluation import render_report, report_dict
from bot.services.evaluation import eval_inputs, eval_matcher, run_evaluation

PARTS: dict[str, Part] = {"fit": "fit", "validation": "validation", "all": "all"}


def eval_command(
    articles: Annotated[
        Path | None, typer.Option("--articles", help="JSON lines: id, title, text.")
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option("--labels", help="JSON lines: id, is_positive, entities, regime, rationale."),
    ] = None,
    corpus: Annotated[
        Path | None,
        typer.Option(
            "--corpus",
            help="Labelled corpus: a JSON-lines file or folder holding article and label together.",
        ),
    ] = None,
    part: Annotated[
        str, typer.Option("--part", help="With --corpus: fit, validation or all.")
    ] = "all",
    summary: Annotated[
        bool,
        typer.Option(
            "--summary",
            help="Figures only, no mistake shown (how the validation part is looked at).",
        ),
    ] = False,
    scorer: Annotated[
        str,
        typer.Option(
            "--scorer",
            help="fitted (the bundled weights) or rules (each rule's own severity, the hand-tuned behaviour).",
        ),
    ] = "fitted",
    format: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
    list_files: Annotated[
        list[Path] | None,
        typer.Option("--list", help="Use these list files instead of the database's."),
    ] = None,
) -> None:
    """Measure detection on labelled articles: precision, recall, F1, and every mistake explained."""
    _check_options(format, part, scorer, articles, labels, corpus)
    loaded = settings()
    article_rows, label_rows = eval_inputs(articles, labels, corpus, PARTS[part])
    matcher = eval_matcher(loaded, application, list_files=list_files or (), scorer=scorer)
    report = run_evaluation(matcher, article_rows, label_rows)
    if format == "json":
        typer.echo(json.dumps(report_dict(report, details=not summary), ensure_ascii=False))
    else:
        typer.echo(render_report(report, details=not summary))


def _check_options(
    format: str,
    part: str,
    scorer: str,
    articles: Path | None,
    labels: Path | None,
    corpus: Path | None,
) -> None:
    check_format(format)
    if part not in PARTS:
        raise CommandError("--part must be fit, validation or all")
    if scorer not in {"fitted", "rules"}:
        raise CommandError("--scorer must be fitted or rules")
    if (corpus is not None and (articles or labels)) or (
        corpus is None and (articles is None or labels is None)
    ):
        raise CommandError("give either --corpus, or --articles and --labels")
