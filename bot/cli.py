"""The ``sanctions-bot`` command line (also ``python -m bot``).

Commands are thin: parse arguments, call a service, print. Errors the user can fix (a broken
rule file, an unreadable input, a malformed list) are printed as one clear line each and
turn into a non-zero exit status; nothing is half-done silently.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import tempfile
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.app import App
from bot.corpus import labels_of, read_corpus
from bot.demo import SAMPLES_SITE, serve_directory
from bot.evaluation import (
    EvalInputError,
    Label,
    evaluate,
    group_by_id,
    read_jsonl,
    read_labels,
    render_report,
    report_dict,
)
from bot.feedconfig import parse_duration, read_feeds_file, read_opml, write_opml
from bot.ingest.errors import BlockedURL, IngestError
from bot.ingest.extractor import Extractor
from bot.ingest.http import Fetcher, FetchPolicy, quiet_http_logs
from bot.ingest.urlguard import refuse_blocked
from bot.inputs import InputError, ScanInput, is_url, read_file, read_stdin, read_url
from bot.lists import ListFormatError, ParsedList, load_list
from bot.lists.download import download_lists, list_policy
from bot.listsync import sync_periodically
from bot.matching.engine import Matcher, replace_scorer
from bot.matching.model import Severity
from bot.pipeline import Pipeline
from bot.report import render_text
from bot.rulecheck import run_examples
from bot.rulefiles import RuleFileError, load_rules
from bot.scanpool import scanned, workers_for
from bot.scheduler import CycleReport, Scheduler
from bot.settings import Settings
from bot.sinks import AlertSink, ConsoleSink, JsonlSink
from bot.tg.health import BotStopped
from bot.tuning import apply_to_rules
from db.alerts import (
    ScannedText,
    alert_dict,
    alert_sources,
    recent_alerts,
    store_alerts,
    store_article,
    store_scans,
)
from db.engine import hide_password, safe_url, session_scope
from db.feeds import FeedInputError, SyncResult, add_feed, list_feeds, remove_feed, sync_file_feeds
from db.lists import ListShrankError, import_list, list_sources, list_status, load_entities
from db.models import Feed, utcnow
from db.review import (
    ReviewError,
    add_change,
    false_positive_tallies,
    list_changes,
    mark_alert,
    tuning_changes,
)

app = typer.Typer(
    help="Watch the news for possible sanctions violations.",
    no_args_is_help=True,
    add_completion=False,
)
lists_app = typer.Typer(help="Import and inspect sanctions lists.", no_args_is_help=True)
rules_app = typer.Typer(help="Validate rule files and run their examples.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
review_app = typer.Typer(
    help="Review alerts and tune detection from the verdicts.", invoke_without_command=True
)
feeds_app = typer.Typer(
    help="Watched feeds: add, remove, list with health, OPML.", no_args_is_help=True
)
alerts_app = typer.Typer(help="Stored alerts.", no_args_is_help=True)
app.add_typer(lists_app, name="lists")
app.add_typer(rules_app, name="rules")
app.add_typer(db_app, name="db")
app.add_typer(review_app, name="review")
app.add_typer(feeds_app, name="feeds")
app.add_typer(alerts_app, name="alerts")

log = logging.getLogger("bot.cli")


def _settings() -> Settings:
    settings = Settings()
    logging.basicConfig(
        level=getattr(logging, settings.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    quiet_http_logs()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return settings


def _open(settings: Settings) -> App:
    try:
        return App.open(settings)
    except (
        Exception
    ) as error:  # the database URL or file is unusable: say so plainly, password hidden
        url = settings.resolved_database_url
        typer.echo(
            f"error: cannot open the database {safe_url(url)}: {hide_password(str(error), url)}",
            err=True,
        )
        raise typer.Exit(2) from error


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


# --- scan -------------------------------------------------------------------------------------


@app.command()
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
    if format not in {"text", "json"}:
        raise _fail("--format must be text or json")
    threshold = Severity(fail_on) if fail_on else None
    settings = _settings()
    application = _open(settings)
    try:
        matcher = application.matcher()
    except RuleFileError as error:
        raise _fail(str(error)) from error
    items = _read_inputs(inputs, settings)
    for error in (item for item in items if isinstance(item, str)):
        typer.echo(f"error: {error}", err=True)
    readable = [item for item in items if not isinstance(item, str)]
    failed = len(items) - len(readable)
    worst = -1
    batch: list[tuple[ScanInput, dict[str, Any]]] = []
    workers = workers_for(len(readable), jobs)
    with scanned(matcher, ((i.source, i.text, i.title) for i in readable), workers) as results:
        for item, result in zip(readable, results):
            batch.append((item, result))
            worst = max([worst, *(Severity(a["severity"]).rank for a in result["alerts"])])
            if len(batch) >= batch_size or not store:
                _store_and_print(application, batch, store=store, format=format)
                batch = []
    _store_and_print(application, batch, store=store, format=format)
    if failed:
        raise typer.Exit(2)
    if threshold is not None and worst >= threshold.rank:
        raise typer.Exit(3)


def _store_and_print(
    application: App, batch: list[tuple[ScanInput, dict[str, Any]]], *, store: bool, format: str
) -> None:
    """Store a batch of scanned inputs in one transaction, then print their results: what is
    printed is stored. A batch of one takes the per-article path (``store_article``,
    ``store_alerts``); larger ones ``store_scans``, which stores the same rows in a few statements."""
    if store and len(batch) == 1:
        item, result = batch[0]
        with session_scope(application.engine) as session:
            article, _ = store_article(
                session=session, source=item.source, text=item.text, title=item.title, url=item.url
            )
            store_alerts(session=session, article=article, alerts=result["alerts"])
    elif store and batch:
        scans = [
            ScannedText(item.source, item.text, item.title, item.url, result["alerts"])
            for item, result in batch
        ]
        with session_scope(application.engine) as session:
            store_scans(session=session, scans=scans)
    for _, result in batch:
        if format == "json":
            typer.echo(json.dumps(result, ensure_ascii=False))
        else:
            typer.echo(render_text(result, bold=sys.stdout.isatty()))


def _read_inputs(inputs: list[str], settings: Settings) -> list[ScanInput | str]:
    """Every input read (or an error message for it), in the order given."""
    results: list[ScanInput | str] = []
    urls = [value for value in inputs if is_url(value)]
    fetched = asyncio.run(_fetch_all(urls, settings)) if urls else {}
    for value in inputs:
        try:
            if value == "-":
                results.append(read_stdin())
            elif is_url(value):
                results.append(fetched[value])
            else:
                results.append(read_file(value))
        except InputError as error:
            results.append(str(error))
    return results


async def _fetch_all(urls: list[str], settings: Settings) -> dict[str, ScanInput | str]:
    found: dict[str, ScanInput | str] = {}
    async with Fetcher.create(FetchPolicy.from_settings(settings)) as fetcher:
        for url in urls:
            try:
                found[url] = await read_url(url, fetcher)
            except (IngestError, InputError) as error:
                found[url] = f"{url}: {error}"
    return found


# --- lists ------------------------------------------------------------------------------------


@lists_app.command("import")
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
    settings = _settings()
    with tempfile.TemporaryDirectory(prefix="sanctions-lists-") as folder:
        try:
            paths = _list_paths(sources, Path(folder), settings)
            parsed_lists = load_list(paths)
        except (ListFormatError, OSError) as error:
            raise _fail(str(error)) from error
    application = _open(settings)
    try:
        _import_lists(application, parsed_lists, settings.list_max_shrink, force)
    except ListShrankError as error:
        raise _fail(str(error)) from error


def _list_paths(sources: list[str], folder: Path, settings: Settings) -> list[Path]:
    """Files as given; URLs downloaded whole into ``folder`` first (a cut download is an error)."""
    urls = [source for source in sources if is_url(source)]
    downloaded: list[Path] = []
    if urls:
        policy = list_policy(FetchPolicy.from_settings(settings), settings.list_max_bytes)

        async def fetch() -> list[Path]:
            async with Fetcher.create(policy) as fetcher:
                return await download_lists(urls, folder, fetcher)

        downloaded = asyncio.run(fetch())
    return [Path(source) for source in sources if not is_url(source)] + downloaded


def _import_lists(
    application: App, parsed_lists: list[ParsedList], max_shrink: float, force: bool
) -> None:
    """Every list in one transaction: one refused list keeps all of them as they were."""
    with session_scope(application.engine) as session:
        for parsed in parsed_lists:
            result = import_list(session=session, parsed=parsed, max_shrink=max_shrink, force=force)
            state = "unchanged" if result.unchanged else f"+{result.added} -{result.removed}"
            typer.echo(
                f"{result.source}: {result.entities} entities, version {result.version} ({state})"
            )
            for warning in parsed.warnings[:10]:
                typer.echo(f"  warning: {warning}", err=True)
            if len(parsed.warnings) > 10:
                typer.echo(f"  ... and {len(parsed.warnings) - 10} more warnings", err=True)


@lists_app.command("sync")
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
    from bot.listsync import configured_sources, sync_and_rescreen
    from db.delivery import outbox_hook

    settings = _settings()
    try:
        sources = configured_sources(settings, source or ())
    except ListFormatError as error:
        raise _fail(str(error)) from error
    application = _open(settings)
    report = asyncio.run(
        sync_and_rescreen(application, settings, sources, force=force, hooks=[outbox_hook])
    )
    for outcome in report.outcomes:
        typer.echo(outcome.line(), err=outcome.status == "failed")
    if report.rescreened:
        typer.echo(
            f"re-screened {report.rescreened} articles of the last {settings.list_rescreen_days} days: "
            f"{len(report.new_alerts)} new alerts"
        )
    if report.watch_notices:
        typer.echo(f"{len(report.watch_notices)} watchlist notice(s): a watched name is now listed")
    if report.failed:
        raise typer.Exit(1)


@lists_app.command("status")
def lists_status(
    format: Annotated[
        str, typer.Option("--format", "-f", help="text or json (one object per line).")
    ] = "text",
) -> None:
    """Each list: version, entity and name counts, last import, last sync and last error."""
    from bot.listsync import configured_sources

    settings = _settings()
    try:
        configured = [s.id for s in configured_sources(settings)]
    except ListFormatError as error:
        raise _fail(str(error)) from error
    with session_scope(_open(settings).engine) as session:
        rows = list_status(session=session, sources=configured)
    for row in rows:
        if format == "json":
            typer.echo(json.dumps(row.as_json()))
            continue
        synced = f"synced {row.last_sync:%Y-%m-%d %H:%M} UTC" if row.last_sync else "never synced"
        version = f"version {row.version}" if row.version else "not imported"
        line = f"{row.source}: {version}, {row.entities} entities, {row.names} names, {synced}"
        if row.last_error:
            line += f"; LAST SYNC FAILED {row.last_error_at:%Y-%m-%d %H:%M} UTC: {row.last_error}"
        typer.echo(line)


@lists_app.command("show")
def lists_show() -> None:
    """Show the imported lists."""
    application = _open(_settings())
    with session_scope(application.engine) as session:
        sources = list_sources(session=session)
        if not sources:
            typer.echo("no lists imported; use: sanctions-bot lists import FILE...")
        for source in sources:
            typer.echo(
                f"{source.source}: {source.entity_count} entities, version {source.version}, imported {source.imported_at:%Y-%m-%d %H:%M} UTC"
            )


# --- rules ------------------------------------------------------------------------------------


@rules_app.command("check")
def rules_check(
    directory: Annotated[
        Path | None, typer.Argument(help="Rules folder (default: RULES_DIR).")
    ] = None,
) -> None:
    """Validate every rule file and run every rule's examples."""
    settings = _settings()
    folder = directory or settings.rules_dir
    try:
        rules = load_rules(folder)
    except RuleFileError as error:
        raise _fail(str(error)) from error
    if directory is None:  # the configured rules: include review's negative examples
        with session_scope(_open(settings).engine) as session:
            rules = apply_to_rules(rules, tuning_changes(session=session))
    results = run_examples(rules)
    failures = [r for r in results if not r.passed]
    for failure in failures:
        typer.echo(f"FAIL {failure.describe()}")
    typer.echo(f"{len(rules.rules)} rules, {len(results)} examples, {len(failures)} failed")
    if failures:
        raise typer.Exit(1)


