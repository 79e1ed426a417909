"""A Telegram outage is loud, `sanctions-bot run` keeps watching the feeds, and nothing queued is lost.

Each test runs the real command as its own process (``python -m bot run --duration N``) with a
loopback feed that yields one alert, a chat subscribed in the database, and Telegram either
absent (a closed loopback port), refusing the token (the emulator answers 401 to ``getMe``),
or arriving late (the emulator started on the closed port once the alert is queued).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import App
from bot.settings import Settings
from db import chats as chats_db
from db.engine import session_scope
from db.feeds import add_feed
from db.models import Delivery
from tests.conftest import ROOT
from tests.ingest.servers import LoopbackServer, serve, static
from tests.pipeline.test_end_to_end import ARMS, html, rss
from tests.tgemu import Emulator, start_emulator

pytestmark = pytest.mark.emulator

CHAT = 4242
# a real token's shape: the secret half is long enough for the redaction of the half alone
TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawX"


def closed_port() -> int:
    """A loopback port nothing listens on (bound for a moment, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def feed() -> Iterator[LoopbackServer]:
    """One feed whose only entry is an arms-to-North-Korea article: one possible-violation alert."""
    with serve() as server:
        server.route("/shells.html", html(ARMS))
        server.route(
            "/feed.xml",
            static(
                rss(server, [("1", "Shells", "/shells.html")]),
                {"Content-Type": "application/rss+xml"},
            ),
        )
        yield server


@pytest.fixture
def database(tmp_path: Path, feed: LoopbackServer) -> str:
    """A fresh database with the feed and a subscribed chat, so the alert gets an outbox row."""
    url = f"sqlite:///{tmp_path / 'run.sqlite'}"
    app = App.open(
        Settings(_env_file=None, database_url=url, rules_dir=ROOT / "rules", data_dir=tmp_path)
    )  # type: ignore[call-arg]
    with session_scope(app.engine) as session:
        chats_db.subscribe(session=session, tg_chat_id=CHAT, by="test")
        add_feed(
            session=session, url=feed.url("/feed.xml", host="localhost"), title="Loopback Wire"
        )
    app.engine.dispose()
    return url


def _env(tmp: Path, database_url: str, api: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "FEEDS_", "ALERTS_"))
    }
    env.update(
        DATABASE_URL=database_url,
        DATA_DIR=str(tmp),
        RULES_DIR=str(ROOT / "rules"),
        ALLOW_PRIVATE_URLS="true",  # the loopback feed
        EXTRACT_WORKERS="0",
        LOG_LEVEL="INFO",
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=api,
        TELEGRAM_POLL_TIMEOUT_S="1",
        DELIVERY_POLL_INTERVAL_S="0.1",
    )
    return env


def start_run(tmp: Path, database_url: str, api: str, seconds: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--duration", f"{seconds}s"],
        cwd=tmp,
        env=_env(tmp, database_url, api),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def deliveries(database_url: str) -> list[tuple[str, int]]:
    """(status, attempts) of every outbox row."""
    app = App.open(Settings(_env_file=None, database_url=database_url))  # type: ignore[call-arg]
    try:
        with session_scope(app.engine) as session:
            return [
                (d.status, d.attempts)
                for d in session.execute(select(Delivery).order_by(Delivery.id)).scalars()
            ]
    finally:
        app.engine.dispose()


def wait_until(condition: Callable[[], Any], timeout: float, process: subprocess.Popen[str]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process.poll() is not None:
            raise AssertionError(
                f"run exited with {process.returncode}: {process.communicate()[1]}"
            )
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout} s")


def finish(process: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"run did not stop in time; stderr:\n{err}") from None
    return process.returncode, out, err


def assert_no_token(text: str) -> None:
    assert TOKEN not in text and TOKEN.split(":")[1] not in text


def test_telegram_unreachable_is_an_error_and_feeds_are_still_ingested(
    tmp_path: Path, database: str
) -> None:
    port = closed_port()
    started = time.monotonic()
    code, out, err = finish(
        start_run(tmp_path, database, f"http://127.0.0.1:{port}/bot", seconds=3)
    )
    assert code == 0, err
    assert time.monotonic() - started < 25
    errors = [line for line in err.splitlines() if " ERROR " in line]
    assert any(
        f"Telegram unreachable at http://127.0.0.1:{port}" in line
        and "Connect" in line
        and "refused" in line.lower()
        for line in errors
    ), err
    assert "still unreachable" in err  # start-up is retried, not given up
    assert re.search(
        r"\[(HIGH|MEDIUM)\] Arms or related materiel supplied to or from North Korea", out
    )  # still ingesting
    assert (
        "polled 1 feeds (0 failed, 0 not modified): 1 new entries, 1 articles, 1 new alerts" in err
    )
    assert deliveries(database) == [("pending", 0)]  # queued for when Telegram is back
    assert "Telegram bot stopping while retrying since" in err
    assert_no_token(out + err)


def test_a_token_telegram_rejects_stops_the_run_with_status_4(
    tmp_path: Path, database: str, tg_emulator: Emulator
) -> None:
    tg_emulator.inject("getMe", 401, times=-1)
    started = time.monotonic()
    code, out, err = finish(start_run(tmp_path, database, tg_emulator.base_url, seconds=20))
    assert code == 4, err
    assert time.monotonic() - started < 15  # stopped at once, not after --duration
    assert any(
        " ERROR " in line and "Telegram rejected the bot token" in line and "Unauthorized" in line
        for line in err.splitlines()
    ), err
    assert (
        err.rstrip()
        .splitlines()[-1]
        .startswith("error: Telegram rejected the bot token (HTTP 401 Unauthorized on getMe)")
    )
    assert "TELEGRAM_BOT_TOKEN" in err.rstrip().splitlines()[-1]
    assert tg_emulator.call_count("getMe") == 1  # a rejected token is not retried
    assert_no_token(out + err)


def test_alerts_queued_while_telegram_is_down_are_delivered_once_when_it_returns(
    tmp_path: Path, database: str, feed: LoopbackServer
) -> None:
    port = closed_port()
    process = start_run(tmp_path, database, f"http://127.0.0.1:{port}/bot", seconds=30)
    emulator: Emulator | None = None
    try:
        wait_until(
            lambda: deliveries(database) == [("pending", 0)], 20, process
        )  # queued while unreachable
        emulator = start_emulator(port=port)
        emulator.add_chat(CHAT)
        emulator.wait_for_messages_sync(CHAT, 1, timeout=15)
        time.sleep(0.5)  # time enough for a second copy, were one on its way
        process.send_signal(signal.SIGINT)  # a graceful stop, as Ctrl-C
        code, out, err = finish(process)
        assert code == 0, err
        messages = emulator.messages(CHAT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        if emulator is not None:
            emulator.stop()
    assert len(messages) == 1 and "North Korea" in messages[0]["text"]
    assert deliveries(database) == [("sent", 1)]
    lines = err.splitlines()
    lost = next(
        i for i, line in enumerate(lines) if " ERROR " in line and "Telegram unreachable" in line
    )
    back = next(
        i for i, line in enumerate(lines) if " INFO " in line and "Telegram reachable again" in line
    )
    assert lost < back
    assert "Telegram bot stopping" not in err  # connected at the end
    assert_no_token(out + err)
