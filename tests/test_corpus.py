"""The labelled corpus itself: well-formed, broad, balanced, and split once for good."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from bot.corpus import VALIDATION_SHARE, corpus_files, part_of, read_corpus
from bot.evaluation import EvalInputError
from tests.conftest import ROOT

CORPUS = ROOT / "tests" / "data" / "corpus"
KINDS_POSITIVE = {
    "breach",
    "allegation",
    "investigation",
    "designation-for-conduct",
    "indictment",
    "seizure",
    "penalty",
    "panel-finding",
}
KINDS_NEGATIVE = {
    "policy",
    "listing-without-conduct",
    "missile-test",
    "diplomacy",
    "legal-trade",
    "namesake",
    "culture-sports",
    "general-news",
    "other",
}


@pytest.fixture(scope="module")
def cases() -> list[dict]:
    return read_corpus(CORPUS)


def test_size_and_balance(cases: list[dict]) -> None:
    positives = [c for c in cases if c["is_positive"]]
    negatives = [c for c in cases if not c["is_positive"]]
    assert len(cases) >= 400 and len(positives) >= 200 and len(negatives) >= 200
    families = Counter(c["family"] for c in positives)
    assert len(families) >= 15
    assert max(families.values()) <= len(positives) / 4, families.most_common(3)


def test_every_case_is_well_formed(cases: list[dict]) -> None:
    for case in cases:
        words = len(case["text"].split())
        assert 80 <= words <= 400, (case["id"], words)
        assert case["source_url"].startswith(("http://", "https://")), case["id"]
        assert len(case["rationale"]) > 20, case["id"]
        kinds = KINDS_POSITIVE if case["is_positive"] else KINDS_NEGATIVE
        assert case["kind"] in kinds, (case["id"], case["kind"])
        for name in case.get("entities") or ():
            assert name in case["text"] or name in case["title"], (case["id"], name)


def test_no_source_is_used_more_than_three_times(cases: list[dict]) -> None:
    assert max(Counter(c["source_url"] for c in cases).values()) <= 3


def test_split_is_fixed_by_the_id_and_about_a_third(cases: list[dict]) -> None:
    validation = [c for c in cases if part_of(c["id"]) == "validation"]
    assert abs(len(validation) / len(cases) - VALIDATION_SHARE / 100) < 0.06
    assert {c["id"] for c in read_corpus(CORPUS, "validation")} == {c["id"] for c in validation}
    assert part_of("dprkt-001") == part_of("dprkt-001")
    fit_ids = {c["id"] for c in read_corpus(CORPUS, "fit")}
    assert fit_ids.isdisjoint(c["id"] for c in validation)
    for part in ("fit", "validation"):
        positives = sum(c["is_positive"] for c in read_corpus(CORPUS, part))  # type: ignore[arg-type]
        assert positives >= 50


def test_bad_corpus_files_are_refused(tmp_path: Path) -> None:
    good = json.loads((corpus_files(CORPUS)[0]).read_text(encoding="utf-8").splitlines()[0])
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n", encoding="utf-8")
    with pytest.raises(EvalInputError, match="appears twice"):
        read_corpus(path)
    path.write_text(
        json.dumps({k: v for k, v in good.items() if k != "source_url"}) + "\n", encoding="utf-8"
    )
    with pytest.raises(EvalInputError, match="lacks source_url"):
        read_corpus(path)
