"""Child orders: the legs a client's order was split into across venues.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

Hand-written. ``orders.parent_id`` names, on a child order (one leg the router sent to one venue),
the client's order it works for; NULL on every order a client sent (``oms.router.Plan``). No foreign
key: a parent and its children are written in one batch, in any order.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("parent_id", sa.BigInteger(), nullable=True))
    op.create_index("ix_orders_parent_id", "orders", ["parent_id"])


def downgrade() -> None:
    op.drop_index("ix_orders_parent_id", table_name="orders")
    op.drop_column("orders", "parent_id")
