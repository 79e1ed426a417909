"""Matching throughput with both real lists loaded, against a naive baseline, in one run.

    .venv/bin/python benchmarks/bench_match.py [--shared ../shared] [--baseline-articles 3]

Prints one JSON object:

``articles_per_s``        steady state: the fastest of ``--passes`` further passes over every
                          article after a first one (token caches warm, as in a running bot);
                          ``articles_per_s_median`` the median pass
``articles_per_s_cold``   the first pass over never-seen articles, caches empty
``baseline_articles_per_s`` rapidfuzz ``extractOne`` of every 1-4 word window against every
                          listed name (WRatio-free plain ``ratio``, cut-off 90): what a
                          straightforward fuzzy matcher costs
``names_indexed``, ``build_s``, ``peak_rss_mb``, ``articles``, ``mean_words``

The articles are the 181 hand-checked bodies of the Article Extraction Benchmark
(``../shared/data/articles/scrapinghub_aeb/ground-truth.json``, about 730 words each). The
process is single-threaded, so the figures are for one core.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rapidfuzz import fuzz, process  # noqa: E402

from bot.lists import load_list  # noqa: E402
from bot.matching.engine import Matcher  # noqa: E402
from bot.matching.model import Document  # noqa: E402
from bot.matching.normalize import tokenize  # noqa: E402
from bot.rulefiles import load_rules  # noqa: E402


def naive_scan(text: str, names: list[str]) -> int:
    """The baseline: every window of 1-4 words fuzzily compared with every name."""
    words = [token.norm for token in tokenize(text)]
    hits = 0
    for size in range(1, 5):
        for start in range(len(words) - size + 1):
            window = " ".join(words[start : start + size])
            if process.extractOne(window, names, scorer=fuzz.ratio, score_cutoff=90) is not None:
                hits += 1
    return hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--baseline-articles", type=int, default=3)
    parser.add_argument(
        "--passes", type=int, default=5, help="warm passes; the fastest is reported"
    )
    args = parser.parse_args()
    data = args.shared / "data"
    sanctions = data / "sanctions"
    parsed = load_list(
        [
            sanctions / "ofac" / "sdn_2021-07" / "sdn.csv",
            sanctions / "un" / "UN_consolidated_2026-02-27.xml",
        ]
    )
    entities = [entity for parsed_list in parsed for entity in parsed_list.entities]
    started = time.perf_counter()
    matcher = Matcher(load_rules(ROOT / "rules"), entities)
    build_s = time.perf_counter() - started
    gc.collect()
    gc.freeze()  # as the app does: the index is long-lived, the cyclic collector need not scan it

    truth = json.loads(
        (data / "articles" / "scrapinghub_aeb" / "ground-truth.json").read_text(encoding="utf-8")
    )
    articles = [entry["articleBody"] for entry in truth.values()]
    documents = [Document(text) for text in articles]

    started = time.perf_counter()
    alerts = sum(len(matcher.scan(doc)) for doc in documents)
    cold_s = time.perf_counter() - started
    passes = []
    for _ in range(args.passes):
        started = time.perf_counter()
        for doc in documents:
            matcher.scan(doc)
        passes.append(time.perf_counter() - started)
    warm_s = min(passes)  # the least disturbed pass: a shared machine only ever adds time

    names = sorted(
        {" ".join(t.norm for t in tokenize(name.text)) for e in entities for name in e.names}
    )
    sample = articles[: args.baseline_articles]
    started = time.perf_counter()
    for text in sample:
        naive_scan(text, names)
    baseline_s = time.perf_counter() - started

    print(
        json.dumps(
            {
                "articles": len(documents),
                "mean_words": round(sum(len(t.split()) for t in articles) / len(articles), 1),
                "names_indexed": matcher.names_indexed,
                "entities": len(entities),
                "build_s": round(build_s, 2),
                "articles_per_s": round(len(documents) / warm_s, 1),
                "articles_per_s_median": round(len(documents) / statistics.median(passes), 1),
                "articles_per_s_cold": round(len(documents) / cold_s, 1),
                "baseline_articles_per_s": round(len(sample) / baseline_s, 3),
                "baseline_articles": len(sample),
                "speedup": round((len(documents) / warm_s) / (len(sample) / baseline_s), 1),
                "alerts": alerts,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
