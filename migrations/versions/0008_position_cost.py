"""Positions keep their exact open cost.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

Hand-written. ``positions.cost`` is the signed sum of qty x price of the open quantity (negative for a
short), exact: unrealized P&L is quantity x mark - cost, and a close realizes against the closed
part's share of it (``domain.positions``); ``avg_price`` stays, as cost / quantity rounded to 8 places,
for display. Rows written before hold no cost: they get quantity x avg_price, the best they have (off
by under quantity x 0.5e-8; exact for a flat position, 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("positions", sa.Column("cost", sa.Numeric(asdecimal=True), nullable=True))
    op.execute("UPDATE positions SET cost = quantity * avg_price")
    op.alter_column("positions", "cost", nullable=False)


def downgrade() -> None:
    op.drop_column("positions", "cost")
