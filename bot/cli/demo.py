"""``sanctions-bot demo``: the watcher once over the bundled sample feeds (no Telegram, no internet)."""

from __future__ import annotations

import logging
import os

import typer

from bot.cli.common import application, settings
from bot.services.run import demo_cycle


def demo() -> None:
    """Run the watcher once on the bundled sample feeds, served from a loopback web server."""
    loaded = settings()
    if "LOG_LEVEL" not in os.environ:
        logging.getLogger().setLevel(logging.WARNING)  # the alerts are the demo's output
    report = demo_cycle(application(loaded), loaded)
    typer.echo(
        f"demo: polled {report.polled} sample feeds: {report.new_items} new entries, {report.articles} articles, "
        f"{report.new_alerts} new alerts, {report.joined_alerts} alerts with a new source "
        f"(run it again: nothing new; `sanctions-bot alerts list` shows them)",
        err=True,
    )
