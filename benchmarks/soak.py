"""Soak: several workers on one PostgreSQL, thousands of feeds, hundreds of chats, SIGKILLs.

    .venv/bin/python benchmarks/soak.py [--feeds 2000] [--chats 500] [--alerting 10]
                                        [--benign 200] [--window 150] [--deadline 900]

What runs, all on loopback:

* a throwaway PostgreSQL server (``tests/pg.py``) with the project's migrations;
* a feed site serving ``--feeds`` RSS feeds. Items appear over ``--window`` seconds, each in
  one feed at a random moment: ``--alerting`` sanctions reports (each a distinct story that
  raises one alert) and ``--benign`` ordinary news (none). Feeds answer 304 to a matching
  ``If-None-Match``; each item links to an article page on the same site;
* the Bot API emulator with Telegram's flood limits on (30 messages/s, 1/s per chat, 20/min per
  group); ``--chats`` chats (one in ten a group) subscribed to every alert;
* two ``sanctions-bot run --role ingest`` and two ``sanctions-bot run --role deliver`` processes,
  the commands an operator runs. Feeds are watched every 60 s (the minimum interval).

Midway (``--kill-at`` of the window) one worker of each role is killed with SIGKILL and started
again 3 s later (a new process, a new lock holder: the dead one's chats are taken over when its
locks run out, ``DELIVERY_LEASE_S=10`` here).

Afterwards: every published item must be stored as an article, every alerting item must have
raised its alert, every alert must have reached every subscribed chat exactly once (read back
from the emulator's record), and no feed may have been fetched by two workers at once (the
site counts requests to a feed that overlap in time). Prints one JSON object: alerts, messages
delivered, duplicates, lost, overlapping polls, feeds/s, messages/s and the p50/p95 latency
from an item appearing in its feed to its message reaching a chat (``sent_at`` of the outbox
row). Exit status 1 when a guarantee failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

TOKEN = "123456:SOAK"
ALERTING = (
    "{dealer}, North Korea's main arms dealer, was paid through a front company in {city}, "
    "investigators said in report number {n}."
)
DEALERS = ["KOMID", "Korea Mining Development Trading Corporation"]
CITIES = ["Hong Kong", "Vladivostok", "Dubai", "Singapore", "Bangkok", "Istanbul"]
WORDS = [
    "council",
    "harbour",
    "budget",
    "bridge",
    "festival",
    "school",
    "library",
    "museum",
    "orchestra",
    "weather",
    "rainfall",
    "garden",
    "market",
    "bakery",
    "cyclists",
    "marathon",
    "bus",
    "route",
    "hospital",
    "volunteers",
    "river",
    "lantern",
    "parade",
    "theatre",
    "season",
    "tickets",
    "football",
    "derby",
    "kiosk",
    "mayor",
    "tram",
    "timetable",
    "bicycle",
    "lane",
    "roof",
    "repair",
    "exhibition",
    "painting",
    "sculpture",
    "poetry",
    "reading",
    "farmers",
    "cheese",
    "apples",
    "harvest",
    "tourism",
    "hotel",
]


# --- the feed site ------------------------------------------------------------------------------


@dataclass
class Item:
    feed: int
    number: int
    appear_s: float  # seconds after the start
    alerting: bool

    @property
    def path(self) -> str:
        return f"/a/{self.feed}/{self.number}.html"


@dataclass
class Site:
    items_by_feed: dict[int, list[Item]]
    started: float = 0.0  # time.time() of the start
    polls: int = 0
    overlaps: int = 0
    in_flight: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    base: str = ""

    def visible(self, feed: int) -> list[Item]:
        now = time.time() - self.started
        return [i for i in self.items_by_feed.get(feed, []) if i.appear_s <= now]

    def rss(self, feed: int, items: list[Item]) -> bytes:
        entries = "".join(
            f"<item><title>Item {i.feed}-{i.number}</title><link>{self.base}{i.path}</link>"
            f"<guid>{self.base}{i.path}</guid></item>"
            for i in items
        )
        return (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {feed}</title>'
            f"<link>{self.base}/</link><description>soak</description>{entries}</channel></rss>"
        ).encode()


def article_html(item: Item) -> bytes:
    rng = random.Random(item.feed * 100_003 + item.number)
    paragraphs = [
        " ".join(rng.choice(WORDS) for _ in range(14)).capitalize() + "." for _ in range(6)
    ]
    if item.alerting:
        lead = ALERTING.format(
            dealer=rng.choice(DEALERS), city=rng.choice(CITIES), n=f"{item.feed}-{item.number}"
        )
        paragraphs.insert(1, lead)
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    title = f"Report {item.feed}-{item.number}: " + " ".join(rng.choice(WORDS) for _ in range(5))
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"{body}</article></body></html>"
    ).encode()


class Handler(BaseHTTPRequestHandler):
    server: SiteServer

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_GET(self) -> None:
        site = self.server.site
        parts = self.path.strip("/").split("/")
        if parts[0] == "feed" and len(parts) == 2:
            self._feed(site, int(parts[1].removesuffix(".xml")))
        elif parts[0] == "a" and len(parts) == 3:
            feed, number = int(parts[1]), int(parts[2].removesuffix(".html"))
            item = next((i for i in site.items_by_feed.get(feed, []) if i.number == number), None)
            if item is None:
                self._send(404, b"")
            else:
                self._send(200, article_html(item), "text/html; charset=utf-8")
        else:
            self._send(404, b"")

    def _feed(self, site: Site, feed: int) -> None:
        with site.lock:
            site.polls += 1
            site.in_flight[feed] += 1
            if site.in_flight[feed] > 1:
                site.overlaps += 1
        try:
            time.sleep(0.02)  # a real server takes a moment: overlapping polls would show
            items = site.visible(feed)
            etag = f'"{feed}-{len(items)}"'
            if self.headers.get("If-None-Match") == etag:
                self._send(304, b"", etag=etag)
            else:
                self._send(200, site.rss(feed, items), "application/rss+xml", etag=etag)
        finally:
            with site.lock:
                site.in_flight[feed] -= 1

    def _send(self, status: int, body: bytes, kind: str = "", etag: str = "") -> None:
        self.send_response(status)
        if kind:
            self.send_header("Content-Type", kind)
        if etag:
            self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)


class SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, site: Site) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.site = site

    def handle_error(self, request: object, client_address: object) -> None:
        """A worker killed mid-request hangs up on the site: expected here, not worth a trace."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def schedule(feeds: int, alerting: int, benign: int, window: float, seed: int) -> list[Item]:
    rng = random.Random(seed)
    items: list[Item] = []
    per_feed: Counter[int] = Counter()
    for n in range(alerting + benign):
        feed = rng.randrange(feeds)
        per_feed[feed] += 1
        items.append(Item(feed, per_feed[feed], rng.uniform(5.0, window), n < alerting))
    return items


