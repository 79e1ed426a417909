"""`lists sync` against a loopback server that serves the real lists, as the official sites would.

The server answers conditional GETs (ETag / If-None-Match), so a second sync of unchanged files
must cost no import; a changed list must reach an article stored before it; a cut or broken
download must leave the version in force and say why in `lists status`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from db.chats import add_watch, subscribe
from db.engine import open_database, session_scope
from db.lists import load_entities
from db.models import Alert, Chat, Delivery
from tests.conftest import ROOT, require_shared
from tests.ingest.servers import Handler, LoopbackServer, serve

pytestmark = pytest.mark.shared
runner = CliRunner()

NEW_UN_ENTITY = b"""
    <ENTITY>
      <DATAID>9999001</DATAID>
      <FIRST_NAME>ZELKOVA HORIZON SHIPPING COMPANY</FIRST_NAME>
      <UN_LIST_TYPE>DPRK</UN_LIST_TYPE>
      <REFERENCE_NUMBER>KPe.999</REFERENCE_NUMBER>
      <COMMENTS1>Operates tankers that took part in ship-to-ship transfers of refined petroleum.</COMMENTS1>
      <ENTITY_ADDRESS><COUNTRY>Democratic People's Republic of Korea</COUNTRY></ENTITY_ADDRESS>
    </ENTITY>
"""
ARTICLE = (
    "Zelkova Horizon Shipping Company arranged a ship-to-ship transfer of refined petroleum "
    "products on the high seas last month, according to investigators.\n"
)


class Files:
    """What the server publishes: path -> bytes, swappable while it runs; ETags by content."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bodies: dict[str, bytes] = {}

    def publish(self, path: str, body: bytes) -> None:
        with self.lock:
            self.bodies[path] = body

    def script(self, path: str):
        def answer(handler: Handler) -> None:
            with self.lock:
                body = self.bodies[path]
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if handler.headers.get("If-None-Match") == etag:
                handler.send(304, b"", {"ETag": etag})
                return
            handler.send(
                200,
                body,
                {
                    "ETag": etag,
                    "Content-Type": "application/octet-stream",
                    "Last-Modified": "Mon, 30 Nov 2026 10:00:00 GMT",
                },
            )

        return answer


@pytest.fixture(scope="module")
def sanctions() -> Path:
    return require_shared("data", "sanctions")


@pytest.fixture(scope="module")
def site(sanctions: Path) -> Iterator[tuple[LoopbackServer, Files]]:
    files = Files()
    published = {
        "/ofac/SDN.CSV": sanctions / "ofac" / "sdn_2021-07" / "sdn.csv",
        "/ofac/ALT.CSV": sanctions / "ofac" / "sdn_2021-07" / "alt.csv",
        "/ofac/ADD.CSV": sanctions / "ofac" / "sdn_2021-07" / "add.csv",
        "/ofac/CONS_PRIM.CSV": sanctions / "ofac" / "cons_non_sdn_2025-12" / "cons_prim.csv",
        "/ofac/CONS_ALT.CSV": sanctions / "ofac" / "cons_non_sdn_2025-12" / "cons_alt.csv",
        "/ofac/CONS_ADD.CSV": sanctions / "ofac" / "cons_non_sdn_2025-12" / "cons_add.csv",
        "/un/consolidated.xml": sanctions / "un" / "UN_consolidated_2026-02-27.xml",
        "/os/entities.ftm.json": sanctions / "opensanctions" / "yente_t1_entities.ftm.json",
        "/os/delta.json": sanctions / "opensanctions" / "yente_entities.delta_2024-07.json",
        "/ofac-2025/ALT.CSV": sanctions / "ofac" / "2025-01" / "alt.csv",
        "/ofac-2025/ADD.CSV": sanctions / "ofac" / "2025-01" / "add.csv",
    }
    with serve() as server:
        for path, real in published.items():
            files.publish(path, real.read_bytes())
            server.route(path, files.script(path))
        yield server, files


