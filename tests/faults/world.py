"""What the fault tests share: a wire whose stories appear over time, distinct alert-firing
articles, and a real ``sanctions-bot run`` process beside the Bot API emulator.

``Wire`` is a loopback feed (real HTTP, real RSS) that lists the stories published so far:
``publish()`` adds one, and the next poll of the running bot sees it. Each story is a
different article (its own paragraph of words, so stories never join as near-duplicates)
about arms shipped from North Korea, so each gives exactly one ``un-dprk-arms`` alert.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from bot.app import App
from bot.settings import Settings
from db import chats as chats_db
from db.engine import session_scope
from db.feeds import add_feed
from db.models import Alert, Delivery, Feed
from tests.conftest import ROOT
from tests.ingest.servers import Handler, LoopbackServer, serve
from tests.tg.conftest import alert_id_of, alert_messages
from tests.tgemu import Emulator

TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawX"
FEED_INTERVAL_S = 1  # below the 60 s a user may set: written straight into the feed row

_WORDS = (
    "river",
    "harbour",
    "winter",
    "market",
    "bridge",
    "garden",
    "teacher",
    "morning",
    "village",
    "council",
    "library",
    "bakery",
    "festival",
    "railway",
    "museum",
    "orchard",
    "meadow",
    "lantern",
    "cottage",
    "chapel",
    "quarry",
    "valley",
    "tractor",
    "harvest",
    "ferry",
    "island",
    "mountain",
    "forest",
    "school",
    "hospital",
    "kitchen",
    "window",
    "painter",
    "singer",
    "farmer",
    "doctor",
    "student",
    "captain",
    "engineer",
    "baker",
    "weaver",
    "potter",
    "fisher",
    "yellow",
    "purple",
    "silver",
    "golden",
    "quiet",
    "busy",
    "early",
    "late",
    "windy",
    "sunny",
    "rainy",
    "narrow",
    "wide",
    "walked",
    "opened",
    "painted",
    "carried",
    "visited",
    "repaired",
    "planted",
    "counted",
    "cleaned",
    "watched",
)


def story(n: int) -> tuple[str, str]:
    """The title and HTML page of story ``n``: one arms-to-North-Korea alert, its own body."""
    rng = random.Random(n)
    filler = " ".join(rng.choice(_WORDS) for _ in range(120))
    title = f"Shipment {n} by rail"
    page = (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"<p>North Korea shipped artillery shells and rockets to Russia by rail (shipment {n}), "
        "officials said on Tuesday.</p>"
        f"<p>Local notes from the border: {filler}.</p>"
        "<p>Any transfer of arms from North Korea is banned by UN Security Council resolutions.</p>"
        "</article></body></html>"
    )
    return title, page


@dataclass
class Wire:
    """A loopback feed whose entries are the stories published so far."""

    server: LoopbackServer
    published: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def feed_url(self) -> str:
        return self.server.url("/feed.xml", host="localhost")

    def publish(self, n: int, gate: threading.Event | None = None) -> None:
        """Story ``n`` appears in the feed; with ``gate``, its page is served only once the
        gate opens, so a test can break the database while a poll is fetching it."""
        body = story(n)[1].encode()

        def page(handler: Handler) -> None:
            if gate is not None:
                gate.wait(30)
            handler.send(200, body, {"Content-Type": "text/html; charset=utf-8"})

        self.server.route(f"/story/{n}.html", page)
        with self.lock:
            self.published.append(n)

    def _feed(self, handler: Handler) -> None:
        with self.lock:
            numbers = list(self.published)
        items = "".join(
            f"<item><title>{story(n)[0]}</title>"
            f"<link>{self.server.url(f'/story/{n}.html', host='localhost')}</link>"
            f"<guid>story-{n}</guid><pubDate>{formatdate(0, usegmt=True)}</pubDate>"
            f"<description>Story {n}</description></item>"
            for n in numbers
        )
        rss = (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Loopback Wire</title>'
            f"{items}</channel></rss>"
        )
        handler.send(200, rss.encode(), {"Content-Type": "application/rss+xml"})


@contextmanager
def wire() -> Iterator[Wire]:
    with serve() as server:
        created = Wire(server)
        server.route("/feed.xml", created._feed)
        yield created


def prepare_database(url: str, wire: Wire, chats: list[int], data_dir: Path) -> None:
    """Schema, the wire's feed (polled every second) and ``chats`` subscribed to everything."""
    app = App.open(
        Settings(_env_file=None, database_url=url, rules_dir=ROOT / "rules", data_dir=data_dir)  # type: ignore[call-arg]
    )
    try:
        with session_scope(app.engine) as session:
            for chat in chats:
                chats_db.subscribe(session=session, tg_chat_id=chat, by="test")
            feed = add_feed(session=session, url=wire.feed_url, title="Loopback Wire")
            session.execute(
                update(Feed).where(Feed.id == feed.id).values(interval_s=FEED_INTERVAL_S)
            )
    finally:
        app.engine.dispose()


