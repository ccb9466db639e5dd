"""Orders keep the cancel or replace outstanding at the venue.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Hand-written. ``orders.pending`` is the request the order's PendingCancel/PendingReplace waits on and
``orders.chained`` a sweep's cancel sent behind a pending replace, each as the OMS encodes it (a JSON
array: kind, the client's ClOrdID and OrigClOrdID, the venue ClOrdID, the status before, quantity and
price as exact decimal text). A restart reads them back, so the venue's answer reaches the client as
the answer to its own request. NULL when nothing is outstanding, and on rows written before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("pending", "chained")


def upgrade() -> None:
    for name in _COLUMNS:
        op.add_column("orders", sa.Column(name, sa.Text(), nullable=True))


def downgrade() -> None:
    for name in _COLUMNS:
        op.drop_column("orders", name)
