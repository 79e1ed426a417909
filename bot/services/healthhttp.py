"""``/healthz`` and ``/metrics`` over HTTP while ``run`` runs (``HEALTH_PORT``; off by default).

A load balancer or an orchestrator asks ``/healthz``: 200 with the ``status`` figures as JSON
while the database answers, 503 with the reason when it does not (the process is alive but can
do no work). Prometheus scrapes ``/metrics`` (``bot.services.status.metrics_text``). Anything
else is 404; only GET and HEAD are served.

The server is the standard library's WSGI server in a daemon thread, one thread per request
(``ThreadingMixIn``), so a slow scrape never holds up the asyncio loop that polls feeds and
delivers alerts; each request opens its own database session.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError

from bot.app import App
from bot.errors import SanctionsBotError
from bot.services.status import as_json, health, metrics_text

log = logging.getLogger(__name__)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class HealthServerError(SanctionsBotError):
    """The health endpoint cannot listen where configured (a port in use, an unknown host)."""


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("health http: " + format, *args)


def health_app(app: App) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The WSGI application: ``/healthz``, ``/metrics``, else 404."""

    def application(environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _reply(start, "405 Method Not Allowed", b"GET or HEAD only\n")
        path = environ.get("PATH_INFO", "")
        try:
            if path == "/healthz":
                body = json.dumps({"ok": True, **as_json(health(app))}).encode()
                return _reply(start, "200 OK", body, "application/json")
            if path == "/metrics":
                return _reply(start, "200 OK", metrics_text(app), CONTENT_TYPE_LATEST)
        except SQLAlchemyError as error:
            log.warning("health http: the database does not answer: %s", error.__class__.__name__)
            body = json.dumps({"ok": False, "error": "the database does not answer"}).encode()
            return _reply(start, "503 Service Unavailable", body, "application/json")
        return _reply(start, "404 Not Found", b"not found: try /healthz or /metrics\n")

    return application


def _reply(
    start: StartResponse, status: str, body: bytes, content_type: str = "text/plain; charset=utf-8"
) -> list[bytes]:
    start(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


class HealthServer:
    """The health endpoint in a background thread; ``close`` stops it and frees the port."""

    def __init__(self, app: App, host: str, port: int) -> None:
        try:
            self._server = make_server(
                host, port, health_app(app), server_class=_Server, handler_class=_QuietHandler
            )
        except OSError as error:
            raise HealthServerError(
                f"cannot serve health and metrics on {host}:{port} (HEALTH_HOST, HEALTH_PORT):"
                f" {error.strerror or error}"
            ) from error
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="health-http", daemon=True
        )

    @property
    def port(self) -> int:
        """The port bound (the one asked for, or the one the system chose for 0)."""
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        self._thread.start()
        host = self._server.server_address[0]
        log.info("health and metrics on http://%s:%d/healthz and /metrics", host, self.port)
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
