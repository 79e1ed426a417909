"""The database on an unlucky day (issue 9), driven through the real ``sanctions-bot`` command:

* a PostgreSQL server that requires a password, one that needs percent-encoding in the URL;
* the password is never printed: not in errors, not by ``db upgrade``, not in debug logs;
* ``scan`` processes started together on the same texts store each text and alert once;
* commands started together on a fresh database all migrate it without tripping over each other.

Each on SQLite and on PostgreSQL (the throwaway server of ``tests/pg.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import IO
from urllib.parse import quote

import pytest
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine, make_url

from db.articles import store_article
from db.engine import (
    alembic_config,
    hide_password,
    make_engine,
    open_database,
    safe_url,
    session_scope,
)
from db.lists import import_list
from db.models import Alert, AlertSource, Article
from db.stories import new_story
from db.unique import insert_or_ignore
from tests import pg
from tests.conftest import ROOT, require_shared
from tests.pg import PgServer, free_port, pg_password_url, pg_server, pg_url  # noqa: F401

SCANNERS = 3  # scan processes started together
STARTERS = 4  # commands started together on a fresh database
SECRET = "Hunter2%@/:#?s3cret"  # a password needing every kind of URL escape


def cli_env(url: str, **extra: str) -> dict[str, str]:
    """This checkout's code, the bundled rules, no Telegram, no libpq defaults."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PG", "TELEGRAM_", "DATABASE_URL"))
    }
    env.update(
        PYTHONPATH=str(ROOT),
        DATABASE_URL=url,
        RULES_DIR=str(ROOT / "rules"),
        COLUMNS="200",
        **extra,
    )
    return env


