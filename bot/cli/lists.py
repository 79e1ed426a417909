"""``sanctions-bot lists``: import, sync and inspect sanctions lists."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from bot.cli.common import application, settings
from bot.lists import ParsedList
from bot.services.lists import (
    import_lists,
    lists_in_force,
    lists_status,
    read_lists,
    sources_to_sync,
    sync_lists,
)
from db.lists import ImportResult, ListStatus

app = typer.Typer(help="Import and inspect sanctions lists.", no_args_is_help=True)

MAX_WARNINGS = 10


@app.command("import")
def lists_import(
    sources: Annotated[
        list[str], typer.Argument(help="List files, folders or http(s) URLs (format detected).")
    ],
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace a list even if it lost more than LIST_MAX_SHRINK of its entities.",
        ),
    ] = False,
) -> None:
    """Load sanctions lists (OFAC SDN/consolidated CSV, UN XML, OpenSanctions JSON) into the database."""
    loaded = settings()
    parsed_lists = read_lists(sources, loaded)
    imported = import_lists(
        application(loaded), parsed_lists, max_shrink=loaded.list_max_shrink, force=force
    )
    for result, parsed in imported:
        _print_import(result, parsed)


def _print_import(result: ImportResult, parsed: ParsedList) -> None:
    state = "unchanged" if result.unchanged else f"+{result.added} -{result.removed}"
    typer.echo(f"{result.source}: {result.entities} entities, version {result.version} ({state})")
    for warning in parsed.warnings[:MAX_WARNINGS]:
        typer.echo(f"  warning: {warning}", err=True)
    if len(parsed.warnings) > MAX_WARNINGS:
        typer.echo(f"  ... and {len(parsed.warnings) - MAX_WARNINGS} more warnings", err=True)


@app.command("sync")
def lists_sync(
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source", "-s", help="Only this source (repeatable); may name one switched off."
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Download and import even if unchanged, and past the shrink guard."
        ),
    ] = False,
) -> None:
    """Download every configured list source and import what changed; re-screen recent articles.

    A source that fails keeps its version in force; the exit status is 1 if any failed.
    """
    loaded = settings()
    sources = sources_to_sync(loaded, source or ())
    report = sync_lists(application(loaded), loaded, sources, force=force)
    for outcome in report.outcomes:
        typer.echo(outcome.line(), err=outcome.status == "failed")
    if report.rescreened:
        typer.echo(
            f"re-screened {report.rescreened} articles of the last {loaded.list_rescreen_days} days: "
            f"{len(report.new_alerts)} new alerts"
        )
    if report.watch_notices:
        typer.echo(f"{len(report.watch_notices)} watchlist notice(s): a watched name is now listed")
    if report.failed:
        raise typer.Exit(1)


@app.command("status")
def lists_status_command(
    format: Annotated[
        str, typer.Option("--format", "-f", help="text or json (one object per line).")
    ] = "text",
) -> None:
    """Each list: version, entity and name counts, last import, last sync and last error."""
    loaded = settings()
    configured = [s.id for s in sources_to_sync(loaded)]
    for row in lists_status(application(loaded), configured):
        typer.echo(json.dumps(row.as_json()) if format == "json" else _status_line(row))


def _status_line(row: ListStatus) -> str:
    synced = f"synced {row.last_sync:%Y-%m-%d %H:%M} UTC" if row.last_sync else "never synced"
    version = f"version {row.version}" if row.version else "not imported"
    line = f"{row.source}: {version}, {row.entities} entities, {row.names} names, {synced}"
    if row.last_error:
        line += f"; LAST SYNC FAILED {row.last_error_at:%Y-%m-%d %H:%M} UTC: {row.last_error}"
    return line


@app.command("show")
def lists_show() -> None:
    """Show the imported lists."""
    sources = lists_in_force(application(settings()))
    if not sources:
        typer.echo("no lists imported; use: sanctions-bot lists import FILE...")
    for source in sources:
        typer.echo(
            f"{source.source}: {source.entity_count} entities, version {source.version}, imported {source.imported_at:%Y-%m-%d %H:%M} UTC"
        )
