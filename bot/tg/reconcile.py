"""After a crash: resolve the messages a previous process left in flight (rows ``sending``).

Each such message is looked for in its chat (``Sender.probe``, holding the chat's lock): found,
its rows are ``sent``; not found, it was never created and its rows go back to ``pending``.
See ``bot.tg.delivery`` for why this is safe and the window that remains.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import timedelta
from functools import partial

from telegram.error import Forbidden, TelegramError

from bot.tg.alertmessages import compose
from bot.tg.sender import Sender
from db import chatlocks, inflight, sending
from db.inflight import InFlight
from db.tables.delivery import DROPPED, SERVE

log = logging.getLogger("bot.tg.delivery")  # the delivery worker logs under one name


class Reconciler(Sender):
    """A ``Sender`` that can also resolve rows left in flight."""

    async def reconcile(self, older_than: timedelta | None = None) -> dict[str, int]:
        """Resolve rows left ``sending`` by a previous process (all of them: at start, before
        polling) or by an unreachable Telegram (``older_than``: the periodic check), in the
        chats no live worker serves: their serve locks are taken first, and let go after."""
        before = self._clock() - older_than if older_than is not None else None
        flights: list[InFlight] = await self._db(partial(inflight.in_flight, claimed_before=before))
        chats = {flight.chat_pk for flight in flights} - self.serving()
        taken = await self._db(
            partial(
                chatlocks.take,
                kind=SERVE,
                holder=self.holder,
                chat_pks=chats,
                now=self._clock(),
                lease_s=self.lease_s,
            )
        )
        try:
            return await self._resolve_all([f for f in flights if f.chat_pk in taken])
        finally:
            await self._let_go(SERVE, sorted(taken))

    def serving(self) -> set[int]:
        """Chats this process is serving now (their locks are held and stay held)."""
        return set()

    async def resolve_in(self, chat_pks: Iterable[int]) -> dict[str, int]:
        """Resolve the rows left ``sending`` in chats whose serve lock this worker has just
        taken (a worker killed mid-send served them before)."""
        flights = await self._db(partial(inflight.in_flight, chat_pks=sorted(chat_pks)))
        return await self._resolve_all(flights)

    async def _resolve_all(self, flights: list[InFlight]) -> dict[str, int]:
        report: Counter[str] = Counter()
        for flight in flights:
            if set(flight.delivery_ids) & self._held:
                continue
            async with self.limiter.chat_lock(flight.tg_chat_id):
                outcome = await self._resolve(flight)
            if outcome:
                report[outcome] += 1
        if flights:
            log.info("reconciled %d message(s) left in flight: %s", len(flights), dict(report))
        self.stats.update({f"reconcile_{k}": v for k, v in report.items()})
        return dict(report)

    async def _resolve(self, flight: InFlight) -> str:
        """Look for one message and record the answer (holding the chat's lock): "found",
        "resent", "forbidden", "unresolved", or "" when there was nothing to look for."""
        if set(flight.delivery_ids) & self._held or not await self._db(
            partial(inflight.still_sending, delivery_ids=flight.delivery_ids)
        ):
            return ""  # this process took them meanwhile
        alerts = await self._db(partial(sending.load_alerts, alert_ids=flight.alert_ids))
        ordered = [alerts[a] for a in flight.alert_ids if a in alerts]
        ids = list(flight.delivery_ids)
        if not ordered:
            await self._db(
                partial(
                    sending.mark_failed,
                    delivery_ids=ids,
                    error="alert no longer stored",
                    status=DROPPED,
                )
            )
            return ""
        message = compose(ordered, ids, flight.digest)
        try:
            found = await self.probe(
                flight.tg_chat_id, flight.chat_type, flight.probe_after, message.keyboard
            )
        except Forbidden as error:
            await self._refused(flight.tg_chat_id, ids, error)
            return "forbidden"
        except TelegramError as error:
            log.warning("cannot reconcile deliveries %s yet: %s", ids, error)
            return "unresolved"
        if found is not None:
            await self._mark_sent(ids, flight.tg_chat_id, found)
            return "found"
        await self._db(
            partial(
                sending.retry_later,
                delivery_ids=ids,
                due_at=self._clock(),
                error="in flight at a restart; not found in the chat, sending again",
            )
        )
        return "resent"