def run_env(tmp: Path, database_url: str, api: str, **extra: str) -> dict[str, str]:
    """The environment of a ``run`` under test: this database, this Bot API, fast polling."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "FEEDS_", "ALERTS_", "DATABASE_", "HEALTH_"))
    }
    env.update(
        DATABASE_URL=database_url,
        DATA_DIR=str(tmp),
        RULES_DIR=str(ROOT / "rules"),
        ALLOW_PRIVATE_URLS="true",  # the loopback wire
        EXTRACT_WORKERS="0",
        LIST_SYNC_INTERVAL_H="0",
        LOG_LEVEL="INFO",
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=api,
        TELEGRAM_POLL_TIMEOUT_S="1",
        TELEGRAM_CHAT_INTERVAL_S="0.02",
        DELIVERY_POLL_INTERVAL_S="0.1",
    )
    env.update(extra)
    return env


def start_run(tmp: Path, env: dict[str, str], seconds: int) -> subprocess.Popen[str]:
    """``python -m bot run --duration N`` (a cap; the tests stop it with SIGINT), stderr to a
    file so a long log can never fill a pipe and stall the process."""
    with open(tmp / "run.log", "w") as log:  # the child keeps its own copy of the handle
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--duration", f"{seconds}s"],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )


def wait_for(
    condition: Callable[[], Any], timeout: float, process: subprocess.Popen[str], log: Path
) -> Any:
    """Poll ``condition`` until it is true; fail with the run's log if it exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process.poll() is not None:
            raise AssertionError(f"run exited with {process.returncode}:\n{tail(log)}")
        time.sleep(0.2)
    raise AssertionError(f"condition not met within {timeout} s; the run's log:\n{tail(log)}")


def tail(log: Path, lines: int = 60) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def delivered(emu: Emulator, chat: int) -> list[int]:
    """Alert ids of the alert messages in a chat, as the emulator recorded them."""
    return [alert_id_of(m) for m in alert_messages(emu, chat)]


def stored(database_url: str) -> tuple[list[tuple[int, str]], list[tuple[int, int, str, int]]]:
    """(alert id, rule) of every alert; (alert id, chat pk, status, attempts) of every outbox row."""
    app = App.open(Settings(_env_file=None, database_url=database_url))  # type: ignore[call-arg]
    try:
        with session_scope(app.engine) as session:
            alerts = [(a.id or 0, a.rule_id) for a in session.execute(select(Alert)).scalars()]
            rows = [
                (d.alert_id, d.chat_id, d.status, d.attempts)
                for d in session.execute(select(Delivery).order_by(Delivery.id)).scalars()
            ]
            return alerts, rows
    finally:
        app.engine.dispose()


def assert_reported_clearly(log_text: str, *reasons: str) -> None:
    """The outage is one ERROR line naming the database and one of ``reasons`` (which one a
    server going down shows first depends on the moment), its end one INFO line, and no
    traceback anywhere: what an operator reads, not a storm."""
    lines = log_text.splitlines()
    began = [
        i for i, line in enumerate(lines) if " ERROR " in line and "database unavailable" in line
    ]
    ended = [
        i for i, line in enumerate(lines) if " INFO " in line and "database available again" in line
    ]
    assert len(began) == 1 and any(r in lines[began[0]] for r in reasons), log_text[-5000:]
    assert len(ended) == 1 and ended[0] > began[0], log_text[-5000:]
    assert "Traceback" not in log_text, log_text[-5000:]


def survive(
    tmp: Path,
    url: str,
    emu: Emulator,
    *,
    break_it: Callable[[], None],
    mend_it: Callable[[], None],
    reason: str,
) -> None:
    """The fault scenario shared by the read-only and full-disk tests, on a real ``run``.

    Story 1 is delivered; story 2 is published and the database broken (``break_it``) while a
    poll is fetching its page, so storing it fails; the run must stay up and store nothing of
    it; the database is mended (the feed must not wait out its 15-minute lease: story 2 is read
    again at the next poll), story 3 published; then each alert reaches each chat exactly once,
    every outbox row is ``sent`` in one attempt, and the log says ``reason`` once, then that the
    database is back, with no traceback.
    """
    chats = [5201, 5202]
    for chat in chats:
        emu.add_chat(chat)
    log = tmp / "run.log"

    def each_chat_has(count: int) -> bool:
        return all(len(delivered(emu, chat)) >= count for chat in chats)

    with wire() as news:
        prepare_database(url, news, chats, tmp)
        news.publish(1)
        process = start_run(tmp, run_env(tmp, url, emu.base_url), seconds=150)
        try:
            wait_for(lambda: each_chat_has(1), 40, process, log)
            gate = threading.Event()
            news.publish(2, gate)  # a poll claims the feed and fetches story 2's page ...
            wait_for(lambda: news.server.requests_to("/story/2.html"), 20, process, log)
            break_it()  # ... and the fault comes before it can store the article
            gate.set()
            wait_for(lambda: reason in log.read_text(errors="replace"), 20, process, log)
            time.sleep(3)  # a few more polls and delivery passes meet the fault
            assert process.poll() is None, tail(log)
            assert len(stored(url)[0]) == 1, "an alert stored while the database refused writes"
            mend_it()
            news.publish(3)
            wait_for(lambda: each_chat_has(3), 60, process, log)
            time.sleep(1.0)  # time enough for a second copy, were one on its way
            process.send_signal(signal.SIGINT)
            code = process.wait(60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert code == 0, tail(log)
    alerts, rows = stored(url)
    assert sorted(rule for _, rule in alerts) == ["un-dprk-arms"] * 3, alerts  # one per story
    ids = sorted(alert_id for alert_id, _ in alerts)
    for chat in chats:
        assert sorted(delivered(emu, chat)) == ids, chat  # each once, none missing
    assert [(status, attempts) for *_, status, attempts in rows] == [("sent", 1)] * 6, rows
    assert_reported_clearly(log.read_text(errors="replace"), reason)
