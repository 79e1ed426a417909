"""Scanning on several cores and the matcher cache change nothing but the time."""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot import matchercache
from bot.app import App
from bot.matching.engine import Matcher
from bot.scanpool import scan_one, scanned, workers_for
from bot.settings import Settings
from tests.conftest import ROOT, require_shared

runner = CliRunner()


@pytest.mark.shared
def test_forked_workers_give_the_same_results_in_order(real_matcher: Matcher) -> None:
    news = require_shared("data", "news") / "articles.jsonl"
    records = [json.loads(line) for line in news.read_text(encoding="utf-8").splitlines()[:60]]
    jobs = [(f"news-{i}", r["text"], r["title"]) for i, r in enumerate(records)]
    alone = [scan_one(real_matcher, job) for job in jobs]
    with scanned(real_matcher, jobs, 2, scan_one) as results:
        together = list(results)
    assert together == alone
    assert sum(len(r["alerts"]) for r in alone) > 0  # the comparison covers real alerts


def test_workers_are_used_for_enough_inputs_only() -> None:
    assert workers_for(5) == 1
    assert workers_for(500) >= 1 and workers_for(5, requested=3) == 3


def _app(tmp_path: Path, **settings: object) -> App:
    return App.open(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
            data_dir=tmp_path,
            rules_dir=ROOT / "rules",
            **settings,
        )
    )  # type: ignore[arg-type]


def test_the_matcher_cache_is_used_and_keyed_by_what_the_matcher_is_made_of(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.app")
    first = _app(tmp_path).matcher()
    assert len(list((tmp_path / "cache").glob("matcher-*.pickle"))) == 1
    second = _app(tmp_path).matcher()
    assert [r.message.split(":")[0] for r in caplog.records] == [
        "matcher built",
        "matcher read from the cache",
    ]
    text = "Korea Ryonbong General Corporation shipped missile parts to Russia in violation of sanctions."
    from bot.matching.model import Document

    assert (
        [a.rule_id for a in first.scan(Document(text))]
        == [a.rule_id for a in second.scan(Document(text))]
        != []
    )
    caplog.clear()
    _app(tmp_path, match_max_chars=5_000).matcher()  # another key: built again, the old file kept
    assert caplog.records[0].message.startswith("matcher built")
    assert len(list((tmp_path / "cache").glob("matcher-*.pickle"))) == 2


def test_an_unreadable_cache_file_is_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _app(tmp_path).matcher()
    [cached] = (tmp_path / "cache").glob("matcher-*.pickle")
    cached.write_bytes(cached.read_bytes()[:1000])  # cut short
    caplog.set_level(logging.INFO)
    assert isinstance(_app(tmp_path).matcher(), Matcher)
    assert "ignoring the unreadable matcher cache" in caplog.text and "matcher built" in caplog.text
    assert isinstance(pickle.loads(cached.read_bytes()), Matcher)  # rewritten whole


def test_no_cache_when_switched_off(tmp_path: Path) -> None:
    _app(tmp_path, matcher_cache=False).matcher()
    assert not (tmp_path / "cache").exists()
    assert matchercache.load(tmp_path / "cache", "anything") is None
