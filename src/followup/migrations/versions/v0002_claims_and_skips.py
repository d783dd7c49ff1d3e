"""Write claims, environment back-off, adoption, and stored skips.

- writes: `spared` (attempts given back after environment failures), `claim_owner` and
  `claim_until` (the process writing the row now, and until when its claim holds);
- accounts: `backoff_until`, `backoff_error`, `backoff_count` (writes paused for a full
  disk or a network outage), `adopted_at` (the first complete pass over the account's
  writes: before it, a new ledger looks every key up first);
- skips: why a meeting's people got no follow-up, for `followup log`.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

TEXT = sa.Text()
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("writes") as batch:
        batch.add_column(sa.Column("spared", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("claim_owner", TEXT, nullable=True))
        batch.add_column(sa.Column("claim_until", WHEN, nullable=True))
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("backoff_until", WHEN, nullable=True))
        batch.add_column(sa.Column("backoff_error", TEXT, nullable=True))
        batch.add_column(
            sa.Column("backoff_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("adopted_at", WHEN, nullable=True))
    # A ledger that already completed a cycle is not new: no adoption lookups after upgrade.
    op.execute("UPDATE accounts SET adopted_at = last_sync WHERE last_sync IS NOT NULL")
    op.create_table(
        "skips",
        sa.Column("account", TEXT, nullable=False),
        sa.Column("meeting_uid", TEXT, nullable=False),
        sa.Column("occurrence", WHEN, nullable=False),
        sa.Column("title", TEXT, nullable=False),
        sa.Column("person", TEXT, nullable=False),
        sa.Column("code", TEXT, nullable=False),
        sa.Column("reason", TEXT, nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint(
            "account", "meeting_uid", "occurrence", "person", "code", name="pk_skips"
        ),
    )
    op.create_index("ix_skips_account_at", "skips", ["account", "at"])


def downgrade() -> None:
    op.drop_table("skips")
    with op.batch_alter_table("accounts") as batch:
        for column in ("adopted_at", "backoff_count", "backoff_error", "backoff_until"):
            batch.drop_column(column)
    with op.batch_alter_table("writes") as batch:
        for column in ("claim_until", "claim_owner", "spared"):
            batch.drop_column(column)
