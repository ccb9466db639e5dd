"""risk_events may hold CANCEL rows: an order cancel asked for over REST, with who asked.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Hand-written. The REST API audits every action with the name of the identity that took it; a cancel
sent through ``POST /orders/{id}/cancel`` is one (``by`` = the identity, ``value`` = the order id,
``scope`` NULL). Start-up reads only KILL, RESUME, BREACH and LIMITS rows, so CANCEL rows restore
nothing. Existing rows are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_risk_events_action"), "risk_events", type_="check")
    op.create_check_constraint(
        op.f("ck_risk_events_action"), "risk_events",
        "action IN ('KILL', 'RESUME', 'LIMITS', 'BREACH', 'CANCEL')",
    )


def downgrade() -> None:
    # The older CHECK cannot hold CANCEL rows: they go with it.
    op.execute("DELETE FROM risk_events WHERE action = 'CANCEL'")
    op.drop_constraint(op.f("ck_risk_events_action"), "risk_events", type_="check")
    op.create_check_constraint(
        op.f("ck_risk_events_action"), "risk_events", "action IN ('KILL', 'RESUME', 'LIMITS', 'BREACH')"
    )