@pytest.fixture(scope="module")
def configured(
    tmp_path_factory: pytest.TempPathFactory, site: tuple[LoopbackServer, Files]
) -> Iterator[Path]:
    server, _ = site
    folder = tmp_path_factory.mktemp("sync")
    config = folder / "sources.yaml"
    url = server.url
    config.write_text(
        f"""sources:
  - {{id: ofac-sdn, format: ofac, urls: ["{url("/ofac/SDN.CSV")}", "{url("/ofac/ALT.CSV")}", "{url("/ofac/ADD.CSV")}"]}}
  - {{id: ofac-cons, format: ofac, urls: ["{url("/ofac/CONS_PRIM.CSV")}", "{url("/ofac/CONS_ALT.CSV")}", "{url("/ofac/CONS_ADD.CSV")}"]}}
  - {{id: un, format: un, urls: ["{url("/un/consolidated.xml")}"]}}
  - {{id: opensanctions, format: ftm, urls: ["{url("/os/entities.ftm.json")}", "{url("/os/delta.json")}"]}}
""",
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", f"sqlite:///{folder / 'sync.sqlite'}")
        patch.setenv("DATA_DIR", str(folder / "var"))
        patch.setenv("RULES_DIR", str(ROOT / "rules"))
        patch.setenv(
            "ALLOW_PRIVATE_URLS", "true"
        )  # the loopback server stands in for the official sites
        patch.setenv("LIST_SOURCES_FILE", str(config))
        patch.setenv("LIST_SOURCES", "ofac-sdn,ofac-cons,un,opensanctions")
        patch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
        yield folder


def status() -> dict[str, dict]:
    result = runner.invoke(app, ["lists", "status", "--format", "json"])
    assert result.exit_code == 0, result.output
    return {row["source"]: row for row in map(json.loads, result.output.splitlines())}


def test_first_sync_imports_every_source_with_the_files_counts(
    configured: Path, sanctions: Path
) -> None:
    result = runner.invoke(app, ["lists", "sync"])
    assert result.exit_code == 0, result.output
    assert result.output.count("updated to version") == 4, result.output
    rows = status()
    sdn_rows = (sanctions / "ofac" / "sdn_2021-07" / "sdn.csv").read_bytes().count(b"\n")
    assert rows["ofac-sdn"]["entities"] == sdn_rows == 8976
    un = (sanctions / "un" / "UN_consolidated_2026-02-27.xml").read_text(encoding="utf-8")
    assert (
        rows["un"]["entities"]
        == len(re.findall(r"<INDIVIDUAL>", un)) + len(re.findall(r"<ENTITY>", un))
        == 730 + 273
    )
    assert rows["un"]["version"] == "2026-02-27"
    assert (
        rows["ofac-sdn"]["version"] == "2026-11-30"
    )  # the server's Last-Modified: the CSV has no date
    for row in rows.values():
        assert row["last_sync"] and row["last_error"] is None and row["names"] >= row["entities"]
    assert rows["ofac-cons"]["entities"] == 442 and rows["opensanctions"]["entities"] > 0
    with session_scope(open_database(f"sqlite:///{configured / 'sync.sqlite'}")) as session:
        entities = {e.key: e for e in load_entities(session=session)}
    dprk = [e for e in entities.values() if e.source == "un" and "DPRK" in e.programs]
    assert len(dprk) == 155
    alt = (sanctions / "ofac" / "sdn_2021-07" / "alt.csv").read_text(encoding="latin-1")
    aliases = [
        row for row in csv.reader(io.StringIO(alt)) if len(row) >= 4
    ]  # the file ends with Ctrl-Z
    assert len(aliases) == 11_910
    stored = {(key, n.text.casefold()) for key, e in entities.items() for n in e.names}
    missing = [
        row for row in aliases if (f"ofac-sdn:{row[0]}", row[3].strip().casefold()) not in stored
    ]
    assert missing == []  # every alias of alt.csv, joined to its entry


def test_unchanged_lists_cost_a_conditional_get_and_no_import(
    configured: Path, site: tuple[LoopbackServer, Files]
) -> None:
    server, _ = site
    before = len(server.requests_to("/un/consolidated.xml"))
    result = runner.invoke(app, ["lists", "sync"])
    assert result.exit_code == 0, result.output
    assert result.output.count(": unchanged") == 4, result.output
    asked = server.requests_to("/un/consolidated.xml")[before:]
    assert len(asked) == 1 and asked[0].headers.get("If-None-Match", "").startswith('"')


def test_a_new_designation_reaches_an_article_stored_before_it(
    configured: Path, site: tuple[LoopbackServer, Files], sanctions: Path, tmp_path: Path
) -> None:
    _, files = site
    article = tmp_path / "article.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    scanned = runner.invoke(app, ["scan", "--format", "json", str(article)])
    assert scanned.exit_code == 0, scanned.output
    assert json.loads(scanned.output)["alerts"] == []  # not listed yet: no alert
    engine = open_database(f"sqlite:///{configured / 'sync.sqlite'}")
    with session_scope(engine) as session:  # one chat watches the name before it is listed
        subscribe(session=session, tg_chat_id=501, by="test")
        add_watch(session=session, tg_chat_id=501, name="Zelkova Horizon")
        subscribe(session=session, tg_chat_id=502, by="test")
        add_watch(session=session, tg_chat_id=502, name="Mulberry Tide Trading")
    real = (sanctions / "un" / "UN_consolidated_2026-02-27.xml").read_bytes()
    files.publish(
        "/un/consolidated.xml", real.replace(b"</ENTITIES>", NEW_UN_ENTITY + b"</ENTITIES>", 1)
    )
    result = runner.invoke(app, ["lists", "sync", "--source", "un"])
    assert result.exit_code == 0, result.output
    assert "un: updated" in result.output and "1 new or changed" in result.output, result.output
    assert re.search(r"re-screened \d+ articles .*: [1-9]\d* new alerts", result.output), (
        result.output
    )
    alerts = runner.invoke(app, ["alerts", "list", "--format", "json"])
    found = [
        a for a in map(json.loads, alerts.output.splitlines()) if a.get("found_by") == "list-update"
    ]
    assert found and {e["key"] for a in found for e in a["entities"]} >= {"un:KPe.999"}, (
        alerts.output
    )
    assert all(
        e["list_version"].startswith("2026-02-27/")
        for a in found
        for e in a["entities"]
        if e["key"] == "un:KPe.999"
    )
    assert status()["un"]["entities"] == 1004
    assert "1 watchlist notice" in result.output, result.output
    with session_scope(engine) as session:
        told = session.execute(
            select(Chat.tg_chat_id, Alert.title, Alert.found_by)
            .join(Delivery, Delivery.chat_id == Chat.id)
            .join(Alert, Alert.id == Delivery.alert_id)
            .where(Alert.rule_id == "watchlist")
        ).all()
    assert told == [(501, "Watchlist: Zelkova Horizon is now listed", "list-update")]  # not 502
    again = runner.invoke(app, ["lists", "sync", "--source", "un", "--force"])
    assert again.exit_code == 0 and "watchlist notice" not in again.output, (
        again.output
    )  # told once


def test_new_alias_and_address_files_update_the_entries_they_touch(
    configured: Path, site: tuple[LoopbackServer, Files], sanctions: Path
) -> None:
    """OFAC's 2025 alias and address files served beside the 2021 SDN file: the entries gain
    names (re-screened), none is lost, and aliases of entries not in this SDN file are warned of."""
    _, files = site
    before = status()["ofac-sdn"]
    for name in ("ALT", "ADD"):
        files.publish(f"/ofac/{name}.CSV", files.bodies[f"/ofac-2025/{name}.CSV"])
    try:
        result = runner.invoke(app, ["lists", "sync", "--source", "ofac-sdn"])
    finally:
        for name in ("ALT", "ADD"):
            files.publish(
                f"/ofac/{name}.CSV",
                (sanctions / "ofac" / "sdn_2021-07" / f"{name.lower()}.csv").read_bytes(),
            )
    assert result.exit_code == 0, result.output
    assert "ofac-sdn: updated" in result.output and "+0 -0" in result.output, result.output
    changed = int(re.search(r"(\d+) new or changed", result.output).group(1))  # type: ignore[union-attr]
    assert changed > 100  # 410 entries of the 2021 set have other names in the 2025 alias file
    after = status()["ofac-sdn"]
    assert after["entities"] == before["entities"] == 8976 and after["names"] != before["names"]
    assert (
        runner.invoke(app, ["lists", "sync", "--source", "ofac-sdn"]).exit_code == 0
    )  # back to 2021


@pytest.mark.parametrize(
    ("path", "broken", "why"),
    [
        ("/un/consolidated.xml", lambda data: data[: len(data) // 2], "malformed XML"),
        (
            "/ofac/SDN.CSV",
            lambda data: b"<!DOCTYPE html><html><body>Service unavailable</body></html>",
            "HTML page",
        ),
    ],
)
def test_a_broken_download_keeps_the_version_in_force(
    configured: Path,
    site: tuple[LoopbackServer, Files],
    path: str,
    broken,
    why: str,
) -> None:
    _, files = site
    source = "un" if path.startswith("/un") else "ofac-sdn"
    before = status()[source]
    good = files.bodies[path]
    files.publish(path, broken(good))
    try:
        result = runner.invoke(app, ["lists", "sync", "--source", source])
    finally:
        files.publish(path, good)
    assert result.exit_code == 1, result.output
    assert "FAILED, the version in force is kept" in result.output and why in result.output, (
        result.output
    )
    after = status()[source]
    assert (after["entities"], after["version"], after["names"]) == (
        before["entities"],
        before["version"],
        before["names"],
    )
    assert why in after["last_error"] and after["last_error_at"]


def test_run_syncs_the_lists_on_its_schedule(
    configured: Path,
    site: tuple[LoopbackServer, Files],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fresh database: `run` syncs at once, then waits LIST_SYNC_INTERVAL_H for the next turn."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'run.sqlite'}")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LIST_SYNC_INTERVAL_H", "24")
    monkeypatch.setenv("LIST_SOURCES", "un")
    result = runner.invoke(app, ["run", "--duration", "8s"])
    assert result.exit_code == 0, result.output
    rows = status()
    served = site[1].bodies["/un/consolidated.xml"].decode("utf-8")
    assert rows["un"]["entities"] == served.count("<INDIVIDUAL>") + served.count("<ENTITY>")
    assert rows["un"]["last_sync"] and set(rows) == {"un"}
