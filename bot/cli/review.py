"""``sanctions-bot review``: verdicts on stored alerts and the tuning made from them."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.common import acting, application, settings
from bot.services.review import ReviewSummary, mark, review_summary, tune
from db.models import TuningChange
from db.review import Tally

app = typer.Typer(
    help="Review alerts and tune detection from the verdicts.", invoke_without_command=True
)


@app.callback()
def review_summary_command(ctx: typer.Context) -> None:
    """Entities and rules with the most false-positive marks, and the tuning changes in force."""
    if ctx.invoked_subcommand is not None:
        return
    summary = review_summary(application(settings()))
    _print_tallies("entities", summary.entities)
    _print_tallies("rules", summary.rules)
    _print_changes(summary)


def _print_tallies(what: str, tallies: list[Tally]) -> None:
    typer.echo(f"{what} with the most false-positive marks:")
    for tally in tallies:
        typer.echo(
            f"  {tally.false_positives:4d} fp {tally.relevant:4d} ok  {tally.key}  {tally.label}"
        )
    if not tallies:
        typer.echo("  none")


def _print_changes(summary: ReviewSummary) -> None:
    typer.echo(f"tuning version {summary.version}; changes:")
    for change in summary.changes:
        typer.echo(f"  #{change.id} {change.created_at:%Y-%m-%d %H:%M} {_describe(change)}")


def _describe(change: TuningChange) -> str:
    what = change.entity_key or change.rule_id or ""
    extra = (
        f" alias {change.alias!r}"
        if change.alias
        else (f" {change.text[:60]!r}" if change.text else "")
    )
    target = f" of #{change.target_id}" if change.target_id else ""
    return f"{change.kind}{target} {what}{extra} by {change.author}: {change.reason}"


@app.command("mark")
def review_mark(
    alert_id: int,
    false_positive: Annotated[
        bool, typer.Option("--false-positive/--relevant", help="The verdict.")
    ] = True,
    entity: Annotated[
        str | None, typer.Option(help="Entity key the verdict is about (default: the alert).")
    ] = None,
    author: Annotated[str | None, typer.Option(help="Who decides (default: cli:<user>).")] = None,
    note: str = "",
) -> None:
    """Mark a stored alert as a false positive or as relevant."""
    app_ = application(settings())
    verdict = "false_positive" if false_positive else "relevant"
    stored = mark(
        app_,
        alert_id,
        false_positive=false_positive,
        author=acting(author),
        entity=entity,
        note=note,
    )
    typer.echo(f"alert {alert_id} marked {verdict} (mark {stored.id})")


def _tune(kind: str, author: str | None, reason: str, **fields: object) -> None:
    app_ = application(settings())
    change = tune(app_, kind, author=acting(author), reason=reason, **fields)
    typer.echo(f"tuning version {change.id}: {kind} applied")


@app.command("suppress")
def review_suppress(
    entity_key: str,
    reason: Annotated[str, typer.Option(help="Why (kept with the change).")],
    author: str | None = None,
) -> None:
    """Stop matching a listed party (for example a list entry that is a common word)."""
    _tune("suppress_entity", author, reason, entity_key=entity_key)


@app.command("demote")
def review_demote(
    entity_key: str,
    alias: str,
    reason: Annotated[str, typer.Option(help="Why (kept with the change).")],
    author: str | None = None,
) -> None:
    """Make one name of a party weak: it then counts only with support from the article."""
    _tune("demote_alias", author, reason, entity_key=entity_key, alias=alias)


@app.command("add-example")
def review_add_example(
    rule_id: str,
    text: str,
    reason: Annotated[str, typer.Option(help="Why (kept with the change).")] = "",
    author: str | None = None,
) -> None:
    """Add a text the rule must not fire on; `rules check` runs it with the rule's own examples."""
    _tune("negative_example", author, reason, rule_id=rule_id, text=text)


@app.command("revert")
def review_revert(
    change_id: int,
    reason: Annotated[str, typer.Option(help="Why.")] = "",
    author: str | None = None,
) -> None:
    """Undo a tuning change (the undo is itself a new version)."""
    _tune("revert", author, reason, target_id=change_id)
