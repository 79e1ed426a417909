"""A chat's alert history: search and paging, one alert in full, export rows, counts.

A chat's history is the alerts queued for it (``delivery`` rows), newest first: sent ones,
those still waiting (a digest, quiet hours) and those that could not be delivered; never the
ones dropped before sending. Review marks made in the chat come with each alert.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import countrynames
from sqlalchemy import String, Text, and_, cast, exists, func, or_, select
from sqlmodel import Session

from bot.matching.model import Severity
from db.delivery import DROPPED, FAILED, PENDING, SENDING, SENT, load_alerts
from db.models import (
    Alert,
    AlertEntity,
    Article,
    Chat,
    Delivery,
    Feed,
    ReviewMark,
    Subscription,
    WatchItem,
    utcnow,
)

MAX_QUERY_CHARS = 100
EXPORT_LIMIT = 10_000
_RANK = {s.value: s.rank for s in Severity}


@dataclass(frozen=True)
class MarkView:
    verdict: str
    author: str
    at: datetime
    entity_key: str | None


@dataclass(frozen=True)
class HistoryItem:
    alert_id: int
    created_at: datetime
    severity: str
    rule: str
    title: str
    regime: str
    score: float
    parties: tuple[str, ...]
    countries: tuple[str, ...]
    url: str
    outlet: str
    article_title: str
    status: str
    sent_at: datetime | None
    marks: tuple[MarkView, ...]


@dataclass(frozen=True)
class HistoryPage:
    items: list[HistoryItem]
    total: int
    offset: int


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def _search(query: str) -> Any:
    """Alerts whose rule, title, regime, article, parties, evidence or countries match ``query``."""
    pattern = _like(query)
    conditions = [
        func.lower(Alert.rule_id).like(pattern, escape="\\"),
        func.lower(Alert.title).like(pattern, escape="\\"),
        func.lower(Alert.regime).like(pattern, escape="\\"),
        func.lower(Article.title).like(pattern, escape="\\"),
        func.lower(Article.outlet).like(pattern, escape="\\"),
        func.lower(func.coalesce(Article.url, "")).like(pattern, escape="\\"),
        func.lower(cast(Alert.evidence, Text)).like(pattern, escape="\\"),
        exists(
            select(AlertEntity.id).where(
                AlertEntity.alert_id == Alert.id,
                or_(
                    func.lower(AlertEntity.caption).like(pattern, escape="\\"),
                    func.lower(AlertEntity.matched).like(pattern, escape="\\"),
                    AlertEntity.entity_key == query,
                ),
            )
        ),
    ]
    code = countrynames.to_code(query) if len(query) >= 2 else None
    if code:
        conditions.append(cast(Alert.countries, String).like(f'%"code": "{code}"%'))
    return or_(*conditions)


def _filtered(tg_chat_id: int, query: str, since: datetime | None, min_severity: str | None) -> Any:
    statement = (
        select(Delivery, Alert, Article)
        .join(Chat, Chat.id == Delivery.chat_id)  # type: ignore[arg-type]
        .join(Alert, Alert.id == Delivery.alert_id)  # type: ignore[arg-type]
        .join(Article, Article.id == Alert.article_id)  # type: ignore[arg-type]
        .where(Chat.tg_chat_id == tg_chat_id, Delivery.status != DROPPED)  # type: ignore[arg-type]
    )
    if query.strip():
        statement = statement.where(_search(query.strip()[:MAX_QUERY_CHARS]))
    if since is not None:
        statement = statement.where(Alert.created_at >= since)  # type: ignore[operator, arg-type]
    if min_severity:
        wanted = [s for s, rank in _RANK.items() if rank >= _RANK.get(min_severity, 0)]
        statement = statement.where(Alert.severity.in_(wanted))  # type: ignore[attr-defined]
    return statement


def marks_for(
    *, session: Session, tg_chat_id: int, alert_ids: Sequence[int]
) -> dict[int, list[MarkView]]:
    found: dict[int, list[MarkView]] = defaultdict(list)
    if not alert_ids:
        return found
    rows = session.exec(
        select(ReviewMark)
        .where(ReviewMark.chat_id == tg_chat_id, ReviewMark.alert_id.in_(list(alert_ids)))
        .order_by(ReviewMark.id)  # type: ignore[call-overload, attr-defined]
    ).scalars()
    for mark in rows:
        found[mark.alert_id].append(
            MarkView(mark.verdict, mark.author, mark.created_at, mark.entity_key)
        )
    return found


def chat_history(
    *,
    session: Session,
    tg_chat_id: int,
    query: str = "",
    since: datetime | None = None,
    min_severity: str | None = None,
    offset: int = 0,
    limit: int = 5,
) -> HistoryPage:
    """One page of the chat's alerts, newest first, matching ``query`` (entity, country, rule, text)."""
    statement = _filtered(tg_chat_id, query, since, min_severity)
    total = int(
        session.execute(select(func.count()).select_from(statement.subquery())).scalar_one()
    )
    rows = session.execute(
        statement.order_by(Alert.created_at.desc(), Alert.id.desc())
        .offset(max(offset, 0))
        .limit(limit)
    ).all()  # type: ignore[attr-defined]
    marks = marks_for(
        session=session, tg_chat_id=tg_chat_id, alert_ids=[alert.id for _, alert, _ in rows]
    )
    items = [
        HistoryItem(
            alert_id=alert.id or 0,
            created_at=alert.created_at,
            severity=alert.severity,
            rule=alert.rule_id,
            title=alert.title,
            regime=alert.regime,
            score=alert.score,
            parties=tuple(dict.fromkeys(str(e.get("name", "")) for e in alert.entities))[:3],
            countries=tuple(dict.fromkeys(str(c.get("code", "")) for c in alert.countries)),
            url=article.url or article.source,
            outlet=article.outlet,
            article_title=article.title,
            status=delivery.status,
            sent_at=delivery.sent_at,
            marks=tuple(marks.get(alert.id or 0, ())),
        )
        for delivery, alert, article in rows
    ]
    return HistoryPage(items, total, offset)


