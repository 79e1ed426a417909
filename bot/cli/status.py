"""``sanctions-bot status``: is the watcher keeping up, and are alerts reaching the chats?"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from bot.cli.common import application, settings
from bot.services.status import as_json, health
from db.status import Status


def status(
    format: Annotated[
        str, typer.Option("--format", "-f", help="text or json (one object).")
    ] = "text",
) -> None:
    """Feeds due and failing, ingest lag, the outbox by status, alerts in the last hour and
    day, the last list import and sync, and feed-to-chat latency (p50/p95, last day)."""
    figures = health(application(settings()))
    typer.echo(json.dumps(as_json(figures)) if format == "json" else render(figures))


def render(s: Status) -> str:
    """A few lines an operator reads at a glance."""
    d = s.deliveries
    lag = f"{s.ingest_lag_s:.0f} s" if s.ingest_lag_s is not None else "none"
    latency = (
        f"p50 {s.latency_p50_s:.1f} s, p95 {s.latency_p95_s:.1f} s ({s.latency_sample} messages)"
        if s.latency_p50_s is not None and s.latency_p95_s is not None
        else "no message sent in the last day"
    )
    return "\n".join(
        [
            f"feeds: {s.feeds} enabled, {s.feeds_due} due, {s.feeds_failing} failing;"
            f" ingest lag {lag}; last poll {_when(s.last_poll_at)}",
            f"deliveries: {d['pending']} pending, {d['sending']} sending, {d['sent']} sent,"
            f" {d['failed']} failed, {d['dropped']} dropped",
            f"alerts: {s.alerts_last_hour} in the last hour, {s.alerts_last_day} in the last day",
            f"lists: last import {_when(s.last_list_import_at)}, last sync"
            f" {_when(s.last_list_sync_at)}, {s.list_sync_errors} source(s) failing to sync",
            f"feed to chat: {latency}",
        ]
    )


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "never"
