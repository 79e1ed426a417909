"""``sanctions-bot run``: watch the feeds (and run the Telegram bot beside them) until stopped."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.common import application, settings
from bot.feedconfig import parse_duration
from bot.scheduler import CycleReport
from bot.services.run import Role, check_role, prepare_run, watch
from bot.settings import with_overrides


def run(
    once: Annotated[
        bool, typer.Option("--once", help="Poll every feed once and exit (for cron and tests).")
    ] = False,
    duration: Annotated[
        str | None, typer.Option(help="Stop after this long (e.g. 30s, 10m).")
    ] = None,
    role: Annotated[
        Role,
        typer.Option(
            help="What this process does: all, or one part (ingest: poll feeds and store "
            "alerts; deliver: send the outbox; bot: answer commands). Any number of each may "
            "share one PostgreSQL."
        ),
    ] = Role.ALL,
    webhook_url: Annotated[
        str | None,
        typer.Option(
            "--webhook-url",
            help="Take Telegram updates by webhook at this public URL (overrides"
            " TELEGRAM_WEBHOOK_URL; needs TELEGRAM_WEBHOOK_SECRET).",
        ),
    ] = None,
) -> None:
    """Watch the feeds: poll, fetch pages, match, store, announce. Ctrl-C stops cleanly.

    With TELEGRAM_BOT_TOKEN set, the Telegram bot runs in the same process; the sanctions lists
    are synced every LIST_SYNC_INTERVAL_H hours (not with --once).
    """
    loaded = settings()
    if webhook_url is not None:
        loaded = with_overrides(loaded, telegram_webhook_url=webhook_url)
    check_role(loaded, role, once=once)
    app = application(loaded)
    prepare_run(app, loaded, role)
    seconds = parse_duration(duration) if duration else None
    report = watch(app, loaded, once=once, seconds=seconds, role=role)
    typer.echo(_summary(report.cycle), err=True)
    if report.bot_failure is not None:  # e.g. the token was rejected: status 4
        raise report.bot_failure


def _summary(report: CycleReport) -> str:
    return (
        f"polled {report.polled} feeds ({report.failed} failed, {report.not_modified} not modified): "
        f"{report.new_items} new entries, {report.articles} articles, {report.new_alerts} new alerts, "
        f"{report.joined_alerts} alerts with a new source"
    )
