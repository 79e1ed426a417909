"""What an operator asks first: is the watcher keeping up, and are alerts reaching the chats?

Every figure is read from the tables the workers write anyway (feeds, the outbox, alerts, the
lists), so it holds whichever process or machine did the work, and asking costs a few
aggregate queries. Latency is measured from the moment a feed entry was first seen to the
moment its alert's message reached a chat (``FeedEntry.seen_at`` to ``Delivery.sent_at``),
over the deliveries sent in the last ``window``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from db.models import Alert, Delivery, Feed, FeedEntry, ListSource, ListSync
from db.tables.delivery import DROPPED, FAILED, PENDING, SENDING, SENT

STATUSES = (PENDING, SENDING, SENT, FAILED, DROPPED)

LATENCY_SAMPLE = 10_000  # the newest deliveries a percentile is computed over


@dataclass(frozen=True)
class Status:
    """The figures of ``sanctions-bot status``; times are aware UTC, durations seconds."""

    feeds: int
    feeds_due: int
    feeds_failing: int
    ingest_lag_s: float | None  # how long the most overdue feed has waited past its due time
    last_poll_at: datetime | None
    deliveries: dict[str, int]  # by status: pending, sending, sent, failed, dropped
    alerts_last_hour: int
    alerts_last_day: int
    last_list_import_at: datetime | None
    last_list_sync_at: datetime | None
    list_sync_errors: int
    latency_p50_s: float | None
    latency_p95_s: float | None
    latency_sample: int


def read_status(*, session: Session, now: datetime, window: timedelta) -> Status:
    """The figures at ``now``; alerts and latency over the last hour, day and ``window``."""
    enabled = col(Feed.enabled).is_(True)
    due = enabled & (col(Feed.next_due_at) <= now)
    oldest_due = session.exec(select(func.min(Feed.next_due_at)).where(due)).one()
    latencies = _latencies(session, now - window)
    return Status(
        feeds=_count(session, select(func.count(col(Feed.id))).where(enabled)),
        feeds_due=_count(session, select(func.count(col(Feed.id))).where(due)),
        feeds_failing=_count(
            session,
            select(func.count(col(Feed.id))).where(enabled, col(Feed.consecutive_failures) > 0),
        ),
        ingest_lag_s=_seconds(now - oldest_due) if oldest_due is not None else None,
        last_poll_at=session.exec(select(func.max(Feed.last_polled_at))).one(),
        deliveries=_deliveries(session),
        alerts_last_hour=_alerts_since(session, now - timedelta(hours=1)),
        alerts_last_day=_alerts_since(session, now - timedelta(days=1)),
        last_list_import_at=session.exec(select(func.max(ListSource.imported_at))).one(),
        last_list_sync_at=session.exec(select(func.max(ListSync.last_success_at))).one(),
        list_sync_errors=_count(
            session, select(func.count(col(ListSync.source))).where(col(ListSync.last_error) != "")
        ),
        latency_p50_s=percentile(latencies, 0.50),
        latency_p95_s=percentile(latencies, 0.95),
        latency_sample=len(latencies),
    )


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile of sorted ``values`` (None when there are none)."""
    if not values:
        return None
    rank = max(1, -(-len(values) * share // 1))  # ceil(n * share), at least the first
    return round(values[int(rank) - 1], 3)


def _count(session: Session, statement: SelectOfScalar[int]) -> int:
    return int(session.exec(statement).one() or 0)


def _seconds(delta: timedelta) -> float:
    return round(max(0.0, delta.total_seconds()), 3)


def _deliveries(session: Session) -> dict[str, int]:
    counts = dict(
        session.exec(
            select(Delivery.status, func.count(col(Delivery.id))).group_by(col(Delivery.status))
        ).all()
    )
    return {status: int(counts.get(status, 0)) for status in STATUSES}


def _alerts_since(session: Session, since: datetime) -> int:
    return _count(session, select(func.count(col(Alert.id))).where(col(Alert.created_at) >= since))


def _latencies(session: Session, since: datetime) -> list[float]:
    """Seconds from first sight of a feed entry to its alert's message in a chat, sorted."""
    first_seen = (
        select(FeedEntry.article_id, func.min(FeedEntry.seen_at).label("seen_at"))
        .where(col(FeedEntry.article_id).is_not(None))
        .group_by(col(FeedEntry.article_id))
        .subquery()
    )
    rows = session.exec(
        select(Delivery.sent_at, first_seen.c.seen_at)
        .join(Alert, col(Alert.id) == Delivery.alert_id)
        .join(first_seen, first_seen.c.article_id == Alert.article_id)
        .where(col(Delivery.status) == SENT, col(Delivery.sent_at) >= since)
        .order_by(col(Delivery.sent_at).desc())
        .limit(LATENCY_SAMPLE)
    ).all()
    return sorted(_seconds(sent - seen) for sent, seen in rows if sent and seen)