# --- eval -------------------------------------------------------------------------------------


@app.command("eval")
def eval_command(
    articles: Annotated[
        Path | None, typer.Option("--articles", help="JSON lines: id, title, text.")
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option("--labels", help="JSON lines: id, is_positive, entities, regime, rationale."),
    ] = None,
    corpus: Annotated[
        Path | None,
        typer.Option(
            "--corpus",
            help="Labelled corpus: a JSON-lines file or folder holding article and label together.",
        ),
    ] = None,
    part: Annotated[
        str, typer.Option("--part", help="With --corpus: fit, validation or all.")
    ] = "all",
    summary: Annotated[
        bool,
        typer.Option(
            "--summary",
            help="Figures only, no mistake shown (how the validation part is looked at).",
        ),
    ] = False,
    scorer: Annotated[
        str,
        typer.Option(
            "--scorer",
            help="fitted (the bundled weights) or rules (each rule's own severity, the hand-tuned behaviour).",
        ),
    ] = "fitted",
    format: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
    list_files: Annotated[
        list[Path] | None,
        typer.Option("--list", help="Use these list files instead of the database's."),
    ] = None,
) -> None:
    """Measure detection on labelled articles: precision, recall, F1, and every mistake explained."""
    if format not in {"text", "json"}:
        raise _fail("--format must be text or json")
    if part not in {"fit", "validation", "all"}:
        raise _fail("--part must be fit, validation or all")
    if scorer not in {"fitted", "rules"}:
        raise _fail("--scorer must be fitted or rules")
    if (corpus is not None and (articles or labels)) or (
        corpus is None and (articles is None or labels is None)
    ):
        raise _fail("give either --corpus, or --articles and --labels")
    settings = _settings()
    try:
        article_rows, label_rows = _eval_inputs(articles, labels, corpus, part)
    except (EvalInputError, OSError) as error:
        raise _fail(str(error)) from error
    try:
        if list_files:
            parsed = load_list(list_files)
            matcher = Matcher(
                load_rules(settings.rules_dir), [e for p in parsed for e in p.entities]
            )
        else:
            matcher = _open(settings).matcher()
        if scorer == "rules":
            matcher = replace_scorer(matcher, None)
        report = evaluate(matcher, article_rows, label_rows)
    except (ListFormatError, RuleFileError, EvalInputError) as error:
        raise _fail(str(error)) from error
    data = report_dict(report, details=not summary)
    if format == "json":
        typer.echo(json.dumps(data, ensure_ascii=False))
    else:
        typer.echo(render_report(report, details=not summary))


