"""A database that turns read-only under a running ``sanctions-bot run``, then writable again.

PostgreSQL's ``default_transaction_read_only`` is switched on for every session at once (what
a failover to a replica or an operator's emergency switch does to the writer): reads still
work, every write is refused with "cannot execute ... in a read-only transaction". The run
must say so once, store nothing half-way, and once writes are allowed again store and deliver
the story that appeared meanwhile, exactly once (``tests.faults.world.survive``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.world import survive
from tests.pg import PgServer, start_or_skip
from tests.tgemu import Emulator

pytestmark = [pytest.mark.postgres, pytest.mark.emulator]


@pytest.fixture
def own_server() -> Iterator[PgServer]:
    """A server of this test's own: read-only is switched for the whole server."""
    server = start_or_skip()
    try:
        yield server
    finally:
        server.stop()


def test_a_read_only_database_is_reported_and_recovered_from_without_losing_alerts(
    tmp_path: Path, own_server: PgServer, tg_emulator: Emulator
) -> None:
    survive(
        tmp_path,
        own_server.url(own_server.create_database()),
        tg_emulator,
        break_it=lambda: own_server.read_only(True),
        mend_it=lambda: own_server.read_only(False),
        reason="read-only transaction",
    )
