"""list sync state; how an alert was found

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 17:00:00.000000

``list_sync`` keeps, per configured list source, the validators of the last download, the hash
of the files last imported and the last error, so a sync can skip unchanged lists and
``lists status`` can say what went wrong. ``alert.found_by`` tells alerts raised by a list
update's re-screening of stored articles from those found when the article came in.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('list_sync',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('validators', sa.JSON(), nullable=False),
    sa.Column('body_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_change_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('last_error_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source')
    )
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.add_column(sa.Column('found_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False, server_default='scan'))
    with op.batch_alter_table('alert', schema=None) as batch_op:  # existing rows filled; new ones set it
        batch_op.alter_column('found_by', existing_type=sqlmodel.sql.sqltypes.AutoString(length=32), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_column('found_by')
    op.drop_table('list_sync')
