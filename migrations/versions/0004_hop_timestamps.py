"""Per-hop timestamps of the gateway on orders and executions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

Hand-written. Wall-clock nanoseconds the gateway stamped at each hop, so a slow order can be explained
afterwards: ``orders.received_ns`` (client NewOrderSingle in), ``decided_ns`` (OMS, risk and journal
done) and ``venue_sent_ns`` (handed to the venue session); ``executions.applied_ns`` (the OMS applied
the venue's report) and ``client_sent_ns`` (the client's report handed to its session), after the
existing ``received_ns``. Nullable: rows written before, by replay, or made by the gateway itself
(risk rejects, pending acks) may have none.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ORDER_COLUMNS = ("received_ns", "decided_ns", "venue_sent_ns")
_EXECUTION_COLUMNS = ("applied_ns", "client_sent_ns")


def upgrade() -> None:
    for name in _ORDER_COLUMNS:
        op.add_column("orders", sa.Column(name, sa.BigInteger(), nullable=True))
    for name in _EXECUTION_COLUMNS:
        op.add_column("executions", sa.Column(name, sa.BigInteger(), nullable=True))


def downgrade() -> None:
    for name in _EXECUTION_COLUMNS:
        op.drop_column("executions", name)
    for name in _ORDER_COLUMNS:
        op.drop_column("orders", name)
