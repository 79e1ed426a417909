"""The Telegram bot, end to end: the real PTB Application (polling; by webhook in
``test_webhook.py``) against the Bot API emulator on loopback, a real SQLite database per test
and the real engine with the bundled rules.

``world`` gives a test its database, settings and helpers: ``world.bot()`` runs the bot exactly as
``sanctions-bot run`` does (``run_telegram``); ``world.publish(text)`` is "an article arrives
through the pipeline": article, alerts (rules' and watchlists') and outbox rows stored in one
transaction, as the pipeline does it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.app import App
from bot.matching.engine import Matcher
from bot.matching.model import Document
from bot.report import alert_to_dict
from bot.rulefiles import load_rules
from bot.settings import Settings
from bot.tg.app import build_application
from bot.tg.deps import Deps, deps
from bot.tg.runner import run_telegram
from bot.watchalerts import watch_alerts_for
from db.alerts import store_alerts
from db.articles import store_article
from db.delivery import enqueue_alert
from db.engine import session_scope
from db.models import Chat, Delivery, Subscription
from db.stories import new_story
from tests.conftest import ROOT, require_shared
from tests.tgemu import TEST_TOKEN, Emulator, group, tg_emulator, tg_emulator_session, user  # noqa: F401

ANN = user(42, "Ann", username="ann")
BOB = user(43, "Bob", username="bob")
CAROL = user(44, "Carol")
GROUP = group(-4242, "Sanctions watchers")

WAGNER_DPRK = (
    "North Korea delivered rockets and missiles to Russia for the Wagner Group, officials said.\n\n"
    "The shipment was paid for in cash."
)
KOMID = "KOMID, North Korea's main arms dealer, was paid through a front company in Hong Kong."


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns when RetryAfter.retry_after is read as an int (an error under this suite)
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture(scope="session")
def rules_matcher() -> Matcher:
    """The bundled rules, no lists: inline parties such as the Wagner Group and KOMID."""
    return Matcher(load_rules(ROOT / "rules"))


@pytest.fixture(scope="session")
def sample_list_entities() -> list[Any]:
    """The small OFAC sample (17 entries: vessels, companies, people)."""
    from bot.lists import load_list

    folder = require_shared("data", "sanctions", "ofac", "sample_small")
    return [entity for parsed in load_list([folder / "sdn.csv"]) for entity in parsed.entities]


@dataclass
class FixedApp(App):
    """The real App, except that the matcher is built once per test session, not per test."""

    fixed: Matcher | None = None

    def matcher(self) -> Matcher:
        return self.fixed if self.fixed is not None else super().matcher()


@dataclass
class World:
    emu: Emulator
    settings: Settings
    app: FixedApp
    tmp: Path
    applications: list[Any] = field(default_factory=list)

    # --- the bot ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def bot(self, settings: Settings | None = None, **build: Any) -> AsyncIterator[Any]:
        """Run the bot (``run_telegram``) until the block ends; yields its Application.
        ``build``: more arguments for ``build_application`` (``admins``, ``health``)."""
        settings = settings or self.settings
        application = build_application(self.app, settings, **build)
        self.applications.append(application)
        stop = asyncio.Event()
        task = asyncio.create_task(run_telegram(self.app, settings, stop, application=application))
        await self.until(
            lambda: (
                task.done() or (application.updater is not None and application.updater.running)
            ),
            15,
        )
        if task.done():
            task.result()  # raises what went wrong
        try:
            yield application
        finally:
            stop.set()
            await asyncio.wait_for(task, 40)

    @contextlib.asynccontextmanager
    async def crashable_bot(
        self, settings: Settings | None = None
    ) -> AsyncIterator[tuple[Any, asyncio.Task[None]]]:
        """Like ``bot`` but yields the task too: cancelling it is a crash (no graceful stop)."""
        settings = settings or self.settings
        application = build_application(self.app, settings)
        stop = asyncio.Event()
        task = asyncio.create_task(run_telegram(self.app, settings, stop, application=application))
        await self.until(
            lambda: (
                task.done() or (application.updater is not None and application.updater.running)
            ),
            15,
        )
        try:
            yield application, task
        finally:
            if not task.done():
                stop.set()
                await asyncio.wait_for(task, 40)

    @staticmethod
    async def until(
        condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02
    ) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            await asyncio.sleep(interval)
        raise AssertionError(f"condition not met within {timeout} s")

    async def settle(self, seconds: float = 0.3) -> None:
        """Let the bot take every update and finish its handlers."""
        await self.until(lambda: not self.emu.pending_updates(), 10)
        await asyncio.sleep(seconds)

    # --- users -----------------------------------------------------------------------------

    async def command(
        self, chat: Any, who: dict[str, Any], text: str, replies: int = 1, timeout: float = 10
    ) -> list[dict[str, Any]]:
        """A user sends a command; returns the bot's new messages in that chat."""
        chat_id = chat if isinstance(chat, int) else chat["id"]
        before = len(self.emu.messages(chat_id))
        self.emu.send_command(chat, who, text)
        messages = await self.emu.wait_for_messages(chat_id, before + replies, timeout=timeout)
        return messages[before:]

    async def press(
        self, chat_id: int, who: dict[str, Any], message: dict[str, Any], data: str
    ) -> dict[str, Any] | None:
        """A user presses a button; returns the bot's answer to the callback query."""
        query_id = self.emu.press_button(chat_id, who, message["message_id"], data)
        return await self.until(lambda: self.emu.callback_answers().get(query_id), 10)

    # --- the pipeline --------------------------------------------------------------------------

    def publish(
        self,
        text: str,
        *,
        title: str = "",
        url: str | None = None,
        outlet: str = "",
        story: int | None = None,
    ) -> list[int]:
        """An article arrives through the pipeline: article, alerts and outbox rows, one transaction."""
        matcher = self.app.matcher()
        document = Document(text, title)
        analysis = matcher.analyze(document)
        with session_scope(self.app.engine) as session:
            article, _ = store_article(
                session=session,
                source=url or "test",
                text=text,
                title=title,
                url=url,
                url_key=url,
                outlet=outlet,
                story_id=story,
                same_text_is_same_article=False,
            )
            alerts = [alert_to_dict(a) for a in matcher.scan(document)] + watch_alerts_for(
                session, matcher, analysis, article
            )
            stored = store_alerts(
                session=session,
                article=article,
                alerts=alerts,
                story=f"story:{story}" if story else None,
            )
            for alert in stored.new_alerts:
                enqueue_alert(session=session, alert=alert)
            return [a.id or 0 for a in stored.new_alerts]

    def new_story(self, title: str = "story") -> int:
        with session_scope(self.app.engine) as session:
            return new_story(session=session, fingerprint=1, title=title).id or 0

    # --- the database ----------------------------------------------------------------------

    def deliveries(self, tg_chat_id: int | None = None) -> list[Delivery]:
        with session_scope(self.app.engine) as session:
            query = select(Delivery).join(Chat, Chat.id == Delivery.chat_id).order_by(Delivery.id)
            if tg_chat_id is not None:
                query = query.where(Chat.tg_chat_id == tg_chat_id)
            return list(session.execute(query).scalars())

    def subscription(self, tg_chat_id: int) -> Subscription | None:
        with session_scope(self.app.engine) as session:
            return (
                session.execute(
                    select(Subscription)
                    .join(Chat, Chat.id == Subscription.chat_id)
                    .where(Chat.tg_chat_id == tg_chat_id)
                )
                .scalars()
                .first()
            )

    def chat(self, tg_chat_id: int) -> Chat | None:
        with session_scope(self.app.engine) as session:
            return (
                session.execute(select(Chat).where(Chat.tg_chat_id == tg_chat_id)).scalars().first()
            )

    def call(self, function: Callable[..., Any], **kwargs: Any) -> Any:
        with session_scope(self.app.engine) as session:
            return function(session=session, **kwargs)

    def deps(self, application: Any) -> Deps:
        return deps(application)


