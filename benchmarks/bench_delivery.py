"""Alert delivery against the Bot API emulator with Telegram's flood limits on, crash included.

    .venv/bin/python benchmarks/bench_delivery.py [--chats 1000] [--alerts 100] [--per-alert 20]
                                                  [--crash-at 0.4] [--baseline 300]

What is measured, and why this shape. 100 alerts to all of 1,000 chats would be 100,000
messages: an hour at Telegram's 30 messages/s whatever the code does. So the 1,000 chats (one in
ten a group) subscribe with a regime filter each (50 regimes, 20 chats per regime) and the 100
alerts are spread over the regimes: every alert reaches 20 chats, every chat gets 2 alerts,
2,000 messages in all, sent at the real pace. Nothing is scaled: the emulator enforces 30
messages/s overall, 1/s per chat and 20/min per group with its real windows and answers 429
like Telegram; the flood limits count what Telegram would refuse.

The bot runs as its own process (``run_telegram``, the code ``sanctions-bot run`` runs). The
alerts are stored and queued first (each in its own transaction with its outbox rows, as the
pipeline does), so the worker starts with the whole backlog. When ``--crash-at`` of the messages
have gone out, the bot process is killed (SIGKILL: no cleanup of any kind; at a moment a row is
"sending", if one is caught within 5 s) and a new one started on the same database; it
reconciles the rows the dead one left in flight and sends the rest.
Then every chat's messages are read back from the emulator: ``lost`` = queued (alert, chat)
pairs no chat received, ``duplicated`` = messages beyond one per pair.

The baseline, in the same run and on the same emulator: python-telegram-bot's own
``AIORateLimiter`` sending the first ``--baseline`` messages of the same queue in order (what a
bot without its own limiter and outbox does; it does not space messages to one private chat).

Prints one JSON object; ``rate_per_s.sending`` is messages over the time spent sending (the
restart gap excluded), ``rate_per_s.overall`` includes it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bot.settings import Settings  # noqa: E402

TOKEN = "123456:TEST"
REGIMES = 50


def settings_for(database_url: str, base_url: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=database_url,
        rules_dir=ROOT / "rules",
        telegram_bot_token=SecretStr(TOKEN),
        telegram_api_base_url=base_url,
        telegram_poll_timeout_s=5,
        delivery_poll_interval_s=0.2,
        log_level="WARNING",
    )


# --- the bot process ----------------------------------------------------------------------------


def bot_process(database_url: str, base_url: str) -> None:
    """Child: run the bot until SIGTERM, then print its counters as JSON."""
    import logging

    from bot.app import App
    from bot.tg.app import build_application
    from bot.tg.deps import deps
    from bot.tg.runner import run_telegram

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    settings = settings_for(database_url, base_url)

    async def run() -> dict[str, Any]:
        app = App.open(settings)
        application = build_application(app, settings)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await run_telegram(app, settings, stop, application=application)
        d = deps(application)
        assert d.worker is not None
        return {"worker": dict(d.worker.stats), "limiter": dict(d.limiter.stats)}

    result = asyncio.run(run())
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result), flush=True)


# --- the benchmark ------------------------------------------------------------------------------


def chat_ids(count: int) -> list[int]:
    """One chat in ten is a group (negative id)."""
    return [-(5000 + i) if i % 10 == 9 else 10_000 + i for i in range(count)]


def sample_alert() -> dict[str, Any]:
    """A real alert of the engine (a realistic message size), to be varied per alert."""
    from bot.matching.engine import Matcher
    from bot.matching.model import Document
    from bot.report import alert_to_dict
    from bot.rulefiles import load_rules

    text = "North Korea delivered rockets and missiles to Russia for the Wagner Group, a U.S. official said on Tuesday."
    return alert_to_dict(Matcher(load_rules(ROOT / "rules")).scan(Document(text))[0])


def prepare(database_url: str, chats: list[int], alerts: int, per_alert: int) -> int:
    from db import chats as chats_db
    from db.alerts import store_alerts
    from db.articles import store_article
    from db.delivery import enqueue_alert
    from db.engine import open_database, session_scope

    engine = open_database(database_url)
    regimes = max(1, len(chats) // per_alert)
    with session_scope(engine) as session:
        for index, chat in enumerate(chats):
            chats_db.subscribe(
                session=session,
                tg_chat_id=chat,
                by="bench",
                chat_type="group" if chat < 0 else "private",
                changes={"min_severity": "info", "regimes": [f"BENCH-{index % regimes:03d}"]},
            )
    template = sample_alert()
    queued = 0
    for number in range(alerts):
        with session_scope(
            engine
        ) as session:  # one article, its alert and its outbox rows: one transaction
            url = f"https://bench.example/article/{number}"
            article, _ = store_article(
                session=session,
                source=url,
                url=url,
                url_key=url,
                text=f"Article {number}",
                title=f"Article {number} & <friends>",
                outlet="Bench & Co",
            )
            data = dict(
                template,
                regime=f"BENCH-{number % regimes:03d}",
                title=f"{template['title']} #{number}",
            )
            stored = store_alerts(session=session, article=article, alerts=[data])
            for alert in stored.new_alerts:
                queued += len(enqueue_alert(session=session, alert=alert))
    engine.dispose()
    return queued


_engines: dict[str, Any] = {}


def count(database_url: str, status: str) -> int:
    """Rows in a status (one engine kept per URL: the polling must not load the machine)."""
    from db.engine import make_engine
    from db.models import Delivery

    engine = _engines.get(database_url) or _engines.setdefault(
        database_url, make_engine(database_url)
    )
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).select_from(Delivery).where(Delivery.status == status)
            ).scalar_one()
        )  # type: ignore[arg-type]


def start_bot(database_url: str, base_url: str, log: Any) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PTB_TIMEDELTA="true")
    return subprocess.Popen(
        [sys.executable, __file__, "--bot", database_url, base_url],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=env,
        cwd=ROOT,
    )


def wait_until(condition: Any, timeout: float, interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the benchmark did not finish in time")
        time.sleep(interval)


def received(emu: Any, chats: list[int]) -> Counter[tuple[int, int]]:
    """(chat, alert) -> how many alert messages the chat has."""
    seen: Counter[tuple[int, int]] = Counter()
    for chat in chats:
        for message in emu.messages(chat):
            rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
            data = rows[0][0].get("callback_data", "") if rows and rows[0] else ""
            if data.startswith("rv:"):
                seen[(chat, int(data.rsplit(":", 1)[1]))] += 1
    return seen


def expected_pairs(database_url: str) -> set[tuple[int, int]]:
    from db.engine import make_engine
    from db.models import Chat, Delivery

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(Chat.tg_chat_id, Delivery.alert_id).join(Chat, Chat.id == Delivery.chat_id)
            )  # type: ignore[arg-type]
            return {(int(c), int(a)) for c, a in rows}
    finally:
        engine.dispose()


def send_times(emu: Any, since: float = 0.0) -> list[float]:
    return sorted(
        c["time"] for c in emu.calls("sendMessage") if c["status"] == 200 and c["time"] >= since
    )


def rate(times: list[float]) -> float:
    return (
        round((len(times) - 1) / (times[-1] - times[0]), 2)
        if len(times) > 1 and times[-1] > times[0]
        else 0.0
    )


async def baseline(emu: Any, database_url: str, chats: list[int], limit: int) -> dict[str, Any]:
    """PTB's AIORateLimiter alone, the same queue in the same order (no outbox, no per-chat limit)."""
    from telegram import LinkPreviewOptions
    from telegram.constants import ParseMode
    from telegram.ext import AIORateLimiter, ExtBot

    from bot.tg.keyboards import alert_keyboard
    from bot.tg.messages import render_alert
    from db.delivery import load_alerts
    from db.engine import make_engine, session_scope
    from db.models import Chat, Delivery

    emu.reset()
    for chat in chats:
        emu.add_chat(chat)
    emu.flood_limits(per_second=30, per_chat_per_second=1, per_group_per_minute=20)
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        queue = session.execute(
            select(Chat.tg_chat_id, Delivery.alert_id)
            .join(Chat, Chat.id == Delivery.chat_id)
            .order_by(Delivery.id)
            .limit(limit)
        ).all()  # type: ignore[arg-type]
        alerts = load_alerts(session=session, alert_ids={a for _, a in queue})
    engine.dispose()
    limiter = AIORateLimiter(max_retries=10)
    bot = ExtBot(TOKEN, base_url=emu.base_url, rate_limiter=limiter)
    began = time.monotonic()
    async with bot:
        for chat, alert_id in queue:
            alert = alerts[alert_id]
            await bot.send_message(
                chat,
                render_alert(alert),
                parse_mode=ParseMode.HTML,
                reply_markup=alert_keyboard(alert),
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
    elapsed = time.monotonic() - began
    counters = emu.counters()
    return {
        "messages": len(queue),
        "rate_per_s": round(len(queue) / elapsed, 2),
        "retry_after_429": counters["flood_rejections"],
        "elapsed_s": round(elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--alerts", type=int, default=100)
    parser.add_argument("--per-alert", type=int, default=20, help="chats each alert reaches")
    parser.add_argument(
        "--crash-at",
        type=float,
        default=0.4,
        help="share of messages sent when the bot is killed (0: no crash)",
    )
    parser.add_argument(
        "--baseline", type=int, default=300, help="messages sent by the baseline (0: none)"
    )
    parser.add_argument(
        "--bot", nargs=2, metavar=("DATABASE_URL", "BASE_URL"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.bot:
        bot_process(*args.bot)
        return

    from tests.tgemu import start_emulator

    os.environ.setdefault("PTB_TIMEDELTA", "true")
    emu = start_emulator()
    workdir = tempfile.TemporaryDirectory(prefix="bench-delivery-")
    database_url = f"sqlite:///{Path(workdir.name) / 'bench.sqlite'}"
    log = open(Path(workdir.name) / "bot.log", "w")  # noqa: SIM115
    try:
        chats = chat_ids(args.chats)
        for chat in chats:
            emu.add_chat(chat)
        emu.flood_limits(per_second=30, per_chat_per_second=1, per_group_per_minute=20)
        started = time.monotonic()
        total = prepare(database_url, chats, args.alerts, args.per_alert)
        prepare_s = time.monotonic() - started

        crash: dict[str, Any] = {}
        first = start_bot(database_url, emu.base_url, log)
        began = time.time()
        if 0 < args.crash_at < 1:
            wait_until(lambda: count(database_url, "sent") >= total * args.crash_at, 600)
            # kill it while a message is in flight if we can catch one (a row "sending")
            deadline = time.monotonic() + 5
            while count(database_url, "sending") == 0 and time.monotonic() < deadline:
                time.sleep(0.002)
            first.send_signal(signal.SIGKILL)
            first.wait()
            killed_at = time.time()
            crash = {
                "killed_after_sent": count(database_url, "sent"),
                "in_flight_at_kill": count(database_url, "sending"),
            }
            second = start_bot(database_url, emu.base_url, log)
        else:
            killed_at, second = began, first
        restarted_at = time.time()
        wait_until(
            lambda: count(database_url, "sent") + count(database_url, "failed") >= total, 900
        )
        finished = time.time()
        second.send_signal(signal.SIGTERM)
        out, _ = second.communicate(timeout=60)
        child = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}

        times = send_times(emu)
        phase2 = send_times(emu, restarted_at)
        counts = received(emu, chats)
        expected = expected_pairs(database_url)
        flood = emu.counters()["flood_rejections"]
        worker = child.get("worker", {})
        if crash:
            crash.update(
                found_in_chat_on_restart=worker.get("reconcile_found", 0),
                resent_on_restart=worker.get("reconcile_resent", 0),
                restart_gap_s=round(
                    min(phase2, default=restarted_at)
                    - max((t for t in times if t < killed_at), default=killed_at),
                    2,
                ),
            )
        sending_time = (
            (times[-1] - times[0]) - (crash.get("restart_gap_s", 0.0) if crash else 0.0)
            if len(times) > 1
            else 0.0
        )
        result: dict[str, Any] = {
            "chats": len(chats),
            "groups": sum(1 for c in chats if c < 0),
            "alerts": args.alerts,
            "queued_messages": total,
            "limits": {"per_second": 30, "per_chat_per_second": 1, "per_group_per_minute": 20},
            "delivered": len(counts),
            "lost": len(expected - set(counts)),
            "duplicated": sum(n - 1 for n in counts.values() if n > 1),
            "unexpected": len(set(counts) - expected),
            "rate_per_s": {
                "sending": round((len(times) - 1) / sending_time, 2) if sending_time > 0 else 0.0,
                "after_restart": rate(phase2),
                "overall": round(len(times) / (finished - began), 2),
                "limit": 30,
            },
            "retry_after_429": flood,
            "limiter_retries": child.get("limiter", {}).get("retry_after", 0),
            "elapsed_s": round(finished - began, 1),
            "prepare_s": round(prepare_s, 1),
            "crash": crash or None,
            "peak_rss_mb": {
                "bot_process": max(
                    child.get("peak_rss_mb", 0.0),
                    round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
                ),
                "benchmark": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            },
        }
        if args.baseline:
            result["baseline_ptb_aioratelimiter"] = asyncio.run(
                baseline(emu, database_url, chats, args.baseline)
            )
        print(json.dumps(result))
    finally:
        log.close()
        emu.stop()
        workdir.cleanup()


if __name__ == "__main__":
    main()
