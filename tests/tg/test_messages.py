"""HTML rendering and argument parsing, without Telegram: escaping, the 4096 limit, trimming that
never cuts a tag or an entity, digests, filters and history options."""

from __future__ import annotations

import random
import re
from datetime import timedelta
from typing import Any

import pytest

from bot.tg.args import ArgError, parse_duration, parse_filters, parse_history, parse_settings
from bot.tg.keyboards import alert_keyboard, digest_keyboard, reviewed_keyboard
from bot.tg.messages import (
    MAX_TEXT,
    digest_batches,
    esc,
    fit,
    highlighted,
    render_alert,
    render_digest,
    visible_length,
    visible_text,
)

HOSTILE = "<b>Acme & Sons</b> <script>alert('x')</script> &amp; “quotes” \"double\" 'single'"
_TAG = re.compile(r"<(/?)([a-z-]+)(?:\s[^>]*)?>")


def well_formed(markup: str) -> bool:
    """What Telegram's HTML parser checks: known tags, balanced, nothing bare."""
    stack: list[str] = []
    position = 0
    for match in re.finditer(r"<[^>]*>|&(?:#\d+|#x[0-9a-fA-F]+|[a-z]+);|[<&]", markup):
        token = match.group()
        if token in ("<", "&"):
            return False
        if token.startswith("<"):
            tag = _TAG.fullmatch(token)
            if tag is None or tag.group(2) not in {
                "b",
                "i",
                "a",
                "code",
                "blockquote",
                "pre",
                "u",
                "s",
            }:
                return False
            if tag.group(1):
                if not stack or stack.pop() != tag.group(2):
                    return False
            else:
                stack.append(tag.group(2))
        position = match.end()
    return not stack and position <= len(markup)


def alert(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": 7,
        "rule": "un-dprk-arms",
        "title": HOSTILE,
        "severity": "high",
        "score": 0.95,
        "regime": "UN-DPRK-1718",
        "references": ["UNSCR 1718 (2006) <8>"],
        "reference_links": [
            {"text": "UNSCR 1718 (2006) <8>", "url": "https://undocs.org/S/RES/1718(2006)?a=1&b=2"}
        ],
        "entities": [
            {
                "name": HOSTILE,
                "matched": "Acme & Sons",
                "score": 0.9,
                "source": "ofac-sdn",
                "id": "1",
                "key": "ofac-sdn:1",
                "type": "organization",
                "in_evidence": True,
            }
        ],
        "countries": [{"code": "KP", "matched": "North Korea", "role": "origin"}],
        "evidence": [
            {
                "text": "Acme & Sons <shipped> rockets from North Korea.",
                "start": 0,
                "end": 47,
                "highlights": [[0, 11], [35, 46]],
            }
        ],
        "sources": [{"url": "https://news.example/a?x=1&y=<2>", "title": HOSTILE, "outlet": "R&D"}],
    }
    data.update(overrides)
    return data


def test_every_dynamic_string_is_escaped() -> None:
    html = render_alert(alert())
    assert well_formed(html)
    shown = visible_text(html)
    assert HOSTILE in shown and "R&D" in shown and "UNSCR 1718 (2006) <8>" in shown
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="https://news.example/a?x=1&amp;y=&lt;2&gt;"' in html
    assert "<b>Acme &amp; Sons</b> &lt;shipped&gt; rockets from <b>North Korea</b>." in html


def test_long_alerts_are_trimmed_not_split() -> None:
    sentence = "Word " * 3000 + "North Korea shipped rockets" + " and more" * 2000
    huge = alert(
        evidence=[
            {"text": sentence, "start": 0, "end": len(sentence), "highlights": [[15000, 26000]]}
        ]
        * 4,
        entities=[alert()["entities"][0] | {"name": f"Party {i} " + "x" * 300} for i in range(40)],
        sources=[
            {"url": f"https://n.example/{i}", "title": "t" * 500, "outlet": "o"} for i in range(20)
        ],
    )
    html = render_alert(huge)
    assert visible_length(html) <= MAX_TEXT and well_formed(html)
    assert "…" in visible_text(html) and "+17 more sources" in visible_text(html)


@pytest.mark.parametrize("seed", range(30))
def test_fit_never_cuts_a_tag_or_an_entity(seed: int) -> None:
    rng = random.Random(seed)
    pieces = []
    for _ in range(rng.randint(50, 400)):
        kind = rng.random()
        text = "".join(rng.choice("ab <&>\"'é😀北") for _ in range(rng.randint(1, 30)))
        if kind < 0.3:
            pieces.append(f"<b>{highlighted(text, [[0, 2]])}</b>")
        elif kind < 0.5:
            pieces.append(
                f'<a href="{esc("https://x.example/?q=" + text + "&z=1")}">{highlighted(text, [])}</a>'
            )
        elif kind < 0.6:
            pieces.append(f"<blockquote><i>{highlighted(text, [])}</i></blockquote>")
        else:
            pieces.append(highlighted(text, [[1, 3]]))
    markup = "\n".join(pieces)
    assert well_formed(markup)
    limit = rng.randint(20, 2000)
    cut = fit(markup, limit)
    assert well_formed(cut), cut
    assert visible_length(cut) <= limit
    if visible_length(markup) > limit:
        assert (
            visible_text(cut).endswith("…")
            or cut.rstrip(">").endswith("…")
            or "…" in visible_text(cut)
        )
        assert visible_text(cut)[:-1].rstrip("…") in visible_text(markup)


