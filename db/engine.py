"""Database engines and schema upgrades.

``open_database`` is the one entry point: it creates the engine for a URL (SQLite by default,
PostgreSQL through ``DATABASE_URL``) and brings the schema to the newest Alembic revision, so
every command starts on a current schema without a separate migration step.

SQLite is tuned for a bot that reads while it writes: WAL journal (readers never block the
writer), foreign keys on, and a busy timeout so two processes (``run`` and a CLI command) wait
for each other instead of failing.

URLs stay ``URL`` objects from parsing to ``create_engine``: a password (percent-encoded in the
URL) is never turned back into text, where SQLAlchemy would mask it as ``***`` and Alembic's
ConfigParser would choke on its ``%``. Wherever a URL is shown to a person, ``safe_url``
renders it with the password hidden.

Migrations run one process at a time (``_migration_lock``): commands started together on a
fresh database would otherwise all try to create the same tables. A database already at the
newest revision (``HEAD_REVISION``) is told so by one query, without loading Alembic and its
migration scripts: every command opens the database, and that took a tenth of a second to
find nothing to do.
"""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlmodel import Session, create_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest migration in ``migrations/versions`` (tests/db/test_migrations.py checks it is
# Alembic's head): a database at this revision needs no upgrade.
HEAD_REVISION = "0007"
# pg_advisory_xact_lock key for migrations: any fixed number; this one spells "sbmigrat".
PG_MIGRATION_LOCK = 0x73626D6967726174
# scheme://user:password@ in a URL that may not parse; greedy up to the last "@", so a password
# with an unencoded "@" is hidden whole (over-hiding beats showing part of it).
_USERINFO = re.compile(r"^(?P<head>[A-Za-z][\w+.-]*://[^:/?#@]*):(?P<password>.*)@")


def safe_url(url: str | URL) -> str:
    """``url`` for logs, errors and status: the password replaced by ``***``.

    A string is masked by pattern rather than parsed, so that a malformed URL (the very case an
    error message is about) cannot show part of its password through a wrong parse.
    """
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    return _USERINFO.sub(r"\g<head>:***@", url)


def hide_password(message: str, url: str | URL) -> str:
    """``message`` (a driver's error, say) with the URL's password, raw or encoded, as ``***``."""
    for secret in sorted(_passwords(url), key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


def _passwords(url: str | URL) -> set[str]:
    found: set[str] = set()
    if isinstance(url, URL):
        found.add(url.password or "")
    elif (match := _USERINFO.match(url)) is not None:
        found.add(match["password"])
    else:
        with suppress(ArgumentError, ValueError):
            found.add(make_url(url).password or "")
    found |= {unquote(secret) for secret in found} | {quote(secret, safe="") for secret in found}
    return {secret for secret in found if secret and secret != "***"}


def make_engine(url: str | URL) -> Engine:
    """An engine for ``url``; for SQLite the file's directory is created."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    elif parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(parsed, **kwargs)  # the URL object: its password stays intact
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, handing over ``connection`` to ``migrations/env.py``.

    No URL goes in: the migrations run on the connection given, and a URL in Alembic's
    ConfigParser would break on the ``%`` of any percent-encoded password.
    """
    from alembic.config import Config  # only when migrating: see the module docstring

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (all of them by default), one process at a time."""
    from alembic import command

    with _migrating(engine) as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Undo migrations down to ``revision`` under the same lock and settings as ``upgrade``."""
    from alembic import command

    with _migrating(engine) as connection:
        command.downgrade(alembic_config(connection), revision)


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction for Alembic, holding the migration lock.

    On SQLite, foreign keys are off while migrating: batch mode rebuilds a table by dropping
    it, and with foreign keys on that drop deletes (``ON DELETE CASCADE``) every row pointing
    at the table, which is how upgrading to 0003 used to delete all alerts.
    """
    with _migration_lock(engine), engine.connect() as connection:
        _sqlite_foreign_keys(connection, on=False)
        try:
            with connection.begin():
                if engine.dialect.name == "postgresql":
                    # held by this transaction, released by its commit or rollback
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK}
                    )
                yield connection
        finally:
            _sqlite_foreign_keys(connection, on=True)


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    """Switch SQLite's foreign key enforcement (only possible outside a transaction)."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
        connection.commit()


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Hold ``<database file>.migrate.lock`` (``flock``) while an SQLite file is migrated.

    Commands started together on a fresh file would otherwise all see an empty schema and all
    create the same tables ("table article already exists"). PostgreSQL serialises with an
    advisory lock instead (``_migrating``); an in-memory database has one user.
    """
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    with open(f"{Path(database).expanduser()}.migrate.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        yield


def open_database(url: str | URL) -> Engine:
    engine = make_engine(url)
    if not at_head(engine):
        upgrade(engine)
    return engine


def at_head(engine: Engine) -> bool:
    """Whether the database stands at ``HEAD_REVISION``: one query, no lock. A database at the
    head has its whole schema (Alembic records the revision in the transaction that migrates);
    any other answer, a missing table included, goes through ``upgrade`` and its lock."""
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:
        return False
    return [row[0] for row in versions] == [HEAD_REVISION]


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
