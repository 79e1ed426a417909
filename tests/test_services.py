"""The scan service every door calls: a text is one article and a story is one story whichever
door it came through (the pipeline, ``scan``, the Telegram ``/scan``), one by one or in batches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.app import App
from bot.cli import app as cli
from bot.ingest.fingerprint import same_story
from bot.pipeline import ArticleInput, Pipeline
from bot.services.scan import ArticleText, Scans, scan_and_store
from bot.services.stories import same_story_sets, shingle_set
from bot.settings import Settings
from db.engine import session_scope
from db.models import Alert, AlertSource, Article, Story
from tests.conftest import ROOT, require_shared

runner = CliRunner()

BODY = (
    "North Korea shipped artillery shells and rockets to Russia by rail last month, officials "
    "said on Tuesday.\n"
    "Satellite images of the border crossing show long trains of covered freight cars moving "
    "north at night, according to researchers who have followed the traffic since the summer.\n"
    "Any transfer of arms from North Korea is banned by UN Security Council resolutions.\n"
)
COPY = BODY.replace("officials said on Tuesday", "officials told reporters on Tuesday")
OTHER = (
    "A North Korean vessel delivered coal to a port in China in a ship-to-ship transfer, "
    "breaching the sanctions, a panel of experts said in a report published on Friday.\n"
)


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "services.sqlite"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("RULES_DIR", str(ROOT / "rules"))
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    return path


@pytest.fixture
def app(database: Path, tmp_path: Path) -> App:
    return App.open(
        Settings(database_url=f"sqlite:///{database}", rules_dir=ROOT / "rules", data_dir=tmp_path)
    )


def cli_scan(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(cli, ["scan", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output


async def feed_ingest(app: App, url: str, headline: str, text: str) -> None:
    pipeline = Pipeline(app, None, [])  # type: ignore[arg-type]  # no page to fetch
    await pipeline.ingest(ArticleInput(url, f"{headline}\n{text}", headline, url, "Wire"))


def stored(app: App) -> dict[str, list[Any]]:
    """Articles (story id), stories, alerts (key) and their sources, ids in order."""
    with session_scope(app.engine) as session:

        def rows(*columns: Any) -> list[tuple[Any, ...]]:
            query = select(*columns).order_by(*columns)
            return [tuple(row) for row in session.execute(query).all()]

        return {
            "articles": rows(Article.id, Article.source, Article.story_id),
            "stories": rows(Story.id),
            "alerts": rows(Alert.id, Alert.dedup_key, Alert.rule_id),
            "sources": rows(AlertSource.alert_id, AlertSource.article_id),
        }


def test_a_file_scanned_twice_is_one_article_of_one_story(
    app: App, database: Path, tmp_path: Path
) -> None:
    cli_scan(tmp_path, "shells.txt", f"Shells by rail\n{BODY}")
    cli_scan(tmp_path, "shells.txt", f"Shells by rail\n{BODY}")
    rows = stored(app)
    [(article_id, _, story_id)] = rows["articles"]
    assert rows["stories"] == [(story_id,)] and story_id is not None
    assert rows["alerts"] and all(
        key.startswith(f"story:{story_id}|") for _, key, _ in rows["alerts"]
    )
    assert {article for _, article in rows["sources"]} == {article_id}


@pytest.mark.parametrize("feed_first", [True, False], ids=["feed-then-cli", "cli-then-feed"])
async def test_the_same_story_from_a_feed_and_from_the_command_line_is_one_story(
    app: App, database: Path, tmp_path: Path, feed_first: bool
) -> None:
    """Two doors, one story: the second copy (another headline, one phrase edited) joins the
    first's story and is a new source of its alerts, not a second set of alerts."""
    if feed_first:
        await feed_ingest(app, "https://wire.example/shells", "Shells by rail", BODY)
        cli_scan(tmp_path, "copy.txt", f"Trains of shells cross the border\n{COPY}")
    else:
        cli_scan(tmp_path, "copy.txt", f"Trains of shells cross the border\n{COPY}")
        await feed_ingest(app, "https://wire.example/shells", "Shells by rail", BODY)
    rows = stored(app)
    [(first, _, story), (second, _, same)] = rows["articles"]
    assert story is not None and same == story and len(rows["stories"]) == 1
    assert rows["alerts"] and all(key.startswith(f"story:{story}|") for _, key, _ in rows["alerts"])
    assert sorted(rows["sources"]) == sorted(
        (alert, article) for alert, _, _ in rows["alerts"] for article in (first, second)
    )