# --- the database -------------------------------------------------------------------------------


def prepare(url: str, feed_urls: list[str], chats: list[int]) -> None:
    from db import chats as chats_db
    from db.engine import open_database, session_scope
    from db.feeds import add_feed

    engine = open_database(url)
    with session_scope(engine) as session:
        for feed_url in feed_urls:
            add_feed(session=session, url=feed_url, interval_s=60, origin="soak")
        for chat in chats:
            chats_db.subscribe(
                session=session,
                tg_chat_id=chat,
                by="soak",
                chat_type="group" if chat < 0 else "private",
                changes={"min_severity": "info"},
            )
    engine.dispose()


class Database:
    """Read-only figures, one engine kept (the polling must not load the machine)."""

    def __init__(self, url: str) -> None:
        from db.engine import make_engine

        self.engine = make_engine(url)

    def scalar(self, query: Any) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def counts(self) -> dict[str, int]:
        from db.models import Alert, Article, Delivery

        with self.engine.connect() as connection:
            by_status = dict(
                connection.execute(
                    select(Delivery.status, func.count()).group_by(Delivery.status)
                ).all()
            )
        return {
            "articles": self.scalar(select(func.count()).select_from(Article)),
            "alerts": self.scalar(select(func.count()).select_from(Alert)),
            **{str(k): int(v) for k, v in by_status.items()},
        }

    def rows(self, pairs: list[tuple[int, int]]) -> list[dict[str, Any]]:
        """The outbox rows of some (tg chat, alert) pairs, to say what happened to them."""
        from db.models import Chat, Delivery

        found = []
        with self.engine.connect() as connection:
            for chat, alert in pairs:
                row = connection.execute(
                    select(Delivery)
                    .join(Chat, Chat.id == Delivery.chat_id)
                    .where(Chat.tg_chat_id == chat, Delivery.alert_id == alert)
                ).first()
                if row is not None:
                    data = row._asdict()
                    found.append({k: str(v) for k, v in data.items()} | {"tg_chat_id": chat})
        return found

    def pairs_and_latency(self, site: Site) -> tuple[set[tuple[int, int]], list[float]]:
        """(tg chat, alert) of every outbox row; seconds from each item's appearance to the
        sending of each of its rows."""
        from db.models import Alert, Article, Chat, Delivery

        appear = {
            f"{site.base}{i.path}": site.started + i.appear_s
            for items in site.items_by_feed.values()
            for i in items
        }
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(Chat.tg_chat_id, Delivery.alert_id, Delivery.sent_at, Article.url)
                .join(Chat, Chat.id == Delivery.chat_id)
                .join(Alert, Alert.id == Delivery.alert_id)
                .join(Article, Article.id == Alert.article_id)
            ).all()
        pairs = {(int(chat), int(alert)) for chat, alert, _, _ in rows}
        latency = [
            sent.timestamp() - appear[url]
            for _, _, sent, url in rows
            if sent is not None and url in appear
        ]
        return pairs, latency


