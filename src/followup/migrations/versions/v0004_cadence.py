"""The cadence's state per person (PLAYBOOK §3–4).

people: `status` (active / talking / paused / ended) and its `reason`, `unanswered` touches
in a row, the day and channel the contact asked for (`asked_at`, `channel`), the private
`notes` of the last meeting (material for later touches and their blocks), `last_met`, and
what earlier touches already `given` (a JSON list: each resource or promise once).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

TEXT = sa.Text()
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("status", TEXT, nullable=False, server_default="active"))
        batch.add_column(sa.Column("reason", TEXT, nullable=False, server_default=""))
        batch.add_column(sa.Column("unanswered", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("asked_at", WHEN, nullable=True))
        batch.add_column(sa.Column("channel", TEXT, nullable=False, server_default="email"))
        batch.add_column(sa.Column("notes", TEXT, nullable=False, server_default=""))
        batch.add_column(sa.Column("last_met", WHEN, nullable=True))
        batch.add_column(sa.Column("given", TEXT, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("people") as batch:
        for name in ("given", "last_met", "notes", "channel", "asked_at", "unanswered",
                     "reason", "status"):
            batch.drop_column(name)
