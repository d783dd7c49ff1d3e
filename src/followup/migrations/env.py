"""Alembic environment: runs on the connection followup.ledger.migrate hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from followup.ledger.schema import metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "followup's migrations run from followup.ledger.migrate, which passes a connection"
        )
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode recreates the table instead.
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
