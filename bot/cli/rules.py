"""``sanctions-bot rules check``: every rule file validated and every rule's examples run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import application, settings
from bot.services.rules import check_examples, load_rule_files, with_review_changes

app = typer.Typer(help="Validate rule files and run their examples.", no_args_is_help=True)


@app.command("check")
def rules_check(
    directory: Annotated[
        Path | None, typer.Argument(help="Rules folder (default: RULES_DIR).")
    ] = None,
) -> None:
    """Validate every rule file and run every rule's examples."""
    loaded = settings()
    rules = load_rule_files(directory or loaded.rules_dir)
    if directory is None:  # the configured rules: include review's negative examples
        rules = with_review_changes(application(loaded), rules)
    results = check_examples(rules)
    failures = [r for r in results if not r.passed]
    for failure in failures:
        typer.echo(f"FAIL {failure.describe()}")
    typer.echo(f"{len(rules.rules)} rules, {len(results)} examples, {len(failures)} failed")
    if failures:
        raise typer.Exit(1)
