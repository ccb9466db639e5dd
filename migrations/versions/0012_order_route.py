"""Orders keep why they went to their venue.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

Hand-written. ``orders.route`` is the router's decision for the order, with its inputs, as JSON
(``oms.router.Route.decision``): the policy (the client's ExDestination, or the best fee- and
score-adjusted price) and per venue considered its quote, fee, score and rank. '' on rows written
before, and on orders refused before routing.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("route", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("orders", "route")
