"""Benchmark article extraction (and story fingerprints) on the shared real-page data sets.

    .venv/bin/python benchmarks/bench_extract.py

prints ONE JSON object:

* ``aeb``: the Scrapinghub Article Extraction Benchmark (181 pages + hand-checked bodies), scored
  the way its ``evaluate.py`` scores: tokens are ``\\w+`` runs, a page's prediction and truth are
  compared as multisets of 4-token shingles, each page's TP/FP/FN are normalised to sum 1 (so long
  pages do not dominate), precision and recall are averaged over pages, and F1 is the harmonic
  mean of those averages. ``aeb_whitespace_tokens`` repeats it with 1-grams of whitespace-split
  tokens (a bag of words), which is kinder to extractors that get the words but not the order.
* ``trafilatura_eval``: share of "must contain" snippets found and "must not contain" snippets
  absent, over trafilatura's 53-page multilingual sample.
* ``pages_per_s`` over both sets, for ``extract_article`` and for a naive baseline (all visible
  text of the page: a tag stripper that drops script/style), run in the same process.
* ``fingerprint``: simhash distances between each AEB text and an edited copy of itself, and
  between different articles, with the thresholds of ``bot.ingest.fingerprint``.

The functions are importable (the tests use ``aeb_prf`` and the loaders) so the metric has one
definition.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.ingest.errors import ExtractError  # noqa: E402
from bot.ingest.extract import decode_html, extract_article  # noqa: E402
from bot.ingest.fingerprint import (  # noqa: E402
    CANDIDATE_THRESHOLD,
    DEFAULT_THRESHOLD,
    RESEMBLANCE_THRESHOLD,
    hamming,
    resemblance,
    simhash64,
)

SHARED = Path(os.environ.get("SANCTIONS_SHARED_DIR", ROOT.parent / "shared"))
_WORD = re.compile(r"\w+")
Extractor = Callable[[bytes, str], str]
Page = tuple[str, bytes, str]  # url, html, expected text (AEB) or file name (eval)


# ---- data ----------------------------------------------------------------------------------------
def load_aeb(root: Path | None = None) -> list[tuple[str, bytes, str]]:
    """(url, html bytes, true article body) for the 181 AEB pages."""
    root = root or SHARED / "data" / "articles" / "scrapinghub_aeb"
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    return [
        (
            entry["url"],
            gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes()),
            entry["articleBody"],
        )
        for key, entry in sorted(truth.items())
    ]


def load_eval(root: Path | None = None) -> list[tuple[str, bytes, list[str], list[str]]]:
    """(url, html bytes, must-have snippets, must-not-have snippets) for trafilatura's sample."""
    root = root or SHARED / "data" / "articles" / "trafilatura_eval"
    data = json.loads((root / "evaldata_subset.json").read_text(encoding="utf-8"))
    return [
        (url, (root / "html" / entry["file"]).read_bytes(), entry["with"], entry["without"])
        for url, entry in sorted(data.items())
    ]


# ---- extractors ----------------------------------------------------------------------------------
def ours(html: bytes, url: str) -> str:
    try:
        return extract_article(html, url).text
    except ExtractError:
        return ""


class _AllText(HTMLParser):
    SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.depth += tag in self.SKIP

    def handle_endtag(self, tag: str) -> None:
        self.depth -= tag in self.SKIP and self.depth > 0

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.parts.append(data)


def naive(html: bytes, url: str) -> str:
    """Baseline: every visible text node of the page, whitespace collapsed."""
    parser = _AllText()
    parser.feed(decode_html(html))  # same decoding as ours: compare extraction only
    return " ".join(" ".join(parser.parts).split())


# ---- metrics -------------------------------------------------------------------------------------
def _shingles(tokens: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens)


