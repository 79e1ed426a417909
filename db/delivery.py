"""The delivery outbox: which chats get an alert, and the state of every (alert, chat) send.

``enqueue_alert`` runs inside the transaction that stores a new alert, so an alert is never
stored without its deliveries nor the other way round. It decides the recipients:

* chats with an active subscription whose filters the alert passes: minimum severity; topics
  (regimes and rules: either may match); countries; "only my watchlist" (the alert must name a
  watched party); no muted rule; not only muted parties in its evidence;
* not a chat that marked a party of the same story (the article's story, else the article) a
  false positive, when the alert names no other party;
* watchlist alerts (rule ``watchlist``) only to the chats watching the alert's ``watch_key``,
  whatever their filters, unless they unsubscribed, and not to a chat that already has an
  alert of the same story naming that party (the watch alert would repeat it).

Each row gets its ``due_at``: now for instant chats (or the end of their quiet hours), the next
digest time for hourly/daily chats. The worker (``bot.tg.delivery``) claims, sends and marks
rows with the functions below; its docstring explains the states and the crash window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, update
from sqlmodel import Session

from bot.matching.model import Severity
from bot.watch import RULE_ID as WATCH_RULE
from db.alerts import alert_dict, alert_sources
from db.chats import watch_keys_of_chats
from db.models import (
    Alert,
    AlertEntity,
    Article,
    Chat,
    ChatMute,
    Delivery,
    ReviewMark,
    Subscription,
    WatchItem,
    utcnow,
)

PENDING, SENDING, SENT, FAILED, DROPPED = "pending", "sending", "sent", "failed", "dropped"
_RANK = {s.value: s.rank for s in Severity}


# --- time: digests and quiet hours -------------------------------------------------------------


def _zone(sub: Subscription | None) -> ZoneInfo:
    try:
        return ZoneInfo(sub.timezone if sub is not None else "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def in_quiet_hours(sub: Subscription | None, when: datetime) -> bool:
    if sub is None or sub.quiet_start is None or sub.quiet_end is None:
        return False
    local = when.astimezone(_zone(sub))
    minute = local.hour * 60 + local.minute
    start, end = sub.quiet_start, sub.quiet_end
    return start <= minute < end if start < end else (minute >= start or minute < end)


def quiet_ends(sub: Subscription, when: datetime) -> datetime:
    """The first moment after ``when`` that is outside the quiet hours."""
    assert sub.quiet_end is not None
    zone = _zone(sub)
    local = when.astimezone(zone)
    end = local.replace(
        hour=sub.quiet_end // 60, minute=sub.quiet_end % 60, second=0, microsecond=0
    )
    if end <= local:
        end = (end + timedelta(days=1)).replace(hour=sub.quiet_end // 60, minute=sub.quiet_end % 60)
    return end.astimezone(ZoneInfo("UTC"))


def next_digest(sub: Subscription, when: datetime) -> datetime:
    """The next digest time after ``when``: the top of the next hour, or the daily hour (local)."""
    zone = _zone(sub)
    local = when.astimezone(zone)
    if sub.mode == "hourly":
        slot = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    else:
        slot = local.replace(hour=sub.digest_hour, minute=0, second=0, microsecond=0)
        if slot <= local:
            slot = (slot + timedelta(days=1)).replace(hour=sub.digest_hour)
    return slot.astimezone(ZoneInfo("UTC"))


def due_time(sub: Subscription | None, now: datetime) -> tuple[datetime, bool]:
    """(when a new row for this chat may be sent, whether it goes in a digest)."""
    digest = sub is not None and sub.mode in ("hourly", "daily")
    due = next_digest(sub, now) if digest and sub is not None else now
    if in_quiet_hours(sub, due) and sub is not None:
        due = quiet_ends(sub, due)
    return due, digest


# --- who wants an alert ------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertFacts:
    """What the filters look at, read once per alert."""

    alert_id: int
    rule: str
    severity: str
    regime: str
    countries: frozenset[str]
    keys: tuple[str, ...]  # every party named, in order
    evidence_keys: frozenset[str]  # the parties in the evidence (all of them if unknown)
    watch_key: str | None
    scope: tuple[str, int]  # ("story", id) or ("article", id): what "the same story" means

    @classmethod
    def of(cls, alert: Alert, article: Article | None) -> AlertFacts:
        keys = tuple(str(e.get("key", "")) for e in alert.entities if e.get("key"))
        evidence = frozenset(
            str(e["key"]) for e in alert.entities if e.get("key") and e.get("in_evidence", True)
        )
        watch_key = keys[0] if alert.rule_id == WATCH_RULE and keys else None  # see bot.watch
        story = article.story_id if article is not None else None
        scope = ("story", story) if story is not None else ("article", alert.article_id)
        return cls(
            alert_id=alert.id or 0,
            rule=alert.rule_id,
            severity=alert.severity,
            regime=alert.regime,
            countries=frozenset(str(c.get("code", "")) for c in alert.countries),
            keys=keys,
            evidence_keys=evidence or frozenset(keys),
            watch_key=watch_key,
            scope=scope,
        )


@dataclass
class ChatFacts:
    """What a chat asked for, read once per enqueue for all candidate chats."""

    chat_pk: int
    tg_chat_id: int
    sub: Subscription | None
    mutes: set[tuple[str, str]]
    watched: set[str]
    false_positive: set[str]  # parties this chat marked false positive in the alert's story


def wanted(chat: ChatFacts, alert: AlertFacts) -> str:
    """ "" when the chat wants the alert, else the reason it does not (for logs and tests)."""
    sub = chat.sub
    if ("rule", alert.rule) in chat.mutes:
        return "rule muted"
    if alert.evidence_keys and all(("entity", k) in chat.mutes for k in alert.evidence_keys):
        return "parties muted"
    if alert.keys and set(alert.keys) <= chat.false_positive:
        return "marked false positive in this story"
    if alert.watch_key is not None:
        if alert.watch_key not in chat.watched:
            return "not watched here"
        if sub is not None and not sub.active:
            return "unsubscribed"
        return ""
    if sub is None or not sub.active:
        return "not subscribed"
    if _RANK.get(alert.severity, 0) < _RANK.get(sub.min_severity, 0):
        return "below minimum severity"
    if (
        (sub.regimes or sub.rules)
        and alert.regime not in sub.regimes
        and alert.rule not in sub.rules
    ):
        return "other regime or rule"
    if sub.countries and not alert.countries & set(sub.countries):
        return "other countries"
    if sub.watchlist_only and not set(alert.keys) & chat.watched:
        return "names no watched party"
    return ""


def _scope_filter(scope: tuple[str, int]) -> Any:
    kind, value = scope
    return Article.story_id == value if kind == "story" else Alert.article_id == value


def _false_positives(
    session: Session, tg_ids: Sequence[int], scope: tuple[str, int]
) -> dict[int, set[str]]:
    """tg chat id -> parties it marked false positive on alerts of this story (latest mark wins)."""
    if not tg_ids:
        return {}
    rows = session.execute(
        select(ReviewMark.chat_id, ReviewMark.alert_id, ReviewMark.entity_key, ReviewMark.verdict)
        .join(Alert, Alert.id == ReviewMark.alert_id)  # type: ignore[arg-type]
        .join(Article, Article.id == Alert.article_id)  # type: ignore[arg-type]
        .where(ReviewMark.chat_id.in_(list(tg_ids)))  # type: ignore[union-attr]
        .where(_scope_filter(scope))
        .order_by(ReviewMark.id)
    ).all()
    if not rows:
        return {}
    alert_keys: dict[int, set[str]] = defaultdict(set)
    for alert_id, key in session.execute(
        select(AlertEntity.alert_id, AlertEntity.entity_key).where(
            AlertEntity.alert_id.in_({r[1] for r in rows})
        )
    ):  # type: ignore[attr-defined]
        alert_keys[alert_id].add(key)
    latest: dict[tuple[int, int, str | None], str] = {}
    for chat_id, alert_id, key, verdict in rows:
        latest[(chat_id, alert_id, key)] = verdict
    marked: dict[int, set[str]] = defaultdict(set)
    for (chat_id, alert_id, key), verdict in latest.items():
        if verdict == "false_positive":
            marked[chat_id] |= {key} if key else alert_keys[alert_id]
    return marked


def _chat_facts(
    session: Session, chats: Sequence[tuple[Chat, Subscription | None]], alert: AlertFacts
) -> list[ChatFacts]:
    pks = [chat.id for chat, _ in chats if chat.id is not None]
    mutes: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for start in range(0, len(pks), 500):
        for chat_pk, kind, value in session.execute(
            select(ChatMute.chat_id, ChatMute.kind, ChatMute.value).where(
                ChatMute.chat_id.in_(pks[start : start + 500])
            )
        ):  # type: ignore[attr-defined]
            mutes[chat_pk].add((kind, value))
    watched = watch_keys_of_chats(session=session, chat_pks=pks)
    fps = _false_positives(session, [chat.tg_chat_id for chat, _ in chats], alert.scope)
    return [
        ChatFacts(
            chat.id or 0,
            chat.tg_chat_id,
            sub,
            mutes[chat.id or 0],
            watched.get(chat.id or 0, set()),
            fps.get(chat.tg_chat_id, set()),
        )
        for chat, sub in chats
    ]


def _candidates(
    session: Session, alert: AlertFacts, only: int | None = None
) -> list[tuple[Chat, Subscription | None]]:
    query = (
        select(Chat, Subscription)
        .outerjoin(Subscription, Subscription.chat_id == Chat.id)
        .where(Chat.active.is_(True))
    )  # type: ignore[arg-type, attr-defined]
    if only is not None:
        query = query.where(Chat.id == only)
    if alert.watch_key is not None:
        query = query.where(
            Chat.id.in_(select(WatchItem.chat_id).where(WatchItem.key == alert.watch_key))
        )  # type: ignore[union-attr]
    else:
        query = query.where(Subscription.active.is_(True))  # type: ignore[attr-defined]
    return [(chat, sub) for chat, sub in session.execute(query.order_by(Chat.id))]


def _already_told(session: Session, alert: AlertFacts, chat_pks: Sequence[int]) -> set[int]:
    """Chats holding another alert of the same story that names the watched party."""
    if alert.watch_key is None or not chat_pks:
        return set()
    rows = session.execute(
        select(Delivery.chat_id)
        .join(Alert, Alert.id == Delivery.alert_id)  # type: ignore[arg-type]
        .join(Article, Article.id == Alert.article_id)  # type: ignore[arg-type]
        .join(AlertEntity, AlertEntity.alert_id == Alert.id)  # type: ignore[arg-type]
        .where(Delivery.chat_id.in_(list(chat_pks)))  # type: ignore[attr-defined]
        .where(Delivery.status != DROPPED)  # type: ignore[arg-type]
        .where(Alert.id != alert.alert_id)  # type: ignore[arg-type]
        .where(AlertEntity.entity_key == alert.watch_key)  # type: ignore[arg-type]
        .where(_scope_filter(alert.scope))
    )
    return {row[0] for row in rows}


def enqueue_alert(*, session: Session, alert: Alert, now: datetime | None = None) -> list[Delivery]:
    """Write one outbox row per chat that wants this new alert; call in the alert's transaction.

    ``alert`` is the stored row just flushed (it has its id). Returns the rows written; an
    alert already queued for a chat is not queued again (unique (alert, chat)).
    """
    assert alert.id is not None, "enqueue_alert needs a flushed alert (with an id)"
    now = now or utcnow()
    article = session.get(Article, alert.article_id)
    facts = AlertFacts.of(alert, article)
    chats = _candidates(session, facts)
    if not chats:
        return []
    told = _already_told(session, facts, [c.id for c, _ in chats if c.id is not None])
    queued = {
        row[0]
        for row in session.execute(select(Delivery.chat_id).where(Delivery.alert_id == alert.id))  # type: ignore[arg-type]
    }
    rows = []
    for chat in _chat_facts(session, chats, facts):
        if chat.chat_pk in queued or chat.chat_pk in told or wanted(chat, facts):
            continue
        due, digest = due_time(chat.sub, now)
        rows.append(
            Delivery(
                alert_id=alert.id,
                chat_id=chat.chat_pk,
                status=PENDING,
                digest=digest,
                due_at=due,
                created_at=now,
            )
        )
    session.add_all(rows)
    session.flush()
    return rows


def outbox_hook(session: Session, alert: Alert) -> None:
    """``enqueue_alert`` in the shape of the pipeline's ``AlertHook`` (positional, no result)."""
    enqueue_alert(session=session, alert=alert)


