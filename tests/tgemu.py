"""Python side of the Telegram Bot API emulator in ``tests/emulator`` (a Node server).

The emulator stands in for Telegram's servers only: tests run the real python-telegram-bot
``Application`` in polling mode against it on loopback, then play the users' part (send commands,
press buttons) and read back what the bot sent.

    emu = start_emulator()                      # or the ``tg_emulator`` fixture below
    app = emu.application_builder().build()     # ApplicationBuilder().token(..).base_url(..)
    async with running_application(app):
        emu.send_command(chat=42, user=42, text="/start")
        [reply] = await emu.wait_for_messages(42, 1)

Registering the fixtures for the whole suite (in ``tests/conftest.py``)::

    from tests.tgemu import tg_emulator, tg_emulator_session  # noqa: F401

Nothing is installed from here: ``npm ci --prefix tests/emulator`` must have run.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import httpx
import pytest

if TYPE_CHECKING:
    from telegram.ext import Application, ApplicationBuilder

EMULATOR_DIR = Path(__file__).resolve().parent / "emulator"
SERVER_JS = EMULATOR_DIR / "server.js"
TEST_TOKEN = "123456:TEST"

UserSpec = int | dict[str, Any]
ChatSpec = int | dict[str, Any]


class EmulatorError(RuntimeError):
    """The emulator could not start, or a control call was refused."""


class EmulatorNotInstalled(EmulatorError):
    """``tests/emulator/node_modules`` (or node itself) is missing."""


class EmulatorTimeout(AssertionError):
    """A ``wait_for_*`` call ran out of time: a test failure, not an infrastructure error."""


@dataclass(frozen=True)
class SentDocument:
    message_id: int
    file_id: str
    file_name: str | None
    mime_type: str | None
    caption: str | None
    data: bytes


def user(
    id: int,
    first_name: str | None = None,
    *,
    username: str | None = None,
    last_name: str | None = None,
    language_code: str | None = None,
) -> dict[str, Any]:
    """A Telegram ``User`` for the control calls (``first_name`` defaults to ``User<id>``)."""
    u: dict[str, Any] = {"id": id, "is_bot": False, "first_name": first_name or f"User{id}"}
    for key, value in (
        ("username", username),
        ("last_name", last_name),
        ("language_code", language_code),
    ):
        if value is not None:
            u[key] = value
    return u


def group(
    id: int, title: str | None = None, *, supergroup: bool = False, username: str | None = None
) -> dict[str, Any]:
    """A group chat spec: ``id`` must be negative (supergroups are usually ``-100...``)."""
    if id >= 0:
        raise ValueError("group chat ids are negative")
    chat: dict[str, Any] = {"id": id, "type": "supergroup" if supergroup else "group"}
    if title is not None:
        chat["title"] = title
    if username is not None:
        chat["username"] = username
    return chat


class Emulator:
    """Starts ``node tests/emulator/server.js`` on a free loopback port and talks to it."""

    def __init__(
        self,
        *,
        port: int = 0,
        node: str | None = None,
        startup_timeout: float = 20.0,
        verbose: bool = False,
    ) -> None:
        self._requested_port = port
        self._node = node
        self._startup_timeout = startup_timeout
        self._verbose = verbose
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._lines: list[str] = []
        self._ready = threading.Event()
        self._log_file: Any = None
        self._client: httpx.Client | None = None
        self.port: int = 0

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._proc is not None:
            return self
        node = self._node or shutil.which("node")
        if not node:
            raise EmulatorNotInstalled("node is not on PATH: the Telegram emulator needs Node 20+")
        for package in ("telegram-test-api", "express", "busboy"):
            if not (EMULATOR_DIR / "node_modules" / package).is_dir():
                raise EmulatorNotInstalled(
                    f"{EMULATOR_DIR / 'node_modules' / package} is missing: "
                    "run `npm ci --prefix tests/emulator` first"
                )
        self._log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix="tg-emulator-", suffix=".log", delete=False
        )
        args = [node, str(SERVER_JS), "--port", str(self._requested_port), "--exit-on-stdin-close"]
        if self._verbose:
            args.append("--verbose")
        self._proc = subprocess.Popen(
            args,
            cwd=EMULATOR_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
        )
        self._reader = threading.Thread(
            target=self._read_stdout, name="tg-emulator-stdout", daemon=True
        )
        self._reader.start()
        if not self._ready.wait(self._startup_timeout) or not self.port:
            log = self.log_text()
            self.stop()
            raise EmulatorError(f"the Telegram emulator did not become ready; its log:\n{log}")
        self._client = httpx.Client(base_url=self.url, timeout=30.0, trust_env=False)
        return self

    def _read_stdout(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for raw in self._proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            self._lines.append(line)
            if not self._ready.is_set():
                with contextlib.suppress(ValueError, TypeError, KeyError):
                    self.port = int(json.loads(line)["port"])
                self._ready.set()
        self._ready.set()  # EOF: the process died before (or after) getting ready

    def stop(self) -> None:
        """Stop the node process (idempotent)."""
        if self._client is not None:
            self._client.close()
            self._client = None
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if self._reader is not None:
                self._reader.join(timeout=5)
            if proc.stdout is not None:
                proc.stdout.close()
        if self._log_file is not None:
            self._log_file.close()
            with contextlib.suppress(OSError):
                os.unlink(self._log_file.name)
            self._log_file = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_text(self) -> str:
        """What the node process wrote to stderr (unknown methods, internal errors)."""
        if self._log_file is None:
            return ""
        with open(self._log_file.name, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    # -- addresses ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)`` (PTB appends the token)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)`` (file downloads after getFile)."""
        return f"{self.url}/file/bot"

    def application_builder(self, token: str = TEST_TOKEN) -> ApplicationBuilder:
        """An ``ApplicationBuilder`` aimed at this emulator: add options, then ``build()``."""
        from telegram.ext import ApplicationBuilder

        return (
            ApplicationBuilder()
            .token(token)
            .base_url(self.base_url)
            .base_file_url(self.base_file_url)
        )

    # -- raw HTTP -----------------------------------------------------------------------------

    def _call(self, verb: str, path: str, **kwargs: Any) -> Any:
        if self._client is None:
            raise EmulatorError("the emulator is not running")
        response = self._client.request(verb, f"/_test/{path}", **kwargs)
        body = response.json()
        if not body.get("ok"):
            raise EmulatorError(f"emulator refused {path}: {body.get('description')}")
        return body["result"]

    def _post(self, path: str, payload: dict[str, Any]) -> Any:
        return self._call("POST", path, json={k: v for k, v in payload.items() if v is not None})

    def _get(self, path: str, **params: Any) -> Any:
        return self._call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def bot_api(self, method: str, token: str = TEST_TOKEN, **params: Any) -> httpx.Response:
        """Call the bot side directly (no PTB): returns the raw response (status + JSON)."""
        if self._client is None:
            raise EmulatorError("the emulator is not running")
        return self._client.post(f"/bot{token}/{method}", json=params)

    # -- world setup --------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget chats, messages, files, pending updates, counters, injections and settings."""
        self._post("reset", {})

    def configure(self, **config: Any) -> dict[str, Any]:
        """Keys: bot_username, bot_first_name, auto_create_chats, max_long_poll_seconds."""
        result: dict[str, Any] = self._post("config", config)
        return result

    def add_chat(self, chat: ChatSpec, *, title: str | None = None) -> dict[str, Any]:
        """Create (or update) a chat the bot can write to without anyone writing first."""
        spec = {"id": chat} if isinstance(chat, int) else dict(chat)
        if title is not None:
            spec["title"] = title
        result: dict[str, Any] = self._post("chat", spec)
        return result

    def set_admins(
        self, chat_id: int, admins: list[UserSpec], *, creator: UserSpec | None = None
    ) -> None:
        """getChatMember answers "administrator" for ``admins``, "creator" for ``creator`` and
        "member" for everyone else who wrote in the chat (the bot's own id may be listed)."""
        self._post("admins", {"chat_id": chat_id, "admins": admins, "creator": creator})

    def set_member(self, chat_id: int, user_id: UserSpec, status: str) -> None:
        """status: creator / administrator / member / left / kicked."""
        self._post("member", {"chat_id": chat_id, "user": user_id, "status": status})

    def block(self, chat_id: int, blocked: bool = True) -> None:
        """From now on every send to the chat answers 403 (user blocked the bot / bot kicked)."""
        self._post("block", {"chat_id": chat_id, "blocked": blocked})

    def migrate(self, chat_id: int, new_chat_id: int | None = None, *, notify: bool = True) -> int:
        """Upgrade a group to a supergroup: sends to the old id answer 400 migrate_to_chat_id;
        with ``notify`` the bot gets the two service messages (migrate_to/from_chat_id)."""
        result = self._post(
            "migrate", {"chat_id": chat_id, "new_chat_id": new_chat_id, "notify": notify}
        )
        return int(result["new_chat_id"])

    # -- users acting -------------------------------------------------------------------------

    def send_text(self, chat: ChatSpec, user: UserSpec, text: str, **extra: Any) -> dict[str, Any]:
        """A user message in ``chat`` (an int: > 0 private chat of that user, < 0 a group).
        Commands anywhere in the text get bot_command entities. Returns the Message."""
        result = self._post("message", {"chat": chat, "from": user, "text": text, **extra})
        message: dict[str, Any] = result["message"]
        return message

    def send_command(
        self, chat: ChatSpec, user: UserSpec, text: str, **extra: Any
    ) -> dict[str, Any]:
        """Like ``send_text`` but ``text`` must start with "/" ("/start args", "/sub@bot x")."""
        result = self._post("command", {"chat": chat, "from": user, "text": text, **extra})
        message: dict[str, Any] = result["message"]
        return message

    def send_document(
        self,
        chat: ChatSpec,
        user: UserSpec,
        data: bytes,
        file_name: str,
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
    ) -> dict[str, Any]:
        """A user uploads a document (the bot can getFile + download it)."""
        doc = {
            "data_base64": base64.b64encode(data).decode(),
            "file_name": file_name,
            "mime_type": mime_type,
        }
        result = self._post(
            "message", {"chat": chat, "from": user, "document": doc, "caption": caption}
        )
        message: dict[str, Any] = result["message"]
        return message

    def forward(
        self,
        chat: ChatSpec,
        user: UserSpec,
        text: str | None = None,
        *,
        origin: dict[str, Any] | None = None,
        from_chat_id: int | None = None,
        message_id: int | None = None,
    ) -> dict[str, Any]:
        """A user forwards a message into ``chat``: either an existing one (``from_chat_id`` +
        ``message_id``) or ``text`` with an explicit ``origin`` (a MessageOrigin dict, e.g.
        ``{"type": "hidden_user", "sender_user_name": "X"}``)."""
        result = self._post(
            "forward",
            {
                "chat": chat,
                "from": user,
                "text": text,
                "origin": origin,
                "from_chat_id": from_chat_id,
                "message_id": message_id,
            },
        )
        message: dict[str, Any] = result["message"]
        return message

    def press_button(
        self,
        chat_id: int,
        user: UserSpec,
        message_id: int,
        data: str | None = None,
        *,
        button_text: str | None = None,
    ) -> str:
        """Press an inline button of a bot message (by ``data`` or by the button's text).
        Returns the callback query id (see ``callback_answers``)."""
        result = self._post(
            "callback",
            {
                "chat_id": chat_id,
                "from": user,
                "message_id": message_id,
                "data": data,
                "button_text": button_text,
            },
        )
        return str(result["callback_query_id"])

    def send_update(self, update: dict[str, Any]) -> int:
        """Queue any raw update (e.g. ``{"my_chat_member": {...}}``); returns its update_id."""
        return int(self._post("update", {"update": update})["update_id"])

    # -- reading what the bot did -----------------------------------------------------------

    def messages(
        self, chat_id: int, *, include_user: bool = False, include_deleted: bool = False
    ) -> list[dict[str, Any]]:
        """Messages the bot sent to the chat, oldest first, edits applied in place."""
        result: list[dict[str, Any]] = self._get(
            "messages",
            chat_id=chat_id,
            include_user=int(include_user),
            include_deleted=int(include_deleted),
        )
        return result

    def documents(self, chat_id: int) -> list[SentDocument]:
        return [
            SentDocument(
                message_id=d["message_id"],
                file_id=d["file_id"],
                file_name=d.get("file_name"),
                mime_type=d.get("mime_type"),
                caption=d.get("caption"),
                data=base64.b64decode(d["data_base64"]),
            )
            for d in self._get("documents", chat_id=chat_id)
        ]

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """Bot API calls received, oldest first.

        Each: {seq, time, method, params, status, duration, error?, result?}."""
        result: list[dict[str, Any]] = self._get("calls", method=method)
        return result

    def call_count(self, method: str) -> int:
        return int(self.counters()["calls"].get(method, 0))

    def counters(self) -> dict[str, Any]:
        """{calls: {method: n}, errors: {method: {status: n}}, messages_per_chat: {chat: n},
        unknown_methods: {method: n}, flood_rejections: n, pending_updates: n,
        injections: [...]}."""
        result: dict[str, Any] = self._get("counters")
        return result

    def callback_answers(self) -> dict[str, dict[str, Any] | None]:
        """callback query id -> the bot's answerCallbackQuery parameters (None: not answered)."""
        result: dict[str, dict[str, Any] | None] = self._get("callback_answers")
        return result

    def commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        """The bot's command list set with setMyCommands for a scope."""
        result: list[dict[str, str]] = self._get(
            "commands",
            scope=json.dumps(scope) if scope else None,
            language_code=language_code or None,
        )
        return result

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by the bot (getUpdates offset)."""
        result: list[dict[str, Any]] = self._get("pending_updates")
        return result

    def chats(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._get("chats")
        return result

    async def wait_for_messages(
        self, chat_id: int, count: int = 1, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """Wait (without blocking the event loop the bot runs in) until the bot has sent at least
        ``count`` messages to the chat; returns them all. Raises ``EmulatorTimeout``."""
        return await self._async_wait(
            "wait_messages", {"chat_id": chat_id, "count": count, "timeout": timeout}, timeout
        )

    async def wait_for_calls(
        self, method: str, count: int = 1, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` calls of ``method`` have been answered; returns them all."""
        return await self._async_wait(
            "wait_calls", {"method": method, "count": count, "timeout": timeout}, timeout
        )

    def wait_for_messages_sync(
        self, chat_id: int, count: int = 1, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """Blocking variant: only for a bot that runs in another thread or process."""
        if self._client is None:
            raise EmulatorError("the emulator is not running")
        response = self._client.get(
            "/_test/wait_messages",
            params={"chat_id": chat_id, "count": count, "timeout": timeout},
            timeout=timeout + 10,
        )
        return self._wait_result(response)

    async def _async_wait(
        self, path: str, params: dict[str, Any], timeout: float
    ) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(
            base_url=self.url, timeout=timeout + 10, trust_env=False
        ) as client:
            response = await client.get(f"/_test/{path}", params=params)
        return self._wait_result(response)

    @staticmethod
    def _wait_result(response: httpx.Response) -> list[dict[str, Any]]:
        body = response.json()
        if body.get("ok"):
            result: list[dict[str, Any]] = body["result"]
            return result
        if response.status_code == 408:
            raise EmulatorTimeout(body.get("description"))
        raise EmulatorError(body.get("description"))

    # -- failures -----------------------------------------------------------------------------

    def inject(
        self,
        method: str,
        status: int | None = None,
        times: int = 1,
        chat_id: int | None = None,
        retry_after: int | None = None,
        migrate_to: int | None = None,
        *,
        delay: float | None = None,
        description: str | None = None,
        disconnect: bool = False,
        after: bool = False,
    ) -> dict[str, Any]:
        """Make the next ``times`` calls of ``method`` ("*" = any; -1 = until cleared), optionally
        only those for ``chat_id``, fail: 429 (+retry_after), 403 (blocked), 400 (+migrate_to:
        ChatMigrated), 5xx, 409...; ``delay`` seconds first (alone: just slow), or ``disconnect``
        (drop the connection: PTB NetworkError). With ``after`` the call takes effect first (the
        message is stored) and only then is the answer delayed, dropped or replaced by the error:
        a request whose outcome the bot never learns."""
        rule: dict[str, Any] = self._post(
            "inject",
            {
                "method": method,
                "status": status,
                "times": times,
                "chat_id": chat_id,
                "retry_after": retry_after,
                "migrate_to": migrate_to,
                "delay": delay,
                "description": description,
                "disconnect": disconnect or None,
                "after": after or None,
            },
        )
        return rule

    def clear_injections(self) -> None:
        self._call("DELETE", "inject")

    def flood_limits(
        self,
        enabled: bool = True,
        *,
        per_second: int = 30,
        per_chat_per_second: int = 1,
        per_group_per_minute: int = 20,
    ) -> dict[str, Any]:
        """Enforce Telegram's flood limits on message-sending methods (429 + retry_after)."""
        result: dict[str, Any] = self._post(
            "flood",
            {
                "enabled": enabled,
                "per_second": per_second,
                "per_chat_per_second": per_chat_per_second,
                "per_group_per_minute": per_group_per_minute,
            },
        )
        return result


def start_emulator(**kwargs: Any) -> Emulator:
    """Start an emulator.

    Raises ``EmulatorNotInstalled`` unless ``npm ci --prefix tests/emulator`` has run."""
    return Emulator(**kwargs).start()


@contextlib.asynccontextmanager
async def running_application(
    app: Application[Any, Any, Any, Any, Any, Any],
    *,
    poll_timeout: int = 1,
    drop_pending_updates: bool = False,
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """Initialize, start and poll ``app`` (as ``run_polling`` would, minus signal handling and the
    event loop), and stop it cleanly on exit, whatever the body raised."""
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(
            poll_interval=0.0, timeout=poll_timeout, drop_pending_updates=drop_pending_updates
        )
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


# -- pytest fixtures --------------------------------------------------------------------------
# One node process per test session, even if several modules import these fixtures.


@dataclass
class _Shared:
    emulator: Emulator | None = None
    users: int = 0


_shared = _Shared()
_shared_lock = threading.Lock()


@pytest.fixture(scope="session")
def tg_emulator_session() -> Iterator[Emulator]:
    with _shared_lock:
        if _shared.emulator is None or not _shared.emulator.running:
            _shared.emulator = start_emulator()
        _shared.users += 1
        emu = _shared.emulator
    try:
        yield emu
    finally:
        with _shared_lock:
            _shared.users -= 1
            if _shared.users == 0 and _shared.emulator is not None:
                _shared.emulator.stop()
                _shared.emulator = None


@pytest.fixture
def tg_emulator(tg_emulator_session: Emulator) -> Emulator:
    """The session's emulator, reset to an empty world for this test."""
    tg_emulator_session.reset()
    return tg_emulator_session


__all__ = [
    "TEST_TOKEN",
    "Emulator",
    "EmulatorError",
    "EmulatorNotInstalled",
    "EmulatorTimeout",
    "SentDocument",
    "group",
    "running_application",
    "start_emulator",
    "tg_emulator",
    "tg_emulator_session",
    "user",
]
