"""The ``sanctions-bot`` command line (also ``python -m bot``).

Commands are thin: parse arguments, call a service, print. Errors the user can fix (a broken
rule file, an unreadable input, a malformed list) are printed as one clear line each and
turn into a non-zero exit status; nothing is half-done silently.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from bot.app import App
from bot.inputs import InputError, ScanInput, is_url, read_file, read_stdin, read_url
from bot.ingest.errors import IngestError
from bot.ingest.http import Fetcher, FetchPolicy, quiet_http_logs
from bot.lists import ListFormatError, load_list
from bot.evaluation import EvalInputError, evaluate, group_by_id, read_jsonl, read_labels, render_report, report_dict
from bot.matching.engine import Matcher
from bot.matching.model import Document, Severity
from bot.report import render_text, scan_result
from bot.rulecheck import run_examples
from bot.rulefiles import RuleFileError, load_rules
from bot.settings import Settings
from db.alerts import store_alerts, store_article
from db.engine import session_scope
from db.lists import import_list, list_sources

app = typer.Typer(help="Watch the news for possible sanctions violations.", no_args_is_help=True, add_completion=False)
lists_app = typer.Typer(help="Import and inspect sanctions lists.", no_args_is_help=True)
rules_app = typer.Typer(help="Validate rule files and run their examples.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(lists_app, name="lists")
app.add_typer(rules_app, name="rules")
app.add_typer(db_app, name="db")

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
    except Exception as error:  # the database URL or file is unusable: say so plainly
        typer.echo(f"error: cannot open the database {settings.resolved_database_url!r}: {error}", err=True)
        raise typer.Exit(2) from error


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


# --- scan -------------------------------------------------------------------------------------


@app.command()
def scan(
    inputs: Annotated[list[str], typer.Argument(help="Files, http(s) URLs, or - for standard input.")],
    format: Annotated[str, typer.Option("--format", "-f", help="text (for people) or json (one object per input per line).")] = "text",
    store: Annotated[bool, typer.Option(help="Store articles and alerts in the database.")] = True,
    fail_on: Annotated[Optional[str], typer.Option(help="Exit with status 3 if an alert of this severity or higher fired.")] = None,
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
    failed = 0
    worst = -1
    for item in _read_inputs(inputs, settings):
        if isinstance(item, str):
            typer.echo(f"error: {item}", err=True)
            failed += 1
            continue
        alerts = matcher.scan(Document(item.text, item.title))
        result = scan_result(item.source, item.title, alerts)
        if store:
            with session_scope(application.engine) as session:
                article, _ = store_article(session=session, source=item.source, text=item.text, title=item.title, url=item.url)
                store_alerts(session=session, article=article, alerts=result["alerts"])
        worst = max([worst, *(a.severity.rank for a in alerts)])
        if format == "json":
            typer.echo(json.dumps(result, ensure_ascii=False))
        else:
            typer.echo(render_text(result, bold=sys.stdout.isatty()))
    if failed:
        raise typer.Exit(2)
    if threshold is not None and worst >= threshold.rank:
        raise typer.Exit(3)


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
def lists_import(files: Annotated[list[Path], typer.Argument(help="List files or folders (format detected).")]) -> None:
    """Load sanctions lists (OFAC SDN/consolidated CSV, UN XML, OpenSanctions JSON) into the database."""
    settings = _settings()
    try:
        parsed_lists = load_list(files)
    except (ListFormatError, OSError) as error:
        raise _fail(str(error)) from error
    application = _open(settings)
    with session_scope(application.engine) as session:
        for parsed in parsed_lists:
            result = import_list(session=session, parsed=parsed)
            state = "unchanged" if result.unchanged else f"+{result.added} -{result.removed}"
            typer.echo(f"{result.source}: {result.entities} entities, version {result.version} ({state})")
            for warning in parsed.warnings[:10]:
                typer.echo(f"  warning: {warning}", err=True)
            if len(parsed.warnings) > 10:
                typer.echo(f"  ... and {len(parsed.warnings) - 10} more warnings", err=True)


@lists_app.command("show")
def lists_show() -> None:
    """Show the imported lists."""
    application = _open(_settings())
    with session_scope(application.engine) as session:
        sources = list_sources(session=session)
        if not sources:
            typer.echo("no lists imported; use: sanctions-bot lists import FILE...")
        for source in sources:
            typer.echo(f"{source.source}: {source.entity_count} entities, version {source.version}, imported {source.imported_at:%Y-%m-%d %H:%M} UTC")


# --- rules ------------------------------------------------------------------------------------


@rules_app.command("check")
def rules_check(directory: Annotated[Optional[Path], typer.Argument(help="Rules folder (default: RULES_DIR).")] = None) -> None:
    """Validate every rule file and run every rule's examples."""
    settings = _settings()
    folder = directory or settings.rules_dir
    try:
        rules = load_rules(folder)
    except RuleFileError as error:
        raise _fail(str(error)) from error
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
    articles: Annotated[Path, typer.Option("--articles", help="JSON lines: id, title, text.")],
    labels: Annotated[Path, typer.Option("--labels", help="JSON lines: id, is_positive, entities, regime, rationale.")],
    format: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
    list_files: Annotated[Optional[list[Path]], typer.Option("--list", help="Use these list files instead of the database's.")] = None,
) -> None:
    """Measure detection on labelled articles: precision, recall, F1, and every mistake explained."""
    if format not in {"text", "json"}:
        raise _fail("--format must be text or json")
    settings = _settings()
    try:
        article_rows = group_by_id(read_jsonl(articles))
        label_rows = read_labels(labels)
    except (EvalInputError, OSError) as error:
        raise _fail(str(error)) from error
    try:
        if list_files:
            parsed = load_list(list_files)
            matcher = Matcher(load_rules(settings.rules_dir), [e for p in parsed for e in p.entities])
        else:
            matcher = _open(settings).matcher()
        report = evaluate(matcher, article_rows, label_rows)
    except (ListFormatError, RuleFileError, EvalInputError) as error:
        raise _fail(str(error)) from error
    if format == "json":
        typer.echo(json.dumps(report_dict(report), ensure_ascii=False))
    else:
        typer.echo(render_report(report))


# --- db ---------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (also done automatically by every command)."""
    settings = _settings()
    _open(settings)
    typer.echo(f"database at {settings.resolved_database_url} is up to date")


def main() -> None:
    app()