def texts() -> list[ArticleText]:
    return [
        ArticleText("a.txt", f"Shells by rail\n{BODY}", "Shells by rail"),
        ArticleText("b.txt", f"Coal at sea\n{OTHER}", "Coal at sea"),
        ArticleText("c.txt", f"Trains of shells\n{COPY}", "Trains of shells"),
        ArticleText("a-again.txt", f"Shells by rail\n{BODY}", "Shells by rail"),
        ArticleText(
            "https://news.example/c", COPY, "Trains", "https://news.example/c?utm_source=x"
        ),
    ]


@pytest.mark.parametrize("batch_size", [1, 2, 100])
def test_a_copy_joins_the_story_an_earlier_text_started_whatever_the_batches(
    app: App, batch_size: int
) -> None:
    results = list(scan_and_store(app, texts(), batch_size=batch_size))
    outcome = [stored for _, stored in results]
    assert all(s is not None for s in outcome)
    a, b, c, again, url = (s for s in outcome if s is not None)
    assert c.story_id == a.story_id == url.story_id != b.story_id
    assert again.duplicate and again.article_id == a.article_id and not again.joined_alerts
    assert not c.duplicate and c.joined_alerts and url.joined_alerts
    rows = stored(app)
    assert len(rows["articles"]) == 4 and len(rows["stories"]) == 2


def test_batched_and_one_by_one_store_the_same_rows(tmp_path: Path) -> None:
    snapshots = []
    for batch_size in (1, 3):
        folder = tmp_path / f"batch-{batch_size}"
        folder.mkdir()
        app = App.open(
            Settings(
                database_url=f"sqlite:///{folder / 'db.sqlite'}",
                rules_dir=ROOT / "rules",
                data_dir=folder,
            )
        )
        list(Scans(app).scan_and_store(texts() + texts()[::-1], batch_size=batch_size))
        snapshots.append(stored(app))
    assert snapshots[0] == snapshots[1]


def test_not_storing_keeps_the_analysis_and_stores_nothing(app: App) -> None:
    """The Telegram ``/scan`` door: matched now, nothing stored."""
    [(matched, outcome)] = scan_and_store(app, texts()[:1], store=False, keep_analysis=True)
    assert outcome is None and matched.analysis is not None
    assert any(alert["rule"] == "un-dprk-arms" for alert in matched.alerts)
    assert stored(app)["articles"] == []


@pytest.mark.shared
def test_the_story_confirmation_on_shingle_sets_is_same_story() -> None:
    """The service confirms candidates on shingle sets computed once per body; the verdict is
    ``same_story``'s on every pair (copies, briefs, unrelated stories, empty bodies)."""
    lines = require_shared("data", "news", "articles.jsonl").read_text(encoding="utf-8")
    bodies = [json.loads(line)["text"] for line in lines.splitlines()[:12]]
    variants = [""] + [
        " ".join(body.split()[:words]) + suffix
        for body in bodies
        for words in (1, 2, 3, 20, 60, 400)
        for suffix in ("", " (Republished.)")
    ]
    sets = [shingle_set(body) for body in variants]
    for a, set_a in zip(variants, sets, strict=True):
        for b, set_b in zip(variants, sets, strict=True):
            assert same_story_sets(set_a, set_b) == same_story(a, b)
