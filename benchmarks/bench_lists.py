"""Every real list loaded together: parse, import, load, index build, memory and scan throughput.

    .venv/bin/python benchmarks/bench_lists.py [--shared ../shared] [--passes 3]

Loads all the real lists of ``../shared/data/sanctions`` at once (the OFAC 2021 SDN set, the OFAC
consolidated non-SDN set, the UN Consolidated List XML, and the two OpenSanctions FtM files,
which ``load_list`` applies in order as one ``opensanctions`` list) and follows them through the
code path a running bot takes. Prints one JSON object:

``parse_s``               ``bot.lists.load_list`` over every list file and folder
``by_source``             ``{source: {entities, names}}`` as parsed
``entities``, ``names``   the totals over every source
``import_s``              ``open_database`` on a fresh SQLite file in a temporary folder (schema
                          migrations included), then one ``session_scope`` and ``import_list``
                          per parsed list
``load_s``                ``db.lists.load_entities``: what a running bot does when lists change
``index_s``               ``Matcher(load_rules(ROOT / "rules"), entities)`` on the loaded entities;
                          ``names_indexed`` the names it indexed
``peak_rss_mb``           the process's peak RSS up to and including the index build and the
                          scan passes (``getrusage``; parsed lists, database rows and index
                          were alive together during the import)
``rss_after_index_mb``    the RSS right after the index build (``/proc/self/statm``)
``articles_per_s``        steady state with every list: the fastest of ``--passes`` passes over
                          every article after one warm-up pass (token caches warm);
                          ``alerts`` the alerts of the warm-up pass
``baseline_articles_per_s`` the same, with a matcher built in this run from the OFAC SDN set and
                          the UN list only (the ``bench_match.py`` configuration; the same
                          loaded entities, filtered by source); ``baseline_names_indexed``,
                          ``baseline_index_s``, ``baseline_alerts`` likewise
``slowdown``              ``baseline_articles_per_s / articles_per_s``: the scanning cost of the
                          extra lists

The articles are the 181 hand-checked bodies of the Article Extraction Benchmark
(``../shared/data/articles/scrapinghub_aeb/ground-truth.json``). The process is single-threaded,
so the figures are for one core.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.lists import load_list  # noqa: E402
from bot.matching.engine import Matcher  # noqa: E402
from bot.matching.model import Document, Entity  # noqa: E402
from bot.rulefiles import load_rules  # noqa: E402
from db.engine import open_database, session_scope  # noqa: E402
from db.lists import import_list, load_entities  # noqa: E402

BASELINE_SOURCES = ("ofac-sdn", "un")


def list_paths(sanctions: Path) -> list[Path]:
    return [
        sanctions / "ofac" / "sdn_2021-07",
        sanctions / "ofac" / "cons_non_sdn_2025-12",
        sanctions / "un" / "UN_consolidated_2026-02-27.xml",
        sanctions / "opensanctions" / "yente_t1_entities.ftm.json",
        sanctions / "opensanctions" / "yente_entities.delta_2024-07.json",
    ]


def rss_mb() -> float:
    """The current resident set size, from ``/proc/self/statm`` (second field, in pages)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def throughput(matcher: Matcher, documents: list[Document], passes: int) -> tuple[float, int]:
    """Articles per second, the fastest of ``passes`` after one warm-up pass; and its alerts."""
    alerts = sum(len(matcher.scan(doc)) for doc in documents)  # warm-up: token caches
    timings = []
    for _ in range(passes):
        started = time.perf_counter()
        for doc in documents:
            matcher.scan(doc)
        timings.append(time.perf_counter() - started)
    return len(documents) / min(timings), alerts  # a shared machine only ever adds time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument(
        "--passes", type=int, default=3, help="warm passes; the fastest is reported"
    )
    args = parser.parse_args()
    data = args.shared / "data"

    started = time.perf_counter()
    parsed = load_list(list_paths(data / "sanctions"))
    parse_s = time.perf_counter() - started
    by_source = {
        p.source: {"entities": len(p.entities), "names": sum(len(e.names) for e in p.entities)}
        for p in parsed
    }
    warnings = {p.source: len(p.warnings) for p in parsed if p.warnings}

    with tempfile.TemporaryDirectory(prefix="bench-lists-") as temp:
        started = time.perf_counter()
        engine = open_database(f"sqlite:///{Path(temp) / 'lists.sqlite'}")
        try:
            for parsed_list in parsed:
                with session_scope(engine) as session:
                    import_list(session=session, parsed=parsed_list)
            import_s = time.perf_counter() - started
            del parsed, parsed_list
            gc.collect()
            started = time.perf_counter()
            with session_scope(engine) as session:
                entities: list[Entity] = load_entities(session=session)
            load_s = time.perf_counter() - started
        finally:
            engine.dispose()

    rules = load_rules(ROOT / "rules")
    started = time.perf_counter()
    matcher = Matcher(rules, entities)
    index_s = time.perf_counter() - started
    rss_after_index = rss_mb()
    gc.collect()
    gc.freeze()  # as the app does: the index is long-lived, the cyclic collector need not scan it

    truth = json.loads(
        (data / "articles" / "scrapinghub_aeb" / "ground-truth.json").read_text(encoding="utf-8")
    )
    documents = [Document(entry["articleBody"]) for entry in truth.values()]
    articles_per_s, alerts = throughput(matcher, documents, args.passes)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    names_indexed = matcher.names_indexed
    del matcher
    gc.unfreeze()
    gc.collect()

    started = time.perf_counter()
    baseline = Matcher(rules, [e for e in entities if e.source in BASELINE_SOURCES])
    baseline_index_s = time.perf_counter() - started
    gc.collect()
    gc.freeze()
    baseline_per_s, baseline_alerts = throughput(baseline, documents, args.passes)

    print(
        json.dumps(
            {
                "articles": len(documents),
                "passes": args.passes,
                "parse_s": round(parse_s, 2),
                "by_source": by_source,
                "entities": len(entities),
                "names": sum(len(e.names) for e in entities),
                "parse_warnings": warnings,
                "import_s": round(import_s, 2),
                "load_s": round(load_s, 2),
                "index_s": round(index_s, 2),
                "names_indexed": names_indexed,
                "peak_rss_mb": round(peak_rss, 1),
                "rss_after_index_mb": round(rss_after_index, 1),
                "articles_per_s": round(articles_per_s, 1),
                "alerts": alerts,
                "baseline_articles_per_s": round(baseline_per_s, 1),
                "baseline_index_s": round(baseline_index_s, 2),
                "baseline_names_indexed": baseline.names_indexed,
                "baseline_alerts": baseline_alerts,
                "slowdown": round(baseline_per_s / articles_per_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
