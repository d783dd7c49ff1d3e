"""Offered slots: the times proposed in drafts, so no slot goes to too many people and no
block lands inside one.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

TEXT = sa.Text()
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "offers",
        sa.Column("account", TEXT, nullable=False),
        sa.Column("draft_key", TEXT, nullable=False),
        sa.Column("starts_at", WHEN, nullable=False),
        sa.Column("ends_at", WHEN, nullable=False),
        sa.Column("hold_until", WHEN, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("account", "draft_key", "starts_at", name="pk_offers"),
    )
    op.create_index("ix_offers_account_ends_at", "offers", ["account", "ends_at"])


def downgrade() -> None:
    op.drop_index("ix_offers_account_ends_at", table_name="offers")
    op.drop_table("offers")
