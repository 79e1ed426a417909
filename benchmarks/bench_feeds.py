"""Feed polling throughput: 1,000 feeds on a loopback server, through the whole pipeline.

    .venv/bin/python benchmarks/bench_feeds.py [--feeds 1000] [--items 2] [--shared ../shared]

Prints one JSON object. The server (a threaded ``http.server`` on 127.0.0.1) serves ``--feeds``
RSS feeds of ``--items`` entries each; every entry links to an HTML page whose body is a real
article text (the Article Extraction Benchmark's ground truth, cycled, with a unique sentence
added so no two pages are duplicates). One ``run --once`` cycle polls every feed, fetches and
extracts every page, matches it (rules + the OFAC 2021 and UN lists), stores articles and
alerts in SQLite. A second cycle measures the steady state: every feed answers 304.

Figures: ``feeds_per_s`` and ``articles_per_s`` of the first cycle, ``not_modified_feeds_per_s``
of the second, ``peak_rss_mb``, and a naive baseline in the same run (``baseline_*``): the
obvious sequential loop (fetch a feed, parse it, fetch each page, extract, match) over the
first 50 feeds, without concurrency or conditional requests.
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import feedparser  # noqa: E402
import httpx  # noqa: E402

from bot.app import App  # noqa: E402
from bot.ingest.extract import extract_article  # noqa: E402
from bot.ingest.extractor import Extractor  # noqa: E402
from bot.ingest.http import Fetcher, FetchPolicy  # noqa: E402
from bot.lists import load_list  # noqa: E402
from bot.matching.model import Document  # noqa: E402
from bot.pipeline import Pipeline  # noqa: E402
from bot.scheduler import Scheduler  # noqa: E402
from bot.settings import Settings  # noqa: E402
from db.engine import session_scope  # noqa: E402
from db.feeds import add_feed  # noqa: E402
from db.lists import import_list  # noqa: E402

CONNECTIONS = 20
CONCURRENCY = 16


class Site:
    """Feeds and pages generated on the fly; ETags so the second cycle is all 304s."""

    def __init__(self, texts: list[str], feeds: int, items: int) -> None:
        self.texts = texts
        self.feeds = feeds
        self.items = items
        self.port = 0

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


async def pipeline_cycles(app: App, feeds: int) -> tuple[float, float, int, int]:
    # The settings' defaults (20 connections); per host too, since every feed is on one host here.
    policy = FetchPolicy(
        timeout_s=10,
        deadline_s=60,
        max_connections=CONNECTIONS,
        max_per_host=CONNECTIONS,
        allow_hosts=frozenset({"localhost"}),
    )
    extractor = Extractor(workers=os.cpu_count() or 1)  # as `run` does by default
    async with Fetcher.create(policy) as fetcher:
        scheduler = Scheduler(
            Pipeline(app, fetcher, [], extractor=extractor), concurrency=CONCURRENCY
        )
        started = time.perf_counter()
        first = await scheduler.run_once()
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        second = await scheduler.run_once()
        second_s = time.perf_counter() - started
    extractor.close()
    assert first.polled == feeds and second.not_modified == feeds, (
        first.polled,
        first.failed,
        second.not_modified,
    )
    return first_s, second_s, first.articles, first.new_alerts


def naive_baseline(app: App, port: int, feeds: int) -> tuple[float, int]:
    """Sequential: fetch, parse, fetch pages, extract, match; no concurrency, no 304s."""
    matcher = app.matcher()
    articles = 0
    started = time.perf_counter()
    with httpx.Client(timeout=10) as client:
        for number in range(feeds):
            parsed = feedparser.parse(client.get(f"http://localhost:{port}/f/{number}").content)
            for entry in parsed.entries:
                page = client.get(entry.link).content
                extracted = extract_article(page, entry.link)
                matcher.scan(Document(extracted.text, extracted.title or ""))
                articles += 1
    return time.perf_counter() - started, articles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=2)
    parser.add_argument("--baseline-feeds", type=int, default=50)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    data = args.shared / "data"
    truth = json.loads(
        (data / "articles" / "scrapinghub_aeb" / "ground-truth.json").read_text(encoding="utf-8")
    )
    site = Site([entry["articleBody"] for entry in truth.values()], args.feeds, args.items)
    # The server runs in its own process: in this one it would compete for the GIL with the
    # pipeline it is measuring.
    ready: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(site, ready), daemon=True)
    server.start()
    site.port = ready.get(timeout=30)

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{tmp}/bench.sqlite",
            rules_dir=ROOT / "rules",
            data_dir=Path(tmp),
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
                add_feed(
                    session=session, url=f"http://localhost:{site.port}/f/{number}", interval_s=600
                )
        app.matcher()
        gc.collect()
        first_s, second_s, articles, alerts = asyncio.run(pipeline_cycles(app, args.feeds))
        baseline_s, baseline_articles = naive_baseline(app, site.port, args.baseline_feeds)
    server.terminate()
    print(
        json.dumps(
            {
                "feeds": args.feeds,
                "items_per_feed": args.items,
                "articles": articles,
                "alerts": alerts,
                "first_cycle_s": round(first_s, 2),
                "feeds_per_s": round(args.feeds / first_s, 1),
                "articles_per_s": round(articles / first_s, 1),
                "not_modified_cycle_s": round(second_s, 2),
                "not_modified_feeds_per_s": round(args.feeds / second_s, 1),
                "baseline_feeds": args.baseline_feeds,
                "baseline_feeds_per_s": round(args.baseline_feeds / baseline_s, 1),
                "baseline_articles_per_s": round(baseline_articles / baseline_s, 1),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
