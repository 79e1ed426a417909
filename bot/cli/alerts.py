"""``sanctions-bot alerts list``: stored alerts, newest first."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from bot.cli.common import application, settings
from bot.report import render_text
from bot.services.alerts import cutoff, stored_alerts

app = typer.Typer(help="Stored alerts.", no_args_is_help=True)


@app.command("list")
def alerts_list(
    since: Annotated[
        str | None, typer.Option(help="Only alerts newer than this (1h, 1d, 7d).")
    ] = None,
    format: Annotated[
        str, typer.Option("--format", "-f", help="text or json (one object per line).")
    ] = "text",
    limit: int = 1000,
) -> None:
    """Stored alerts, newest first, in the scan schema plus id, created_at and sources."""
    since_at = cutoff(since)
    for data in stored_alerts(application(settings()), since=since_at, limit=limit):
        typer.echo(json.dumps(data, ensure_ascii=False) if format == "json" else _line(data))


def _line(data: dict[str, Any]) -> str:
    first = data["sources"][0]
    result = {"source": first["url"], "title": first["title"], "alerts": [data]}
    return f"#{data['id']} {data['created_at'][:16]} " + render_text(result)
