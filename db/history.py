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
from sqlalchemy import ColumnElement, String, Text
from sqlmodel import Session, SQLModel, and_, cast, col, exists, func, or_, select
from sqlmodel.sql.expression import Select, SelectOfScalar

from bot.matching.model import Severity
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
from db.sending import load_alerts
from db.tables.delivery import DROPPED, FAILED, PENDING, SENDING, SENT

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


def _search(query: str) -> ColumnElement[bool]:
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
                col(AlertEntity.alert_id) == Alert.id,
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


_Rows = Select[Delivery, Alert, Article]


def _filtered(
    tg_chat_id: int, query: str, since: datetime | None, min_severity: str | None
) -> _Rows:
    statement = (
        select(Delivery, Alert, Article)
        .join(Chat, col(Chat.id) == Delivery.chat_id)
        .join(Alert, col(Alert.id) == Delivery.alert_id)
        .join(Article, col(Article.id) == Alert.article_id)
        .where(Chat.tg_chat_id == tg_chat_id, Delivery.status != DROPPED)
    )
    if query.strip():
        statement = statement.where(_search(query.strip()[:MAX_QUERY_CHARS]))
    if since is not None:
        statement = statement.where(col(Alert.created_at) >= since)
    if min_severity:
        wanted = [s for s, rank in _RANK.items() if rank >= _RANK.get(min_severity, 0)]
        statement = statement.where(col(Alert.severity).in_(wanted))
    return statement


def _newest_first(statement: _Rows) -> _Rows:
    return statement.order_by(col(Alert.created_at).desc(), col(Alert.id).desc())


def marks_for(
    *, session: Session, tg_chat_id: int, alert_ids: Sequence[int]
) -> dict[int, list[MarkView]]:
    found: dict[int, list[MarkView]] = defaultdict(list)
    if not alert_ids:
        return found
    rows = session.exec(
        select(ReviewMark)
        .where(ReviewMark.chat_id == tg_chat_id, col(ReviewMark.alert_id).in_(list(alert_ids)))
        .order_by(col(ReviewMark.id))
    )
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
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    rows = session.exec(_newest_first(statement).offset(max(offset, 0)).limit(limit)).all()
    marks = marks_for(
        session=session, tg_chat_id=tg_chat_id, alert_ids=[alert.id or 0 for _, alert, _ in rows]
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
    return session.exec(
        select(Delivery)
        .join(Chat, col(Chat.id) == Delivery.chat_id)
        .where(
            Chat.tg_chat_id == tg_chat_id,
            Delivery.alert_id == alert_id,
            Delivery.status != DROPPED,
        )
    ).first()


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
    statement = _newest_first(_filtered(tg_chat_id, "", None, None)).limit(limit)
    rows = session.exec(statement).all()
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


def _count(session: Session, statement: SelectOfScalar[int]) -> int:
    return int(session.exec(statement).one())


def _by_status(session: Session, statement: Select[str, int]) -> dict[str, int]:
    """Delivery status -> how many rows (of the status and count ``statement`` selects)."""
    return {status: int(n) for status, n in session.exec(statement.group_by(col(Delivery.status)))}


def chat_stats(*, session: Session, tg_chat_id: int) -> dict[str, int]:
    counts = _by_status(
        session,
        select(Delivery.status, func.count())
        .join(Chat, col(Chat.id) == Delivery.chat_id)
        .where(Chat.tg_chat_id == tg_chat_id),
    )
    watch = _count(
        session,
        select(func.count())
        .select_from(WatchItem)
        .join(Chat, col(Chat.id) == WatchItem.chat_id)
        .where(Chat.tg_chat_id == tg_chat_id),
    )
    marks = _count(
        session,
        select(func.count()).select_from(ReviewMark).where(ReviewMark.chat_id == tg_chat_id),
    )
    return {
        "sent": counts.get(SENT, 0),
        "waiting": counts.get(PENDING, 0) + counts.get(SENDING, 0),
        "failed": counts.get(FAILED, 0),
        "watch_items": watch,
        "marks": marks,
    }


def global_stats(*, session: Session, now: datetime | None = None) -> dict[str, int]:
    now = now or utcnow()

    def count(model: type[SQLModel], *where: ColumnElement[bool] | bool) -> int:
        return _count(session, select(func.count()).select_from(model).where(*where))

    deliveries = _by_status(session, select(Delivery.status, func.count()))
    return {
        "chats_active": count(Chat, col(Chat.active).is_(True)),
        "subscriptions_active": _count(
            session,
            select(func.count())
            .select_from(Subscription)
            .join(Chat, col(Chat.id) == Subscription.chat_id)
            .where(and_(col(Subscription.active).is_(True), col(Chat.active).is_(True))),
        ),
        "watch_items": count(WatchItem),
        "articles": count(Article),
        "alerts": count(Alert),
        "alerts_24h": count(Alert, col(Alert.created_at) >= now - timedelta(days=1)),
        "sent": deliveries.get(SENT, 0),
        "waiting": deliveries.get(PENDING, 0) + deliveries.get(SENDING, 0),
        "failed": deliveries.get(FAILED, 0),
        "feeds": count(Feed),
        "feeds_failing": count(Feed, col(Feed.consecutive_failures) > 0),
    }