def _eval_inputs(
    articles: Path | None, labels: Path | None, corpus: Path | None, part: str
) -> tuple[dict[str, Any], list[Label]]:
    if corpus is not None:
        cases = read_corpus(corpus, part)  # type: ignore[arg-type]
        return group_by_id(cases), labels_of(cases)
    assert articles is not None and labels is not None
    return group_by_id(read_jsonl(articles)), read_labels(labels)


# --- review -----------------------------------------------------------------------------------


def _author(author: str | None) -> str:
    import getpass

    return author or f"cli:{getpass.getuser()}"


@review_app.callback()
def review_summary(ctx: typer.Context) -> None:
    """Entities and rules with the most false-positive marks, and the tuning changes in force."""
    if ctx.invoked_subcommand is not None:
        return
    application = _open(_settings())
    with session_scope(application.engine) as session:
        entities, rules = false_positive_tallies(session=session)
        changes = list_changes(session=session)
    typer.echo("entities with the most false-positive marks:")
    for tally in entities or []:
        typer.echo(
            f"  {tally.false_positives:4d} fp {tally.relevant:4d} ok  {tally.key}  {tally.label}"
        )
    if not entities:
        typer.echo("  none")
    typer.echo("rules with the most false-positive marks:")
    for tally in rules:
        typer.echo(
            f"  {tally.false_positives:4d} fp {tally.relevant:4d} ok  {tally.key}  {tally.label}"
        )
    if not rules:
        typer.echo("  none")
    typer.echo(f"tuning version {max((c.id or 0 for c in changes), default=0)}; changes:")
    for change in changes:
        what = change.entity_key or change.rule_id or ""
        extra = (
            f" alias {change.alias!r}"
            if change.alias
            else (f" {change.text[:60]!r}" if change.text else "")
        )
        target = f" of #{change.target_id}" if change.target_id else ""
        typer.echo(
            f"  #{change.id} {change.created_at:%Y-%m-%d %H:%M} {change.kind}{target} {what}{extra} by {change.author}: {change.reason}"
        )