# --- the workers --------------------------------------------------------------------------------


def worker_env(url: str, base_url: str, data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_URL"))}
    env.update(
        PYTHONPATH=str(ROOT),
        PTB_TIMEDELTA="true",
        DATABASE_URL=url,
        DATA_DIR=str(data),
        RULES_DIR=str(ROOT / "rules"),
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=base_url,
        TELEGRAM_RATE_PER_S="14",  # two delivery workers share Telegram's 30/s, with a margin
        DELIVERY_LEASE_S="10",
        DELIVERY_POLL_INTERVAL_S="0.5",
        ALLOW_PRIVATE_URLS="true",  # the feed site is on loopback
        MAX_CONNECTIONS_PER_HOST="16",  # every feed is on one host here
        EXTRACT_WORKERS="1",  # two ingest processes on two cores
        LIST_SYNC_INTERVAL_H="0",
        LOG_LEVEL=os.environ.get("SOAK_LOG_LEVEL", "WARNING"),
        **extra,
    )
    return env


@dataclass
class Worker:
    role: str
    name: str
    env: dict[str, str]
    log: TextIO
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log.write(f"--- {self.name} started at {time.time():.1f}\n")
        self.log.flush()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--role", self.role],
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return -9


# --- the run ------------------------------------------------------------------------------------


def received(emu: Any, chats: list[int]) -> Counter[tuple[int, int]]:
    """(chat, alert) -> how many alert messages the chat has (from the emulator's record)."""
    seen: Counter[tuple[int, int]] = Counter()
    for chat in chats:
        for message in emu.messages(chat):
            rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
            data = rows[0][0].get("callback_data", "") if rows and rows[0] else ""
            if data.startswith("rv:"):
                seen[(chat, int(data.rsplit(":", 1)[1]))] += 1
    return seen


def best_window(times: list[float], seconds: float) -> float:
    """The highest send rate over any ``seconds`` (the pace while a backlog was waiting)."""
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] > seconds:
            start += 1
        best = max(best, end - start + 1)
    return round(best / seconds, 2)


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=500)
    parser.add_argument("--alerting", type=int, default=10, help="items that raise an alert")
    parser.add_argument("--benign", type=int, default=200, help="items that raise none")
    parser.add_argument("--window", type=float, default=150.0, help="seconds items appear over")
    parser.add_argument("--kill-at", type=float, default=0.5, help="share of the window")
    parser.add_argument("--deadline", type=float, default=900.0, help="give up after (s)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from tests.pg import PgServer
    from tests.tgemu import start_emulator

    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    pg = PgServer.start()
    emu = start_emulator()
    items = schedule(args.feeds, args.alerting, args.benign, args.window, args.seed)
    site = Site({})
    for item in items:
        site.items_by_feed.setdefault(item.feed, []).append(item)
    server = SiteServer(site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    log = open(workdir / "workers.log", "w")  # noqa: SIM115
    workers: list[Worker] = []
    try:
        url = pg.url(pg.create_database())
        chats = [-(9000 + i) if i % 10 == 9 else 20_000 + i for i in range(args.chats)]
        for chat in chats:
            emu.add_chat(chat)
        emu.flood_limits(per_second=30, per_chat_per_second=1, per_group_per_minute=20)
        prepare(url, [f"{site.base}/feed/{n}.xml" for n in range(args.feeds)], chats)
        db = Database(url)
        for role, count in (("ingest", 2), ("deliver", 2)):
            for n in range(count):
                name = f"{role}-{n + 1}"
                env = worker_env(url, emu.base_url, workdir / "data")
                workers.append(Worker(role, name, env, log))
        site.started = time.time()
        for worker in workers:
            worker.start()
        result = run(args, site, db, workers, emu, chats, items)
    finally:
        for worker in workers:
            if worker.process is not None and worker.process.poll() is None:
                worker.process.kill()
        log.close()
        server.shutdown()
        emu.stop()
        pg.stop()
    result["logs"] = str(workdir / "workers.log")
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


def run(
    args: argparse.Namespace,
    site: Site,
    db: Database,
    workers: list[Worker],
    emu: Any,
    chats: list[int],
    items: list[Item],
) -> dict[str, Any]:
    kills: list[dict[str, Any]] = []
    kill_time = site.started + args.window * args.kill_at
    alerting = sum(1 for i in items if i.alerting)
    deadline = site.started + args.deadline
    finished = False
    while time.time() < deadline:
        time.sleep(1.0)
        if not kills and time.time() >= kill_time and _delivering(db, site, args, kill_time):
            kills = kill_and_restart(workers, db, site.started)
        counts = db.counts()
        in_queue = counts.get("pending", 0) + counts.get("sending", 0)
        if (
            time.time() > site.started + args.window
            and counts["articles"] >= len(items)
            and counts["alerts"] >= alerting
            and in_queue == 0
        ):
            finished = True
            break
    elapsed = time.time() - site.started
    stops = {w.name: w.stop() for w in workers}
    counts = db.counts()
    expected, latency = db.pairs_and_latency(site)
    got = received(emu, chats)
    sends = sorted(
        c["time"] for c in emu.calls("sendMessage") if c["status"] == 200 and c["time"] > 0
    )
    lost = len(expected - set(got))
    twice = [pair for pair, n in got.items() if n > 1]
    duplicates = sum(n - 1 for n in got.values() if n > 1)
    every_chat = counts["alerts"] * len(chats) == len(expected)
    result = {
        "feeds": args.feeds,
        "chats": len(chats),
        "workers": {"ingest": 2, "deliver": 2},
        "items_published": len(items),
        "articles_stored": counts["articles"],
        "alerts_expected": alerting,
        "alerts_stored": counts["alerts"],
        "messages_expected": len(expected),
        "messages_delivered": sum(got.values()),
        "duplicates": duplicates,
        "lost": lost,
        "every_alert_to_every_chat": every_chat,
        "overlapping_polls": site.overlaps,
        "feed_polls": site.polls,
        "feeds_per_s": round(site.polls / elapsed, 2),
        "messages_per_s": round((len(sends) - 1) / (sends[-1] - sends[0]), 2)
        if len(sends) > 1
        else 0.0,
        "messages_per_s_best_10s": best_window(sends, 10.0),
        "latency_s": {"p50": percentile(latency, 0.5), "p95": percentile(latency, 0.95)},
        "latency_mean_s": round(statistics.fmean(latency), 1) if latency else None,
        "flood_refusals": emu.counters()["flood_rejections"],
        "kills": kills,
        "exit_codes": stops,
        "elapsed_s": round(elapsed, 1),
        "finished_before_deadline": finished,
        "outbox": {k: v for k, v in counts.items() if k not in ("articles", "alerts")},
        "duplicated_rows": db.rows(twice[:10]),
    }
    result["ok"] = (
        finished
        and lost == 0
        and duplicates == 0
        and site.overlaps == 0
        and every_chat
        and counts["articles"] >= len(items)
        and counts["alerts"] == alerting
    )
    return result


def _delivering(db: Database, site: Site, args: argparse.Namespace, kill_time: float) -> bool:
    """Kill while messages are going out (within the window), ideally with one in flight."""
    if db.counts().get("sent", 0) == 0 and time.time() < site.started + args.window:
        return False
    spin_until = time.time() + 3.0
    while db.counts().get("sending", 0) == 0 and time.time() < spin_until:
        time.sleep(0.01)
    return True


def kill_and_restart(workers: list[Worker], db: Database, started: float) -> list[dict[str, Any]]:
    """SIGKILL the first worker of each role, start it again 3 s later."""
    kills = []
    for role in ("ingest", "deliver"):
        worker = next(w for w in workers if w.role == role)
        before = db.counts()
        worker.kill()
        kills.append(
            {
                "worker": worker.name,
                "at_s": round(time.time() - started, 1),
                "rows_sending_at_kill": before.get("sending", 0),
                "messages_sent_at_kill": before.get("sent", 0),
            }
        )
    time.sleep(3.0)
    for role in ("ingest", "deliver"):
        next(w for w in workers if w.role == role).start()
    return kills


if __name__ == "__main__":
    sys.exit(main())