def refilter_chat(
    *, session: Session, tg_chat_id: int, now: datetime | None = None
) -> tuple[int, int]:
    """After a chat's settings, mutes, watchlist or review marks change: drop the pending rows it
    no longer wants and move the others to the right time. Returns (dropped, rescheduled)."""
    now = now or utcnow()
    row = session.execute(
        select(Chat, Subscription)
        .outerjoin(Subscription, Subscription.chat_id == Chat.id)
        .where(Chat.tg_chat_id == tg_chat_id)  # type: ignore[arg-type]
    ).first()
    if row is None:
        return 0, 0
    chat, sub = row
    pending = session.execute(
        select(Delivery, Alert, Article)
        .join(Alert, Alert.id == Delivery.alert_id)  # type: ignore[arg-type]
        .join(Article, Article.id == Alert.article_id)  # type: ignore[arg-type]
        .where(Delivery.chat_id == chat.id, Delivery.status == PENDING)  # type: ignore[arg-type]
    ).all()
    dropped = moved = 0
    for delivery, alert, article in pending:
        facts = AlertFacts.of(alert, article)
        [chat_facts] = _chat_facts(session, [(chat, sub)], facts)
        reason = wanted(chat_facts, facts) if chat.active else "chat inactive"
        if reason:
            delivery.status, delivery.last_error = DROPPED, reason
            dropped += 1
        else:
            due, digest = due_time(sub, now)
            if (delivery.digest, delivery.due_at) != (digest, due) and (
                digest or delivery.digest or due > delivery.due_at
            ):
                delivery.digest, delivery.due_at = digest, due
                moved += 1
        session.add(delivery)
    session.flush()
    return dropped, moved


