"""``/healthz`` and ``/metrics`` over HTTP while ``run`` runs (``HEALTH_PORT``; off by default).

A load balancer or an orchestrator asks ``/healthz``: the ``status`` figures as JSON with a
``process`` object, what this process knows of its own dependencies (``bot.services.readiness``):
200 while it can do its work, 503 with a one-line ``error`` when it cannot (the database does not
answer, refuses writes or is in another outage; Telegram unreachable or the token rejected, for a
Telegram role). Prometheus scrapes ``/metrics``: the figures and the process's gauges; when the
database cannot be read, the gauges alone, still 200, so that the scrape's ``up`` does not say
the process is dead. Anything else is 404; only GET and HEAD are served.

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
from bot.services.readiness import Readiness, ReadinessCollector, TelegramLink
from bot.services.status import StatusCollector, as_json, health, metrics_text
from db.status import Status

log = logging.getLogger(__name__)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class HealthServerError(SanctionsBotError):
    """The health endpoint cannot listen where configured (a port in use, an unknown host)."""


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("health http: " + format, *args)


def health_app(
    app: App, telegram: TelegramLink | None = None
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The WSGI application: ``/healthz``, ``/metrics``, else 404. ``telegram``: the bot's
    connection, for a process with a Telegram role (None: the process has no Telegram role)."""

    def application(environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _reply(start, "405 Method Not Allowed", b"GET or HEAD only\n")
        path = environ.get("PATH_INFO", "")
        if path not in ("/healthz", "/metrics"):
            return _reply(start, "404 Not Found", b"not found: try /healthz or /metrics\n")
        status = _read(app)
        readiness = Readiness.read(app.db_health.state(), telegram, readable=status is not None)
        if path == "/metrics":
            figures = () if status is None else (StatusCollector(status),)
            text = metrics_text(*figures, ReadinessCollector(readiness))
            return _reply(start, "200 OK", text, CONTENT_TYPE_LATEST)
        return _healthz(start, status, readiness)

    return application


def _read(app: App) -> Status | None:
    """The figures, or None when the database does not answer a read."""
    try:
        return health(app)
    except SQLAlchemyError as error:
        log.warning("health http: the database does not answer: %s", error.__class__.__name__)
        return None


def _healthz(start: StartResponse, status: Status | None, readiness: Readiness) -> list[bytes]:
    """200 ``{"ok": true, figures..., "process": {...}}``, or 503 with ``ok: false`` and the
    ``error`` (the figures too when they could be read: they help to see what waits)."""
    error = readiness.error
    reported: dict[str, Any] = {"ok": error is None}
    if error is not None:
        reported["error"] = error
    if status is not None:
        reported.update(as_json(status))
    reported["process"] = readiness.as_json()
    code = "200 OK" if error is None else "503 Service Unavailable"
    return _reply(start, code, json.dumps(reported).encode(), "application/json")


def _reply(
    start: StartResponse, status: str, body: bytes, content_type: str = "text/plain; charset=utf-8"
) -> list[bytes]:
    start(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


class HealthServer:
    """The health endpoint in a background thread; ``close`` stops it and frees the port."""

    def __init__(
        self, app: App, host: str, port: int, *, telegram: TelegramLink | None = None
    ) -> None:
        try:
            self._server = make_server(
                host,
                port,
                health_app(app, telegram),
                server_class=_Server,
                handler_class=_QuietHandler,
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
