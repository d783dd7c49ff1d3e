"""Company mode's own tables, beside the ledger's and procrastinate's in one PostgreSQL.

They live in a metadata of their own, not in the ledger's Alembic history: an embedded
SQLite ledger never gets them, and the ledger's migrations stay the ledger's. `ensure_schema`
creates what is missing (CREATE TABLE IF NOT EXISTS, under an advisory lock so two workers
starting together do not race) and records COMPANY_SCHEMA_VERSION; a later change to these
tables bumps the version and adds its own step there.

- company_tenants: a customer or team; `settings` is a followup config without accounts
  (user, triage, schedule, drafts, daemon), validated by config.Config.
- company_accounts: one mailbox. `config` is the account table of a followup TOML (validated
  by the same pydantic models), `user_settings` overrides the tenant's [user] for this person. The
  credential is envelope-encrypted (company.crypto). The rest is the account's status row,
  the truth that jobs are only hints of: when it is next checked, its last sync and error,
  a throttle, and the lease (owner, epoch, until) that fences its writes (company.lease).
- company_buckets: token buckets per provider and tenant (company.bucket).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    text,
)
from sqlalchemy.engine import Engine

COMPANY_SCHEMA_VERSION = 1
# Namespace of the advisory lock taken while creating the schema, any constant.
_SCHEMA_LOCK = 0x66757032

metadata = MetaData()

tenants = Table(
    "company_tenants",
    metadata,
    Column("name", Text, primary_key=True),
    Column("settings", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

accounts = Table(
    "company_accounts",
    metadata,
    Column("name", Text, primary_key=True),  # the ledger's account key: unique company-wide
    Column("tenant", Text, ForeignKey("company_tenants.name"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("config", JSON, nullable=False),
    Column("user_settings", JSON, nullable=False),  # the [user] overrides
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("credential", LargeBinary),
    Column("wrapped_key", LargeBinary),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Status: the truth jobs are hints of.
    Column("next_check_at", DateTime(timezone=True)),  # the sweep queues it from then on
    Column("next_due_at", DateTime(timezone=True)),  # the engine's next_due, for the lag
    Column("throttled_until", DateTime(timezone=True)),
    Column("throttle_reason", Text),
    Column("failures", Integer, nullable=False, server_default=text("0")),
    Column("needs_reconnect", Boolean, nullable=False, server_default=text("false")),
    Column("last_sync", DateTime(timezone=True)),
    Column("last_error", Text),
    # The lease that fences writes: bumped epoch on every acquisition.
    Column("lease_epoch", BigInteger, nullable=False, server_default=text("0")),
    Column("lease_owner", Text),
    Column("lease_until", DateTime(timezone=True)),
)
Index("company_accounts_next_check", accounts.c.next_check_at)

buckets = Table(
    "company_buckets",
    metadata,
    Column("provider", Text, primary_key=True),
    Column("tenant", Text, primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

schema_version = Table(
    "company_schema_version",
    metadata,
    Column("version", Integer, nullable=False),
)


def ensure_schema(engine: Engine) -> None:
    """Create the company tables that are missing; idempotent and safe to run concurrently."""
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:ns, hashtext(current_schema()))"),
                     {"ns": _SCHEMA_LOCK})
        metadata.create_all(conn, checkfirst=True)
        found = conn.execute(schema_version.select()).first()
        if found is None:
            conn.execute(schema_version.insert().values(version=COMPANY_SCHEMA_VERSION))