# --- the worker's side -------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """A row ready to be sent, with what the worker needs to route it."""

    delivery_id: int
    alert_id: int
    chat_pk: int
    tg_chat_id: int
    chat_type: str
    digest: bool


def due_deliveries(
    *, session: Session, now: datetime, limit: int = 500, skip_chats: Iterable[int] = ()
) -> list[Due]:
    """Pending rows whose time has come, oldest first, of active chats not being served."""
    query = (
        select(Delivery.id, Delivery.alert_id, Chat.id, Chat.tg_chat_id, Chat.type, Delivery.digest)
        .join(Chat, Chat.id == Delivery.chat_id)  # type: ignore[arg-type]
        .where(Delivery.status == PENDING, Delivery.due_at <= now, Chat.active.is_(True))  # type: ignore[arg-type, attr-defined]
    )
    skip = list(skip_chats)
    if skip:
        query = query.where(Chat.id.not_in(skip))  # type: ignore[union-attr]
    rows = session.execute(query.order_by(Delivery.due_at, Delivery.id).limit(limit))
    return [Due(*row) for row in rows]


@dataclass(frozen=True)
class Work:
    """Everything the worker needs to send some due rows, read in one go (one transaction),
    so that sending costs only the claim and the mark per message."""

    subscriptions: dict[int, Subscription | None]  # chat pk ->
    last_ids: dict[int, int]  # tg chat id -> highest message id recorded
    alerts: dict[int, dict[str, Any]]  # alert id -> load_alerts()


