"""The Telegram Bot API emulator (tests/emulator) driven by the real python-telegram-bot.

Each test runs a real ``telegram.ext.Application`` in polling mode against the emulator on
loopback, with tiny handlers defined here, and checks what a user in the chat would see.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests import tgemu
from tests.tgemu import TEST_TOKEN, Emulator, EmulatorTimeout, group, running_application, user

# The emulator fixtures (drop these two lines once tests/conftest.py imports them itself).
tg_emulator_session = tgemu.tg_emulator_session
tg_emulator = tgemu.tg_emulator

pytestmark = pytest.mark.emulator

ANN = user(42, "Ann & <Co>", username="ann")
BOB = user(43, "Bob", username="bob")
CAROL = user(44, "Carol")
GROUP = group(-4242, "Sanctions watchers")
REPORT = b"id,name\n1,Wagner \xe2\x80\x94 \x00binary\xff\n"


@pytest.fixture(autouse=True)
def _timedelta_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns (PTBDeprecationWarning, an error under this suite's filterwarnings) whenever a
    # time period such as RetryAfter.retry_after is read as an int, even inside its own __init__.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_user is not None and update.effective_message is not None
    name = html.escape(update.effective_user.first_name)
    args = html.escape(" ".join(context.args or []))
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Confirm", callback_data="confirm:1")]])
    await update.effective_message.reply_html(
        f"<b>Hello</b>, {name}! args=<code>{args}</code>", reply_markup=keyboard
    )


async def confirm(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("Saved")
    await query.edit_message_text(
        f"Confirmed <i>{html.escape(query.data or '')}</i>", parse_mode=ParseMode.HTML
    )


async def whoami(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat, sender = update.effective_chat, update.effective_user
    assert chat is not None and sender is not None and update.effective_message is not None
    member = await context.bot.get_chat_member(chat.id, sender.id)
    await update.effective_message.reply_text(f"{chat.type}:{chat.id}:{sender.id}:{member.status}")


async def report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    await context.bot.send_chat_action(update.effective_chat.id, "upload_document")
    await context.bot.send_document(
        update.effective_chat.id,
        InputFile(io.BytesIO(REPORT), filename="report.csv"),
        caption="<b>Report</b> &amp; more",
        parse_mode=ParseMode.HTML,
    )


async def forwarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and message.forward_origin is not None
    await message.reply_text(f"forwarded ({message.forward_origin.type}): {message.text}")


def build_app(emu: Emulator) -> Application:  # type: ignore[type-arg]
    app = emu.application_builder(TEST_TOKEN).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("whoami", whoami))
    app.add_handler(CommandHandler("report", report))
    app.add_handler(CallbackQueryHandler(confirm, pattern=r"^confirm:"))
    app.add_handler(MessageHandler(filters.FORWARDED & filters.TEXT, forwarded))
    return app


async def settle(emu: Emulator, seconds: float = 0.3) -> None:
    """Let the bot confirm every update and finish its handlers, then a little longer."""
    deadline = time.monotonic() + 5
    while emu.pending_updates() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(seconds)


def bot_for(emu: Emulator) -> Bot:
    return Bot(TEST_TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url)


async def test_start_in_private_chat_gets_exactly_one_reply(tg_emulator: Emulator) -> None:
    emu = tg_emulator
    async with running_application(build_app(emu)):
        sent = emu.send_command(ANN["id"], ANN, "/start Wagner DPRK")
        assert sent["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
        [reply] = await emu.wait_for_messages(ANN["id"], 1)
        await settle(emu)

    assert len(emu.messages(ANN["id"])) == 1
    counters = emu.counters()
    assert counters["messages_per_chat"] == {str(ANN["id"]): 1}
    assert counters["calls"]["sendMessage"] == 1
    assert counters["errors"] == {}
    assert counters["unknown_methods"] == {}
    assert reply["chat"] == {
        "id": 42,
        "type": "private",
        "first_name": "Ann & <Co>",
        "username": "ann",
    }
    assert reply["from"]["is_bot"] is True and reply["from"]["id"] == 123456
    assert reply["text"] == "Hello, Ann & <Co>! args=Wagner DPRK"
    assert {"type": "bold", "offset": 0, "length": 5} in reply["entities"]
    assert {"type": "code", "offset": 24, "length": 11} in reply["entities"]
    assert abs(reply["date"] - time.time()) < 60  # seconds, not milliseconds
    assert "reply_to_message" not in reply  # PTB's reply_* quote only in groups by default
    assert reply["reply_markup"] == {
        "inline_keyboard": [[{"text": "Confirm", "callback_data": "confirm:1"}]]
    }
    # PTB's start-up sequence reached the emulator and nothing was left unconfirmed
    assert counters["calls"]["getMe"] >= 1 and counters["calls"]["deleteWebhook"] == 1
    assert emu.pending_updates() == []


async def test_group_command_is_attributed_to_the_group_with_member_status(
    tg_emulator: Emulator,
) -> None:
    emu = tg_emulator
    emu.add_chat(GROUP)
    emu.set_admins(GROUP["id"], [BOB], creator=CAROL)
    async with running_application(build_app(emu)):
        emu.send_command(GROUP, BOB, "/whoami")
        emu.send_command(GROUP, ANN, "/whoami@emulated_bot")
        emu.send_command(GROUP, CAROL, "/whoami")
        emu.send_command(GROUP, ANN, "/whoami@some_other_bot")  # not for us: ignored
        replies = await emu.wait_for_messages(GROUP["id"], 3)
        await settle(emu)

    assert [m["text"] for m in emu.messages(GROUP["id"])] == [
        "group:-4242:43:administrator",
        "group:-4242:42:member",
        "group:-4242:44:creator",
    ]
    assert all(
        m["chat"] == {"id": -4242, "type": "group", "title": "Sanctions watchers"} for m in replies
    )
    assert emu.messages(ANN["id"]) == [] and emu.messages(BOB["id"]) == []
    # demote Bob: the bot sees it at once
    emu.set_admins(GROUP["id"], [], creator=CAROL)
    async with bot_for(emu) as bot:
        assert (await bot.get_chat_member(GROUP["id"], BOB["id"])).status == "member"
        admins = await bot.get_chat_administrators(GROUP["id"])
        assert [(a.user.id, a.status) for a in admins] == [(44, "creator")]
        chat = await bot.get_chat(GROUP["id"])
        assert (chat.type, chat.title) == ("group", "Sanctions watchers")


async def test_button_press_edits_the_message_in_place(tg_emulator: Emulator) -> None:
    emu = tg_emulator
    async with running_application(build_app(emu)):
        emu.send_command(ANN["id"], ANN, "/start")
        [prompt] = await emu.wait_for_messages(ANN["id"], 1)
        query_id = emu.press_button(ANN["id"], ANN, prompt["message_id"], "confirm:1")
        await emu.wait_for_calls("editMessageText", 1)
        await settle(emu)

    [edited] = emu.messages(ANN["id"])
    assert edited["message_id"] == prompt["message_id"]
    assert edited["text"] == "Confirmed confirm:1"
    assert edited["entities"] == [{"type": "italic", "offset": 10, "length": 9}]
    assert "reply_markup" not in edited  # an edit without reply_markup drops the keyboard
    assert edited["edit_date"] >= prompt["date"]
    assert emu.callback_answers()[query_id]["text"] == "Saved"
    [update] = list(emu.calls("editMessageText"))
    assert update["status"] == 200 and update["result"]["text"] == "Confirmed confirm:1"


async def test_forwarded_message_reaches_the_bot_with_its_origin(tg_emulator: Emulator) -> None:
    emu = tg_emulator
    async with running_application(build_app(emu)):
        emu.forward(
            ANN["id"],
            ANN,
            "Arms shipment spotted",
            origin={"type": "hidden_user", "sender_user_name": "Src"},
        )
        [reply] = await emu.wait_for_messages(ANN["id"], 1)
    assert reply["text"] == "forwarded (hidden_user): Arms shipment spotted"


async def test_html_is_validated_like_telegram(tg_emulator: Emulator) -> None:
    emu = tg_emulator
    emu.add_chat(ANN["id"])
    async with bot_for(emu) as bot:
        for bad in (
            "<b>x",
            "Tom & Jerry",
            "a < b",
            "<b>x</i>",
            "<br>",
            "x</b>",
            '<span class="x">y</span>',
        ):
            with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
                await bot.send_message(ANN["id"], bad, parse_mode=ParseMode.HTML)
        raw = 'Tom & Jerry <3 <b>not bold</b> "quoted"'
        message = await bot.send_message(ANN["id"], html.escape(raw), parse_mode=ParseMode.HTML)
        assert message.text == raw and not message.entities
        # the same text without parse_mode is plain text and fine
        await bot.send_message(ANN["id"], "Tom & Jerry <b>x")
        # 4096 characters after entity parsing
        await bot.send_message(ANN["id"], "&amp;" * 4096, parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(ANN["id"], "x" * 4097)
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
            await bot.send_message(ANN["id"], "pick", reply_markup=too_long)
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(999, "nobody here")
        [first] = emu.messages(ANN["id"])[:1]
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await bot.edit_message_text(first["text"], ANN["id"], first["message_id"])
    assert len(emu.messages(ANN["id"])) == 3
    assert emu.counters()["errors"]["sendMessage"] == {"400": 10}


async def test_injected_errors_surface_as_ptb_exceptions(tg_emulator: Emulator) -> None:
    emu = tg_emulator
    emu.add_chat(ANN["id"])
    emu.add_chat(GROUP)
    async with bot_for(emu) as bot:
        emu.inject("sendMessage", 429, retry_after=7)
        with pytest.raises(RetryAfter) as retry:
            await bot.send_message(ANN["id"], "x")
        assert retry.value.retry_after == dtm.timedelta(seconds=7)
        await bot.send_message(ANN["id"], "second try")  # times=1: it passes now

        emu.inject("sendMessage", 403, chat_id=ANN["id"])
        await bot.send_message(GROUP["id"], "other chats are unaffected")
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(ANN["id"], "x")

        emu.inject("sendMessage", 400, migrate_to=-1001234567890)
        with pytest.raises(ChatMigrated) as migrated:
            await bot.send_message(GROUP["id"], "x")
        assert migrated.value.new_chat_id == -1001234567890

        emu.inject("sendMessage", 502, times=2)
        for _ in range(2):
            with pytest.raises(NetworkError, match="Bad Gateway"):
                await bot.send_message(ANN["id"], "x")

        emu.inject("sendChatAction", delay=0.5)
        began = time.monotonic()
        assert await bot.send_chat_action(ANN["id"], "typing") is True
        assert time.monotonic() - began >= 0.45

        emu.inject("getMe", disconnect=True)
        with pytest.raises(NetworkError):
            await bot.get_me()

        # persistent states rather than one-off injections
        emu.block(ANN["id"])
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(ANN["id"], "x")
        new_id = emu.migrate(GROUP["id"])
        with pytest.raises(ChatMigrated) as migrated:
            await bot.send_message(GROUP["id"], "x")
        assert migrated.value.new_chat_id == new_id == -1000000004242
        assert (await bot.send_message(new_id, "moved")).chat.type == "supergroup"
        service = [u.message for u in await bot.get_updates(timeout=0) if u.message]
        assert [(m.migrate_to_chat_id, m.migrate_from_chat_id) for m in service] == [
            (new_id, None),
            (None, GROUP["id"]),
        ]

    assert [m["text"] for m in emu.messages(ANN["id"])] == ["second try"]
    assert emu.counters()["injections"] == []


async def test_flood_limits_when_enabled(tg_emulator: Emulator) -> None:
    emu = tg_emulator
    emu.add_chat(ANN["id"])
    emu.add_chat(BOB["id"])
    emu.add_chat(GROUP)
    emu.flood_limits(per_second=30, per_chat_per_second=1, per_group_per_minute=3)
    async with bot_for(emu) as bot:
        await bot.send_message(ANN["id"], "one")
        with pytest.raises(RetryAfter) as retry:
            await bot.send_message(ANN["id"], "two, too soon")
        assert retry.value.retry_after == dtm.timedelta(seconds=1)
        await bot.send_message(BOB["id"], "another chat is fine")
        for i in range(3):
            await bot.send_message(GROUP["id"], f"group {i}")
        with pytest.raises(RetryAfter) as retry:
            await bot.send_message(GROUP["id"], "fourth in a minute")
        assert dtm.timedelta(seconds=55) <= retry.value.retry_after <= dtm.timedelta(seconds=60)
    assert emu.counters()["flood_rejections"] == 2


async def test_long_polling_waits_and_confirms(tg_emulator: Emulator) -> None:
    emu = tg_emulator
    async with bot_for(emu) as bot:
        began = time.monotonic()
        assert await bot.get_updates(timeout=2) == ()
        assert time.monotonic() - began >= 1.8  # it waited; load only adds time

        # an update arriving during the wait ends it at once
        waiting = asyncio.create_task(bot.get_updates(timeout=10))
        await asyncio.sleep(0.3)
        began = time.monotonic()
        emu.send_text(ANN["id"], ANN, "hello")
        [update] = await waiting
        assert time.monotonic() - began < 8  # well before the 10 s wait would have ended
        assert update.message is not None and update.message.text == "hello"

        # not confirmed yet: delivered again; offset confirms it
        assert [u.update_id for u in await bot.get_updates(timeout=0)] == [update.update_id]
        assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
        assert emu.pending_updates() == []

        for text in ("a", "b", "c"):
            emu.send_text(ANN["id"], ANN, text)
        two = await bot.get_updates(limit=2, timeout=0)
        assert [u.message.text for u in two if u.message] == ["a", "b"]
        # allowed_updates: messages are not wanted any more, so they are dropped
        assert await bot.get_updates(allowed_updates=["callback_query"], timeout=0) == ()
        assert emu.pending_updates() == []

        # a second poller (another bot instance) terminates the first one, as on Telegram
        first = asyncio.create_task(bot.get_updates(timeout=5, allowed_updates=[]))
        await asyncio.sleep(0.3)
        async with bot_for(emu) as other:
            await other.get_updates(timeout=0)
        with pytest.raises(Conflict, match="terminated by other getUpdates"):
            await first


async def test_send_document_round_trips_bytes(tg_emulator: Emulator) -> None:
    emu = tg_emulator
    async with running_application(build_app(emu)) as app:
        emu.send_command(ANN["id"], ANN, "/report")
        [message] = await emu.wait_for_messages(ANN["id"], 1)
        file = await app.bot.get_file(message["document"]["file_id"])
        downloaded = bytes(await file.download_as_bytearray())

    [doc] = emu.documents(ANN["id"])
    assert doc.data == REPORT == downloaded
    assert (doc.file_name, doc.mime_type, doc.caption) == (
        "report.csv",
        "text/csv",
        "Report & more",
    )
    assert message["caption_entities"] == [{"type": "bold", "offset": 0, "length": 6}]
    assert message["document"]["file_size"] == len(REPORT)
    assert [c["params"]["action"] for c in emu.calls("sendChatAction")] == ["upload_document"]


async def test_wait_for_messages_fails_when_the_bot_stays_silent(tg_emulator: Emulator) -> None:
    emu = tg_emulator
    async with running_application(build_app(emu)):
        emu.send_text(ANN["id"], ANN, "no handler answers plain text")
        with pytest.raises(EmulatorTimeout, match="have 0"):
            await emu.wait_for_messages(ANN["id"], 1, timeout=0.5)


async def test_webhook_mode_pushes_updates(tg_emulator: Emulator) -> None:
    received: list[tuple[dict, str | None]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((json.loads(body), self.headers.get("X-Telegram-Bot-Api-Secret-Token")))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    emu = tg_emulator
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        async with bot_for(emu) as bot:
            url = f"http://127.0.0.1:{server.server_address[1]}/hook"
            assert await bot.set_webhook(url, secret_token="s3cret") is True
            emu.send_text(ANN["id"], ANN, "via webhook")
            deadline = time.monotonic() + 5
            while not received and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            with pytest.raises(Conflict, match="webhook is active"):
                await bot.get_updates(timeout=0)
            info = await bot.get_webhook_info()
            assert (info.url, info.pending_update_count) == (url, 0)
            assert await bot.delete_webhook() is True
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    [(update, secret)] = received
    assert update["message"]["text"] == "via webhook" and secret == "s3cret"
