"""Every table, in one place: importing this module registers them all on SQLModel's metadata.

The tables live in ``db.tables``, grouped by what they store: ``lists`` (imported sanctions
lists), ``articles`` (articles and stories), ``alerts`` (alerts, their parties and sources),
``review`` (marks and tuning changes), ``feeds``, ``chats`` (chats, subscriptions, mutes,
watchlists) and ``delivery`` (the outbox); ``columns`` holds the UTC timestamp type they share.
Alembic (``db/migrations/env.py``) and the tests of the migrations compare the schema with
this metadata, and the rest of the project may import any table from here.

Timestamps are UTC and timezone-aware. The schema changes only through Alembic migrations
(``db/migrations``); nothing calls ``create_all`` outside tests of the migrations themselves.
"""

from __future__ import annotations

from db.tables.alerts import Alert as Alert
from db.tables.alerts import AlertEntity as AlertEntity
from db.tables.alerts import AlertSource as AlertSource
from db.tables.articles import Article as Article
from db.tables.articles import Story as Story
from db.tables.chats import Chat as Chat
from db.tables.chats import ChatMute as ChatMute
from db.tables.chats import Subscription as Subscription
from db.tables.chats import WatchItem as WatchItem
from db.tables.columns import UTCDateTime as UTCDateTime
from db.tables.columns import utcnow as utcnow
from db.tables.delivery import ChatLock as ChatLock
from db.tables.delivery import Delivery as Delivery
from db.tables.feeds import Feed as Feed
from db.tables.feeds import FeedEntry as FeedEntry
from db.tables.lists import EntityName as EntityName
from db.tables.lists import ListedEntity as ListedEntity
from db.tables.lists import ListSource as ListSource
from db.tables.lists import ListSync as ListSync
from db.tables.review import ReviewMark as ReviewMark
from db.tables.review import TuningChange as TuningChange
