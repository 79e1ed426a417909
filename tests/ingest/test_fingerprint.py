"""simhash fingerprints: stability, normalisation, and the measured separation on real texts."""

from __future__ import annotations

import time

import pytest

from benchmarks.bench_extract import fingerprint_separation, load_aeb
from bot.ingest.fingerprint import (
    DEFAULT_THRESHOLD,
    hamming,
    normalise_tokens,
    resemblance,
    similar,
    simhash64,
)
from tests.conftest import require_shared

STORY = (
    "The UN Panel of Experts said a tanker flagged in Sierra Leone transferred refined petroleum "
    "to a North Korean vessel near the Chinese coast in March, in breach of resolution 2397. "
    "The ship's transponder was switched off for eleven days before the transfer."
)


def test_fingerprint_is_stable_across_processes() -> None:
    """Fingerprints are stored: the value for a fixed text must never change silently."""
    assert simhash64(STORY) == simhash64(STORY)
    assert simhash64(STORY) == 0xA8823D0B36E1CC71
    assert simhash64("") == 0 and simhash64("  ,.; ") == 0


def test_normalisation_ignores_case_punctuation_and_width() -> None:
    shouted = STORY.upper().replace(",", " ;").replace(".", " !")
    full_width = STORY.replace("UN", "ＵＮ").replace("2397", "２３９７")
    assert hamming(simhash64(STORY), simhash64(shouted)) == 0
    assert hamming(simhash64(STORY), simhash64(full_width)) == 0


def test_cjk_characters_are_tokens() -> None:
    assert normalise_tokens("朝鲜向俄罗斯运送弹药") == list("朝鲜向俄罗斯运送弹药")
    assert normalise_tokens("Café-Owner's 2nd") == ["café", "owner", "s", "2nd"]


def test_helpers() -> None:
    assert hamming(0b1011, 0b0001) == 2 and hamming(0, (1 << 64) - 1) == 64
    assert similar(0, (1 << DEFAULT_THRESHOLD) - 1) and not similar(0, (1 << 13) - 1)
    assert resemblance(STORY, STORY) == 1.0 and resemblance(STORY, "") == 0.0


def test_long_text_is_fast() -> None:
    text = " ".join(f"word{i % 3000} other{i % 17}" for i in range(10_000))
    started = time.perf_counter()
    simhash64(text)
    assert time.perf_counter() - started < 0.5


@pytest.mark.shared
def test_separation_on_real_articles() -> None:
    """Same story edited stays close, different stories stay apart (numbers in the module doc)."""
    require_shared("data", "articles", "scrapinghub_aeb")
    texts = [truth for _, _, truth in load_aeb()]
    report = fingerprint_separation(texts)
    assert report["texts"] == 181 and report["different_pairs"]["pairs"] == 16_290
    assert report["light_recall"] == 1.0
    assert report["heavy_recall"] >= 0.7
    assert report["false_merges"] == 0
    assert report["different_pairs"]["min"] > DEFAULT_THRESHOLD
    assert report["two_stage"]["heavy_recall"] >= 0.95
    assert report["two_stage"]["false_merges"] == 0
