"""Bring a ledger database to the schema this followup knows, with Alembic, from the package."""

from __future__ import annotations

from pathlib import Path

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, text

from followup.ledger.rows import SchemaTooNewError

log = structlog.get_logger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

# Any constant: serialises concurrent first-time migrations on one PostgreSQL database.
_PG_MIGRATION_LOCK = 0x666F6C6C6F77


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    return head


def current_revision(connection: Connection) -> str | None:
    heads = MigrationContext.configure(connection).get_current_heads()
    return heads[0] if heads else None


def upgrade_to_head(engine: Engine) -> str:
    """Migrate to head in one transaction; returns the revision. Refuses unknown revisions,
    which a newer followup wrote: downgrading its data could lose writes it recorded."""
    scripts = ScriptDirectory.from_config(alembic_config())
    head = head_revision()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        current = current_revision(conn)
        if current == head:
            return head
        if current is not None:
            try:
                scripts.get_revision(current)
            except CommandError as exc:
                raise SchemaTooNewError(
                    f"the ledger database is at schema revision {current!r}, which this "
                    f"version of followup does not know (its newest is {head!r}); it was "
                    "written by a newer followup: upgrade followup, or point it at another "
                    "database"
                ) from exc
        log.info("ledger.migrating", current=current, head=head)
        command.upgrade(alembic_config(conn), "head")
    return head
