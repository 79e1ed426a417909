"""core tables: lists, articles, alerts

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 06:50:21.296955
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('article',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=True),
    sa.Column('url_key', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=True),
    sa.Column('content_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
    sa.Column('outlet', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('url_key')
    )
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_article_content_hash'), ['content_hash'], unique=False)

    op.create_table('list_source',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('entity_count', sa.Integer(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source')
    )
    op.create_table('listed_entity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('list_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('caption', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('programs', sa.JSON(), nullable=False),
    sa.Column('countries', sa.JSON(), nullable=False),
    sa.Column('identifiers', sa.JSON(), nullable=False),
    sa.Column('same_as', sa.JSON(), nullable=False),
    sa.Column('remarks', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('listed_entity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_listed_entity_source'), ['source'], unique=False)

    op.create_table('alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('dedup_key', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('rule_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('severity', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('regime', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('rule_source', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('references', sa.JSON(), nullable=False),
    sa.Column('entities', sa.JSON(), nullable=False),
    sa.Column('countries', sa.JSON(), nullable=False),
    sa.Column('terms', sa.JSON(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('explanation', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['article.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedup_key', name='uq_alert_dedup_key')
    )
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_article_id'), ['article_id'], unique=False)
        batch_op.create_index('ix_alert_created_at', ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_regime'), ['regime'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_rule_id'), ['rule_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_severity'), ['severity'], unique=False)

    op.create_table('entity_name',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('family', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True),
    sa.ForeignKeyConstraint(['entity_id'], ['listed_entity.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('entity_name', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entity_name_entity_id'), ['entity_id'], unique=False)

    op.create_table('alert_entity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('entity_key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('caption', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('matched', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alert_entity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_entity_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_entity_entity_key'), ['entity_key'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('alert_entity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_entity_entity_key'))
        batch_op.drop_index(batch_op.f('ix_alert_entity_alert_id'))

    op.drop_table('alert_entity')
    with op.batch_alter_table('entity_name', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entity_name_entity_id'))

    op.drop_table('entity_name')
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_severity'))
        batch_op.drop_index(batch_op.f('ix_alert_rule_id'))
        batch_op.drop_index(batch_op.f('ix_alert_regime'))
        batch_op.drop_index('ix_alert_created_at')
        batch_op.drop_index(batch_op.f('ix_alert_article_id'))

    op.drop_table('alert')
    with op.batch_alter_table('listed_entity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_listed_entity_source'))

    op.drop_table('listed_entity')
    op.drop_table('list_source')
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_article_content_hash'))

    op.drop_table('article')