def test_highlight_trims_around_the_match() -> None:
    text = "x " * 500 + "KOMID paid" + " y" * 500
    start = text.index("KOMID")
    out = highlighted(text, [[start, start + 5]], 120)
    assert "<b>KOMID</b>" in out and out.startswith("…") and out.endswith("…")
    assert visible_length(out) <= 122


def test_keyboards_are_unique_per_alert_and_fit_telegram() -> None:
    first, second = alert_keyboard(alert(id=7)), alert_keyboard(alert(id=8))
    assert first.to_dict() != second.to_dict()
    assert alert_keyboard(alert(id=7)).to_dict() == first.to_dict()  # pure: rebuilt identically
    data = [b.callback_data for row in first.inline_keyboard for b in row]
    assert data == ["rv:r:7", "rv:f:7", "mu:e:7", "mu:r:7"]
    assert all(1 <= len(str(d).encode()) <= 64 for d in data)
    assert [
        b.callback_data
        for row in alert_keyboard(alert(rule="watchlist")).inline_keyboard
        for b in row
    ] == ["rv:r:7", "rv:f:7", "uw:7"]
    assert (
        reviewed_keyboard(alert(), "false_positive", "Ann").inline_keyboard[0][0].text
        == "🚫 False positive · Ann"
    )
    assert [
        b.callback_data for row in digest_keyboard([3, 4, 5, 6, 7]).inline_keyboard for b in row
    ] == ["al:3", "al:4", "al:5", "al:6", "al:7"]


def test_digests_are_batched_under_the_limit() -> None:
    many = [alert(id=i, title=f"Alert {i} " + "t" * 200) for i in range(30)]
    batches = digest_batches(many)
    assert [len(b) for b in batches] == [8, 8, 8, 6]
    for batch in batches:
        html = render_digest(batch, total=30)
        assert visible_length(html) <= MAX_TEXT and well_formed(html)
        assert html.startswith("🗞 <b>Digest</b>: ")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("high", {"min_severity": "high"}),
        ("severity=low country=kp,ir", {"min_severity": "low", "countries": ["kp", "ir"]}),
        ("--severity medium --country RU", {"min_severity": "medium", "countries": ["RU"]}),
        (
            "regime=UN-DPRK-1718,US-Russia rule=wagner-arms",
            {"regimes": ["UN-DPRK-1718", "US-Russia"], "rules": ["wagner-arms"]},
        ),
        ("watchlist daily hour=7", {"watchlist_only": True, "mode": "daily", "digest_hour": 7}),
        (
            "quiet=22:30-06:00 tz=Europe/Berlin",
            {"quiet": (22 * 60 + 30, 6 * 60), "timezone": "Europe/Berlin"},
        ),
        ("quiet=off regime=all", {"quiet": None, "regimes": []}),
    ],
)
def test_filters(args: str, expected: dict[str, Any]) -> None:
    assert parse_filters(args.split()) == expected


@pytest.mark.parametrize(
    "args", ["bogus", "colour=red", "watchlist=maybe", "hour=x", "quiet=25-7", "quiet=lunch"]
)
def test_bad_filters(args: str) -> None:
    with pytest.raises(ArgError):
        parse_filters(args.split())


def test_settings_forms() -> None:
    assert parse_settings(["countries", "KP,IR"]) == {"countries": ["KP", "IR"]}
    assert parse_settings(["digest", "daily", "8"]) == {"mode": "daily", "digest_hour": 8}
    assert parse_settings(["quiet", "22:00-07:00"]) == {"quiet": (1320, 420)}
    assert parse_settings(["tz", "Asia/Tokyo"]) == {"timezone": "Asia/Tokyo"}
    assert parse_settings(["severity", "high"]) == {"min_severity": "high"}


def test_history_options() -> None:
    parsed = parse_history(["wagner", "group", "--since", "7d", "--severity", "high"])
    assert (parsed.query, parsed.since, parsed.severity) == (
        "wagner group",
        timedelta(days=7),
        "high",
    )
    assert parsed.describe() == "“wagner group” · since 7d · ≥ high"
    assert parse_duration("30m") == timedelta(minutes=30) and parse_duration("2w") == timedelta(
        weeks=2
    )
    for bad in (["--since", "soon"], ["--severity", "urgent"], ["--colour", "red"], ["x" * 101]):
        with pytest.raises(ArgError):
            parse_history(bad)
