"""The watcher's health, read from the database every worker writes: ``sanctions-bot status``
and, while ``run`` runs, ``/healthz`` and Prometheus ``/metrics`` (``bot.services.healthhttp``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.app import App
from db.engine import session_scope
from db.models import utcnow
from db.status import Status, read_status

LATENCY_WINDOW = timedelta(days=1)
PREFIX = "sanctions_bot_"


def health(app: App, *, now: datetime | None = None) -> Status:
    """The figures now: feeds, the outbox, alerts, lists and feed-to-chat latency (last day)."""
    with session_scope(app.engine) as session:
        return read_status(session=session, now=now or utcnow(), window=LATENCY_WINDOW)


def as_json(status: Status) -> dict[str, Any]:
    """The figures as one JSON object: times in ISO 8601, durations in seconds."""
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in asdict(status).items()
    }


class StatusCollector(Collector):
    """The ``status`` figures as Prometheus metrics (a custom collector, as prometheus-client
    recommends for values another system holds); made at each scrape from the figures just read,
    so that a database that cannot be read leaves the process's own gauges to answer."""

    def __init__(self, status: Status) -> None:
        self.status = status

    def collect(self) -> Iterator[Metric]:
        s = self.status
        yield _gauge("feeds", "Enabled feeds.", s.feeds)
        yield _gauge("feeds_due", "Enabled feeds due for a poll now.", s.feeds_due)
        yield _gauge("feeds_failing", "Enabled feeds whose last poll failed.", s.feeds_failing)
        yield _gauge(
            "ingest_lag_seconds", "How long the most overdue feed has waited.", s.ingest_lag_s or 0
        )
        deliveries = GaugeMetricFamily(
            f"{PREFIX}deliveries", "Outbox rows by status.", labels=["status"]
        )
        for status, count in s.deliveries.items():
            deliveries.add_metric([status], count)
        yield deliveries
        yield _gauge("alerts_last_hour", "Alerts stored in the last hour.", s.alerts_last_hour)
        yield _gauge("alerts_last_day", "Alerts stored in the last day.", s.alerts_last_day)
        yield _gauge("list_sync_errors", "List sources whose last sync failed.", s.list_sync_errors)
        for name, moment in (
            ("last_poll_timestamp_seconds", s.last_poll_at),
            ("last_list_import_timestamp_seconds", s.last_list_import_at),
            ("last_list_sync_timestamp_seconds", s.last_list_sync_at),
        ):
            yield _gauge(name, "Unix time; 0 when never.", moment.timestamp() if moment else 0)
        latency = GaugeMetricFamily(
            f"{PREFIX}feed_to_chat_seconds",
            "Feed entry first seen to its message in a chat, last day (nearest-rank quantiles).",
            labels=["quantile"],
        )
        for quantile, value in (("0.5", s.latency_p50_s), ("0.95", s.latency_p95_s)):
            if value is not None:
                latency.add_metric([quantile], value)
        yield latency
        yield _gauge("feed_to_chat_messages", "Messages the quantiles are over.", s.latency_sample)


def metrics_text(*collectors: Collector) -> bytes:
    """The Prometheus text exposition of ``collectors`` (``StatusCollector``, and the process's
    own gauges: ``bot.services.readiness.ReadinessCollector``)."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}{name}", documentation, value=value)
