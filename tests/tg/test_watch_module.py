"""``bot.watch``: watched parties and terms found with the engine's own machinery. Pure."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from bot.domain.watch import targets_from_items, term_key
from bot.matching.engine import Matcher
from bot.matching.model import Document
from bot.report import alert_to_dict
from bot.rulefiles import load_rules
from bot.watch import find_watch_hits, suggest, watch_alerts
from tests.conftest import ROOT

TEXT = (
    "Acme Trading shipped uranium hexafluoride to the tanker NS Leader. "
    "Later, ACME TRADING and Yevgeny Prigoschin met in Bamako. "
    "The Wagner Group mercenaries fought there."
)


@pytest.fixture(scope="module")
def matcher(sample_list_entities: list[Any]) -> Matcher:
    return Matcher(load_rules(ROOT / "rules"), sample_list_entities)


def test_term_keys_are_normalised() -> None:
    assert term_key("  Acme & Sons ") == term_key("ACME sons") == "term:acme sons"
    assert term_key("Kim Jong-un") == "term:kim jong un"


def test_terms_names_and_listed_parties_are_found(matcher: Matcher) -> None:
    analysis = matcher.analyze(Document(TEXT))
    targets = targets_from_items(
        [
            (1, term_key("Acme Trading"), "Acme Trading"),
            (2, term_key("uranium hexafluoride"), "uranium hexafluoride"),
            (3, "ofac-sdn:47371", "NS LEADER"),
            (4, term_key("Yevgeny Prigozhin"), "Yevgeny Prigozhin"),
            (5, term_key("acme trading"), "acme trading"),  # another chat, same term
            (6, "rules:russia-wagner/wagner-group", "Wagner Group"),
            (7, term_key("Bolivar Shipping"), "Bolivar Shipping"),
        ]
    )
    hits = find_watch_hits(analysis, targets)
    found = {(h.target.key, h.match.matched) for h in hits}
    assert found == {
        ("term:acme trading", "Acme Trading"),
        ("term:acme trading", "ACME TRADING"),
        ("term:uranium hexafluoride", "uranium hexafluoride"),
        ("ofac-sdn:47371", "NS Leader"),
        (
            "term:yevgeny prigozhin",
            "Yevgeny Prigoschin",
        ),  # a transliteration, by the engine's NameIndex
        ("rules:russia-wagner/wagner-group", "Wagner Group"),
    }
    fuzzy = next(h for h in hits if h.target.key == "term:yevgeny prigozhin")
    assert fuzzy.match.score < 1.0 and "prigoschin~prigozhin" in fuzzy.match.features[0].detail


def test_watch_alerts_follow_the_scan_schema(matcher: Matcher) -> None:
    analysis = matcher.analyze(Document(TEXT))
    targets = targets_from_items(
        [
            (1, term_key("Acme Trading"), "Acme Trading"),
            (5, term_key("Acme Trading"), "acme trading"),
            (3, "ofac-sdn:47371", "NS LEADER"),
        ]
    )
    alerts = watch_alerts(analysis, find_watch_hits(analysis, targets))
    schema = set(alert_to_dict(matcher.scan(Document(TEXT))[0]))
    assert [a["title"] for a in alerts] == ["Watchlist: NS LEADER", "Watchlist: Acme Trading"]
    for alert in alerts:
        assert set(alert) == schema | {"watch_items", "watch_key"}
        assert (alert["rule"], alert["severity"], alert["regime"]) == (
            "watchlist",
            "low",
            "watchlist",
        )
        assert alert["entities"][0]["key"] == alert["watch_key"]
    acme = alerts[1]
    assert acme["watch_items"] == [1, 5] and len(acme["evidence"]) == 2
    first = acme["evidence"][0]
    assert first["text"][first["highlights"][0][0] : first["highlights"][0][1]] == "Acme Trading"


def test_suggestions_want_the_distinctive_words(matcher: Matcher) -> None:
    assert [s.key for s in suggest(matcher.index, "ns leadr")] == ["ofac-sdn:47371"]
    assert [s.key for s in suggest(matcher.index, "Ryongbong")][:1] == ["rules:un-dprk/ryonbong"]
    assert suggest(matcher.index, "Acme Trading") == []  # "trading" alone is no reason
    assert suggest(matcher.index, "") == []


def test_watch_and_the_engine_stay_pure() -> None:
    code = "import sys, bot.watch; print(','.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
        )
        .stdout.strip()
        .split(",")
    )
    forbidden = ("telegram", "httpx", "sqlmodel", "sqlalchemy", "db", "bot.tg", "bot.ingest")
    assert sorted(m for m in loaded for f in forbidden if m == f or m.startswith(f + ".")) == []