def make_settings(tmp: Path, emu: Emulator, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp / 'bot.sqlite'}",
        "data_dir": tmp,
        "rules_dir": ROOT / "rules",
        "telegram_bot_token": SecretStr(TEST_TOKEN),
        "telegram_api_base_url": emu.base_url,
        "telegram_poll_timeout_s": 1,
        "telegram_chat_interval_s": 0.02,  # tests that check the real pace set 1.0
        "delivery_poll_interval_s": 0.05,
        "bot_admin_ids": frozenset({99}),
        "admin_chat_id": None,
        "allow_private_urls": True,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def world(tmp_path: Path, tg_emulator: Emulator, rules_matcher: Matcher) -> Iterator[World]:  # noqa: F811
    settings = make_settings(tmp_path, tg_emulator)
    app = FixedApp.open(settings)
    assert isinstance(app, FixedApp)
    app.fixed = rules_matcher
    for chat in (ANN, BOB, CAROL):
        tg_emulator.add_chat(chat["id"])
    tg_emulator.add_chat(GROUP)
    yield World(tg_emulator, settings, app, tmp_path)
    app.engine.dispose()


async def subscribe(world: World, chat: Any, who: dict[str, Any], args: str = "") -> None:
    """``/subscribe args`` and wait for the confirmation."""
    [answer] = await world.command(chat, who, f"/subscribe {args}".strip())
    assert "Subscribed" in answer["text"], answer["text"]


def sent_texts(emu: Emulator, chat_id: int) -> list[str]:
    return [m.get("text") or "" for m in emu.messages(chat_id)]


def alert_messages(emu: Emulator, chat_id: int) -> list[dict[str, Any]]:
    """The bot's alert messages in a chat (those with review buttons)."""
    return [
        m
        for m in emu.messages(chat_id)
        if any(
            b.get("callback_data", "").startswith("rv:")
            for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row
        )
    ]


def alert_id_of(message: dict[str, Any]) -> int:
    data = message["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    return int(data.rsplit(":", 1)[1])