@review_app.command("mark")
def review_mark(
    alert_id: int,
    false_positive: Annotated[
        bool, typer.Option("--false-positive/--relevant", help="The verdict.")
    ] = True,
    entity: Annotated[
        str | None, typer.Option(help="Entity key the verdict is about (default: the alert).")
    ] = None,
    author: Annotated[
        str | None, typer.Option(help="Who decides (default: cli:<user>).")
    ] = None,
    note: str = "",
) -> None:
    """Mark a stored alert as a false positive or as relevant."""
    application = _open(_settings())
    verdict = "false_positive" if false_positive else "relevant"
    try:
        with session_scope(application.engine) as session:
            mark = mark_alert(
                session=session,
                alert_id=alert_id,
                verdict=verdict,
                author=_author(author),
                entity_key=entity,
                note=note,
            )
            typer.echo(f"alert {alert_id} marked {verdict} (mark {mark.id})")
    except ReviewError as error:
        raise _fail(str(error)) from error


def _tune(kind: str, author: str | None, reason: str, **fields: object) -> None:
    application = _open(_settings())
    try:
        _check_target(application, kind, fields)
        with session_scope(application.engine) as session:
            change = add_change(
                session=session, kind=kind, author=_author(author), reason=reason, **fields
            )  # type: ignore[arg-type]
            typer.echo(f"tuning version {change.id}: {kind} applied")
    except ReviewError as error:
        raise _fail(str(error)) from error


