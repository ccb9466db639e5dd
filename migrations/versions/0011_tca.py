"""tca: transaction cost analysis tables; marks carry their venue's bid and offer.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

Hand-written. The TCA process (``tca.service``) keeps the cost of every fill and order, the venues'
scores, each venue's last quotes and how far into the event stream it has applied. A mark from a
venue's market data now names the venue and its best bid and offer (``MarkRecord``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HORIZONS_S = (1, 5, 30, 60)
METRICS = ("slippage_bps", "markout_bps", "reject_rate", "fill_rate")


def _at(name: str, column: str) -> sa.Column[object]:
    return sa.Column(name, sa.TIMESTAMP(timezone=True),
                     sa.Computed(f"to_timestamp({column}::double precision / 1e9)", persisted=True))


def upgrade() -> None:
    op.add_column("marks", sa.Column("venue", sa.Text(), nullable=True))
    op.add_column("marks", sa.Column("bid", sa.Numeric(), nullable=True))
    op.add_column("marks", sa.Column("offer", sa.Numeric(), nullable=True))

    markouts: list[sa.Column[object]] = []
    for h in HORIZONS_S:
        markouts += [sa.Column(f"mid_{h}s", sa.Numeric(), nullable=True),
                     sa.Column(f"markout_{h}s_bps", sa.Numeric(), nullable=True),
                     sa.Column(f"settled_{h}s", sa.Boolean(), nullable=False)]
    op.create_table(
        "tca_fills",
        sa.Column("exec_id", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("venue", sa.Text(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(), nullable=False),
        sa.Column("price", sa.Numeric(), nullable=False),
        sa.Column("order_quantity", sa.Numeric(), nullable=False),
        sa.Column("fee", sa.Numeric(), nullable=True),
        sa.Column("fill_ns", sa.BigInteger(), nullable=False),
        _at("fill_at", "fill_ns"),
        sa.Column("arrival_mid", sa.Numeric(), nullable=True),
        sa.Column("slippage_bps", sa.Numeric(), nullable=True),
        sa.Column("mid_at_fill", sa.Numeric(), nullable=True),
        sa.Column("effective_spread", sa.Numeric(), nullable=True),
        sa.Column("effective_spread_bps", sa.Numeric(), nullable=True),
        *markouts,
        sa.PrimaryKeyConstraint("exec_id", name=op.f("pk_tca_fills")),
    )
    op.create_index(op.f("ix_tca_fills_order_id"), "tca_fills", ["order_id"])
    op.create_index(op.f("ix_tca_fills_fill_ns"), "tca_fills", ["fill_ns"])
    op.create_index(op.f("ix_tca_fills_venue_fill_ns"), "tca_fills", ["venue", "fill_ns"])

    op.create_table(
        "tca_orders",
        sa.Column("order_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("venue", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        _at("created_at", "created_ns"),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("arrival_mid", sa.Numeric(), nullable=True),
        sa.Column("filled_qty", sa.Numeric(), nullable=False),
        sa.Column("fill_notional", sa.Numeric(), nullable=False),
        sa.Column("fees", sa.Numeric(), nullable=False),
        sa.Column("venues", sa.Text(), nullable=False),
        sa.Column("last_fill_ns", sa.BigInteger(), nullable=True),
        sa.Column("ended_ns", sa.BigInteger(), nullable=True),
        sa.Column("end_mid", sa.Numeric(), nullable=True),
        sa.Column("execution_cost", sa.Numeric(), nullable=True),
        sa.Column("opportunity_cost", sa.Numeric(), nullable=True),
        sa.Column("shortfall", sa.Numeric(), nullable=True),
        sa.Column("shortfall_bps", sa.Numeric(), nullable=True),
        sa.Column("fill_rate", sa.Numeric(), nullable=True),
        sa.Column("time_to_complete_ns", sa.BigInteger(), nullable=True),
        sa.Column("reached_venue", sa.Boolean(), nullable=False),
        sa.Column("venue_rejected", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_tca_orders")),
    )
    op.create_index(op.f("ix_tca_orders_created_ns"), "tca_orders", ["created_ns"])
    op.create_index(op.f("ix_tca_orders_ended_ns"), "tca_orders", ["ended_ns"])

    scores: list[sa.Column[object]] = []
    for m in METRICS:
        scores += [sa.Column(m, sa.Numeric(), nullable=True),
                   sa.Column(f"{m}_weighted", sa.Numeric(), nullable=False),
                   sa.Column(f"{m}_weight", sa.Numeric(), nullable=False),
                   sa.Column(f"{m}_count", sa.BigInteger(), nullable=False)]
    op.create_table(
        "tca_venue_scores",
        sa.Column("instance", sa.Text(), nullable=False),
        sa.Column("venue", sa.Text(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("size_bucket", sa.Text(), nullable=False),
        *scores,
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("instance", "venue", "symbol", "size_bucket", name=op.f("pk_tca_venue_scores")),
    )
    op.create_table(
        "tca_quotes",
        sa.Column("instance", sa.Text(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("venue", sa.Text(), nullable=False),
        sa.Column("bid", sa.Numeric(), nullable=True),
        sa.Column("offer", sa.Numeric(), nullable=True),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("instance", "symbol", "venue", name=op.f("pk_tca_quotes")),
    )
    op.create_table(
        "tca_progress",
        sa.Column("consumer", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("segment", sa.Text(), nullable=False),
        sa.Column("byte_offset", sa.BigInteger(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("stream_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", name=op.f("pk_tca_progress")),
    )


def downgrade() -> None:
    for table in ("tca_progress", "tca_quotes", "tca_venue_scores", "tca_orders", "tca_fills"):
        op.drop_table(table)
    op.drop_column("marks", "offer")
    op.drop_column("marks", "bid")
    op.drop_column("marks", "venue")
