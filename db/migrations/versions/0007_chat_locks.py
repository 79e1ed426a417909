"""chat locks for several delivery workers

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 12:00:00.000000

``chat_lock`` holds expiring locks on a chat shared by every process that sends to it: which
delivery worker serves the chat's queue (``serve``) and which message is in flight (``send``),
so that two workers never send to one chat at once and a killed worker's chats are taken over.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('chat_lock',
    sa.Column('chat_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('until', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['chat_id'], ['chat.id'], name='fk_chat_lock_chat_id', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('chat_id', 'kind')
    )


def downgrade() -> None:
    op.drop_table('chat_lock')