def _check_target(application: App, kind: str, fields: dict[str, object]) -> None:
    """Refuse changes that name a party, alias or rule that does not exist."""
    if kind in {"suppress_entity", "demote_alias"}:
        key = str(fields["entity_key"])
        with session_scope(application.engine) as session:
            entities = {e.key: e for e in load_entities(session=session)}
        entities.update({e.key: e for e in load_rules(application.settings.rules_dir).parties})
        if key not in entities:
            raise ReviewError(f"no listed party {key!r} (see the key in an alert's entities)")
        alias = fields.get("alias")
        if alias is not None and str(alias).strip().lower() not in {
            n.text.strip().lower() for n in entities[key].names
        }:
            raise ReviewError(
                f"{key} has no name {alias!r}; its names: {', '.join(n.text for n in entities[key].names)}"
            )
    if kind == "negative_example":
        rule_id = str(fields["rule_id"])
        if rule_id not in {r.id for r in load_rules(application.settings.rules_dir).rules}:
            raise ReviewError(f"no rule {rule_id!r}")


@review_app.command("suppress")
def review_suppress(
    entity_key: str,
    reason: Annotated[str, typer.Option(help="Why (kept with the change).")],
    author: str | None = None,
) -> None:
    """Stop matching a listed party (for example a list entry that is a common word)."""
    _tune("suppress_entity", author, reason, entity_key=entity_key)


@review_app.command("demote")
def review_demote(
    entity_key: str,
    alias: str,
    reason: Annotated[str, typer.Option(help="Why (kept with the change).")],
    author: str | None = None,
) -> None:
    """Make one name of a party weak: it then counts only with support from the article."""
    _tune("demote_alias", author, reason, entity_key=entity_key, alias=alias)


@review_app.command("add-example")
def review_add_example(
    rule_id: str,
    text: str,
    reason: Annotated[str, typer.Option(help="Why (kept with the change).")] = "",
    author: str | None = None,
) -> None:
    """Add a text the rule must not fire on; `rules check` runs it with the rule's own examples."""
    _tune("negative_example", author, reason, rule_id=rule_id, text=text)


