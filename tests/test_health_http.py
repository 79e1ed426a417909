"""``/healthz`` and ``/metrics``: a real HTTP server on loopback, read by a real client, and the
endpoint started and stopped by a real ``sanctions-bot run`` process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import App
from bot.services.common import open_app
from bot.services.healthhttp import HealthServer, HealthServerError
from bot.settings import Settings
from db.engine import session_scope
from db.feeds import add_feed
from tests.conftest import ROOT


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


def test_other_paths_and_methods_are_refused(served: str) -> None:
    assert httpx.get(f"{served}/admin").status_code == 404
    assert httpx.post(f"{served}/healthz").status_code == 405
    assert httpx.head(f"{served}/metrics").status_code == 200


def test_a_database_that_does_not_answer_is_503(app: App, served: str, tmp_path: Path) -> None:
    app.engine.dispose()
    (tmp_path / "health.sqlite").write_bytes(b"this is not a database file" * 100)
    down = httpx.get(f"{served}/healthz")
    assert down.status_code == 503
    assert down.json() == {"ok": False, "error": "the database does not answer"}
    assert httpx.get(f"{served}/metrics").status_code == 503


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
        process.send_signal(signal.SIGINT)  # Ctrl-C: the run stops cleanly, the server with it
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert f"health and metrics on http://127.0.0.1:{port}/healthz" in stderr
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
