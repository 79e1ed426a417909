"""unique keys: article text (without a URL identity), story key

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 12:00:00.000000

Concurrent scans stored the same text twice, and so its alerts twice: the content hash was
only indexed and "look up, then insert" is not atomic. Before the unique keys can be added,
the duplicates are merged into the row with the lowest id, with everything that points at a
duplicate repointed first: alerts, sources, feed entries, review marks, deliveries. An alert
of a duplicate that the kept row already has (same rule and regime in the same scope) is
merged into that alert. Written as plain statements so it runs the same on SQLite and
PostgreSQL, and self-contained (it never imports ``db``, whose code will change later).
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.engine import Connection

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

NO_URL = sa.text("url_key IS NULL")


def upgrade() -> None:
    bind = op.get_bind()
    _merge_duplicate_articles(bind)
    op.add_column('story', sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    _fill_story_keys(bind)
    _merge_duplicate_stories(bind)
    with op.batch_alter_table('story', schema=None) as batch_op:
        batch_op.alter_column('key', existing_type=sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False)
        batch_op.create_index('uq_story_key', ['key'], unique=True)
    op.create_index('uq_article_content_hash', 'article', ['content_hash'], unique=True, sqlite_where=NO_URL, postgresql_where=NO_URL)


def downgrade() -> None:
    op.drop_index('uq_article_content_hash', table_name='article', sqlite_where=NO_URL, postgresql_where=NO_URL)
    with op.batch_alter_table('story', schema=None) as batch_op:
        batch_op.drop_index('uq_story_key')
        batch_op.drop_column('key')


# --- merging duplicates ---------------------------------------------------------------------


def _merge_duplicate_articles(bind: Connection) -> None:
    """Articles without a URL identity and with the same text: keep the first."""
    groups = bind.execute(
        sa.text("SELECT content_hash, MIN(id) FROM article WHERE url_key IS NULL GROUP BY content_hash HAVING COUNT(*) > 1")
    ).all()
    for digest, keep in groups:
        duplicates = bind.execute(
            sa.text("SELECT id FROM article WHERE url_key IS NULL AND content_hash = :digest AND id <> :keep ORDER BY id"),
            {"digest": digest, "keep": keep},
        ).scalars()
        for duplicate in list(duplicates):
            _merge_article(bind, duplicate, keep)


def _merge_article(bind: Connection, duplicate: int, keep: int) -> None:
    _merge_scope(bind, f"article:{duplicate}", f"article:{keep}")
    ids = {"duplicate": duplicate, "keep": keep}
    bind.execute(sa.text("UPDATE alert SET article_id = :keep WHERE article_id = :duplicate"), ids)
    bind.execute(sa.text("UPDATE feed_entry SET article_id = :keep WHERE article_id = :duplicate"), ids)
    _repoint(bind, "alert_source", "article_id", "alert_id", duplicate, keep)
    bind.execute(sa.text("DELETE FROM article WHERE id = :duplicate"), ids)


def _fill_story_keys(bind: Connection) -> None:
    """``db.stories.story_key`` as of this revision: the stored fingerprint and title, hashed."""
    for story_id, fingerprint, title in bind.execute(sa.text("SELECT id, simhash, title FROM story")).all():
        key = hashlib.sha256(f"{fingerprint}\n{title}".encode("utf-8")).hexdigest()
        bind.execute(sa.text("UPDATE story SET key = :key WHERE id = :id"), {"key": key, "id": story_id})


def _merge_duplicate_stories(bind: Connection) -> None:
    """Stories started twice for the same text: keep the first, seen as late as either."""
    groups = bind.execute(sa.text("SELECT key, MIN(id), MAX(last_seen_at) FROM story GROUP BY key HAVING COUNT(*) > 1")).all()
    for key, keep, last_seen in groups:
        duplicates = bind.execute(sa.text("SELECT id FROM story WHERE key = :key AND id <> :keep"), {"key": key, "keep": keep}).scalars()
        for duplicate in list(duplicates):
            _merge_scope(bind, f"story:{duplicate}", f"story:{keep}")
            ids = {"duplicate": duplicate, "keep": keep}
            bind.execute(sa.text("UPDATE article SET story_id = :keep WHERE story_id = :duplicate"), ids)
            bind.execute(sa.text("DELETE FROM story WHERE id = :duplicate"), ids)
        bind.execute(sa.text("UPDATE story SET last_seen_at = :seen WHERE id = :keep"), {"seen": last_seen, "keep": keep})


def _merge_scope(bind: Connection, old: str, new: str) -> None:
    """Re-key the alerts of scope ``old`` (``article:N`` or ``story:N``) to scope ``new``; one
    whose new key is taken already is merged into the alert holding it."""
    prefix = f"{old}|"
    rows = bind.execute(
        sa.text("SELECT id, dedup_key FROM alert WHERE substr(dedup_key, 1, :length) = :prefix ORDER BY id"),
        {"length": len(prefix), "prefix": prefix},
    ).all()
    for alert_id, key in rows:
        new_key = (new + key[len(old):])[:256]
        holder = bind.execute(sa.text("SELECT id FROM alert WHERE dedup_key = :key"), {"key": new_key}).scalar()
        if holder is None:
            bind.execute(sa.text("UPDATE alert SET dedup_key = :key WHERE id = :id"), {"key": new_key, "id": alert_id})
        else:
            _merge_alert(bind, alert_id, holder)


def _merge_alert(bind: Connection, duplicate: int, keep: int) -> None:
    """Move a duplicate alert's sources, review marks and deliveries to the alert kept."""
    _repoint(bind, "alert_source", "alert_id", "article_id", duplicate, keep)
    _repoint(bind, "delivery", "alert_id", "chat_id", duplicate, keep)
    ids = {"duplicate": duplicate, "keep": keep}
    bind.execute(sa.text("UPDATE review_mark SET alert_id = :keep WHERE alert_id = :duplicate"), ids)
    bind.execute(sa.text("DELETE FROM alert_entity WHERE alert_id = :duplicate"), ids)
    bind.execute(sa.text("DELETE FROM alert WHERE id = :duplicate"), ids)


def _repoint(bind: Connection, table: str, column: str, partner: str, duplicate: int, keep: int) -> None:
    """Point ``table.column`` rows from ``duplicate`` to ``keep`` where (column, partner) stays
    unique; the rest (the kept row has that partner already) are dropped."""
    ids = {"duplicate": duplicate, "keep": keep}
    bind.execute(
        sa.text(
            f"UPDATE {table} SET {column} = :keep WHERE {column} = :duplicate AND NOT EXISTS "
            f"(SELECT 1 FROM {table} AS other WHERE other.{column} = :keep AND other.{partner} = {table}.{partner})"
        ),
        ids,
    )
    bind.execute(sa.text(f"DELETE FROM {table} WHERE {column} = :duplicate"), ids)