def run_cli(
    *args: str, url: str, cwd: Path, timeout: float = 120, **extra: str
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "bot", *args]
    return subprocess.run(
        argv,
        cwd=cwd,
        env=cli_env(url, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_together(
    commands: list[list[str]], url: str, cwd: Path, timeout: float = 300
) -> list[tuple[int, str, str]]:
    """Start every command at once (``Popen``), wait for all; (exit status, stdout, stderr) each.

    Output goes to files, not pipes: a full pipe would stall a process until the test reads it,
    and processes that wait their turn do not race.
    """
    processes = []
    with contextlib.ExitStack() as files:
        for number, args in enumerate(commands):
            out, err = (
                files.enter_context(open(cwd / f"process-{number}.{name}", "w+", encoding="utf-8"))
                for name in ("out", "err")
            )
            argv = [sys.executable, "-m", "bot", *args]
            processes.append(
                (
                    subprocess.Popen(
                        argv, cwd=cwd, env=cli_env(url), stdout=out, stderr=err, text=True
                    ),
                    out,
                    err,
                )
            )
        results = []
        for process, out, err in processes:
            process.wait(timeout=timeout)
            results.append((process.returncode, *(read_back(stream) for stream in (out, err))))
    return results


def read_back(stream: IO[str]) -> str:
    stream.seek(0)
    return stream.read()


def head_revision() -> str:
    (head,) = ScriptDirectory.from_config(alembic_config()).get_heads()
    return head


def revision_of(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


# --- item 2: PostgreSQL with a password --------------------------------------------------------


@pytest.mark.postgres
def test_open_database_with_a_percent_encoded_password(pg_password_url: str) -> None:  # noqa: F811
    assert (
        "%25" in pg_password_url
        and "%40" in pg_password_url
        and pg_password_url.startswith("postgresql://")
    )
    engine = open_database(pg_password_url)
    try:
        assert engine.url.password == pg.PASSWORD  # decoded once, never masked or re-encoded
        with engine.connect() as connection:
            assert connection.execute(text("SELECT current_user")).scalar_one() == pg.PASSWORD_USER
        assert revision_of(engine) == head_revision()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_cli_commands_with_a_password(pg_password_url: str, tmp_path: Path) -> None:  # noqa: F811
    upgraded = run_cli("db", "upgrade", url=pg_password_url, cwd=tmp_path, LOG_LEVEL="DEBUG")
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"database at postgresql://{pg.PASSWORD_USER}:***@127.0.0.1:" in upgraded.stdout
    article = tmp_path / "article.txt"
    article.write_text(
        "Korea Mining Development Trading Corporation (KOMID) shipped missiles to Syria.\n"
    )
    scanned = run_cli("scan", str(article), "--format", "json", url=pg_password_url, cwd=tmp_path)
    assert scanned.returncode == 0, scanned.stderr
    shown = run_cli("lists", "show", url=pg_password_url, cwd=tmp_path)
    assert shown.returncode == 0 and "no lists imported" in shown.stdout
    for result in (upgraded, scanned, shown):
        assert_no_password(result.stdout + result.stderr, pg.PASSWORD)
    engine = make_engine(pg_password_url)
    try:
        with session_scope(engine) as session:
            assert session.execute(select(Article.source)).scalars().all() == [str(article)]
    finally:
        engine.dispose()


# --- item 3: the password is never shown -------------------------------------------------------


def assert_no_password(output: str, password: str) -> None:
    for form in {password, quote(password, safe=""), quote(password)}:
        assert form not in output, f"password shown as {form!r} in:\n{output}"


def test_a_failed_connection_does_not_show_the_password(tmp_path: Path) -> None:
    """No server on the port: the error names the database, with ``***`` for the password, also
    with debug logging on."""
    port = free_port()
    url = f"postgresql://someone:{quote(SECRET, safe='')}@127.0.0.1:{port}/db"
    for command in (["lists", "show"], ["db", "upgrade"]):
        result = run_cli(*command, url=url, cwd=tmp_path, LOG_LEVEL="DEBUG")
        assert result.returncode == 2
        assert (
            f"error: cannot open the database postgresql://someone:***@127.0.0.1:{port}/db:"
            in result.stderr
        )
        assert_no_password(result.stdout + result.stderr, SECRET)


@pytest.mark.postgres
def test_a_wrong_password_is_not_shown(
    pg_server: PgServer,  # noqa: F811
    pg_password_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    dbname = make_url(pg_password_url).database or ""
    wrong = pg_server.password_url(dbname, password=SECRET)
    result = run_cli("db", "upgrade", url=wrong, cwd=tmp_path, LOG_LEVEL="DEBUG")
    assert result.returncode == 2
    assert "password authentication failed" in result.stderr
    assert (
        f"postgresql://{pg.PASSWORD_USER}:***@127.0.0.1:{pg_server.port}/{dbname}" in result.stderr
    )
    assert_no_password(result.stdout + result.stderr, SECRET)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:p%40ss%25w@db.example:5432/bot", "postgresql://u:***@db.example:5432/bot"),
        (
            "postgresql+psycopg://u:plain@db.example/bot?sslmode=require",
            "postgresql+psycopg://u:***@db.example/bot?sslmode=require",
        ),
        (
            "postgresql://u:un@encoded@db.example/bot",
            "postgresql://u:***@db.example/bot",
        ),  # malformed: all of it hidden
        ("postgresql://u@db.example:5432/bot", "postgresql://u@db.example:5432/bot"),
        ("sqlite:////var/lib/bot/bot.sqlite", "sqlite:////var/lib/bot/bot.sqlite"),
    ],
)
def test_safe_url(url: str, shown: str) -> None:
    assert safe_url(url) == shown
    if "un@encoded" not in url:
        assert safe_url(make_url(url)) == shown


def test_hide_password_in_a_message() -> None:
    url = f"postgresql://u:{quote(SECRET, safe='')}@h/db"
    message = f"bad things: {SECRET} and {quote(SECRET, safe='')} and {url}"
    hidden = hide_password(message, url)
    assert_no_password(hidden, SECRET)
    assert hidden.startswith("bad things: *** and ***")
    assert hide_password("nothing secret", "sqlite:///x.db") == "nothing secret"


# --- item 5: concurrent scans store each text and alert once ------------------------------------


@pytest.fixture(scope="module")
def texts(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The news corpus (229 articles), one file each, as a user would scan them."""
    corpus = require_shared("data", "news", "articles.jsonl")
    folder = tmp_path_factory.mktemp("texts")
    paths = []
    for number, line in enumerate(corpus.read_text(encoding="utf-8").splitlines()):
        record = json.loads(line)
        path = folder / f"{number:03d}.txt"
        path.write_text(f"{record['title']}\n\n{record['text']}\n", encoding="utf-8")
        paths.append(path)
    assert len(paths) >= 100
    return paths


def import_un_list(url: str) -> None:
    """The UN list (1,003 entities: alerts on about 90 of the texts, quick to index)."""
    from bot.lists import load_list

    sanctions = require_shared("data", "sanctions")
    (parsed,) = load_list([sanctions / "un" / "UN_consolidated_2026-02-27.xml"])
    engine = open_database(url)
    try:
        with session_scope(engine) as session:
            import_list(session=session, parsed=parsed)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def sqlite_with_list(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "lists.sqlite"
    import_un_list(f"sqlite:///{path}")
    return path


def scan_together(url: str, texts: list[Path], cwd: Path) -> list[tuple[str, str, str]]:
    """Start ``SCANNERS`` scans of all texts at once; the alerts one of them found, as
    (source, rule, regime), which is what a single run stores."""
    argv = ["scan", *map(str, texts), "--format", "json"]
    found = []
    for status, out, err in start_together([argv] * SCANNERS, url, cwd):
        assert status == 0, err[-3000:]
        results = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert len(results) == len(texts)
        found.append(
            sorted({(r["source"], a["rule"], a["regime"]) for r in results for a in r["alerts"]})
        )
    assert all(alerts == found[0] for alerts in found), (
        "the scans disagree: was the code changed while they ran?"
    )
    assert len(found[0]) >= 50
    return found[0]


def stored(url: str) -> dict[str, object]:
    """What the scans left: counts, and which alert is stored for which text (ids aside)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            count = lambda query: connection.execute(query).scalar_one()  # noqa: E731
            fired = connection.execute(
                select(Article.source, Alert.rule_id, Alert.regime).join(
                    Alert, Alert.article_id == Article.id
                )  # type: ignore[arg-type]
            ).all()
            return {
                "articles": count(select(func.count(Article.id))),
                "texts": count(select(func.count(func.distinct(Article.content_hash)))),
                "sources": count(select(func.count(AlertSource.id))),
                "alerts": sorted(map(tuple, fired)),
            }
    finally:
        engine.dispose()


def expected(texts: list[Path], alerts: list[tuple[str, str, str]]) -> dict[str, object]:
    """Each text once; each of its alerts once, with the text as its one source."""
    return {"articles": len(texts), "texts": len(texts), "sources": len(alerts), "alerts": alerts}


def test_concurrent_scans_store_once_sqlite(
    sqlite_with_list: Path, texts: list[Path], tmp_path: Path
) -> None:
    shutil.copy(sqlite_with_list, tmp_path / "bot.sqlite")
    url = f"sqlite:///{tmp_path / 'bot.sqlite'}"
    alerts = scan_together(url, texts, tmp_path)
    assert stored(url) == expected(texts, alerts)


@pytest.mark.postgres
def test_concurrent_scans_store_once_postgresql(
    pg_url: str,  # noqa: F811
    texts: list[Path],
    tmp_path: Path,
) -> None:
    import_un_list(pg_url)
    alerts = scan_together(pg_url, texts, tmp_path)
    assert stored(pg_url) == expected(texts, alerts)


def test_insert_or_ignore_reports_the_row_that_won(tmp_path: Path) -> None:
    """The building block: a second insert of the same key does nothing and says so; the
    store functions then return the first row, not a second one."""
    engine = open_database(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        with session_scope(engine) as session:
            first, created = store_article(session=session, source="a", text="Same text.")
            assert created
            twin = Article(source="b", content_hash=first.content_hash, text="Same  text.")
            assert insert_or_ignore(session, twin) is None  # the unique key held
            with_url = Article(
                source="c",
                url_key="example.org/c",
                content_hash=first.content_hash,
                text="Same text.",
            )
            assert (
                insert_or_ignore(session, with_url) is not None
            )  # another outlet's copy is its own article
            story = new_story(session=session, fingerprint=7, title="t")
            assert new_story(session=session, fingerprint=7, title="t").id == story.id
            assert new_story(session=session, fingerprint=7, title="other").id != story.id
            assert new_story(session=session, fingerprint=8, title="t").id != story.id
    finally:
        engine.dispose()


# --- item 6: commands started together on a fresh database --------------------------------------


COMMANDS = [["lists", "show"], ["db", "upgrade"]] * (STARTERS // 2)


def check_fresh_start(url: str, cwd: Path) -> None:
    results = start_together(COMMANDS, url, cwd, timeout=120)
    assert [status for status, _, _ in results] == [0] * STARTERS, "\n".join(
        err[-1500:] for _, _, err in results
    )
    engine = make_engine(url)
    try:
        assert revision_of(engine) == head_revision()
    finally:
        engine.dispose()


def test_commands_started_together_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    database = tmp_path / "fresh.sqlite"
    check_fresh_start(f"sqlite:///{database}", tmp_path)
    assert Path(f"{database}.migrate.lock").exists()


@pytest.mark.postgres
def test_commands_started_together_on_a_fresh_postgresql_database(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    check_fresh_start(pg_url, tmp_path)
