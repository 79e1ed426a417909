"""``sanctions-bot scan``: files, URLs and standard input scanned, the alerts printed and stored."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Annotated

import typer

from bot.cli.common import application, check_format, print_error, settings
from bot.inputs import ScanInput
from bot.matching.model import Severity
from bot.report import render_text
from bot.scanpool import workers_for
from bot.services.inputs import article_text, read_inputs
from bot.services.scan import Matched, scan_and_store


def scan(
    inputs: Annotated[
        list[str], typer.Argument(help="Files, http(s) URLs, or - for standard input.")
    ],
    format: Annotated[
        str,
        typer.Option(
            "--format", "-f", help="text (for people) or json (one object per input per line)."
        ),
    ] = "text",
    store: Annotated[bool, typer.Option(help="Store articles and alerts in the database.")] = True,
    fail_on: Annotated[
        str | None,
        typer.Option(help="Exit with status 3 if an alert of this severity or higher fired."),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Inputs stored per transaction (1: one transaction each).")
    ] = 100,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs", "-j", min=0, help="Matching processes (0: one per core from 40 inputs on)."
        ),
    ] = 0,
) -> None:
    """Scan articles for possible sanctions violations and print the alerts."""
    check_format(format)
    threshold = Severity(fail_on) if fail_on else None
    loaded = settings()
    app = application(loaded)
    matcher = app.matcher()
    items = read_inputs(inputs, loaded)
    for error in (item for item in items if isinstance(item, str)):
        print_error(error)
    readable = [article_text(item) for item in items if isinstance(item, ScanInput)]
    workers = workers_for(len(readable), jobs)
    outcomes = scan_and_store(
        app, readable, matcher=matcher, store=store, workers=workers, batch_size=batch_size
    )
    worst = _print_all((matched for matched, _ in outcomes), format)
    if len(readable) < len(items):
        raise typer.Exit(2)
    if threshold is not None and worst >= threshold.rank:
        raise typer.Exit(3)


def _print_all(results: Iterable[Matched], format: str) -> int:
    """Print each result (once it is stored); the rank of the most severe alert (-1: none)."""
    worst = -1
    bold = sys.stdout.isatty()
    for matched in results:
        worst = max([worst, *(Severity(a["severity"]).rank for a in matched.alerts)])
        if format == "json":
            typer.echo(json.dumps(matched.result, ensure_ascii=False))
        else:
            typer.echo(render_text(matched.result, bold=bold))
    return worst
