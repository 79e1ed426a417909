"""Chat locks (``db.chatlocks``): one holder at a time, run out after the lease, taken over;
on SQLite and on a real PostgreSQL server, with takers racing in threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from db import chatlocks
from db.engine import open_database, session_scope
from db.models import Chat, utcnow
from db.tables.delivery import SEND, SERVE
from tests.pg import db_url, pg_server, pg_url  # noqa: F401


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:  # noqa: F811
    engine = open_database(db_url)
    with session_scope(engine) as session:
        for n in range(1, 6):
            session.add(Chat(tg_chat_id=1000 + n, type="private"))
    yield engine
    engine.dispose()


def take(
    engine: Engine, holder: str, pks: list[int], *, kind: str = SERVE, at: float = 0
) -> set[int]:
    with session_scope(engine) as session:
        return chatlocks.take(
            session=session,
            kind=kind,
            holder=holder,
            chat_pks=pks,
            now=utcnow() + timedelta(seconds=at),
            lease_s=30,
        )


def test_a_lock_has_one_holder_until_it_runs_out(engine: Engine) -> None:
    assert take(engine, "a", [1, 2, 3]) == {1, 2, 3}
    assert take(engine, "b", [2, 3, 4]) == {4}
    assert take(engine, "a", [1, 2]) == {1, 2}  # renewing one's own
    assert take(engine, "b", [1, 2], at=31) == {1, 2}  # a's lease ran out: taken over
    assert take(engine, "a", [1], at=32) == set()
    with session_scope(engine) as session:
        assert chatlocks.holders(session=session, kind=SERVE, now=utcnow()) == {
            1: "b",
            2: "b",
            3: "a",
            4: "b",
        }


def test_kinds_are_separate_locks_and_release_lets_go(engine: Engine) -> None:
    assert take(engine, "a", [1]) == {1}
    assert take(engine, "b", [1], kind=SEND) == {1}
    with session_scope(engine) as session:
        chatlocks.release(session=session, kind=SERVE, holder="b")  # not b's: nothing happens
    assert take(engine, "b", [1]) == set()
    with session_scope(engine) as session:
        chatlocks.release(session=session, kind=SERVE, holder="a", chat_pks=[1])
    assert take(engine, "b", [1]) == {1}


def test_renew_pushes_back_only_live_locks_of_the_holder(engine: Engine) -> None:
    take(engine, "a", [1, 2])
    take(engine, "b", [3])
    with session_scope(engine) as session:
        now = utcnow() + timedelta(seconds=20)
        assert chatlocks.renew(session=session, kind=SERVE, holder="a", now=now, lease_s=30) == 2
    assert take(engine, "b", [1, 2], at=40) == set()  # renewed at +20 for 30 s: still a's
    with session_scope(engine) as session:
        late = utcnow() + timedelta(seconds=120)
        assert chatlocks.renew(session=session, kind=SERVE, holder="a", now=late, lease_s=30) == 0


def test_racing_takers_never_share_a_chat(engine: Engine) -> None:
    """Eight takers at once, each wanting every chat, over and over: each chat has one winner."""
    won: dict[str, set[int]] = {}
    start = threading.Barrier(8)

    def taker(name: str) -> None:
        start.wait()
        won[name] = take(engine, name, [1, 2, 3, 4, 5])

    threads = [threading.Thread(target=taker, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    owners = [pk for chats in won.values() for pk in chats]
    assert sorted(owners) == [1, 2, 3, 4, 5]


def test_renewals_and_releases_racing_takers_never_deadlock(engine: Engine) -> None:
    """A renewal and a release change many rows at once while takers lock rows in chat order;
    they lock in chat order too, or PostgreSQL ends one with "deadlock detected"."""
    errors: list[BaseException] = []
    pks = [1, 2, 3, 4, 5]

    def keep(holder: str) -> None:
        try:
            for n in range(60):
                take(engine, holder, pks if n % 2 else list(reversed(pks)))
                with session_scope(engine) as session:
                    chatlocks.renew(
                        session=session, kind=SERVE, holder=holder, now=utcnow(), lease_s=30
                    )
                    if n % 7 == 0:
                        chatlocks.release(session=session, kind=SERVE, holder=holder)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=keep, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
