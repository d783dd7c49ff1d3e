"""The push tables, in a metadata of their own beside company mode's (company.schema).

Like the company tables they are not in the ledger's Alembic history: an embedded SQLite
ledger never needs them, and they name company accounts, which the ledger's migrations
know nothing about. `ensure_schema` creates what is missing under an advisory lock.

- push_channels: one subscription at a provider that sends notices about one account: a
  Gmail users.watch (one per account, delivered to Pub/Sub), a Calendar events.watch
  channel (one per calendar), a Graph subscription (events, messages). `secret_hash` is
  the SHA-256 of the channel token / clientState: enough to check a notice, useless to
  forge one. `expires_at` is the provider's; `failures` counts renewals in a row that
  failed; `notices` / `forged` count what arrived. No foreign key to company_accounts: a
  removed account's channels must outlive its row long enough to be stopped.
- push_org: a tenant's organisation-wide credential (a Google service account with
  domain-wide delegation, or a Microsoft app registration's certificate), sealed with the
  company master key (company.crypto), with its settings (domain, admin, endpoints).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    text,
)
from sqlalchemy.engine import Engine

_SCHEMA_LOCK = 0x66757034

metadata = MetaData()

channels = Table(
    "push_channels",
    metadata,
    Column("id", Text, primary_key=True),  # our channel id / Graph's subscription id
    Column("account", Text, nullable=False),
    Column("tenant", Text, nullable=False),
    Column("kind", Text, nullable=False),  # gmail | calendar | graph_events | graph_messages
    Column("resource", Text, nullable=False),  # mailbox address, calendar id, Graph resource
    Column("resource_id", Text),  # Google's resourceId (channels.stop needs it)
    Column("secret_hash", Text),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("renewed_at", DateTime(timezone=True), nullable=False),
    Column("failures", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
    Column("notices", Integer, nullable=False, server_default=text("0")),
    Column("forged", Integer, nullable=False, server_default=text("0")),
    Column("last_notice_at", DateTime(timezone=True)),
)
Index("push_channels_account", channels.c.account)
Index("push_channels_expiry", channels.c.expires_at)
Index("push_channels_resource", channels.c.kind, channels.c.resource)

org = Table(
    "push_org",
    metadata,
    Column("tenant", Text, primary_key=True),
    Column("provider", Text, nullable=False),  # google | microsoft
    Column("settings", JSON, nullable=False),
    Column("credential", LargeBinary, nullable=False),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


def ensure_schema(engine: Engine) -> None:
    """Create the push tables that are missing; idempotent and safe to run concurrently."""
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:ns, hashtext(current_schema()))"),
                     {"ns": _SCHEMA_LOCK})
        metadata.create_all(conn, checkfirst=True)
