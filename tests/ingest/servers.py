"""Real loopback HTTP servers for the ingestion tests (no mocks of httpx).

``LoopbackServer`` is a threaded ``http.server`` on 127.0.0.1 speaking HTTP/1.1. Paths map to
*scripts* (plain functions writing a response on the request handler); anything unscripted is
served from an optional directory, with the ``Header:`` lines of feedparser's test-case comments
sent as response headers, as feedparser's own suite does. The server records every request and
the peak number of requests in flight (in ``slow``), so concurrency limits are observed from the
server side.
"""

from __future__ import annotations

import gzip
import itertools
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import brotli

Script = Callable[["Handler"], None]
CHUNK = 64 * 1024
MIME = {
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".html": "text/html; charset=utf-8",
}


@dataclass
class Recorded:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]
    started: float


@dataclass
class Stats:
    """Thread-safe counters shared by all handler threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[Recorded] = field(default_factory=list)
    in_flight: int = 0
    peak_in_flight: int = 0

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Count a request as in flight while it is inside this block.

        Scripts leave the block *before* answering, so a client that sends its next request as
        soon as it has an answer can never be counted twice.
        """
        with self.lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self.lock:
                self.in_flight -= 1


class Handler(BaseHTTPRequestHandler):
    """Dispatches to the server's scripts; quiet; HTTP/1.1 so chunked and keep-alive work."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        stats = self.server.stats
        with stats.lock:
            stats.requests.append(Recorded(self.path, dict(self.headers.items()), time.monotonic()))
        try:
            script = self.server.scripts.get(self.path.split("?")[0], serve_file)
            script(self)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True

    # small helpers for scripts -------------------------------------------------------------
    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        """A complete response with Content-Length."""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and status != 304:
            self.wfile.write(body)

    def released(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True if the server is stopping (scripts should return)."""
        return self.server.stopping.wait(seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root: Path | None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.root = root
        self.scripts: dict[str, Script] = {}
        self.stats = Stats()
        self.stopping = threading.Event()

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hanging up mid-response is what several tests do on purpose: stay quiet."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, OSError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class LoopbackServer:
    """A running server; use as a context manager. ``url(path)`` builds URLs for it."""

    def __init__(self, root: Path | None = None) -> None:
        self._server = _Server(root)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/", *, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def route(self, path: str, script: Script) -> str:
        """Register ``script`` for ``path``; returns the 127.0.0.1 URL of it."""
        self._server.scripts[path] = script
        return self.url(path)

    @property
    def stats(self) -> Stats:
        return self._server.stats

    def requests_to(self, path: str) -> list[Recorded]:
        with self.stats.lock:
            return [r for r in self.stats.requests if r.path.split("?")[0] == path]


@contextmanager
def serve(root: Path | None = None) -> Iterator[LoopbackServer]:
    with LoopbackServer(root) as server:
        yield server


# ---- file serving ------------------------------------------------------------------------------
_HEADER_LINE = re.compile(r"^Header:\s*([\w-]+)\s*:\s*(.*?)\s*$", re.MULTILINE)


def case_headers(data: bytes) -> dict[str, str]:
    """``Header: Name: value`` lines from a feedparser test case's leading comment."""
    head = data[:4096]
    codecs = ("utf-32", "utf-16") if b"\x00" in head[:64] else ("latin-1",)
    for codec in codecs:
        try:
            text = head.decode(codec)
        except UnicodeDecodeError:
            continue
        if "Header:" in text:
            return dict(_HEADER_LINE.findall(text))
    return {}


def serve_file(handler: Handler) -> None:
    """Serve ``root/<path>``; headers from the case comment, else a type by extension."""
    root = handler.server.root
    relative = handler.path.split("?")[0].lstrip("/")
    path = (root / relative).resolve() if root else None
    if path is None or root is None or not path.is_file() or root.resolve() not in path.parents:
        handler.send(404, b"not found", {"Content-Type": "text/plain"})
        return
    data = path.read_bytes()
    headers = case_headers(data) if "feedparser_cases" in str(path) else {}
    if not headers and path.suffix in MIME:
        headers = {"Content-Type": MIME[path.suffix]}
    handler.send(200, data, headers)


# ---- scripts -------------------------------------------------------------------------------------
def static(body: bytes, headers: dict[str, str] | None = None, status: int = 200) -> Script:
    return lambda h: h.send(status, body, headers)


def redirect(location: str, status: int = 302) -> Script:
    return lambda h: h.send(status, b"", {"Location": location})


def with_etag(body: bytes, etag: str, last_modified: str | None = None) -> Script:
    """200 with validators, or 304 when the request carries the same ETag."""
    last_modified = last_modified or formatdate(0, usegmt=True)

    def script(h: Handler) -> None:
        validators = {"ETag": etag, "Last-Modified": last_modified}
        if h.headers.get("If-None-Match") == etag:
            h.send(304, b"", validators)
        else:
            h.send(200, body, {"Content-Type": "application/rss+xml", **validators})

    return script


def sequence(responses: Iterable[tuple[int, dict[str, str], bytes]]) -> Script:
    """Answer the n-th request with the n-th response; the last one repeats."""
    items = list(responses)
    counter = itertools.count()
    lock = threading.Lock()

    def script(h: Handler) -> None:
        with lock:
            index = min(next(counter), len(items) - 1)
        status, headers, body = items[index]
        h.send(status, body, headers)

    return script


def gzipped(body: bytes) -> Script:
    return static(gzip.compress(body), {"Content-Encoding": "gzip", "Content-Type": "text/html"})


def brotli_bomb(size: int) -> Script:
    """A tiny brotli body that expands to ``size`` bytes (decompression-bomb check)."""
    payload = brotli.compress(b"\0" * size, quality=5)
    return static(payload, {"Content-Encoding": "br", "Content-Type": "text/html"})


def gzip_bomb(size: int) -> Script:
    payload = gzip.compress(b"\0" * size, compresslevel=9)
    return static(payload, {"Content-Encoding": "gzip", "Content-Type": "text/html"})


def big_body(size: int) -> Script:
    """``size`` bytes with a Content-Length, written in 64 KB chunks until the client leaves."""

    def script(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/xml")
        h.send_header("Content-Length", str(size))
        h.end_headers()
        block = b"<item>x</item>\n" * (CHUNK // 15)
        sent = 0
        while sent < size and not h.server.stopping.is_set():
            piece = block[: size - sent]
            h.wfile.write(piece)
            sent += len(piece)

    return script


def endless_chunked() -> Script:
    """A chunked body that never ends (until the client disconnects or the server stops)."""

    def script(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        chunk = b"<item><title>spam</title></item>\n" * 2000
        frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        while not h.server.stopping.is_set():
            h.wfile.write(frame)

    return script


def trickle(interval: float = 0.2) -> Script:
    """Headers at once, then one body byte every ``interval`` seconds, forever."""

    def script(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Content-Length", "1000000")
        h.end_headers()
        while not h.released(interval):
            h.wfile.write(b"<")
            h.wfile.flush()

    return script


def never_answer() -> Script:
    """Accept the request and say nothing until the server stops."""

    def script(h: Handler) -> None:
        h.released(120)
        h.close_connection = True

    return script


def slow(body: bytes, delay: float) -> Script:
    """Hold each request ``delay`` seconds before answering (to observe concurrency)."""

    def script(h: Handler) -> None:
        with h.server.stats.busy():
            h.released(delay)
        h.send(200, body, {"Content-Type": "application/rss+xml"})

    return script
