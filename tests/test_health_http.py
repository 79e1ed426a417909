"""``/healthz`` and ``/metrics``: a real HTTP server on loopback, read by a real client, and the
endpoint started and stopped by a real ``sanctions-bot run`` process.

The outages are real ones: a write refused by a read-only SQLite (``PRAGMA query_only``, since
the tests run as root, whom file modes do not stop) recorded by the process's
``DatabaseHealth``, a file that is no database, and a ``TelegramHealth`` moved by its own
methods; the last test stops and restarts the Bot API emulator under a ``run --role bot``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError

from bot.app import App
from bot.services.common import open_app
from bot.services.healthhttp import HealthServer, HealthServerError
from bot.services.readiness import STARTING_GRACE_S
from bot.settings import Settings
from bot.tg.health import TelegramHealth
from bot.tg.heartbeat import network_reason
from bot.tg.redact import protect_token
from db.engine import session_scope
from db.feeds import add_feed
from tests.conftest import ROOT
from tests.tg.test_outage_cli import TOKEN, _env, assert_no_token, finish, wait_until
from tests.tgemu import start_emulator


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    opened = open_app(Settings(database_url=f"sqlite:///{tmp_path / 'health.sqlite'}"))
    yield opened
    opened.engine.dispose()


@pytest.fixture
def served(app: App) -> Iterator[str]:
    server = HealthServer(app, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{server.port}"
    server.close()


def _metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_healthz_and_metrics_read_the_database_at_each_request(app: App, served: str) -> None:
    first = httpx.get(f"{served}/healthz")
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    assert first.json()["ok"] is True and first.json()["feeds"] == 0
    with session_scope(app.engine) as session:
        add_feed(session=session, url="https://news.example/rss.xml")
        add_feed(session=session, url="https://wire.example/atom.xml")
    assert httpx.get(f"{served}/healthz").json()["feeds_due"] == 2
    scraped = httpx.get(f"{served}/metrics")
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    figures = _metrics(scraped.text)
    assert figures[("sanctions_bot_feeds", ())] == 2
    assert figures[("sanctions_bot_feeds_due", ())] == 2
    assert figures[("sanctions_bot_deliveries", (("status", "pending"),))] == 0
    assert ("sanctions_bot_feed_to_chat_messages", ()) in figures
    assert figures[("sanctions_bot_database_up", ())] == 1
    assert figures[("sanctions_bot_outage_seconds", (("dependency", "database"),))] == 0
    assert ("sanctions_bot_telegram_up", ()) not in figures  # no Telegram role here
    assert first.json()["process"] == {
        "database": {
            "up": True,
            "reason": None,
            "writes_refused": False,
            "failures": 0,
            "down_for_s": None,
        }
    }


def test_other_paths_and_methods_are_refused(served: str) -> None:
    assert httpx.get(f"{served}/admin").status_code == 404
    assert httpx.post(f"{served}/healthz").status_code == 405
    assert httpx.head(f"{served}/metrics").status_code == 200


def test_a_database_that_does_not_answer_is_503(app: App, served: str, tmp_path: Path) -> None:
    app.engine.dispose()
    (tmp_path / "health.sqlite").write_bytes(b"this is not a database file" * 100)
    down = httpx.get(f"{served}/healthz")
    assert down.status_code == 503
    assert down.json()["ok"] is False and down.json()["error"] == "the database does not answer"
    assert down.json()["process"]["database"]["up"] is False
    assert "feeds" not in down.json()  # no figures to give
    scraped = httpx.get(f"{served}/metrics")  # the process is alive: Prometheus's up stays 1
    assert scraped.status_code == 200
    figures = _metrics(scraped.text)
    assert figures[("sanctions_bot_database_up", ())] == 0
    assert ("sanctions_bot_feeds", ()) not in figures


@contextmanager
def _read_only(engine: Engine) -> Iterator[None]:
    """Every new connection of ``engine`` refuses writes (SQLITE_READONLY), as a read-only
    mount or a database file an operator made read-only would."""

    def query_only(connection: Any, _record: Any) -> None:
        connection.execute("PRAGMA query_only = 1")

    engine.dispose()
    event.listen(engine, "connect", query_only)
    try:
        yield
    finally:
        event.remove(engine, "connect", query_only)
        engine.dispose()


def _store_feed(app: App, url: str) -> None:
    with session_scope(app.engine) as session:
        add_feed(session=session, url=url)


def test_a_database_that_refuses_writes_is_503_until_a_write_goes_through(
    app: App, served: str
) -> None:
    with _read_only(app.engine):
        with pytest.raises(OperationalError) as refused:
            _store_feed(app, "https://news.example/rss.xml")
        assert app.db_health.failed(refused.value)  # what the scheduler and the worker do
        down = httpx.get(f"{served}/healthz")
        scraped = httpx.get(f"{served}/metrics")
    assert down.status_code == 503
    assert down.json()["ok"] is False
    assert (
        down.json()["error"] == "the database refuses writes: attempt to write a readonly database"
    )
    database = down.json()["process"]["database"]
    assert database["up"] is False and database["writes_refused"] is True
    assert database["reason"] == "attempt to write a readonly database"
    assert database["failures"] == 1 and database["down_for_s"] >= 0
    assert down.json()["feeds"] == 0  # reads still work: the figures are there
    assert scraped.status_code == 200
    figures = _metrics(scraped.text)
    assert figures[("sanctions_bot_database_up", ())] == 0
    assert figures[("sanctions_bot_outage_seconds", (("dependency", "database"),))] >= 0
    assert figures[("sanctions_bot_feeds", ())] == 0
    assert httpx.get(f"{served}/healthz").status_code == 503  # a read alone ends nothing
    _store_feed(app, "https://news.example/rss.xml")
    app.db_health.ok(wrote=True)
    up = httpx.get(f"{served}/healthz")
    assert up.status_code == 200 and up.json()["ok"] is True and "error" not in up.json()
    assert up.json()["process"]["database"]["up"] is True and up.json()["feeds"] == 1
    assert _metrics(httpx.get(f"{served}/metrics").text)[("sanctions_bot_database_up", ())] == 1


@pytest.fixture
def telegram(app: App) -> Iterator[tuple[TelegramHealth, str]]:
    """A Telegram role's health endpoint: the server reads the same ``TelegramHealth`` the
    runner moves (here moved by its own methods, as the transport moves it)."""
    link = TelegramHealth(server="http://127.0.0.1:1")
    server = HealthServer(app, "127.0.0.1", 0, telegram=link).start()
    yield link, f"http://127.0.0.1:{server.port}"
    server.close()


def _telegram_figures(base: str) -> tuple[float, float]:
    figures = _metrics(httpx.get(f"{base}/metrics").text)
    return (
        figures[("sanctions_bot_telegram_up", ())],
        figures[("sanctions_bot_outage_seconds", (("dependency", "telegram"),))],
    )


def test_telegram_retrying_or_rejected_is_503(telegram: tuple[TelegramHealth, str]) -> None:
    link, base = telegram
    starting = httpx.get(f"{base}/healthz")
    assert starting.status_code == 200  # still connecting: within the grace
    assert starting.json()["process"]["telegram"]["state"] == "starting"
    assert _telegram_figures(base)[0] == 0
    link.reachable()
    assert httpx.get(f"{base}/healthz").status_code == 200
    assert _telegram_figures(base) == (1, 0)
    link.unreachable("ConnectError: All connection attempts failed")
    link.unreachable("ConnectError: All connection attempts failed")
    lost = httpx.get(f"{base}/healthz")
    assert lost.status_code == 503 and lost.json()["ok"] is False
    assert lost.json()["error"].startswith("Telegram unreachable for ")
    assert lost.json()["error"].endswith(
        "(2 failed attempts): ConnectError: All connection attempts failed"
    )
    assert lost.json()["process"]["telegram"] == {
        "state": "retrying",
        "since": link.since.isoformat(),
        "last_error": "ConnectError: All connection attempts failed",
        "failures": 2,
    }
    assert lost.json()["process"]["database"]["up"] is True
    assert _telegram_figures(base)[0] == 0 and _telegram_figures(base)[1] >= 0
    link.reachable()
    assert httpx.get(f"{base}/healthz").status_code == 200
    link.reject("HTTP 401 Unauthorized on getUpdates")
    rejected = httpx.get(f"{base}/healthz")
    assert rejected.status_code == 503
    assert rejected.json()["error"] == (
        "Telegram rejected the bot token: HTTP 401 Unauthorized on getUpdates"
    )
    assert _telegram_figures(base)[0] == 0


def test_a_bot_that_never_connects_is_503_after_the_grace(app: App) -> None:
    began = datetime.now(UTC) - timedelta(seconds=STARTING_GRACE_S + 5)
    link = TelegramHealth(clock=lambda: began)  # started a while ago, never answered
    server = HealthServer(app, "127.0.0.1", 0, telegram=link).start()
    try:
        answer = httpx.get(f"http://127.0.0.1:{server.port}/healthz")
    finally:
        server.close()
    assert answer.status_code == 503 and answer.json()["process"]["telegram"]["state"] == "starting"
    assert answer.json()["error"].startswith("Telegram not reached ")


def test_the_token_never_reaches_the_endpoint(telegram: tuple[TelegramHealth, str]) -> None:
    link, base = telegram
    protect_token(TOKEN)
    error = httpx.ConnectError(f"cannot reach https://api.telegram.org/bot{TOKEN}/getUpdates")
    link.unreachable(network_reason(error))  # how the transport words an outage
    answer = httpx.get(f"{base}/healthz")
    assert answer.status_code == 503 and "<token>" in answer.text
    assert_no_token(answer.text + httpx.get(f"{base}/metrics").text)


def test_a_port_in_use_is_a_clear_error(app: App) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(HealthServerError, match=f"127.0.0.1:{port} .*HEALTH_PORT"):
            HealthServer(app, "127.0.0.1", port)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_run_serves_health_while_it_runs_and_frees_the_port(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite'}",
        "RULES_DIR": str(ROOT / "rules"),
        "DATA_DIR": str(tmp_path / "data"),
        "HEALTH_PORT": str(port),
        "LIST_SYNC_INTERVAL_H": "0",
        "EXTRACT_WORKERS": "0",
        "TELEGRAM_BOT_TOKEN": "",
        "FEEDS_FILE": "",
    }
    command = [sys.executable, "-m", "bot", "run", "--duration", "60s"]  # a cap; Ctrl-C ends it
    process = subprocess.Popen(command, env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        answer = None
        for _ in range(300):  # bounded: start-up takes a few seconds, a loaded machine more
            if process.poll() is not None:
                break
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert answer is not None and answer.status_code == 200 and answer.json()["ok"] is True
        assert "telegram" not in answer.json()["process"]  # no token: no Telegram role
        process.send_signal(signal.SIGINT)  # Ctrl-C: the run stops cleanly, the server with it
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert f"health and metrics on http://127.0.0.1:{port}/healthz" in stderr
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def _healthz_when(port: int, process: subprocess.Popen[str], state: str) -> tuple[int, Any]:
    """The ``/healthz`` status and body once Telegram is in ``state`` there; bounded."""

    def answered() -> tuple[int, Any] | None:
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        except httpx.TransportError:
            return None
        body = answer.json()
        return (answer.status_code, body) if body["process"]["telegram"]["state"] == state else None

    found: tuple[int, Any] = wait_until(answered, 60, process)
    return found


@pytest.mark.emulator
@pytest.mark.parametrize("role", ["bot", "all"])
def test_a_bot_process_is_503_while_telegram_is_away(tmp_path: Path, role: str) -> None:
    port = _free_port()
    emulator = start_emulator()
    api_port = emulator.port
    env = {
        **_env(tmp_path, f"sqlite:///{tmp_path / 'bot.sqlite'}", emulator.base_url),
        "HEALTH_PORT": str(port),
        "LIST_SYNC_INTERVAL_H": "0",
    }
    command = [sys.executable, "-m", "bot", "run", "--role", role, "--duration", "120s"]
    process = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        code, connected = _healthz_when(port, process, "connected")
        assert code == 200 and connected["ok"] is True
        emulator.stop()  # Telegram gone: the next getUpdates fails
        code, away = _healthz_when(port, process, "retrying")
        assert code == 503 and away["ok"] is False
        assert away["error"].startswith("Telegram unreachable for ")
        assert away["process"]["database"]["up"] is True
        emulator = start_emulator(port=api_port)  # back where it was
        code, back = _healthz_when(port, process, "connected")
        assert code == 200 and back["ok"] is True and "error" not in back
        process.send_signal(signal.SIGINT)
        code, out, err = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        emulator.stop()
    assert code == 0, err
    assert_no_token(out + err)
