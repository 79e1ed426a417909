"""End-to-end ``scan`` of 900 text files, storing included, batched writes against the per-file loop.

    .venv/bin/python benchmarks/bench_scan.py [--shared ../shared] [--files 900] [--batch-size 100]

Builds ``--files`` plain-text files in a temporary folder from real article texts (the 229 news
texts of ``../shared/data/news/articles.jsonl``, title line first, and the 181 bodies of the
Article Extraction Benchmark, cycled; a repeated text gets one closing line naming its copy so
that every file is a distinct article, the write-heavy case; the copies retell their story, so
they join it: 900 articles, one story per distinct text, alerts keyed by story with every copy
a source), imports the OFAC 2021 SDN set and the UN list into a fresh SQLite database, and then
times, each in its own process and on its own copy of that database:

* ``sanctions-bot scan FILE... --format json --batch-size N``: batched writes, matching on every
  core, the matcher read from the cache a warm-up run filled (``batched``);
* the same building the matcher (``MATCHER_CACHE=false``: ``batched_no_cache``);
* the way ``scan`` ran before: ``--batch-size 1`` (one transaction per file), ``--jobs 1``, no
  matcher cache (``per_file``, the baseline);
* ``--no-store``: matching and printing only, the ceiling for any way of storing.

Prints one JSON object; for each run (``batched``, ``batched_no_cache``, ``per_file``, ``no_store``):

``articles_per_s``            files / (whole command: start-up, matcher build, scan, store)
``articles_per_s_scanning``   files / (time after the matcher was built), the one-off start-up and
                              index build left out (its end is the ``matcher built`` log line)
``seconds``, ``build_s``      the whole command; start-up and matcher build (or cache read)
``stored``                    articles, stories, alerts and alert sources left in the database
``store_s``                   seconds spent storing: the run's time minus the ``no_store`` run's

With ``--repeat N`` each configuration runs N times, interleaved; the fastest run is reported and
``all_seconds`` lists them all. ``same_store``: whether the batched and per-file runs stored the
same articles (and their stories), alerts (and their keys) and sources.

``scan`` stores through the scan service every door uses (``bot.services.scan``): articles are
grouped into stories as the feed pipeline groups them (the story fingerprint is taken in the
matching processes; the candidate stories of a whole batch are read with one query and its new
stories inserted with one statement).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bot.lists import load_list  # noqa: E402
from db.engine import make_engine, open_database, session_scope  # noqa: E402
from db.lists import import_list  # noqa: E402
from db.models import Alert, AlertSource, Article, Story  # noqa: E402

CLI = ROOT / ".venv" / "bin" / "sanctions-bot"
_BUILT = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO bot\.app: matcher (?:built|read from the cache)",
    re.MULTILINE,
)


def real_texts(data: Path) -> list[str]:
    """The news texts (title line, blank line, body) and the extraction benchmark's bodies."""
    texts = []
    for line in (data / "news" / "articles.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        texts.append(f"{record['title']}\n\n{record['text']}\n")
    truth = json.loads(
        (data / "articles" / "scrapinghub_aeb" / "ground-truth.json").read_text(encoding="utf-8")
    )
    texts.extend(
        entry["articleBody"] + "\n"
        for entry in truth.values()
        if entry.get("articleBody", "").strip()
    )
    return texts


def write_files(texts: list[str], count: int, folder: Path) -> list[Path]:
    paths = []
    for number in range(count):
        copy, index = divmod(number, len(texts))
        text = texts[index] if copy == 0 else f"{texts[index]}\n(Republished: copy {copy + 1}.)\n"
        path = folder / f"{number:04d}.txt"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def make_database(path: Path, sanctions: Path) -> None:
    parsed_lists = load_list(
        [
            sanctions / "ofac" / "sdn_2021-07" / "sdn.csv",
            sanctions / "un" / "UN_consolidated_2026-02-27.xml",
        ]
    )
    engine = open_database(f"sqlite:///{path}")
    try:
        for parsed in parsed_lists:
            with session_scope(engine) as session:
                import_list(session=session, parsed=parsed)
    finally:
        engine.dispose()


def stored(path: Path) -> dict[str, object]:
    """What a run left: articles by source (with their story), alerts by (source, rule, regime,
    key), the number of stories and of sources (runs store in the same order: the same ids)."""
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            articles = connection.execute(
                select(Article.source, Article.content_hash, Article.title, Article.story_id)
            ).all()
            alerts = connection.execute(
                select(
                    Article.source,
                    Alert.rule_id,
                    Alert.regime,
                    Alert.severity,
                    Alert.dedup_key,
                ).join(Alert, Alert.article_id == Article.id)  # type: ignore[union-attr]  # type: ignore[arg-type]
            ).all()
            stories = connection.execute(select(func.count(Story.id))).scalar_one()
            sources = connection.execute(select(func.count(AlertSource.id))).scalar_one()
        return {
            "articles": sorted(map(tuple, articles)),
            "alerts": sorted(map(tuple, alerts)),
            "stories": stories,
            "sources": sources,
        }
    finally:
        engine.dispose()


def time_scan(
    files: list[Path],
    database: Path,
    batch_size: int | None,
    cwd: Path,
    *,
    old: bool = False,
    cache: bool = True,
) -> dict[str, object]:
    """One ``scan`` of every file in its own process; ``batch_size`` None: ``--no-store``.

    ``old``: the way ``scan`` ran before (one process, no matcher cache); ``cache``: whether
    the matcher may come from ``DATA_DIR/cache`` (filled by a warm-up run before the timed ones).
    """
    # One hash seed for every run, so that runs print the same JSON (an alert's terms come in
    # set iteration order) and their stored results can be compared.
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "LOG_LEVEL": "INFO",
        "PYTHONHASHSEED": "0",
        "DATA_DIR": str(cwd / "data"),
        "MATCHER_CACHE": "true" if cache and not old else "false",
    }
    store = ["--no-store"] if batch_size is None else ["--batch-size", str(batch_size)]
    argv = [
        str(CLI),
        "scan",
        *map(str, files),
        "--format",
        "json",
        *store,
        *(["--jobs", "1"] if old else []),
    ]
    started_wall = time.time()
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 3):
        raise SystemExit(f"scan failed ({done.returncode}): {done.stderr[-2000:]}")
    results = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(results) == len(files), (len(results), len(files))
    built = _BUILT.search(done.stderr)
    build_s = (
        datetime.strptime(built.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp() - started_wall
        if built
        else None
    )
    figures: dict[str, object] = {
        "batch_size": batch_size,
        "seconds": round(seconds, 2),
        "build_s": round(build_s, 2) if build_s is not None else None,
        "articles_per_s": round(len(files) / seconds, 1),
        "articles_per_s_scanning": round(len(files) / (seconds - build_s), 1)
        if build_s is not None
        else None,
    }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--files", type=int, default=900)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--skip-baseline", action="store_true", help="time the batched run only")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each configuration; the fastest is reported"
    )
    args = parser.parse_args()
    data = args.shared / "data"
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as temp:
        folder = Path(temp)
        (folder / "texts").mkdir()
        files = write_files(real_texts(data), args.files, folder / "texts")
        template = folder / "lists.sqlite"
        started = time.perf_counter()
        make_database(template, data / "sanctions")
        import_s = time.perf_counter() - started
        report: dict[str, object] = {
            "files": len(files),
            "lists_import_s": round(import_s, 1),
            "cpus": os.cpu_count(),
        }
        report["load_average_before"] = [round(value, 2) for value in os.getloadavg()]
        runs: dict[str, tuple[int | None, dict[str, bool]]] = {
            "batched": (args.batch_size, {}),
            **({} if args.skip_baseline else {"per_file": (1, {"old": True})}),
            "batched_no_cache": (args.batch_size, {"cache": False}),
            "no_store": (None, {}),
        }
        timings: dict[str, list[dict[str, object]]] = {name: [] for name in runs}
        stores = {}
        warm = folder / "warm.sqlite"
        shutil.copy(template, warm)
        time_scan(
            files[:1], warm, None, folder
        )  # fills the matcher cache, as any earlier command would
        for _ in range(
            args.repeat
        ):  # interleaved, so a burst of load hits every configuration alike
            for name, (batch_size, how) in runs.items():
                database = folder / f"{name}.sqlite"
                shutil.copy(template, database)
                timings[name].append(time_scan(files, database, batch_size, folder, **how))
                if batch_size is not None:
                    stores[name] = stored(database)
        for name, runs_of in timings.items():
            best = min(runs_of, key=lambda figures: figures["seconds"])  # type: ignore[arg-type, return-value]
            report[name] = {**best, "all_seconds": [figures["seconds"] for figures in runs_of]}
        scanning_only = report["no_store"]["seconds"] - report["no_store"]["build_s"]  # type: ignore[index, operator]
        for name, counts in stores.items():
            report[name]["store_s"] = round(
                report[name]["seconds"] - report[name]["build_s"] - scanning_only, 2
            )  # type: ignore[index, operator]
            report[name]["stored"] = {  # type: ignore[index]
                "articles": len(counts["articles"]),  # type: ignore[arg-type]
                "stories": counts["stories"],
                "alerts": len(counts["alerts"]),  # type: ignore[arg-type]
                "sources": counts["sources"],
            }
        if "per_file" in stores:
            report["same_store"] = (
                stores["batched"] == stores["per_file"] == stores["batched_no_cache"]
            )
            report["speed_up"] = round(
                report["per_file"]["seconds"] / report["batched"]["seconds"], 2
            )  # type: ignore[index]
        report["load_average_after"] = [round(value, 2) for value in os.getloadavg()]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
