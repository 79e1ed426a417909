"""Review marks on alerts and the tuning changes made from them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlmodel import Session, col, func, select

from bot.domain.tuning import KINDS, REVERT, Change
from bot.errors import UserInputError
from db.models import Alert, ReviewMark, TuningChange

VERDICTS = ("relevant", "false_positive")


class ReviewError(UserInputError):
    """A review action that cannot be carried out; the message says why."""


def mark_alert(
    *,
    session: Session,
    alert_id: int,
    verdict: str,
    author: str,
    entity_key: str | None = None,
    chat_id: int | None = None,
    note: str = "",
) -> ReviewMark:
    if verdict not in VERDICTS:
        raise ReviewError(f"verdict must be one of {', '.join(VERDICTS)}")
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise ReviewError(f"no alert {alert_id}")
    if entity_key is not None and entity_key not in {e.get("key") for e in alert.entities}:
        raise ReviewError(f"alert {alert_id} names no party {entity_key!r}")
    mark = ReviewMark(
        alert_id=alert_id,
        verdict=verdict,
        entity_key=entity_key,
        chat_id=chat_id,
        author=author[:128],
        note=note[:1000],
    )
    session.add(mark)
    session.flush()
    return mark


@dataclass(frozen=True)
class Tally:
    key: str
    label: str
    false_positives: int
    relevant: int


def false_positive_tallies(*, session: Session, limit: int = 20) -> tuple[list[Tally], list[Tally]]:
    """(entities, rules) with the most false-positive marks, most first."""
    rows = session.exec(
        select(ReviewMark, Alert).join(Alert, col(Alert.id) == ReviewMark.alert_id)
    ).all()
    entity_fp: Counter[str] = Counter()
    entity_ok: Counter[str] = Counter()
    entity_label: dict[str, str] = {}
    rule_fp: Counter[str] = Counter()
    rule_ok: Counter[str] = Counter()
    rule_label: dict[str, str] = {}
    for mark, alert in rows:
        fp = mark.verdict == "false_positive"
        (rule_fp if fp else rule_ok)[alert.rule_id] += 1
        rule_label[alert.rule_id] = alert.title
        keys = [mark.entity_key] if mark.entity_key else [e["key"] for e in alert.entities[:1]]
        for key in keys:
            (entity_fp if fp else entity_ok)[key] += 1
            entity_label[key] = next((e["name"] for e in alert.entities if e["key"] == key), key)
    entities = [Tally(k, entity_label[k], n, entity_ok[k]) for k, n in entity_fp.most_common(limit)]
    rules = [Tally(k, rule_label[k], n, rule_ok[k]) for k, n in rule_fp.most_common(limit)]
    return entities, rules


def add_change(
    *,
    session: Session,
    kind: str,
    author: str,
    reason: str = "",
    entity_key: str | None = None,
    alias: str | None = None,
    rule_id: str | None = None,
    text: str = "",
    target_id: int | None = None,
) -> TuningChange:
    if kind not in KINDS:
        raise ReviewError(f"unknown change kind {kind!r}")
    if kind == REVERT:
        target = session.get(TuningChange, target_id) if target_id else None
        if target is None or target.kind == REVERT:
            raise ReviewError(f"no change {target_id} to revert")
    change = TuningChange(
        kind=kind,
        entity_key=entity_key,
        alias=alias,
        rule_id=rule_id,
        text=text,
        target_id=target_id,
        author=author[:128],
        reason=reason[:1000],
    )
    session.add(change)
    session.flush()
    return change


def list_changes(*, session: Session) -> list[TuningChange]:
    return list(session.exec(select(TuningChange).order_by(col(TuningChange.id))))


def tuning_changes(*, session: Session) -> list[Change]:
    return [
        Change(
            row.id or 0, row.kind, row.entity_key, row.alias, row.rule_id, row.text, row.target_id
        )
        for row in list_changes(session=session)
    ]


def tuning_version(*, session: Session) -> int:
    return session.exec(select(func.coalesce(func.max(TuningChange.id), 0))).one() or 0