@review_app.command("revert")
def review_revert(
    change_id: int,
    reason: Annotated[str, typer.Option(help="Why.")] = "",
    author: str | None = None,
) -> None:
    """Undo a tuning change (the undo is itself a new version)."""
    _tune("revert", author, reason, target_id=change_id)


# --- feeds ------------------------------------------------------------------------------------


@feeds_app.command("add")
def feeds_add(
    url: str,
    interval: Annotated[
        str | None,
        typer.Option(help="Polling interval: 90s, 10m, 1h (default DEFAULT_FEED_INTERVAL_S)."),
    ] = None,
    title: str = "",
) -> None:
    """Watch a feed (RSS, Atom or RDF)."""
    settings = _settings()
    try:
        asyncio.run(refuse_blocked(url, allow_private=settings.allow_private_urls))
    except BlockedURL as error:
        raise _fail(
            f"{error}; feeds are fetched under the same address rules as scan (ALLOW_PRIVATE_URLS)"
        ) from error
    try:
        seconds = parse_duration(interval) if interval else settings.default_feed_interval_s
        with session_scope(_open(settings).engine) as session:
            feed = add_feed(
                session=session,
                url=url,
                interval_s=seconds,
                title=title,
                origin="cli",
                added_by=_author(None),
            )
            typer.echo(f"feed {feed.id}: {feed.url} every {_human(feed.interval_s)}")
    except FeedInputError as error:
        raise _fail(str(error)) from error


@feeds_app.command("remove")
def feeds_remove(url_or_id: str) -> None:
    """Stop watching a feed (its articles and alerts stay)."""
    with session_scope(_open(_settings()).engine) as session:
        if not remove_feed(session=session, url_or_id=url_or_id):
            raise _fail(f"no feed {url_or_id!r}")
    typer.echo(f"removed {url_or_id}")


@feeds_app.command("list")
def feeds_list(
    format: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
) -> None:
    """Watched feeds and their health: last success, last error, entries seen, alerts."""
    with session_scope(_open(_settings()).engine) as session:
        feeds = list_feeds(session=session)
    if format == "json":
        for feed in feeds:
            typer.echo(json.dumps(_feed_dict(feed), ensure_ascii=False))
        return
    if not feeds:
        typer.echo("no feeds; add one with: sanctions-bot feeds add URL")
    for feed in feeds:
        health = "ok" if feed.consecutive_failures == 0 else f"FAILING x{feed.consecutive_failures}"
        last_ok = f"{feed.last_success_at:%Y-%m-%d %H:%M}" if feed.last_success_at else "never"
        typer.echo(
            f"{feed.id:4d} {health:12s} every {_human(feed.interval_s):>4s}  last ok {last_ok}  "
            f"entries {feed.items_seen}  articles {feed.articles}  alerts {feed.alerts}  {feed.url}"
        )
        if feed.last_error and feed.consecutive_failures:
            typer.echo(f"       last error: {feed.last_error}")


def _feed_dict(feed: Feed) -> dict[str, object]:
    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": feed.id,
        "url": feed.url,
        "title": feed.title,
        "interval_s": feed.interval_s,
        "enabled": feed.enabled,
        "origin": feed.origin,
        "last_success_at": when(feed.last_success_at),
        "last_polled_at": when(feed.last_polled_at),
        "last_error": feed.last_error,
        "last_error_at": when(feed.last_error_at),
        "consecutive_failures": feed.consecutive_failures,
        "next_due_at": when(feed.next_due_at),
        "items_seen": feed.items_seen,
        "articles": feed.articles,
        "alerts": feed.alerts,
    }


@feeds_app.command("import-opml")
def feeds_import_opml(file: Path, interval: str | None = None) -> None:
    """Watch every feed of an OPML file (as feed readers export them)."""
    settings = _settings()
    try:
        specs = read_opml(file.read_bytes(), str(file))
        seconds = parse_duration(interval) if interval else settings.default_feed_interval_s
    except (FeedInputError, OSError) as error:
        raise _fail(str(error)) from error
    with session_scope(_open(settings).engine) as session:
        for spec in specs:
            add_feed(
                session=session,
                url=spec.url,
                interval_s=seconds,
                title=spec.title,
                origin="opml",
                added_by=_author(None),
            )
    typer.echo(f"{len(specs)} feeds imported from {file}")


