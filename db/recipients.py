"""Who wants an alert: the facts the filters look at, read once, and the filter itself.

``wanted`` is the one decision (a chat's subscription filters, mutes, watchlist and false
positive marks against an alert); the functions below it read those facts in a few queries
for every candidate chat at once. ``db.delivery`` uses them to queue a new alert and to
re-filter a chat's queue when its settings change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from bot.domain.watch import RULE_ID as WATCH_RULE
from bot.matching.model import Severity
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
)
from db.tables.delivery import DROPPED
from db.watchers import watch_keys_of_chats

_RANK = {s.value: s.rank for s in Severity}


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
    return _filtered_out(sub, chat, alert)


def _filtered_out(sub: Subscription, chat: ChatFacts, alert: AlertFacts) -> str:
    """Why the subscription's filters refuse the alert ("" when they let it through)."""
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


def _scope_filter(scope: tuple[str, int]) -> ColumnElement[bool]:
    kind, value = scope
    return col(Article.story_id) == value if kind == "story" else col(Alert.article_id) == value


def _false_positives(
    session: Session, tg_ids: Sequence[int], scope: tuple[str, int]
) -> dict[int, set[str]]:
    """tg chat id -> parties it marked false positive on alerts of this story (latest mark wins)."""
    if not tg_ids:
        return {}
    latest = _latest_marks(session, tg_ids, scope)
    if not latest:
        return {}
    parties = _parties_of(session, {alert_id for _, alert_id, _ in latest})
    marked: dict[int, set[str]] = defaultdict(set)
    for (chat_id, alert_id, entity_key), verdict in latest.items():
        if verdict == "false_positive":
            marked[chat_id] |= {entity_key} if entity_key else parties[alert_id]
    return marked


def _latest_marks(
    session: Session, tg_ids: Sequence[int], scope: tuple[str, int]
) -> dict[tuple[int, int, str | None], str]:
    """(tg chat id, alert id, party or None) -> the verdict of the chats' latest mark on it."""
    rows = session.exec(
        select(ReviewMark.chat_id, ReviewMark.alert_id, ReviewMark.entity_key, ReviewMark.verdict)
        .join(Alert, col(Alert.id) == ReviewMark.alert_id)
        .join(Article, col(Article.id) == Alert.article_id)
        .where(col(ReviewMark.chat_id).in_(list(tg_ids)))
        .where(_scope_filter(scope))
        .order_by(col(ReviewMark.id))
    )
    return {(chat_id or 0, alert_id, key): verdict for chat_id, alert_id, key, verdict in rows}


def _parties_of(session: Session, alert_ids: set[int]) -> dict[int, set[str]]:
    """Alert id -> the keys of the parties it names."""
    found: dict[int, set[str]] = defaultdict(set)
    for alert_id, key in session.exec(
        select(AlertEntity.alert_id, AlertEntity.entity_key).where(
            col(AlertEntity.alert_id).in_(alert_ids)
        )
    ):
        found[alert_id].add(key)
    return found


def chat_facts(
    session: Session, chats: Sequence[tuple[Chat, Subscription | None]], alert: AlertFacts
) -> list[ChatFacts]:
    """The facts of each chat (with its subscription, if any) that ``wanted`` looks at."""
    pks = [chat.id for chat, _ in chats if chat.id is not None]
    mutes: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for start in range(0, len(pks), 500):
        for chat_pk, kind, value in session.exec(
            select(ChatMute.chat_id, ChatMute.kind, ChatMute.value).where(
                col(ChatMute.chat_id).in_(pks[start : start + 500])
            )
        ):
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


def candidates(
    session: Session, alert: AlertFacts, only: int | None = None
) -> list[tuple[Chat, Subscription | None]]:
    """The active chats that may want the alert: subscribed ones, or for a watchlist alert the
    chats watching its party (``only``: just that chat, by our id)."""
    query = (
        select(Chat, Subscription)
        .outerjoin(Subscription, col(Subscription.chat_id) == Chat.id)
        .where(col(Chat.active).is_(True))
    )
    if only is not None:
        query = query.where(Chat.id == only)
    if alert.watch_key is not None:
        query = query.where(
            col(Chat.id).in_(select(WatchItem.chat_id).where(WatchItem.key == alert.watch_key))
        )
    else:
        query = query.where(col(Subscription.active).is_(True))
    return [(chat, sub) for chat, sub in session.exec(query.order_by(col(Chat.id)))]


def already_told(session: Session, alert: AlertFacts, chat_pks: Sequence[int]) -> set[int]:
    """Chats holding another alert of the same story that names the watched party."""
    if alert.watch_key is None or not chat_pks:
        return set()
    rows = session.exec(
        select(Delivery.chat_id)
        .join(Alert, col(Alert.id) == Delivery.alert_id)
        .join(Article, col(Article.id) == Alert.article_id)
        .join(AlertEntity, col(AlertEntity.alert_id) == Alert.id)
        .where(col(Delivery.chat_id).in_(list(chat_pks)))
        .where(Delivery.status != DROPPED)
        .where(Alert.id != alert.alert_id)
        .where(AlertEntity.entity_key == alert.watch_key)
        .where(_scope_filter(alert.scope))
    )
    return set(rows)
