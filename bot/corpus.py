"""The labelled development corpus: cases written from real reporting, split once for good.

Each case is one JSON line holding both the article (``id``, ``title``, ``text``) and its label
(``is_positive``, ``regime``, ``entities``, ``countries``, ``family``, ``kind``, ``source_url``,
``rationale``); see ``tests/data/corpus/README.md``.

The split into a *fitting* part (engine mechanisms and the scorer's weights are developed on
it) and a frozen *validation* part (only its figures are ever looked at) is decided by a hash
of the case id, not by a random draw or by hand: the same case is always on the same side,
whoever runs it and however many cases are added, so nobody can move a hard case across.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from bot.evaluation import EvalInputError, Label, read_jsonl

Part = Literal["fit", "validation", "all"]
VALIDATION_SHARE = 30  # percent of cases, by id hash
REQUIRED = ("id", "title", "text", "is_positive", "source_url", "rationale")


def part_of(case_id: str) -> Literal["fit", "validation"]:
    """The side a case is on, fixed by its id."""
    bucket = int(hashlib.sha256(case_id.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "validation" if bucket < VALIDATION_SHARE else "fit"


def corpus_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.jsonl")) if path.is_dir() else [path]


def read_corpus(path: Path, part: Part = "all") -> list[dict[str, Any]]:
    """Every case of ``path`` (a file or a folder of ``*.jsonl``) on the chosen side."""
    cases: list[dict[str, Any]] = []
    seen: set[str] = set()
    for file in corpus_files(path):
        for row in read_jsonl(file):
            missing = [key for key in REQUIRED if key not in row]
            if missing:
                raise EvalInputError(f"{file}: case {row['id']!r} lacks {', '.join(missing)}")
            if row["id"] in seen:
                raise EvalInputError(f"{file}: case id {row['id']!r} appears twice")
            seen.add(row["id"])
            if part == "all" or part_of(str(row["id"])) == part:
                cases.append(row)
    if not cases:
        raise EvalInputError(f"{path}: no cases")
    return cases


def labels_of(cases: Sequence[dict[str, Any]]) -> list[Label]:
    return [
        Label(
            id=str(case["id"]),
            is_positive=bool(case["is_positive"]),
            entities=tuple(case.get("entities") or ()),
            countries=tuple(case.get("countries") or ()),
            regime=case.get("regime"),
            rationale=str(case.get("rationale", "")),
        )
        for case in cases
    ]


def families(cases: Iterable[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for case in cases:
        if case["is_positive"]:
            counts[case.get("family", "?")] = counts.get(case.get("family", "?"), 0) + 1
    return counts
