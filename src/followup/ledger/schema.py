"""The ledger's tables (SQLAlchemy Core). Migrations in followup/migrations must match these."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A tz-aware datetime stored in UTC; naive values are refused (they are bugs).

    SQLite keeps a naive UTC string of fixed width (so comparisons in SQL order correctly);
    PostgreSQL keeps a timestamptz. Either way the value read back is aware and in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime given to the ledger: {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class SafeText(TypeDecorator[str]):
    """Text without NUL characters: PostgreSQL refuses them, and a broken input must not be
    able to make a whole batch fail. Applied on the way in, so lookups strip them alike."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else value.replace("\x00", "")

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return value


# Stable constraint names, so later migrations can refer to them on every dialect.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _text(name: str, **kw: Any) -> Column[str]:
    return Column(name, SafeText(), nullable=kw.pop("nullable", False), **kw)


def _when(name: str, *, nullable: bool = False) -> Column[datetime]:
    return Column(name, UTCDateTime(), nullable=nullable)


cursors = Table(
    "cursors",
    metadata,
    _text("account"),
    _text("source"),
    _text("cursor"),
    _when("updated_at"),
    PrimaryKeyConstraint("account", "source"),
)

# One row per occurrence per source; `data` is the whole Meeting (see codec.py).
meetings = Table(
    "meetings",
    metadata,
    _text("account"),
    _text("source"),
    _text("uid"),
    _when("occurrence"),
    Column("sequence", Integer, nullable=False),
    _when("starts_at"),
    _when("ends_at"),
    Column("data", JSON, nullable=False),
    _when("updated_at"),
    PrimaryKeyConstraint("account", "source", "uid", "occurrence"),
    Index(None, "account", "starts_at"),
    Index(None, "account", "ends_at"),
    Index(None, "account", "uid", "occurrence"),  # merging copies across sources
)

# Occurrences the core has already turned into intents (or skipped): never again.
processed = Table(
    "processed",
    metadata,
    _text("account"),
    _text("uid"),
    _when("occurrence"),
    _when("processed_at"),
    PrimaryKeyConstraint("account", "uid", "occurrence"),
)

# A row per recurring series the ledger knows, so "known with no members" differs from "new".
series = Table(
    "series",
    metadata,
    _text("account"),
    _text("uid"),
    _when("updated_at"),
    PrimaryKeyConstraint("account", "uid"),
)

series_members = Table(
    "series_members",
    metadata,
    _text("account"),
    _text("uid"),
    _text("email"),
    PrimaryKeyConstraint("account", "uid", "email"),
    ForeignKeyConstraint(["account", "uid"], ["series.account", "series.uid"], ondelete="CASCADE"),
)

# The planner's PersonState, one row per person met.
people = Table(
    "people",
    metadata,
    _text("account"),
    _text("email"),
    _text("name", nullable=True),
    _when("first_met"),
    _text("last_meeting_title"),
    _when("anchor"),
    Column("touches", Integer, nullable=False),
    Column("open_touch", Boolean, nullable=False),
    _when("updated_at"),
    # Revision 0004: the cadence's state (core.state.PersonState).
    _text("status", server_default="active"),
    _text("reason", server_default=""),
    Column("unanswered", Integer, nullable=False, server_default="0"),
    _when("asked_at", nullable=True),
    _text("channel", server_default="email"),
    _text("notes", server_default=""),
    _when("last_met", nullable=True),
    _text("given", server_default="[]"),  # JSON list of strings
    PrimaryKeyConstraint("account", "email"),
)

writes = Table(
    "writes",
    metadata,
    _text("key"),
    _text("account"),
    _text("kind"),
    _text("state"),
    Column("payload", JSON, nullable=False),
    _when("due"),
    _text("person"),
    _text("meeting_uid"),
    _when("occurrence", nullable=True),
    Column("touch", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    _text("last_error", nullable=True),
    _text("remote_id", nullable=True),
    _text("fingerprint", nullable=True),
    _text("outcome", nullable=True),
    _when("created_at"),
    _when("updated_at"),
    _when("done_at", nullable=True),
    _when("retry_at", nullable=True),
    # Revision 0002: attempts given back (environment failures), and the claim of the
    # process writing the row now (owner and lease), so two processes never both write it.
    Column("spared", Integer, nullable=False, server_default="0"),
    _text("claim_owner", nullable=True),
    _when("claim_until", nullable=True),
    PrimaryKeyConstraint("key"),
    Index(None, "account", "state", "due"),
)

accounts = Table(
    "accounts",
    metadata,
    _text("account"),
    Column("needs_reconnect", Boolean, nullable=False),
    _when("last_sync", nullable=True),
    _text("last_error", nullable=True),
    _when("updated_at"),
    # Revision 0002: the account's writes paused for the environment; adoption done.
    _when("backoff_until", nullable=True),
    _text("backoff_error", nullable=True),
    Column("backoff_count", Integer, nullable=False, server_default="0"),
    _when("adopted_at", nullable=True),
    PrimaryKeyConstraint("account"),
)

# Revision 0002: why a meeting's people got no follow-up, kept for `followup log`.
skips = Table(
    "skips",
    metadata,
    _text("account"),
    _text("meeting_uid"),
    _when("occurrence"),
    _text("title"),
    _text("person"),  # "" for the whole meeting
    _text("code"),
    _text("reason"),
    _when("at"),
    PrimaryKeyConstraint("account", "meeting_uid", "occurrence", "person", "code"),
    Index(None, "account", "at"),
)

# Revision 0003: slots proposed in drafts, held until the draft is deleted, the slot
# starts, or `hold_until` passes. Blocks and later proposals keep clear of them.
offers = Table(
    "offers",
    metadata,
    _text("account"),
    _text("draft_key"),
    _when("starts_at"),
    _when("ends_at"),
    _when("hold_until"),
    _when("created_at"),
    PrimaryKeyConstraint("account", "draft_key", "starts_at"),
    Index(None, "account", "ends_at"),
)