def work_for(*, session: Session, due: Sequence[Due]) -> Work:
    pks = sorted({d.chat_pk for d in due})
    subs: dict[int, Subscription | None] = dict.fromkeys(pks)
    last_ids: dict[int, int] = {}
    for start in range(0, len(pks), 500):
        chunk = pks[start : start + 500]
        for sub in session.exec(
            select(Subscription).where(Subscription.chat_id.in_(chunk))
        ).scalars():  # type: ignore[call-overload, attr-defined]
            subs[sub.chat_id] = sub
        for tg_chat_id, last in session.execute(
            select(Chat.tg_chat_id, Chat.last_message_id).where(Chat.id.in_(chunk))
        ):  # type: ignore[union-attr]
            last_ids[tg_chat_id] = last or 0
    return Work(subs, last_ids, load_alerts(session=session, alert_ids={d.alert_id for d in due}))


def claim(
    *,
    session: Session,
    delivery_ids: Sequence[int],
    probe_after: int | None,
    now: datetime | None = None,
) -> list[int]:
    """Mark rows in flight before sending them (one message: one row, or a digest's rows).

    Only rows still pending are taken (a row dropped meanwhile is not sent). ``batch`` ties a
    digest's rows to its one message; ``probe_after`` is where the search for that message
    starts if the outcome of the send is lost (see ``bot.tg.delivery``).
    """
    if not delivery_ids:
        return []
    now = now or utcnow()
    batch = min(delivery_ids)
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(list(delivery_ids)), Delivery.status == PENDING)  # type: ignore[union-attr, arg-type]
        .values(
            status=SENDING,
            claimed_at=now,
            attempts=Delivery.attempts + 1,
            probe_after=probe_after,
            batch=batch,
        )
    )
    claimed = session.execute(
        select(Delivery.id).where(
            Delivery.id.in_(list(delivery_ids)), Delivery.status == SENDING, Delivery.batch == batch
        )  # type: ignore[union-attr, arg-type]
    )
    return sorted(row[0] for row in claimed)