def in_history(*, session: Session, tg_chat_id: int, alert_id: int) -> Delivery | None:
    """The chat's delivery row of an alert, if the alert is in its history."""
    return (
        session.exec(  # type: ignore[no-any-return]
            select(Delivery)
            .join(Chat, Chat.id == Delivery.chat_id)  # type: ignore[arg-type, call-overload]
            .where(
                Chat.tg_chat_id == tg_chat_id,
                Delivery.alert_id == alert_id,
                Delivery.status != DROPPED,
            )
        )
        .scalars()
        .first()
    )


@dataclass(frozen=True)
class FullAlert:
    alert: dict[str, Any]  # db.alerts.alert_dict shape, every source
    marks: list[MarkView]
    status: str
    sent_at: datetime | None


def alert_for_chat(
    *, session: Session, tg_chat_id: int, alert_id: int, any_chat: bool = False
) -> FullAlert | None:
    """One alert in full, if it is in the chat's history (or ``any_chat``, for bot admins)."""
    delivery = in_history(session=session, tg_chat_id=tg_chat_id, alert_id=alert_id)
    if delivery is None and not any_chat:
        return None
    data = load_alerts(session=session, alert_ids=[alert_id]).get(alert_id)
    if data is None:
        return None
    marks = marks_for(session=session, tg_chat_id=tg_chat_id, alert_ids=[alert_id]).get(
        alert_id, []
    )
    return FullAlert(
        data, marks, delivery.status if delivery else "", delivery.sent_at if delivery else None
    )


def export_rows(
    *, session: Session, tg_chat_id: int, limit: int = EXPORT_LIMIT
) -> list[dict[str, Any]]:
    """The chat's whole history (newest first) as flat rows plus the stored alert itself."""
    statement = (
        _filtered(tg_chat_id, "", None, None)
        .order_by(Alert.created_at.desc(), Alert.id.desc())
        .limit(limit)
    )  # type: ignore[attr-defined]
    rows = session.execute(statement).all()
    ids = [alert.id or 0 for _, alert, _ in rows]
    alerts = load_alerts(session=session, alert_ids=ids)
    marks = marks_for(session=session, tg_chat_id=tg_chat_id, alert_ids=ids)
    out = []
    for delivery, alert, _article in rows:
        data = alerts[alert.id or 0]
        out.append(
            {
                "alert": data,
                "status": delivery.status,
                "sent_at": delivery.sent_at.isoformat() if delivery.sent_at else None,
                "message_id": delivery.message_id,
                "marks": [
                    {
                        "verdict": m.verdict,
                        "author": m.author,
                        "at": m.at.isoformat(),
                        "entity": m.entity_key,
                    }
                    for m in marks.get(alert.id or 0, [])
                ],
            }
        )
    return out


def chat_stats(*, session: Session, tg_chat_id: int) -> dict[str, int]:
    counts = dict(
        session.execute(
            select(Delivery.status, func.count())
            .join(Chat, Chat.id == Delivery.chat_id)  # type: ignore[arg-type]
            .where(Chat.tg_chat_id == tg_chat_id)
            .group_by(Delivery.status)
        ).all()
    )
    watch = session.execute(
        select(func.count())
        .select_from(WatchItem)
        .join(Chat, Chat.id == WatchItem.chat_id)
        .where(Chat.tg_chat_id == tg_chat_id)  # type: ignore[arg-type]
    ).scalar_one()
    marks = session.execute(
        select(func.count()).select_from(ReviewMark).where(ReviewMark.chat_id == tg_chat_id)
    ).scalar_one()  # type: ignore[arg-type]
    return {
        "sent": int(counts.get(SENT, 0)),
        "waiting": int(counts.get(PENDING, 0)) + int(counts.get(SENDING, 0)),
        "failed": int(counts.get(FAILED, 0)),
        "watch_items": int(watch),
        "marks": int(marks),
    }


def global_stats(*, session: Session, now: datetime | None = None) -> dict[str, int]:
    now = now or utcnow()

    def count(statement: Any) -> int:
        return int(session.execute(statement).scalar_one())

    deliveries = dict(
        session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
    )
    return {
        "chats_active": count(select(func.count()).select_from(Chat).where(Chat.active.is_(True))),  # type: ignore[attr-defined]
        "subscriptions_active": count(
            select(func.count())
            .select_from(Subscription)
            .join(Chat, Chat.id == Subscription.chat_id)
            .where(and_(Subscription.active.is_(True), Chat.active.is_(True)))  # type: ignore[arg-type, attr-defined]
        ),
        "watch_items": count(select(func.count()).select_from(WatchItem)),
        "articles": count(select(func.count()).select_from(Article)),
        "alerts": count(select(func.count()).select_from(Alert)),
        "alerts_24h": count(
            select(func.count())
            .select_from(Alert)
            .where(Alert.created_at >= now - timedelta(days=1))
        ),  # type: ignore[operator, arg-type]
        "sent": int(deliveries.get(SENT, 0)),
        "waiting": int(deliveries.get(PENDING, 0)) + int(deliveries.get(SENDING, 0)),
        "failed": int(deliveries.get(FAILED, 0)),
        "feeds": count(select(func.count()).select_from(Feed)),
        "feeds_failing": count(
            select(func.count()).select_from(Feed).where(Feed.consecutive_failures > 0)
        ),  # type: ignore[arg-type]
    }