@feeds_app.command("export-opml")
def feeds_export_opml(
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
) -> None:
    """Write the watched feeds as OPML (to a file, or standard output)."""
    with session_scope(_open(_settings()).engine) as session:
        document = write_opml([(feed.url, feed.title) for feed in list_feeds(session=session)])
    if output:
        output.write_text(document, encoding="utf-8")
        typer.echo(f"wrote {output}")
    else:
        typer.echo(document, nl=False)


@feeds_app.command("sync")
def feeds_sync() -> None:
    """Make the feeds from FEEDS_FILE match the file (also done by `run` at start)."""
    settings = _settings()
    result = _sync_feeds_file(_open(settings), settings)
    if result is None:
        raise _fail("FEEDS_FILE is not set")
    typer.echo(f"feeds file: +{result.added} ~{result.updated} -{result.removed}")


def _sync_feeds_file(application: App, settings: Settings) -> SyncResult | None:
    if not settings.feeds_file:
        return None
    try:
        specs = read_feeds_file(settings.feeds_file)
    except FeedInputError as error:
        raise _fail(str(error)) from error
    with session_scope(application.engine) as session:
        return sync_file_feeds(
            session=session,
            specs=[
                (s.url, s.interval_s or settings.default_feed_interval_s, s.title) for s in specs
            ],
        )


