"""Can this process do its work now? What ``/healthz`` and ``/metrics`` add to the figures.

The figures (``bot.services.status``) come from the database and are the same whichever process
serves them; an outage this process has met is known only to it: a database that still answers
reads but refuses writes (read-only, a full disk: ``db.outage.DatabaseHealth``), and for a
process with a Telegram role, Telegram unreachable or the token rejected
(``bot.tg.health.TelegramHealth``). Either means alerts wait, so ``/healthz`` answers 503 with
one line naming the reason, and ``/metrics`` exports ``sanctions_bot_database_up``,
``sanctions_bot_telegram_up`` and ``sanctions_bot_outage_seconds{dependency=...}``.

Telegram's ``starting`` (the first ``getMe`` not answered yet) is ready for
``STARTING_GRACE_S``: a bot that is still connecting must not fail a check it would pass a
second later, but one that never connects (a ``getMe`` hanging on a black-holed route) must not
pass it forever. ``retrying`` and ``rejected`` are not ready at once.

Nothing here comes from a secret: the database's reason is its driver's first line (no URL),
and Telegram's reasons are redacted of the token where they are made (``bot.tg.heartbeat``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.services.status import PREFIX
from db.outage import DatabaseState, Outage

STARTING_GRACE_S = 60.0
NOT_ANSWERING = "the database does not answer"


class TelegramLink(Protocol):
    """What is read of ``bot.tg.health.TelegramHealth``, a door this layer may not import."""

    @property
    def state(self) -> str: ...  # starting, connected, retrying, rejected

    @property
    def since(self) -> datetime: ...

    @property
    def last_error(self) -> str | None: ...

    @property
    def failures(self) -> int: ...


@dataclass(frozen=True)
class TelegramView:
    """A copy of the link's state, so that one answer never mixes two states."""

    state: str
    since: datetime
    last_error: str | None
    failures: int

    @classmethod
    def of(cls, link: TelegramLink) -> TelegramView:
        return cls(str(link.state), link.since, link.last_error, link.failures)

    def down_for_s(self, now: datetime) -> float:
        """Seconds without a connection (0 while connected)."""
        return 0.0 if self.state == "connected" else max(0.0, (now - self.since).total_seconds())

    def problem(self, now: datetime) -> str | None:
        """Why the bot cannot do its work, or None (see the module docstring on ``starting``)."""
        down = self.down_for_s(now)
        if self.state == "rejected":
            return f"Telegram rejected the bot token: {self.last_error}"
        if self.state == "retrying":
            return (
                f"Telegram unreachable for {down:.0f} s ({self.failures} failed attempts):"
                f" {self.last_error}"
            )
        if self.state == "starting" and down > STARTING_GRACE_S:
            return f"Telegram not reached {down:.0f} s after start-up"
        return None

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "since": self.since.isoformat(),
            "last_error": self.last_error,
            "failures": self.failures,
        }


@dataclass(frozen=True)
class Readiness:
    """This process's dependencies at one moment: the database (as the process has met it,
    and whether this answer could read it) and Telegram when this process has a Telegram role."""

    database: DatabaseState
    readable: bool
    telegram: TelegramView | None
    now: datetime

    @classmethod
    def read(
        cls,
        database: DatabaseState,
        telegram: TelegramLink | None,
        *,
        readable: bool = True,
        now: datetime | None = None,
    ) -> Readiness:
        view = TelegramView.of(telegram) if telegram is not None else None
        return cls(database, readable, view, now or datetime.now(UTC))

    @property
    def database_up(self) -> bool:
        return self.readable and self.database.up

    @property
    def error(self) -> str | None:
        """One line naming every reason this process cannot do its work; None when it can."""
        problems = [_database_problem(self.database.outage, self.readable)]
        if self.telegram is not None:
            problems.append(self.telegram.problem(self.now))
        found = [problem for problem in problems if problem]
        return "; ".join(found) if found else None

    def as_json(self) -> dict[str, Any]:
        """The ``process`` object of ``/healthz``."""
        outage, down = self.database.outage, self.database.down_for_s
        reported: dict[str, Any] = {
            "database": {
                "up": self.database_up,
                "reason": outage.reason if outage else (None if self.readable else NOT_ANSWERING),
                "writes_refused": bool(outage and outage.writes_refused),
                "failures": self.database.failures,
                "down_for_s": None if down is None else round(down, 1),
            }
        }
        if self.telegram is not None:
            reported["telegram"] = self.telegram.as_json()
        return reported


def _database_problem(outage: Outage | None, readable: bool) -> str | None:
    if outage is not None and outage.writes_refused:
        return f"the database refuses writes: {outage.reason}"
    if outage is not None:
        return f"the database is unavailable: {outage.reason}"
    return None if readable else NOT_ANSWERING


class ReadinessCollector(Collector):
    """The readiness as Prometheus gauges; exported even when the database cannot be read, so
    that Prometheus's own ``up`` never says the process is dead when its database is."""

    def __init__(self, readiness: Readiness) -> None:
        self.readiness = readiness

    def collect(self) -> Iterator[Metric]:
        r = self.readiness
        yield GaugeMetricFamily(
            f"{PREFIX}database_up",
            "1 when this process can read and write its database, else 0.",
            value=1.0 if r.database_up else 0.0,
        )
        outage = GaugeMetricFamily(
            f"{PREFIX}outage_seconds",
            "How long this process has been without the dependency; 0 while it has it.",
            labels=["dependency"],
        )
        outage.add_metric(["database"], 0.0 if r.database_up else r.database.down_for_s or 0.0)
        if r.telegram is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}telegram_up",
                "1 when this process is connected to Telegram, else 0 (Telegram roles only).",
                value=1.0 if r.telegram.state == "connected" else 0.0,
            )
            outage.add_metric(["telegram"], r.telegram.down_for_s(r.now))
        yield outage
