"""Audit trail of risk operations: kill switches, resumes, limit changes.

Revision ID: 0003
Revises: 0002
Create Date: 2025-11-25

Hand-written, like 0001 and 0002. One row per operator action on the risk interceptor, written by
the REST handler that carried it out: who (``by``), when (``at_ns``, with ``at`` generated from it
like the book's other timestamps), what (``action``), in which scope, and the details as JSON (a
kill's reason and the cancels it sent; a limit change's old and new config).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "risk_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("at_ns", sa.BigInteger(), nullable=False),
        sa.Column(
            "at",
            sa.TIMESTAMP(timezone=True),
            sa.Computed("to_timestamp(at_ns::double precision / 1e9)", persisted=True),
        ),
        sa.Column("by", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("details", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_events")),
        sa.CheckConstraint("action IN ('KILL', 'RESUME', 'LIMITS')", name=op.f("ck_risk_events_action")),
        sa.CheckConstraint(
            "scope IS NULL OR scope IN ('firm', 'account', 'session', 'symbol')",
            name=op.f("ck_risk_events_scope"),
        ),
    )
    op.create_index(op.f("ix_risk_events_at_ns"), "risk_events", ["at_ns"])


def downgrade() -> None:
    op.drop_index(op.f("ix_risk_events_at_ns"), table_name="risk_events")
    op.drop_table("risk_events")