def mark_sent(
    *,
    session: Session,
    delivery_ids: Sequence[int],
    tg_chat_id: int,
    message_id: int,
    now: datetime | None = None,
) -> None:
    now = now or utcnow()
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(list(delivery_ids)))  # type: ignore[union-attr]
        .values(status=SENT, message_id=message_id, sent_at=now, last_error="")
    )
    session.execute(
        update(Chat)
        .where(Chat.tg_chat_id == tg_chat_id)  # type: ignore[arg-type]
        .where(or_(Chat.last_message_id.is_(None), Chat.last_message_id < message_id))  # type: ignore[union-attr, operator]
        .values(last_message_id=message_id)
    )


def retry_later(
    *, session: Session, delivery_ids: Sequence[int], due_at: datetime, error: str = ""
) -> None:
    """Back to pending (the send surely did not happen), to be tried at ``due_at``."""
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(list(delivery_ids)))  # type: ignore[union-attr]
        .values(status=PENDING, due_at=due_at, last_error=error[:1000])
    )


def mark_failed(
    *, session: Session, delivery_ids: Sequence[int], error: str, status: str = FAILED
) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(list(delivery_ids)))  # type: ignore[union-attr]
        .values(status=status, last_error=error[:1000])
    )


def attempts_of(*, session: Session, delivery_ids: Sequence[int]) -> int:
    """The most attempts any of these rows has had."""
    value = session.execute(
        select(func.max(Delivery.attempts)).where(Delivery.id.in_(list(delivery_ids)))
    ).scalar_one_or_none()  # type: ignore[union-attr]
    return int(value or 0)


