"""The initial ledger schema.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

TEXT = sa.Text()
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cursors",
        sa.Column("account", TEXT, nullable=False),
        sa.Column("source", TEXT, nullable=False),
        sa.Column("cursor", TEXT, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("account", "source", name="pk_cursors"),
    )
    op.create_table(
        "meetings",
        sa.Column("account", TEXT, nullable=False),
        sa.Column("source", TEXT, nullable=False),
        sa.Column("uid", TEXT, nullable=False),
        sa.Column("occurrence", WHEN, nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("starts_at", WHEN, nullable=False),
        sa.Column("ends_at", WHEN, nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("account", "source", "uid", "occurrence", name="pk_meetings"),
    )
    op.create_index("ix_meetings_account_starts_at", "meetings", ["account", "starts_at"])
    op.create_index("ix_meetings_account_ends_at", "meetings", ["account", "ends_at"])
    op.create_index(
        "ix_meetings_account_uid_occurrence", "meetings", ["account", "uid", "occurrence"]
    )
    op.create_table(
        "processed",
        sa.Column("account", TEXT, nullable=False),
        sa.Column("uid", TEXT, nullable=False),
        sa.Column("occurrence", WHEN, nullable=False),
        sa.Column("processed_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("account", "uid", "occurrence", name="pk_processed"),
    )
    op.create_table(
        "series",
        sa.Column("account", TEXT, nullable=False),
        sa.Column("uid", TEXT, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("account", "uid", name="pk_series"),
    )
    op.create_table(
        "series_members",
        sa.Column("account", TEXT, nullable=False),
        sa.Column("uid", TEXT, nullable=False),
        sa.Column("email", TEXT, nullable=False),
        sa.PrimaryKeyConstraint("account", "uid", "email", name="pk_series_members"),
        sa.ForeignKeyConstraint(
            ["account", "uid"],
            ["series.account", "series.uid"],
            name="fk_series_members_account_uid_series",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "people",
        sa.Column("account", TEXT, nullable=False),
        sa.Column("email", TEXT, nullable=False),
        sa.Column("name", TEXT, nullable=True),
        sa.Column("first_met", WHEN, nullable=False),
        sa.Column("last_meeting_title", TEXT, nullable=False),
        sa.Column("anchor", WHEN, nullable=False),
        sa.Column("touches", sa.Integer(), nullable=False),
        sa.Column("open_touch", sa.Boolean(), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("account", "email", name="pk_people"),
    )
    op.create_table(
        "writes",
        sa.Column("key", TEXT, nullable=False),
        sa.Column("account", TEXT, nullable=False),
        sa.Column("kind", TEXT, nullable=False),
        sa.Column("state", TEXT, nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("due", WHEN, nullable=False),
        sa.Column("person", TEXT, nullable=False),
        sa.Column("meeting_uid", TEXT, nullable=False),
        sa.Column("occurrence", WHEN, nullable=True),
        sa.Column("touch", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", TEXT, nullable=True),
        sa.Column("remote_id", TEXT, nullable=True),
        sa.Column("fingerprint", TEXT, nullable=True),
        sa.Column("outcome", TEXT, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("done_at", WHEN, nullable=True),
        sa.Column("retry_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_writes"),
    )
    op.create_index("ix_writes_account_state_due", "writes", ["account", "state", "due"])
    op.create_table(
        "accounts",
        sa.Column("account", TEXT, nullable=False),
        sa.Column("needs_reconnect", sa.Boolean(), nullable=False),
        sa.Column("last_sync", WHEN, nullable=True),
        sa.Column("last_error", TEXT, nullable=True),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("account", name="pk_accounts"),
    )


def downgrade() -> None:
    # Dropping a table drops its indexes too.
    for table in (
        "accounts",
        "writes",
        "people",
        "series_members",
        "series",
        "processed",
        "meetings",
        "cursors",
    ):
        op.drop_table(table)
