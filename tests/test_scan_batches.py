"""``scan`` storing many inputs per transaction stores exactly what the per-file path stores.

Each scan runs in its own process, as people run it, with one hash seed for all of them (the
order of an alert's terms, stored with it, follows set iteration order).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from db.engine import make_engine
from db.models import Alert, AlertEntity, AlertSource, Article
from tests.conftest import ROOT, require_shared

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """50 files: 46 news texts (about a third give alerts) and 4 repeats of them, two of which
    land in the same batch as their first copy and two in a later one."""
    corpus = require_shared("data", "news", "articles.jsonl")
    folder = tmp_path_factory.mktemp("texts")
    records = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()[:46]]
    texts = [f"{record['title']}\n\n{record['text']}\n" for record in records]
    texts[10:10] = [texts[8], texts[9]]
    texts += [texts[0], texts[30]]
    paths = []
    for number, text in enumerate(texts):
        path = folder / f"{number:02d}.txt"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the UN list (quick to index)."""
    path = tmp_path_factory.mktemp("template") / "lists.sqlite"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", f"sqlite:///{path}")
        patch.setenv("RULES_DIR", str(ROOT / "rules"))
        un = require_shared("data", "sanctions", "un", "UN_consolidated_2026-02-27.xml")
        result = runner.invoke(app, ["lists", "import", str(un)])
    assert result.exit_code == 0, result.output
    return path


def scan(database: Path, files: list[Path], *options: str) -> list[dict[str, Any]]:
    """A ``scan`` in its own process, as people run it (a fixed hash seed: the same JSON key
    and term order in every run)."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "RULES_DIR": str(ROOT / "rules"),
        "PYTHONHASHSEED": "0",
    }
    env.pop("TELEGRAM_BOT_TOKEN", None)
    argv = [sys.executable, "-m", "bot", "scan", *map(str, files), "--format", "json", *options]
    done = subprocess.run(
        argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def stored(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored article, alert (with its whole explanation), party and source, ids included."""
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:

            def rows(*columns: Any) -> list[tuple[Any, ...]]:
                return [
                    tuple(row)
                    for row in connection.execute(select(*columns).order_by(*columns)).all()
                ]

            return {
                "articles": rows(
                    Article.id,
                    Article.source,
                    Article.url,
                    Article.url_key,
                    Article.content_hash,
                    Article.title,
                    Article.text,
                ),
                "alerts": rows(
                    Alert.id,
                    Alert.article_id,
                    Alert.dedup_key,
                    Alert.rule_id,
                    Alert.regime,
                    Alert.severity,
                    Alert.score,
                    Alert.title,
                    Alert.rule_source,
                    Alert.entities,
                    Alert.countries,
                    Alert.terms,
                    Alert.evidence,
                    Alert.explanation,
                    Alert.references,
                ),
                "parties": rows(
                    AlertEntity.alert_id,
                    AlertEntity.entity_key,
                    AlertEntity.caption,
                    AlertEntity.matched,
                    AlertEntity.score,
                ),
                "sources": rows(AlertSource.id, AlertSource.alert_id, AlertSource.article_id),
            }
    finally:
        engine.dispose()


def test_batched_and_per_file_scans_store_the_same(
    files: list[Path], template: Path, tmp_path: Path
) -> None:
    runs = {"per_file": ["--batch-size", "1"], "batched": ["--batch-size", "7"], "default": []}
    printed = {}
    for name, options in runs.items():
        database = tmp_path / f"{name}.sqlite"
        database.write_bytes(template.read_bytes())
        printed[name] = scan(database, files, *options)
        assert scan(database, files[::-1], *options)  # again, backwards: nothing new
    per_file = stored(tmp_path / "per_file.sqlite")
    assert len(per_file["articles"]) == len(files) - 4
    assert len(per_file["alerts"]) >= 10
    assert len(per_file["sources"]) == len(per_file["alerts"])
    for name in ("batched", "default"):
        assert stored(tmp_path / f"{name}.sqlite") == per_file, name
        assert printed[name] == printed["per_file"], name
    assert [result["source"] for result in printed["batched"]] == list(map(str, files))
