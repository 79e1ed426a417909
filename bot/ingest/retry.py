"""When to try a failed fetch again: full-jitter exponential backoff, honouring ``Retry-After``
as long as it is short enough to sleep through and the fetch's deadline allows."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from datetime import UTC, datetime

from .fetchtypes import FetchPolicy


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), else None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, delta)


def retry_delay(
    policy: FetchPolicy,
    retry_after: float | None,
    attempt: int,
    deadline: float,
    rng: Callable[[], float],
) -> float | None:
    """Seconds to sleep before the next attempt, or None when retrying is pointless.

    Pointless: attempts used up, a ``Retry-After`` beyond our cap, or a sleep that would run
    into the deadline (better to report the real error now than a timeout later).
    """
    if attempt > policy.retries:
        return None
    if retry_after is not None:
        if retry_after > policy.retry_after_cap_s:
            return None
        delay = retry_after
    else:  # full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]
        ceiling = min(policy.backoff_cap_s, policy.backoff_base_s * 2 ** (attempt - 1))
        delay = rng() * ceiling
    if time.monotonic() + delay >= deadline:
        return None
    return delay
