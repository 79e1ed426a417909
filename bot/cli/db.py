"""``sanctions-bot db``: database maintenance."""

from __future__ import annotations

import typer

from bot.cli.common import application, settings
from db.engine import safe_url

app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (also done automatically by every command)."""
    loaded = settings()
    application(loaded)
    typer.echo(f"database at {safe_url(loaded.resolved_database_url)} is up to date")
