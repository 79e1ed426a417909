"""``db.outage``: which database errors are outages, and one log line per change of state.

The errors are real ones, raised by SQLite through SQLAlchemy (a read-only connection, a
missing table, a refused PostgreSQL connection), not hand-built exceptions.
"""

from __future__ import annotations

import logging
import socket

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from db.outage import DatabaseHealth, DatabaseState, outage_of, outlast


def sqlite_error(*statements: str) -> DBAPIError:
    """The error SQLAlchemy raises for the last of ``statements`` on a fresh in-memory SQLite."""
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        *setup, last = statements
        for statement in setup:
            connection.execute(text(statement))
        with pytest.raises(DBAPIError) as raised:
            connection.execute(text(last))
    return raised.value


def refused_error() -> DBAPIError:
    """A PostgreSQL connection refused (nothing listens on the port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    engine = create_engine(f"postgresql+psycopg://u@127.0.0.1:{port}/d")
    with pytest.raises(DBAPIError) as raised, engine.connect():
        pass
    return raised.value


def test_outages_are_told_from_bugs() -> None:
    read_only = outage_of(sqlite_error("PRAGMA query_only = 1", "INSERT INTO t VALUES (1)"))
    assert read_only is not None and read_only.writes_refused
    assert "readonly" in read_only.reason
    refused = outage_of(refused_error())
    assert refused is not None and not refused.writes_refused and "refused" in refused.reason
    assert outage_of(sqlite_error("SELECT * FROM missing")) is None  # a bug: raise it
    assert outage_of(ValueError("no")) is None


def test_each_change_is_logged_once_and_reads_do_not_end_a_write_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="db.outage")
    now = [0.0]
    health = DatabaseHealth("sqlite:///x", clock=lambda: now[0], remind_s=60)
    error = sqlite_error("PRAGMA query_only = 1", "INSERT INTO t VALUES (1)")
    for _ in range(70):  # a storm of failing passes, a second apart
        now[0] += 1
        assert health.failed(error)
        health.ok()  # a pass that only read: not over yet
    assert not health.up and health.failures == 70
    health.ok(wrote=True)
    assert health.up
    assert not health.failed(sqlite_error("SELECT * FROM missing"))
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in said] == ["ERROR", "WARNING", "INFO"], said  # one reminder
    assert said[0][1].startswith("database unavailable at sqlite:///x: attempt to write a readonly")
    assert said[1][1].startswith("database still unavailable at sqlite:///x for 60 s (61 failed")
    assert said[2][1] == "database available again at sqlite:///x after 69 s (70 failed attempts)"


def test_state_reads_the_outage_its_attempts_and_its_length_together() -> None:
    now = [100.0]
    health = DatabaseHealth("sqlite:///x", clock=lambda: now[0])
    assert health.state().up and health.state().down_for_s is None
    error = sqlite_error("PRAGMA query_only = 1", "INSERT INTO t VALUES (1)")
    health.failed(error)
    now[0] += 12.5
    health.failed(error)
    state = health.state()
    assert not state.up and state.outage is not None and state.outage.writes_refused
    assert (state.failures, state.down_for_s) == (2, 12.5)
    health.ok(wrote=True)
    assert health.state() == DatabaseState(outage=None, failures=0, down_for_s=None)


async def test_outlast_retries_through_an_outage_and_raises_bugs() -> None:
    health = DatabaseHealth("x")
    outage = refused_error()
    calls: list[int] = []

    async def attempt() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise outage
        return "done"

    assert await outlast(health, attempt, first_s=0.01) == "done" and len(calls) == 3

    async def bug() -> None:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        await outlast(health, bug, first_s=0.01)
