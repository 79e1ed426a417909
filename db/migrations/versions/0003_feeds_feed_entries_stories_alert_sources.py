"""feeds, feed entries, stories, alert sources

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 07:29:37.950713
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('feed',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('interval_s', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('origin', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('added_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('etag', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
    sa.Column('last_modified', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('next_due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_polled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('last_error_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('items_seen', sa.Integer(), nullable=False),
    sa.Column('articles', sa.Integer(), nullable=False),
    sa.Column('alerts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('url')
    )
    with op.batch_alter_table('feed', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feed_next_due_at'), ['next_due_at'], unique=False)

    op.create_table('story',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('simhash', sa.BigInteger(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('story', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_story_last_seen_at'), ['last_seen_at'], unique=False)

    op.create_table('feed_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('feed_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=True),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['article.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['feed_id'], ['feed.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('feed_id', 'entry_id', name='uq_feed_entry')
    )
    with op.batch_alter_table('feed_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feed_entry_feed_id'), ['feed_id'], unique=False)

    op.create_table('alert_source',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['article_id'], ['article.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('alert_id', 'article_id', name='uq_alert_source')
    )
    with op.batch_alter_table('alert_source', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_source_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_source_article_id'), ['article_id'], unique=False)

    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.add_column(sa.Column('story_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('simhash', sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f('ix_article_story_id'), ['story_id'], unique=False)
        batch_op.create_foreign_key('fk_article_story_id', 'story', ['story_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.drop_constraint('fk_article_story_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_article_story_id'))
        batch_op.drop_column('simhash')
        batch_op.drop_column('story_id')

    with op.batch_alter_table('alert_source', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_source_article_id'))
        batch_op.drop_index(batch_op.f('ix_alert_source_alert_id'))

    op.drop_table('alert_source')
    with op.batch_alter_table('feed_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feed_entry_feed_id'))

    op.drop_table('feed_entry')
    with op.batch_alter_table('story', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_story_last_seen_at'))

    op.drop_table('story')
    with op.batch_alter_table('feed', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feed_next_due_at'))

    op.drop_table('feed')
