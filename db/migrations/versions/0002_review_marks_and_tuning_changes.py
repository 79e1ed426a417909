"""review marks and tuning changes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 07:17:06.085674
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tuning_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('entity_key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('alias', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
    sa.Column('rule_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=True),
    sa.Column('author', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('review_mark',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('verdict', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('entity_key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('chat_id', sa.Integer(), nullable=True),
    sa.Column('author', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('review_mark', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_mark_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_mark_chat_id'), ['chat_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_mark_entity_key'), ['entity_key'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('review_mark', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_mark_entity_key'))
        batch_op.drop_index(batch_op.f('ix_review_mark_chat_id'))
        batch_op.drop_index(batch_op.f('ix_review_mark_alert_id'))

    op.drop_table('review_mark')
    op.drop_table('tuning_change')
