"""Bring a ledger database to the schema this followup knows, with Alembic, from the package.

Alembic itself (a third of a second of imports) is loaded only when the schema is behind:
every process start checks the revision with one query and the revision files' own text.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import Connection, Engine, inspect, text

from followup.ledger.rows import SchemaTooNewError

if TYPE_CHECKING:
    from alembic.config import Config

log = structlog.get_logger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps (and queries below)

# Any constant: serialises concurrent first-time migrations on one PostgreSQL database.
_PG_MIGRATION_LOCK = 0x666F6C6C6F77

_REVISION = re.compile(r"^revision(?:\s*:\s*[^=]+)?\s*=\s*[\"']([^\"']+)[\"']", re.M)
_DOWN = re.compile(r"^down_revision(?:\s*:\s*[^=]+)?\s*=\s*(?:None|[\"']([^\"']*)[\"'])", re.M)


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@cache
def head_revision() -> str:
    """The newest revision of the package's migrations, read from the files' text (the
    `revision` no other file names as its `down_revision`); Alembic's own reading when the
    files do not say it plainly (several heads, an unusual layout)."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        rev = _REVISION.search(source)
        if rev is None:
            continue
        down = _DOWN.search(source)
        if down is None:
            return _alembic_head()
        revisions.add(rev.group(1))
        if down.group(1):
            downs.add(down.group(1))
    heads = revisions - downs
    if len(heads) != 1:
        return _alembic_head()
    return heads.pop()


def _alembic_head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    return head


def current_revision(connection: Connection) -> str | None:
    """The database's schema revision (None: no schema yet), as Alembic records it."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return str(rows[0]) if rows else None


def known_revision(revision: str) -> bool:
    """Whether `revision` is one of this followup's migrations (else a newer one wrote it)."""
    from alembic.script import ScriptDirectory

    try:
        ScriptDirectory.from_config(alembic_config()).get_revision(revision)
    except Exception:  # alembic's CommandError or ResolutionError: not one of ours
        return False
    return True


def upgrade_to_head(engine: Engine) -> str:
    """Migrate to head in one transaction; returns the revision. Refuses unknown revisions,
    which a newer followup wrote: downgrading its data could lose writes it recorded.

    A database already at head costs one query and no Alembic import."""
    head = head_revision()
    with engine.connect() as conn:
        if current_revision(conn) == head:
            return head
    from alembic import command

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        current = current_revision(conn)
        if current == head:
            return head
        if current is not None and not known_revision(current):
            raise SchemaTooNewError(
                f"the ledger database is at schema revision {current!r}, which this "
                f"version of followup does not know (its newest is {head!r}); it was "
                "written by a newer followup: upgrade followup, or point it at another "
                "database"
            )
        log.info("ledger.migrating", current=current, head=head)
        command.upgrade(alembic_config(conn), "head")
    return head
