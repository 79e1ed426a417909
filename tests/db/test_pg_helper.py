"""The throwaway PostgreSQL server of ``tests/pg.py`` itself: loopback only, trust auth (but
for one role that needs its password), fresh databases, and nothing left behind when it stops."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.exc import DBAPIError

from tests import pg
from tests.pg import PgServer, pg_server, pg_url  # noqa: F401

pytestmark = pytest.mark.postgres


def connect(server: PgServer, dbname: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(
        host=pg.HOST, port=server.port, user=pg.PG_USER, dbname=dbname, autocommit=True
    )


def process_state(pid: int) -> str | None:
    """The process's state letter (R, S, Z ...), or None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("State:"):
                return line.split()[1]
    except FileNotFoundError:
        return None
    return None


def test_server_settings(pg_server: PgServer) -> None:  # noqa: F811
    with connect(pg_server) as connection:
        settings = dict(
            connection.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN ('listen_addresses', 'port', 'server_encoding', 'TimeZone')"
            ).fetchall()
        )
        rules = connection.execute(
            "SELECT type, address, user_name, auth_method FROM pg_hba_file_rules ORDER BY line_number"
        ).fetchall()
        user = connection.execute("SELECT current_user").fetchone()
    assert settings == {
        "listen_addresses": "127.0.0.1",
        "port": str(pg_server.port),
        "server_encoding": "UTF8",
        "TimeZone": pg.TIME_ZONE,
    }
    assert user == ("postgres",)
    assert rules == [
        ("local", None, ["all"], "trust"),
        (
            "host",
            "127.0.0.1",
            [pg.PASSWORD_USER],
            "scram-sha-256",
        ),  # before the trust line it overrides
        ("host", "127.0.0.1", ["all"], "trust"),
        ("host", "::1", ["all"], "trust"),
    ]
    assert pg_server.startup_seconds < 10
    pid = int((pg_server.data / "postmaster.pid").read_text().split()[0])
    owner = Path(f"/proc/{pid}").stat().st_uid
    assert owner == (pwd.getpwnam(pg.SYSTEM_USER).pw_uid if os.geteuid() == 0 else os.geteuid())


def test_url_and_fresh_databases(pg_server: PgServer, pg_url: str) -> None:  # noqa: F811
    assert pg_url.startswith(f"postgresql+psycopg://postgres@127.0.0.1:{pg_server.port}/t_")
    assert pg_server.url("x") == f"postgresql+psycopg://postgres@127.0.0.1:{pg_server.port}/x"
    engine = create_engine(pg_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE leftover (id int)")
        assert inspect(engine).get_table_names() == ["leftover"]
    finally:
        engine.dispose()
    other = pg_server.create_database()
    try:
        engine = create_engine(pg_server.url(other))
        assert inspect(engine).get_table_names() == []
        with engine.connect() as connection:  # still connected when dropped
            pg_server.drop_database(other)
            with pytest.raises(DBAPIError):  # the server closed the connection
                connection.exec_driver_sql("SELECT 1")
        engine.dispose()
    finally:
        pg_server.drop_database(other)
    with connect(pg_server) as connection:
        names = {row[0] for row in connection.execute("SELECT datname FROM pg_database")}
    assert pg_url.rsplit("/", 1)[1] in names and other not in names


def test_the_password_role_needs_its_password(pg_server: PgServer) -> None:  # noqa: F811
    """scram-sha-256 over TCP: no password or a wrong one is refused, the right one accepted."""
    name = pg_server.create_database(owner=pg.PASSWORD_USER)
    try:
        common = {"host": pg.HOST, "port": pg_server.port, "user": pg.PASSWORD_USER, "dbname": name}
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(**common, connect_timeout=5).close()
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(**common, password=pg.PASSWORD[:-1], connect_timeout=5).close()
        with psycopg.connect(**common, password=pg.PASSWORD) as connection:
            assert connection.execute("SELECT current_user").fetchone() == (pg.PASSWORD_USER,)
    finally:
        pg_server.drop_database(name)
    with connect(pg_server) as admin:
        stored = admin.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (pg.PASSWORD_USER,)
        ).fetchone()
    assert stored is not None and stored[0].startswith("SCRAM-SHA-256$")
    assert (
        pg_server.password_url(name)
        == f"postgresql://pwuser:p%2540ss%25w0rd%40%2F%3A%3F%23%5B%5D%20x@127.0.0.1:{pg_server.port}/{name}"
    )


def test_stop_leaves_nothing_behind(pg_server: PgServer) -> None:  # noqa: F811
    server = PgServer.start()  # a second one: pg_server only makes this skip without PostgreSQL
    root, data = server.root, server.data
    assert root is not None and root.is_dir()
    pid = int((data / "postmaster.pid").read_text().split()[0])
    assert process_state(pid) not in (None, "Z")
    server.stop()
    server.stop()  # twice is fine
    assert not root.exists()
    assert process_state(pid) in (None, "Z")  # gone (or exited, waiting to be reaped by init)
    with pytest.raises(psycopg.OperationalError):
        connect(server)


def test_missing_postgres_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg, "find_bindir", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install"):
        pg.start_or_skip()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        pg.start_or_skip()


def test_find_bindir(pg_server: PgServer) -> None:  # noqa: F811
    bindir = pg.find_bindir()
    assert bindir == pg_server.bindir
    assert bindir is not None
    assert all((bindir / name).is_file() for name in pg.PROGRAMS)
