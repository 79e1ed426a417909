"""The bundled sample site, served on loopback for `sanctions-bot demo` (no Telegram, no internet).

The samples (``samples/site``: two feeds and the pages they link to) are written for the
project. Serving them over real HTTP on 127.0.0.1 exercises the same fetcher, feed parser,
extractor and pipeline as the real web; the demo's fetch policy allows only ``localhost``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bot.settings import PROJECT_ROOT

SAMPLES_SITE = PROJECT_ROOT / "samples" / "site"


class _QuietHandler(SimpleHTTPRequestHandler):
    disable_nagle_algorithm = True  # headers and body are written separately: avoid 40 ms stalls

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve a folder on a free loopback port; yields the base URL (http://localhost:PORT)."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="demo-site", daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