def page_tp_fp_fn(
    true: str, pred: str, *, n: int = 4, whitespace: bool = False
) -> tuple[float, float, float]:
    """One page's TP/FP/FN over token n-gram multisets, normalised to sum 1."""
    split: Callable[[str], list[str]] = str.split if whitespace else _WORD.findall
    truth, guess = _shingles(split(true), n), _shingles(split(pred), n)
    tp = sum((truth & guess).values())
    fp = sum((guess - truth).values())
    fn = sum((truth - guess).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def aeb_prf(
    pairs: Iterable[tuple[str, str]], *, n: int = 4, whitespace: bool = False
) -> dict[str, float]:
    """Macro precision/recall over pages (AEB's ``evaluate.py`` rules) and F1 of the two."""
    scores = [page_tp_fp_fn(t, p, n=n, whitespace=whitespace) for t, p in pairs]

    def ratio(a: float, b: float, fp: float, fn: float) -> float:
        return 1.0 if fp == fn == 0 else (a / (a + b) if a + b else 0.0)

    precision = statistics.mean(ratio(tp, fp, fp, fn) for tp, fp, fn in scores if tp + fp > 0)
    recall = statistics.mean(ratio(tp, fn, fp, fn) for tp, fp, fn in scores if tp + fn > 0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def snippet_rates(
    results: Iterable[tuple[str, list[str], list[str]]],
) -> dict[str, float | int]:
    """Share of must-have snippets found and of must-not-have snippets absent."""
    found = wanted = absent = unwanted = 0
    for text, must, must_not in results:
        found += sum(snippet in text for snippet in must)
        wanted += len(must)
        absent += sum(snippet not in text for snippet in must_not)
        unwanted += len(must_not)
    return {
        "with_found": round(found / wanted, 4),
        "without_absent": round(absent / unwanted, 4),
        "with_total": wanted,
        "without_total": unwanted,
    }


def run_extractor(
    extractor: Extractor,
    aeb: list[tuple[str, bytes, str]],
    evals: list[tuple[str, bytes, list[str], list[str]]],
) -> dict[str, Any]:
    started = time.perf_counter()
    aeb_pred = [(truth, extractor(html, url)) for url, html, truth in aeb]
    eval_pred = [(extractor(html, url), must, must_not) for url, html, must, must_not in evals]
    elapsed = time.perf_counter() - started
    return {
        "aeb": aeb_prf(aeb_pred),
        "aeb_whitespace_tokens": aeb_prf(aeb_pred, n=1, whitespace=True),
        "trafilatura_eval": snippet_rates(eval_pred),
        "empty_outputs": sum(1 for _, pred in aeb_pred if not pred.strip()),
        "pages": len(aeb) + len(evals),
        "pages_per_s": round((len(aeb) + len(evals)) / elapsed, 1),
    }


# ---- fingerprints --------------------------------------------------------------------------------
BOILERPLATE = [
    "Sign up for our daily newsletter to get the latest news.",
    "Read more: Top stories of the day",
    "Share this article on Facebook Twitter Email",
    "Copyright 2024 News Corp. All rights reserved.",
    "Advertisement",
]


def _sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+", text.strip())


def heavy_edit(text: str, rng: random.Random) -> str:
    """20% of sentences dropped, two adjacent swaps, five boilerplate lines around it."""
    kept = [s for s in _sentences(text) if rng.random() >= 0.2] or _sentences(text)[:1]
    for _ in range(2):
        if len(kept) > 2:
            i = rng.randrange(len(kept) - 1)
            kept[i], kept[i + 1] = kept[i + 1], kept[i]
    return " ".join([BOILERPLATE[0], *kept, *BOILERPLATE[1:]])


def light_edit(text: str, rng: random.Random) -> str:
    """5% of sentences dropped, a different header and footer."""
    kept = [s for s in _sentences(text) if rng.random() >= 0.05] or _sentences(text)[:1]
    return " ".join(["Breaking:", *kept, "Follow us on social media."])


def _summary(values: list[int]) -> dict[str, float]:
    ordered = sorted(values)
    pick = lambda q: ordered[int(q * (len(ordered) - 1))]  # noqa: E731
    return {
        "min": ordered[0],
        "median": statistics.median(ordered),
        "p95": pick(0.95),
        "max": ordered[-1],
        "mean": round(statistics.mean(ordered), 2),
        "sd": round(statistics.pstdev(ordered), 2),
    }


def fingerprint_separation(texts: list[str], seed: int = 11) -> dict[str, Any]:
    """Distances: same story edited (light, heavy) vs different stories, and what thresholds do."""
    rng = random.Random(seed)
    prints = [simhash64(t) for t in texts]
    light = [hamming(p, simhash64(light_edit(t, rng))) for p, t in zip(prints, texts, strict=True)]
    heavy_texts = [heavy_edit(t, rng) for t in texts]
    heavy = [hamming(p, simhash64(h)) for p, h in zip(prints, heavy_texts, strict=True)]
    different = [
        hamming(prints[i], prints[j]) for i in range(len(prints)) for j in range(i + 1, len(prints))
    ]

    def share(values: list[int], threshold: int) -> float:
        return round(sum(v <= threshold for v in values) / len(values), 4)

    pairs = [(i, j) for i in range(len(prints)) for j in range(i + 1, len(prints))]
    candidates = [
        (i, j) for (i, j), d in zip(pairs, different, strict=True) if d <= CANDIDATE_THRESHOLD
    ]
    resemblance_diff = [resemblance(texts[i], texts[j]) for i, j in candidates]
    resemblance_same = [resemblance(t, h) for t, h in zip(texts, heavy_texts, strict=True)]
    two_stage = [
        d <= CANDIDATE_THRESHOLD and r >= RESEMBLANCE_THRESHOLD
        for d, r in zip(heavy, resemblance_same, strict=True)
    ]
    return {
        "texts": len(texts),
        "light_edit": _summary(light),
        "heavy_edit": _summary(heavy),
        "different_pairs": {**_summary(different), "pairs": len(different)},
        "threshold": DEFAULT_THRESHOLD,
        "light_recall": share(light, DEFAULT_THRESHOLD),
        "heavy_recall": share(heavy, DEFAULT_THRESHOLD),
        "false_merges": sum(v <= DEFAULT_THRESHOLD for v in different),
        "two_stage": {
            "candidate_threshold": CANDIDATE_THRESHOLD,
            "resemblance_threshold": RESEMBLANCE_THRESHOLD,
            "different_pairs_passing_candidate_stage": len(candidates),
            "resemblance_of_those_max": round(max(resemblance_diff, default=0.0), 3),
            "resemblance_heavy_edit_min": round(min(resemblance_same), 3),
            "heavy_recall": round(sum(two_stage) / len(two_stage), 4),
            "false_merges": sum(r >= RESEMBLANCE_THRESHOLD for r in resemblance_diff),
        },
    }


def main() -> None:
    import logging

    logging.disable(logging.WARNING)  # trafilatura warns per discarded page
    aeb, evals = load_aeb(), load_eval()
    report = {
        "extract_article": run_extractor(ours, aeb, evals),
        "naive_all_text": run_extractor(naive, aeb, evals),
        "fingerprint": fingerprint_separation([truth for _, _, truth in aeb]),
        "scoring": "AEB evaluate.py: \\w+ tokens, 4-gram shingle multisets, per-page normalised "
        "TP/FP/FN, macro P and R, F1 of the means; aeb_whitespace_tokens: same with 1-grams of "
        "whitespace tokens",
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
