"""/lists: the lists in force and their last sync, for bot admins only, with text escaped."""

from __future__ import annotations

from pathlib import Path

from bot.lists.custom import parse_custom
from db.engine import session_scope
from db.lists import import_list, record_sync
from tests.tg.conftest import ANN, World

DATA = Path(__file__).resolve().parents[1] / "data" / "lists"
ADMIN = {"id": 99, "is_bot": False, "first_name": "Root"}


async def test_lists_status_is_for_bot_admins(world: World) -> None:
    parsed = parse_custom(DATA / "custom" / "acme.csv", "custom-acme")
    with session_scope(world.app.engine) as session:
        import_list(session=session, parsed=parsed)
        record_sync(session=session, source=parsed.source, body_sha256=parsed.sha256, changed=True)
        record_sync(
            session=session,
            source="un",
            error="https://x.example/list.xml: download failed: <HTTP 503>",
        )
    world.emu.add_chat(99)
    async with world.bot():
        [refused] = await world.command(ANN["id"], ANN, "/lists")
        [shown] = await world.command(99, ADMIN, "/lists")
    assert refused["text"] == "Only the bot's administrators see the lists' status."
    text = shown["text"]
    assert f"custom-acme: version {parsed.version}, {len(parsed.entities)} entities" in text
    assert "synced " in text and "un: not imported" in text
    assert (
        "last sync failed" in text and "download failed: <HTTP 503>" in text
    )  # shown as text, not markup
