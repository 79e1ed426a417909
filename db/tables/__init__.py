"""The tables, grouped by what they store; ``db.models`` gathers them all (and Alembic's metadata)."""