def reschedule_chat(
    *, session: Session, chat_pk: int, due_at: datetime, delivery_ids: Sequence[int]
) -> None:
    """Quiet hours began: move the chat's due rows to their end."""
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(list(delivery_ids)), Delivery.status == PENDING)
        .values(due_at=due_at)
    )  # type: ignore[union-attr, arg-type]


@dataclass(frozen=True)
class InFlight:
    """One message whose send a previous process started and never recorded."""

    delivery_ids: tuple[int, ...]
    alert_ids: tuple[int, ...]
    tg_chat_id: int
    chat_type: str
    digest: bool
    probe_after: int | None
    attempts: int


def in_flight(*, session: Session, claimed_before: datetime | None = None) -> list[InFlight]:
    """Messages whose rows are ``sending`` (claimed before ``claimed_before``, if given)."""
    query = (
        select(
            Delivery.id,
            Delivery.alert_id,
            Delivery.batch,
            Delivery.probe_after,
            Delivery.attempts,
            Delivery.digest,
            Chat.tg_chat_id,
            Chat.type,
        )
        .join(Chat, Chat.id == Delivery.chat_id)  # type: ignore[arg-type]
        .where(Delivery.status == SENDING)  # type: ignore[arg-type]
    )
    if claimed_before is not None:
        query = query.where(Delivery.claimed_at < claimed_before)  # type: ignore[operator, arg-type]
    rows = session.execute(query.order_by(Delivery.id)).all()
    batches: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        batches[row.batch if row.batch is not None else row.id].append(row)
    return [
        InFlight(
            delivery_ids=tuple(r.id for r in group),
            alert_ids=tuple(r.alert_id for r in group),
            tg_chat_id=group[0].tg_chat_id,
            chat_type=group[0].type,
            digest=group[0].digest,
            probe_after=group[0].probe_after,
            attempts=max(r.attempts for r in group),
        )
        for _, group in sorted(batches.items())
    ]


def still_sending(*, session: Session, delivery_ids: Sequence[int]) -> bool:
    statuses = set(
        session.execute(
            select(Delivery.status).where(Delivery.id.in_(list(delivery_ids)))
        ).scalars()
    )  # type: ignore[union-attr]
    return statuses == {SENDING}


def recent_shared_id(*, session: Session) -> int | None:
    """The highest message id the bot got back in any private chat or basic group.

    Telegram documents message ids as unique within a chat; in MTProto, private chats and basic
    groups number messages per account. Should a bot's ids follow its own counter across chats,
    this is where a lost message's id would be just above (the worker probes there too).
    """
    query = (
        select(func.max(Delivery.message_id))
        .join(Chat, Chat.id == Delivery.chat_id)  # type: ignore[arg-type]
        .where(Chat.type.in_(("private", "group")), Delivery.status == SENT)  # type: ignore[attr-defined, arg-type]
    )
    return session.execute(query).scalar_one_or_none()  # type: ignore[no-any-return]


def load_alerts(*, session: Session, alert_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Alert id -> the stored alert in the JSON shape (``db.alerts.alert_dict``), every source."""
    ids = sorted(set(alert_ids))
    rows = session.execute(
        select(Alert, Article)
        .join(Article, Article.id == Alert.article_id)
        .where(Alert.id.in_(ids))  # type: ignore[arg-type, union-attr]
    ).all()
    found: dict[int, dict[str, Any]] = {}
    for alert, article in rows:
        data = alert_dict(
            alert, article, alert_sources(session=session, alert_id=alert.id or 0) or None
        )
        if alert.rule_id == WATCH_RULE and data["entities"]:
            data["watch_key"] = data["entities"][0]["key"]
        found[alert.id or 0] = data
    return found
