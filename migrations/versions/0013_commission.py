"""Executions keep a fill's commission.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04

Hand-written. ``executions.commission`` is the venue's fee of a fill in money: its Commission (12)
made absolute by its CommType (13) (``gateway.translate.commission``). NULL for every other execution,
a fill whose venue reported no fee (or one fixgate could not read), and every row written before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("executions", sa.Column("commission", sa.Numeric(asdecimal=True), nullable=True))


def downgrade() -> None:
    op.drop_column("executions", "commission")