def _human(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# --- run --------------------------------------------------------------------------------------


@app.command()
def run(
    once: Annotated[
        bool, typer.Option("--once", help="Poll every feed once and exit (for cron and tests).")
    ] = False,
    duration: Annotated[
        str | None, typer.Option(help="Stop after this long (e.g. 30s, 10m).")
    ] = None,
) -> None:
    """Watch the feeds: poll, fetch pages, match, store, announce. Ctrl-C stops cleanly.

    With TELEGRAM_BOT_TOKEN set, the Telegram bot runs in the same process; the sanctions lists
    are synced every LIST_SYNC_INTERVAL_H hours (not with --once).
    """
    settings = _settings()
    application = _open(settings)
    _sync_feeds_file(application, settings)
    try:
        application.matcher()  # fail fast on broken rules, build the index before polling
    except RuleFileError as error:
        raise _fail(str(error)) from error
    seconds = parse_duration(duration) if duration else None
    report, bot_failure = asyncio.run(_run(application, settings, once=once, seconds=seconds))
    typer.echo(
        f"polled {report.polled} feeds ({report.failed} failed, {report.not_modified} not modified): "
        f"{report.new_items} new entries, {report.articles} articles, {report.new_alerts} new alerts, "
        f"{report.joined_alerts} alerts with a new source",
        err=True,
    )
    if bot_failure is not None:  # e.g. the token was rejected: status 4
        raise _fail(str(bot_failure), bot_failure.exit_code)


async def _run(
    application: App, settings: Settings, *, once: bool, seconds: int | None
) -> tuple[CycleReport, BotStopped | None]:
    sinks: list[AlertSink] = [ConsoleSink()]
    if settings.alerts_jsonl:
        sinks.append(JsonlSink(settings.alerts_jsonl))
    hooks, extra, telegram = _telegram_parts(application, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if seconds is not None:
        loop.call_later(seconds, stop.set)
    extractor = Extractor(workers=settings.extractor_workers, timeout_s=settings.extract_timeout_s)
    try:
        async with Fetcher.create(FetchPolicy.from_settings(settings)) as fetcher:
            pipeline = Pipeline(
                application, fetcher, sinks, hooks=hooks, extra_alerts=extra, extractor=extractor
            )
            scheduler = Scheduler(pipeline)
            if once:
                return await scheduler.run_once(), None
            tasks = [_bot_task(telegram(application, settings, stop), stop)] if telegram else []
            lists_task = asyncio.create_task(
                sync_periodically(application, settings, stop, hooks), name="list-sync"
            )
            try:
                report = await scheduler.run(stop)
            finally:
                stop.set()
                lists_task.cancel()  # a download in flight is dropped; the version in force stays
                outcomes = await asyncio.gather(*tasks, return_exceptions=True)
                await asyncio.gather(lists_task, return_exceptions=True)
            return report, _bot_failure(outcomes)
    finally:
        extractor.close()


def _bot_task(bot: Any, stop: asyncio.Event) -> asyncio.Task[None]:
    """The bot beside the scheduler; if it ends with an error (a rejected token), the whole run stops."""
    task: asyncio.Task[None] = asyncio.create_task(bot, name="telegram")

    def stop_on_error(done: asyncio.Task[None]) -> None:
        if not done.cancelled() and done.exception() is not None:
            stop.set()

    task.add_done_callback(stop_on_error)
    return task


def _bot_failure(outcomes: list[Any]) -> BotStopped | None:
    """What ended the bot, which ``gather(return_exceptions=True)`` would otherwise drop."""
    from bot.tg.redact import redact

    for outcome in outcomes:
        if isinstance(outcome, BotStopped):
            return outcome
        if isinstance(outcome, Exception):
            log.error("the Telegram bot stopped unexpectedly", exc_info=outcome)
            return BotStopped(
                f"the Telegram bot stopped unexpectedly: {type(outcome).__name__}: {redact(str(outcome))[:300]}"
            )
    return None


def _telegram_parts(application: App, settings: Settings) -> tuple[list[Any], list[Any], Any]:
    """The outbox hook, the watchlist alerts and the bot runner, when a token is configured."""
    if settings.telegram_bot_token is None or not settings.telegram_bot_token.get_secret_value():
        return [], [], None
    from bot.tg.runner import run_telegram
    from bot.watch import watch_alerts_for
    from db.delivery import outbox_hook

    return [outbox_hook], [watch_alerts_for], run_telegram


# --- alerts -----------------------------------------------------------------------------------


@alerts_app.command("list")
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
    try:
        cutoff = utcnow() - timedelta(seconds=parse_duration(since)) if since else None
    except FeedInputError as error:
        raise _fail(str(error)) from error
    with session_scope(_open(_settings()).engine) as session:
        rows = [
            (
                alert,
                alert_dict(alert, article, alert_sources(session=session, alert_id=alert.id or 0)),
            )
            for alert, article in recent_alerts(session=session, since=cutoff, limit=limit)
        ]
    for _, data in rows:
        if format == "json":
            typer.echo(json.dumps(data, ensure_ascii=False))
        else:
            typer.echo(
                f"#{data['id']} {data['created_at'][:16]} "
                + render_text(
                    {
                        "source": data["sources"][0]["url"],
                        "title": data["sources"][0]["title"],
                        "alerts": [data],
                    }
                )
            )


# --- demo -------------------------------------------------------------------------------------


@app.command()
def demo() -> None:
    """Run the watcher once on the bundled sample feeds, served from a loopback web server."""
    settings = _settings()
    if "LOG_LEVEL" not in os.environ:
        logging.getLogger().setLevel(logging.WARNING)  # the alerts are the demo's output
    application = _open(settings)
    with serve_directory(SAMPLES_SITE) as base:
        with session_scope(application.engine) as session:
            for name in sorted(p.name for p in (SAMPLES_SITE / "feeds").iterdir()):
                add_feed(
                    session=session,
                    url=f"{base}/feeds/{name}",
                    interval_s=settings.default_feed_interval_s,
                    title=name,
                    origin="demo",
                )
        policy = replace(FetchPolicy.from_settings(settings), allow_hosts=frozenset({"localhost"}))
        report = asyncio.run(_demo(application, policy))
    typer.echo(
        f"demo: polled {report.polled} sample feeds: {report.new_items} new entries, {report.articles} articles, "
        f"{report.new_alerts} new alerts, {report.joined_alerts} alerts with a new source "
        f"(run it again: nothing new; `sanctions-bot alerts list` shows them)",
        err=True,
    )


async def _demo(application: App, policy: FetchPolicy) -> CycleReport:
    async with Fetcher.create(policy) as fetcher:
        return await Scheduler(Pipeline(application, fetcher, [ConsoleSink()])).run_once()


# --- db ---------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (also done automatically by every command)."""
    settings = _settings()
    _open(settings)
    typer.echo(f"database at {safe_url(settings.resolved_database_url)} is up to date")


def main() -> None:
    app()
