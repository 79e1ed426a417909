"""Feed polling throughput: 1,000 feeds on a loopback server, through the whole pipeline.

    .venv/bin/python benchmarks/bench_feeds.py [--feeds 1000] [--items 2] [--baseline-feeds 100]
        [--per-host 20] [--latency-ms 0] [--profile] [--shared ../shared]

Prints one JSON object. The server (a threaded ``http.server`` on 127.0.0.1, in its own
process) serves ``--feeds`` RSS feeds of ``--items`` entries each; every entry links to an HTML
page whose body is a real article text (the Article Extraction Benchmark's ground truth,
cycled, with a unique sentence added so no two pages are duplicates). One ``run --once``
cycle polls every feed, fetches and extracts every page, matches it (rules + the OFAC 2021 and
UN lists), stores articles, stories and alerts in SQLite. A second cycle measures the steady
state: every feed answers 304.

The naive baseline runs in the same process and the same database, before and after the
pipeline's cycle (``baseline_before``, ``baseline_after``; the ratio is taken against the
faster of the two): the obvious sequential loop over ``--baseline-feeds`` other feeds of the
same site, doing the same work per article: fetch the feed, parse it, fetch each page, extract
it with the same options, match it, and store it with the same scan service (one transaction
per article, its feed entry marked handled), without concurrency or conditional requests.

Both start warm, so neither pays a one-time cost inside its timing: the extraction processes
are started and have read a page each, and this process has extracted and matched a few pages
(pages of neither measured set). CPU time is reported per article for every process that
worked: this one, the extraction processes and the loopback server.

``--per-host`` is the fetcher's per-host connection limit: every feed here is on one host, so
the politeness limit of real use (``MAX_CONNECTIONS_PER_HOST``, 2 by default) would measure the
limit, not the pipeline; the figure used is printed. ``--latency-ms`` makes the server wait
that long before each response (a distant server); 0 by default. ``--profile`` adds the stage
table of ``cycleprofile`` for the first cycle (wrappers and a loop watcher cost a little: use
runs without it for the headline figures).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import html
import json
import logging
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import feedparser  # noqa: E402
import httpx  # noqa: E402
from sqlmodel import select  # noqa: E402

from benchmarks import cycleprofile  # noqa: E402
from bot.app import App  # noqa: E402
from bot.ingest.extract import extract_article  # noqa: E402
from bot.ingest.extractor import EXTENSIVE_DATES, Extractor  # noqa: E402
from bot.ingest.http import Fetcher, FetchPolicy  # noqa: E402
from bot.lists import load_list  # noqa: E402
from bot.pipeline import ArticleInput, Pipeline  # noqa: E402
from bot.scheduler import Scheduler  # noqa: E402
from bot.services.scan import ArticleText, FeedEntry, Scans, match_text  # noqa: E402
from bot.settings import Settings  # noqa: E402
from db.engine import session_scope  # noqa: E402
from db.feeds import add_feed  # noqa: E402
from db.lists import import_list  # noqa: E402
from db.models import Feed  # noqa: E402

CONNECTIONS = 20
CONCURRENCY = 16
# What the pipeline asks of the extractor; the naive loop asks the same.
EXTRACT_OPTIONS: dict[str, Any] = {"extensive_dates": EXTENSIVE_DATES}


class Site:
    """Feeds and pages generated on the fly; ETags so the second cycle is all 304s."""

    def __init__(self, texts: list[str], items: int, latency_s: float = 0.0) -> None:
        self.texts = texts
        self.items = items
        self.latency_s = latency_s
        self.port = 0

    def feed_url(self, number: int) -> str:
        return f"http://localhost:{self.port}/f/{number}"

    def feed(self, number: int) -> bytes:
        entries = "".join(
            f"<item><title>Story {number}-{i}</title><link>http://localhost:{self.port}/p/{number}/{i}.html</link>"
            f"<guid>s{number}-{i}</guid><description>Story {number}-{i}</description></item>"
            for i in range(self.items)
        )
        return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {number}</title>{entries}</channel></rss>'.encode()

    def page(self, number: int, item: int) -> bytes:
        text = self.texts[(number * self.items + item) % len(self.texts)]
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n") if p.strip())
        unique = f"<p>This copy was filed as story number {number}-{item} for the benchmark.</p>"
        return (
            f"<html><head><title>Story {number}-{item}</title></head><body><nav>Home | World</nav>"
            f"<article><h1>Story {number}-{item}</h1>{paragraphs}{unique}</article><footer>Subscribe</footer></body></html>"
        ).encode()


def handler_for(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out separately: no 40 ms stalls

        def log_message(self, *args: object) -> None:
            return

        def do_GET(self) -> None:
            if site.latency_s:
                time.sleep(site.latency_s)
            parts = self.path.strip("/").split("/")
            if parts[0] == "f":
                etag = f'"f{parts[1]}"'
                if self.headers.get("If-None-Match") == etag:
                    return self._send(304, b"", {"ETag": etag})
                return self._send(
                    200,
                    site.feed(int(parts[1])),
                    {"Content-Type": "application/rss+xml", "ETag": etag},
                )
            if parts[0] == "p":
                return self._send(
                    200,
                    site.page(int(parts[1]), int(parts[2].split(".")[0])),
                    {"Content-Type": "text/html; charset=utf-8"},
                )
            self._send(404, b"")

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the default backlog (5) drops SYNs under load: 1 s retransmits

    def handle_error(self, request: object, client_address: object) -> None:
        return  # clients hanging up at the end of a run are not news


def serve(site: Site, ready: multiprocessing.Queue[int]) -> None:
    server = QuietServer(("127.0.0.1", 0), handler_for(site))
    server.daemon_threads = True
    site.port = server.server_address[1]
    ready.put(site.port)
    server.serve_forever()


@dataclass
class Clock:
    """Wall time, and CPU seconds of this process and of others (by pid), over a section."""

    others: list[int]
    wall: float = field(default_factory=time.perf_counter)
    cpu: float = field(default_factory=time.process_time)
    other_cpu: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.other_cpu = {pid: cycleprofile.process_cpu_s(pid) for pid in self.others}

    def read(self) -> tuple[float, float, dict[int, float]]:
        return (
            time.perf_counter() - self.wall,
            time.process_time() - self.cpu,
            {pid: cycleprofile.process_cpu_s(pid) - cpu for pid, cpu in self.other_cpu.items()},
        )


def _per_article(seconds: float, articles: int) -> float:
    return round(seconds / max(articles, 1) * 1000, 2)


def naive_loop(
    app: App, site: Site, feeds: list[tuple[int, int]], server_pid: int
) -> dict[str, Any]:
    """Sequential: fetch, parse, fetch pages, extract, match, store; no concurrency, no 304s."""
    matcher = app.matcher()
    scans = Scans(app)  # one scan service (one story index), as a loop written once would have
    stages: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    articles = 0

    def timed(stage: str, wall: float, cpu: float) -> None:
        stages[stage][0] += time.perf_counter() - wall
        stages[stage][1] += time.thread_time() - cpu

    clock = Clock([server_pid])
    with httpx.Client(timeout=10) as client:
        for number, feed_id in feeds:
            wall, cpu = time.perf_counter(), time.thread_time()
            content = client.get(site.feed_url(number)).content
            timed("HTTP fetch", wall, cpu)
            wall, cpu = time.perf_counter(), time.thread_time()
            parsed = feedparser.parse(content)
            timed("feed parsing", wall, cpu)
            for entry in parsed.entries:
                wall, cpu = time.perf_counter(), time.thread_time()
                page = client.get(entry.link).content
                timed("HTTP fetch", wall, cpu)
                wall, cpu = time.perf_counter(), time.thread_time()
                extracted = extract_article(page, entry.link, **EXTRACT_OPTIONS)
                timed("extraction", wall, cpu)
                item = ArticleText(
                    entry.link,
                    extracted.text,
                    extracted.title or entry.title,
                    entry.link,
                    parsed.feed.get("title", ""),
                    entry.title,
                    FeedEntry(feed_id, entry.id),
                )
                wall, cpu = time.perf_counter(), time.thread_time()
                matched = match_text(matcher, item)
                timed("matching", wall, cpu)
                wall, cpu = time.perf_counter(), time.thread_time()
                scans.store([matched])
                timed("storing (one transaction)", wall, cpu)
                articles += 1
    seconds, cpu_s, others = clock.read()
    return {
        "feeds": len(feeds),
        "articles": articles,
        "seconds": round(seconds, 2),
        "feeds_per_s": round(len(feeds) / seconds, 1),
        "articles_per_s": round(articles / seconds, 1),
        "cpu_ms_per_article": {
            "main": _per_article(cpu_s, articles),
            "server": _per_article(others[server_pid], articles),
            "total": _per_article(cpu_s + others[server_pid], articles),
        },
        "stages_ms_per_article": {
            stage: {"wall": _per_article(w, articles), "cpu": _per_article(c, articles)}
            for stage, (w, c) in stages.items()
        },
    }


def worker_pids(extractor: Extractor) -> list[int]:
    """The extraction processes (older code had no ``worker_pids``: the executor's table)."""
    if hasattr(extractor, "worker_pids"):
        return list(extractor.worker_pids())
    return list(getattr(getattr(extractor, "_pool", None), "_processes", {}) or {})


def warm_pages(site: Site, first: int) -> list[bytes]:
    """Pages of every text once (their numbers are in neither measured set): a first call
    that loads something (trafilatura's date search loads dateparser on some pages, for
    seconds) happens here, not in a timed run."""
    count = -(-len(site.texts) // site.items)
    return [site.page(first + n, item) for n in range(count) for item in range(site.items)]


async def warm_up(pipeline: Pipeline, extractor: Extractor, site: Site, first: int) -> None:
    """Start the extraction processes and have them extract every warm-up page, then read a
    few through the pipeline (stored, not counted)."""
    pages = warm_pages(site, first)
    await asyncio.gather(*(extractor.extract(page) for page in pages * max(extractor.workers, 1)))
    inputs = [
        ArticleInput(
            f"warm-up {n}",
            "",
            f"Warm-up {n}",
            f"http://localhost:{site.port}/warm/{n}",
            "warm-up",
            page,
        )
        for n, page in enumerate(pages[: 2 * max(extractor.workers, 1)])
    ]
    await asyncio.gather(*(pipeline.ingest(page) for page in inputs))


async def pipeline_cycles(
    app: App, site: Site, args: argparse.Namespace, server_pid: int
) -> dict[str, Any]:
    policy = FetchPolicy(
        timeout_s=10,
        deadline_s=60,
        max_connections=CONNECTIONS,
        max_per_host=args.per_host,
        allow_hosts=frozenset({"localhost"}),
    )
    extractor = Extractor(workers=os.cpu_count() or 1)  # as `run` does by default
    profile = cycleprofile.Profile()
    try:
        async with Fetcher.create(policy) as fetcher:
            pipeline = Pipeline(app, fetcher, [], extractor=extractor)
            scheduler = Scheduler(pipeline, concurrency=CONCURRENCY)
            await warm_up(pipeline, extractor, site, args.feeds + 3 * args.baseline_feeds)
            workers = worker_pids(extractor)
            stop = asyncio.Event()
            watcher = asyncio.create_task(cycleprofile.watch_loop(profile, stop))
            clock = Clock([*workers, server_pid])
            if args.profile:
                with cycleprofile.stage_timers(profile):
                    first = await scheduler.run_once()
            else:
                first = await scheduler.run_once()
            first_s, cpu_s, others = clock.read()
            stop.set()
            await watcher
            started = time.perf_counter()
            second = await scheduler.run_once()
            second_s = time.perf_counter() - started
            worker_rss = [cycleprofile.process_rss_mb(pid) for pid in workers]
    finally:
        extractor.close()
    assert first.polled == args.feeds and second.not_modified == args.feeds, (
        first.polled,
        first.failed,
        second.not_modified,
    )
    articles = first.articles
    workers_cpu = sum(others[pid] for pid in workers)
    result: dict[str, Any] = {
        "articles": articles,
        "alerts": first.new_alerts,
        "first_cycle_s": round(first_s, 2),
        "feeds_per_s": round(args.feeds / first_s, 1),
        "articles_per_s": round(articles / first_s, 1),
        "cpu_ms_per_article": {
            "main": _per_article(cpu_s, articles),
            "extraction_workers": _per_article(workers_cpu, articles),
            "server": _per_article(others[server_pid], articles),
            "total": _per_article(cpu_s + workers_cpu + others[server_pid], articles),
        },
        "event_loop_stalls": {
            "count": profile.stalls,
            "total_s": round(profile.stall_s, 2),
            "longest_ms": round(profile.longest_stall_s * 1000, 1),
        },
        "not_modified_cycle_s": round(second_s, 2),
        "not_modified_feeds_per_s": round(args.feeds / second_s, 1),
        "worker_peak_rss_mb": [round(rss, 1) for rss in worker_rss],
    }
    if args.profile:
        result["profile"] = profile.table(articles)
    return result


def naive_feeds(app: App, site: Site, numbers: range) -> list[tuple[int, int]]:
    """The baseline's feeds: registered (their entries are marked like the pipeline's) but
    disabled, so the pipeline's cycle never polls them."""
    with session_scope(app.engine) as session:
        feeds = []
        for number in numbers:
            feed = add_feed(session=session, url=site.feed_url(number), interval_s=600)
            feed.enabled = False
            session.add(feed)
            assert feed.id is not None
            feeds.append((number, feed.id))
    return feeds


def warm_this_process(app: App, site: Site, first: int) -> None:
    """Extraction of every warm-up page and matching here before the naive loop is timed."""
    matcher = app.matcher()
    for n, page in enumerate(warm_pages(site, first)):
        extracted = extract_article(page, None, **EXTRACT_OPTIONS)
        if n < 4:
            match_text(matcher, ArticleText(f"warm-up {n}", extracted.text, extracted.title or ""))


def prepare(args: argparse.Namespace, tmp: str, site: Site) -> App:
    data = args.shared / "data"
    settings = Settings(
        database_url=f"sqlite:///{tmp}/bench.sqlite", rules_dir=ROOT / "rules", data_dir=Path(tmp)
    )
    app = App.open(settings)
    sanctions = data / "sanctions"
    with session_scope(app.engine) as session:
        for parsed in load_list(
            [
                sanctions / "ofac" / "sdn_2021-07" / "sdn.csv",
                sanctions / "un" / "UN_consolidated_2026-02-27.xml",
            ]
        ):
            import_list(session=session, parsed=parsed)
        for number in range(args.feeds):
            add_feed(session=session, url=site.feed_url(number), interval_s=600)
        enabled = session.exec(select(Feed).where(Feed.enabled)).all()
        assert len(enabled) == args.feeds
    app.matcher()
    gc.collect()
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=2)
    parser.add_argument("--baseline-feeds", type=int, default=100)
    parser.add_argument("--per-host", type=int, default=CONNECTIONS)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    truth = json.loads(
        (args.shared / "data" / "articles" / "scrapinghub_aeb" / "ground-truth.json").read_text(
            encoding="utf-8"
        )
    )
    site = Site(
        [entry["articleBody"] for entry in truth.values()], args.items, args.latency_ms / 1000
    )
    # The server runs in its own process: in this one it would compete for the GIL with the
    # pipeline it is measuring.
    ready: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(site, ready), daemon=True)
    server.start()
    site.port = ready.get(timeout=30)
    assert server.pid is not None
    base = args.baseline_feeds
    with tempfile.TemporaryDirectory() as tmp:
        app = prepare(args, tmp, site)
        before = naive_feeds(app, site, range(args.feeds, args.feeds + base))
        after = naive_feeds(app, site, range(args.feeds + base, args.feeds + 2 * base))
        warm_this_process(app, site, args.feeds + 2 * base)
        baseline_before = naive_loop(app, site, before, server.pid)
        cycles = asyncio.run(pipeline_cycles(app, site, args, server.pid))
        baseline_after = naive_loop(app, site, after, server.pid)
    server.terminate()
    naive_best = max(baseline_before["articles_per_s"], baseline_after["articles_per_s"])
    print(
        json.dumps(
            {
                "feeds": args.feeds,
                "items_per_feed": args.items,
                "cpus": os.cpu_count(),
                "load_average_1m": round(os.getloadavg()[0], 2),
                "per_host_limit": args.per_host,
                "connections": CONNECTIONS,
                "feed_concurrency": CONCURRENCY,
                "latency_ms": args.latency_ms,
                **cycles,
                "ratio_vs_naive": round(cycles["articles_per_s"] / naive_best, 2),
                "baseline_before": baseline_before,
                "baseline_after": baseline_after,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
