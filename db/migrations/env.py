"""Alembic environment: runs on the connection ``db.engine.upgrade`` hands over."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import db.models

target_metadata = SQLModel.metadata
config = context.config


def run_migrations_online() -> None:
    """Migrate on the handed-over connection: ``upgrade`` holds the migration lock on it, and
    no URL (with its password) ever has to pass through Alembic's configuration file format."""
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "run migrations through db.engine.upgrade / downgrade, which hand over the connection"
        )
    _run(connection)


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write our UTC timestamp type as a plain SQLAlchemy type, so migrations never import db."""
    if type_ == "type" and isinstance(obj, db.models.UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite needs batch mode to alter tables
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
