"""Executions are unique by venue ExecID and content, not by venue ExecID alone.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

Hand-written. A venue that restarts its ExecIDs (a new process numbering from 1 again) reuses one for
a different report: the OMS applies it (``OrderManager._is_repeat``), so the book must record it. A
resend stays recorded once: the key is the venue, its ExecID, the order, ExecType, LastQty, LastPx and
the order's CumQty after the report. Downgrading fails if the book already holds two reports under one
venue ExecID.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "uq_executions_venue_venue_exec_id"
_NEW = "uq_executions_venue_report"


def upgrade() -> None:
    op.drop_constraint(_OLD, "executions", type_="unique")
    op.create_unique_constraint(
        op.f(_NEW), "executions",
        ["venue", "venue_exec_id", "order_id", "kind", "last_qty", "last_px", "cum_qty"],
    )


def downgrade() -> None:
    op.drop_constraint(op.f(_NEW), "executions", type_="unique")
    op.create_unique_constraint(op.f(_OLD), "executions", ["venue", "venue_exec_id"])
