"""/scan of URLs, texts and forwarded messages (guarded fetch, per-chat rate limit), /feeds for
the bot's admins, and the token kept out of the logs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.tg.conftest import ANN, BOB, GROUP, KOMID, World
from tests.tgemu import TEST_TOKEN

pytestmark = pytest.mark.emulator

ARTICLE = f"""<!doctype html><html><head><title>Arms dealer paid</title></head><body>
<article><h1>Arms dealer paid through Hong Kong</h1><p>{KOMID}</p>
<p>Investigators said the payments went on for two years and involved several banks in the region.</p>
<p>The company denied any wrongdoing in a statement released on Tuesday evening.</p></article>
</body></html>"""


@pytest.fixture
def site() -> Iterator[str]:
    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = ARTICLE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/story.html"
    server.shutdown()
    server.server_close()
    thread.join()


async def test_scan_a_url_a_text_and_a_forwarded_message(world: World, site: str) -> None:
    async with world.bot():
        [by_url] = await world.command(ANN["id"], ANN, f"/scan {site}")
        [by_text] = await world.command(
            ANN["id"], ANN, "/scan North Korea delivered rockets to Russia for the Wagner Group."
        )
        world.emu.send_text(ANN["id"], ANN, "Nothing to see: the weather in Oslo was mild.")
        pasted = (await world.emu.wait_for_messages(ANN["id"], 3))[-1]
        world.emu.forward(
            ANN["id"], ANN, KOMID, origin={"type": "hidden_user", "sender_user_name": "Src"}
        )
        forwarded = (await world.emu.wait_for_messages(ANN["id"], 4))[-1]
        world.emu.send_text(GROUP, ANN, "group chatter is not scanned")
        await world.settle()
    assert "Scan of Arms dealer paid" in by_url["text"] and "KOMID" in by_url["text"]
    assert any(level in by_url["text"] for level in ("HIGH", "MEDIUM"))
    assert (
        any(level in by_text["text"] for level in ("HIGH", "MEDIUM"))
        and "Wagner Group" in by_text["text"]
    )
    assert "no alert" in pasted["text"]
    assert "KOMID" in forwarded["text"]
    assert world.emu.messages(GROUP["id"]) == []
    assert world.deliveries() == []  # on-demand scans are not stored or sent anywhere


async def test_private_addresses_are_refused_unless_allowed(world: World, site: str) -> None:
    settings = world.settings.model_copy(update={"allow_private_urls": False})
    async with world.bot(settings):
        [refused] = await world.command(ANN["id"], ANN, f"/scan {site}")
    assert refused["text"].startswith("⚠️ Cannot scan that:") and "127.0.0.1" in refused["text"]


async def test_scans_are_rate_limited_per_chat(world: World) -> None:
    settings = world.settings.model_copy(update={"scan_rate_per_chat": 2})
    async with world.bot(settings):
        for _ in range(2):
            [ok] = await world.command(ANN["id"], ANN, "/scan the weather was mild")
            assert "no alert" in ok["text"]
        [limited] = await world.command(ANN["id"], ANN, "/scan the weather was mild")
        [other] = await world.command(BOB["id"], BOB, "/scan the weather was mild")
        [usage] = await world.command(BOB["id"], BOB, "/scan")
    assert limited["text"].startswith("⏳ Too many scans: 2 per 10 min")
    assert "no alert" in other["text"]
    assert "Usage: /scan" in usage["text"]


async def test_feeds_are_for_bot_admins(world: World) -> None:
    admin = {"id": 99, "is_bot": False, "first_name": "Root"}
    world.emu.add_chat(99)
    async with world.bot():
        [refused] = await world.command(ANN["id"], ANN, "/feeds add https://feeds.example/rss")
        [added] = await world.command(99, admin, "/feeds add https://feeds.example/rss?a=1&b=2 15")
        [listing] = await world.command(99, admin, "/feeds")
        [bad] = await world.command(99, admin, "/feeds add ftp://x.example/")
        [removed] = await world.command(99, admin, "/feeds remove 1")
        [empty] = await world.command(99, admin, "/feeds list")
    assert refused["text"] == "Only the bot's administrators manage feeds."
    assert added["text"] == "📡 Watching feed #1 https://feeds.example/rss?a=1&b=2 every 15 min."
    assert (
        "#1" in listing["text"]
        and "every 15 min" in listing["text"]
        and "last ok never" in listing["text"]
    )
    assert "is not an http(s) URL" in bad["text"]
    assert removed["text"] == "Removed feed 1." and "None yet" in empty["text"]


async def test_the_token_never_reaches_the_logs(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with world.bot():
        assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
        world.emu.inject("getUpdates", 502, times=2)  # errors PTB logs
        await world.command(ANN["id"], ANN, "/start", timeout=15)
        logging.getLogger("bot.test").error("a URL: %s", f"{world.emu.base_url}{TEST_TOKEN}/getMe")
    assert caplog.records and "getUpdates" in caplog.text
    assert TEST_TOKEN not in caplog.text
    assert "<token>" in caplog.text
