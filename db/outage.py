"""The database lost and found while a run goes on.

A long-running process outlives its database's bad moments: a PostgreSQL restart or failover
cuts every connection, an operator or a replica switch makes it read-only, the disk fills up.
None of these is a bug to crash on, and none may fill the log with a traceback per loop pass.
``outage_of`` tells such an error from a bug (a bug still raises), and ``DatabaseHealth``
holds the state for a process: the first failure is one ERROR line with the database (its
password hidden) and the reason, a WARNING reminds once a minute while it lasts, and the
recovery is one INFO line. The loops that meet the error (the feed scheduler, the delivery
worker) leave their work where it is and try again: an article not stored is read again from
its feed at the next poll, an outbox row not sent stays pending.

Read-only and full-disk outages refuse writes but still answer reads, so only a write that
went through ends them (``ok(wrote=True)``); otherwise a loop that only read would announce a
recovery at every pass and the next write an outage again.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)

T = TypeVar("T")

REMIND_S = 60.0
# PostgreSQL SQLSTATE classes: 08 connection exception, 53 insufficient resources (53100 disk
# full), 57 operator intervention (shutdown, "cannot connect now"), 58 system error (I/O).
_PG_CLASSES = frozenset({"08", "53", "57", "58"})
_PG_READ_ONLY = "25006"  # read_only_sql_transaction
_SQLITE_OUTAGES = frozenset(
    {
        sqlite3.SQLITE_BUSY,  # another writer held the lock past the busy timeout
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
    }
)
_SQLITE_WRITES_REFUSED = frozenset({sqlite3.SQLITE_READONLY, sqlite3.SQLITE_FULL})


@dataclass(frozen=True)
class Outage:
    """Why the database cannot do its work now (one line), and whether it still reads."""

    reason: str
    writes_refused: bool = False


def outage_of(error: BaseException) -> Outage | None:
    """The outage ``error`` reports, or None when it is not one (a bug: let it raise)."""
    if not isinstance(error, DBAPIError):
        return None
    orig = error.orig
    reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0][:300]
    if error.connection_invalidated:
        return Outage(reason)
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    if sqlite_code is not None:
        primary = int(sqlite_code) & 0xFF
        if primary not in _SQLITE_OUTAGES:
            return None
        return Outage(reason, writes_refused=primary in _SQLITE_WRITES_REFUSED)
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is None:  # psycopg without a server's answer: refused, reset, timed out
        return Outage(reason) if isinstance(error, OperationalError) else None
    if sqlstate == _PG_READ_ONLY:
        return Outage(reason, writes_refused=True)
    if sqlstate[:2] in _PG_CLASSES:
        return Outage(reason, writes_refused=sqlstate == "53100")
    return None


@dataclass(frozen=True)
class DatabaseState:
    """One consistent reading of ``DatabaseHealth``, for another thread (``/healthz``)."""

    outage: Outage | None
    failures: int  # failed attempts in the current outage
    down_for_s: float | None  # how long the current outage has lasted; None when up

    @property
    def up(self) -> bool:
        return self.outage is None


class DatabaseHealth:
    """Whether the database does its work for this process; each change logged once."""

    def __init__(
        self, where: str, *, clock: Callable[[], float] = time.monotonic, remind_s: float = REMIND_S
    ) -> None:
        self.where = where  # the URL without its password
        self.outage: Outage | None = None
        self.failures = 0
        self._clock = clock
        self._remind_s = remind_s
        self._since = 0.0
        self._logged = 0.0
        self._lock = threading.Lock()

    @property
    def up(self) -> bool:
        return self.outage is None

    def state(self) -> DatabaseState:
        """The outage, its failed attempts and its length, read together (the loops change
        them from the event loop while the health endpoint reads them from its own thread)."""
        with self._lock:
            down_for_s = None if self.outage is None else self._clock() - self._since
            return DatabaseState(self.outage, self.failures, down_for_s)

    def failed(self, error: BaseException) -> bool:
        """Record ``error`` if it is an outage (logged when it begins, then once a minute);
        False when it is not one, and the caller should raise it."""
        outage = outage_of(error)
        if outage is None:
            return False
        with self._lock:
            now = self._clock()
            self.failures += 1
            began, self.outage = self.outage is None, outage
            if began:
                self._since = self._logged = now
                log.error(
                    "database unavailable at %s: %s; feeds and deliveries wait and are retried",
                    self.where,
                    outage.reason,
                )
            elif now - self._logged >= self._remind_s:
                self._logged = now
                log.warning(
                    "database still unavailable at %s for %.0f s (%d failed attempts): %s",
                    self.where,
                    now - self._since,
                    self.failures,
                    outage.reason,
                )
        return True

    def ok(self, *, wrote: bool = False) -> None:
        """The database answered (``wrote``: a write went through): an outage ends here."""
        with self._lock:
            if self.outage is None or (self.outage.writes_refused and not wrote):
                return
            log.info(
                "database available again at %s after %.0f s (%d failed attempts)",
                self.where,
                self._clock() - self._since,
                self.failures,
            )
            self.outage, self.failures = None, 0


async def outlast(
    health: DatabaseHealth,
    attempt: Callable[[], Awaitable[T]],
    *,
    first_s: float = 0.2,
    cap_s: float = 5.0,
) -> T:
    """``attempt()`` again and again through a database outage until it goes through (pauses
    doubling from ``first_s`` to ``cap_s``); any other error is raised. For a write whose loss
    would lose something, such as the id of a message Telegram has accepted."""
    pause = first_s
    while True:
        try:
            return await attempt()
        except Exception as error:
            if not health.failed(error):
                raise
        await asyncio.sleep(pause)
        pause = min(cap_s, pause * 2)
