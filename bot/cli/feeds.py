"""``sanctions-bot feeds``: watched feeds added, removed, listed with their health, and OPML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import CommandError, acting, application, settings
from bot.services.feeds import (
    check_feed_address,
    feed_dict,
    feed_interval,
    opml_document,
    read_opml_file,
    sync_feeds_file,
    unwatch_feed,
    watch_feed,
    watch_feeds,
    watched_feeds,
)
from db.models import Feed

app = typer.Typer(help="Watched feeds: add, remove, list with health, OPML.", no_args_is_help=True)


@app.command("add")
def feeds_add(
    url: str,
    interval: Annotated[
        str | None,
        typer.Option(help="Polling interval: 90s, 10m, 1h (default DEFAULT_FEED_INTERVAL_S)."),
    ] = None,
    title: str = "",
) -> None:
    """Watch a feed (RSS, Atom or RDF)."""
    loaded = settings()
    check_feed_address(url, loaded)
    seconds = feed_interval(interval, loaded)
    feed = watch_feed(
        application(loaded), url, interval_s=seconds, title=title, origin="cli", added_by=acting()
    )
    typer.echo(f"feed {feed.id}: {feed.url} every {human(feed.interval_s)}")


@app.command("remove")
def feeds_remove(url_or_id: str) -> None:
    """Stop watching a feed (its articles and alerts stay)."""
    if not unwatch_feed(application(settings()), url_or_id):
        raise CommandError(f"no feed {url_or_id!r}")
    typer.echo(f"removed {url_or_id}")


@app.command("list")
def feeds_list(
    format: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
) -> None:
    """Watched feeds and their health: last success, last error, entries seen, alerts."""
    feeds = watched_feeds(application(settings()))
    if format == "json":
        for feed in feeds:
            typer.echo(json.dumps(feed_dict(feed), ensure_ascii=False))
        return
    if not feeds:
        typer.echo("no feeds; add one with: sanctions-bot feeds add URL")
    for feed in feeds:
        _print_feed(feed)


def _print_feed(feed: Feed) -> None:
    health = "ok" if feed.consecutive_failures == 0 else f"FAILING x{feed.consecutive_failures}"
    last_ok = f"{feed.last_success_at:%Y-%m-%d %H:%M}" if feed.last_success_at else "never"
    typer.echo(
        f"{feed.id:4d} {health:12s} every {human(feed.interval_s):>4s}  last ok {last_ok}  "
        f"entries {feed.items_seen}  articles {feed.articles}  alerts {feed.alerts}  {feed.url}"
    )
    if feed.last_error and feed.consecutive_failures:
        typer.echo(f"       last error: {feed.last_error}")


@app.command("import-opml")
def feeds_import_opml(file: Path, interval: str | None = None) -> None:
    """Watch every feed of an OPML file (as feed readers export them)."""
    loaded = settings()
    feeds = read_opml_file(file)
    seconds = feed_interval(interval, loaded)
    watch_feeds(application(loaded), feeds, interval_s=seconds, origin="opml", added_by=acting())
    typer.echo(f"{len(feeds)} feeds imported from {file}")


@app.command("export-opml")
def feeds_export_opml(
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
) -> None:
    """Write the watched feeds as OPML (to a file, or standard output)."""
    document = opml_document(application(settings()))
    if output:
        output.write_text(document, encoding="utf-8")
        typer.echo(f"wrote {output}")
    else:
        typer.echo(document, nl=False)


@app.command("sync")
def feeds_sync() -> None:
    """Make the feeds from FEEDS_FILE match the file (also done by `run` at start)."""
    loaded = settings()
    result = sync_feeds_file(application(loaded), loaded)
    if result is None:
        raise CommandError("FEEDS_FILE is not set")
    typer.echo(f"feeds file: +{result.added} ~{result.updated} -{result.removed}")


def human(seconds: int) -> str:
    """A polling interval as people write it: 90s, 10m, 1h, 1d."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
