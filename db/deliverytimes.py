"""When a chat may be sent an alert: instantly, at its next digest, or after its quiet hours.

Pure functions of a chat's ``Subscription`` (its time zone, mode, digest hour and quiet hours)
and a moment; every moment in and out is an aware UTC datetime.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from db.models import Subscription


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
