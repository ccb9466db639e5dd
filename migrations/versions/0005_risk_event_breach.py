"""risk_events may hold BREACH rows: a state the daily loss limit set.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Hand-written. Start-up rebuilds kill switches, trading states and limits from ``risk_events``; the
states the daily loss limit sets (REDUCING or HALTED until an operator resumes) must be in it too, so
the action CHECK admits BREACH (written by the book writer from the journal, ``by`` = "risk", details:
state, reason, daily_loss, max_daily_loss). Existing rows are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_risk_events_action"), "risk_events", type_="check")
    op.create_check_constraint(
        op.f("ck_risk_events_action"), "risk_events", "action IN ('KILL', 'RESUME', 'LIMITS', 'BREACH')"
    )


def downgrade() -> None:
    # The older CHECK cannot hold BREACH rows: they go with it.
    op.execute("DELETE FROM risk_events WHERE action = 'BREACH'")
    op.drop_constraint(op.f("ck_risk_events_action"), "risk_events", type_="check")
    op.create_check_constraint(
        op.f("ck_risk_events_action"), "risk_events", "action IN ('KILL', 'RESUME', 'LIMITS')"
    )
