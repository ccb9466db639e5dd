"""Initial book of record: orders, executions, positions.

Revision ID: 0001
Revises:
Create Date: 2025-11-21

Hand-written. The enum values in the CHECK constraints are spelled out, not imported from
``domain.model``, so this revision keeps meaning what it meant when it was applied. Constraint and
index names are final (``op.f``): they already follow the naming convention of ``book.tables``,
which Alembic would otherwise apply to them a second time.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORDER_STATUSES = (
    "PENDING_NEW", "NEW", "PARTIALLY_FILLED", "FILLED", "PENDING_CANCEL", "CANCELED",
    "PENDING_REPLACE", "REPLACED", "REJECTED", "EXPIRED", "DONE_FOR_DAY",
)  # fmt: skip
EXEC_KINDS = (
    "PENDING_NEW", "NEW", "TRADE", "PENDING_CANCEL", "CANCELED", "PENDING_REPLACE", "REPLACED",
    "REJECTED", "EXPIRED", "DONE_FOR_DAY", "ORDER_STATUS",
)  # fmt: skip


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _ts(column: str) -> sa.Computed:
    return sa.Computed(f"to_timestamp({column}::double precision / 1e9)", persisted=True)


def upgrade() -> None:
    money = sa.Numeric()
    op.create_table(
        "orders",
        sa.Column("order_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("session", sa.Text(), nullable=False),
        sa.Column("cl_ord_id", sa.Text(), nullable=False),
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("ord_type", sa.Text(), nullable=False),
        sa.Column("time_in_force", sa.Text(), nullable=False),
        sa.Column("quantity", money, nullable=False),
        sa.Column("price", money, nullable=True),
        sa.Column("venue", sa.Text(), nullable=False),
        sa.Column("venue_cl_ord_id", sa.Text(), nullable=False),
        sa.Column("venue_order_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("cum_qty", money, nullable=False),
        sa.Column("leaves_qty", money, nullable=False),
        sa.Column("avg_px", money, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.TIMESTAMP(timezone=True), _ts("created_ns")),
        sa.Column("updated_at", sa.TIMESTAMP(timezone=True), _ts("updated_ns")),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_orders")),
        sa.CheckConstraint(_in("side", ("BUY", "SELL")), name=op.f("ck_orders_side")),
        sa.CheckConstraint(_in("ord_type", ("MARKET", "LIMIT")), name=op.f("ck_orders_ord_type")),
        sa.CheckConstraint(
            _in("time_in_force", ("DAY", "GTC", "IOC", "FOK")), name=op.f("ck_orders_time_in_force")
        ),
        sa.CheckConstraint(_in("status", ORDER_STATUSES), name=op.f("ck_orders_status")),
    )
    op.create_index(op.f("ix_orders_account"), "orders", ["account"])
    op.create_index(op.f("ix_orders_symbol"), "orders", ["symbol"])
    op.create_index(op.f("ix_orders_status"), "orders", ["status"])
    op.create_index(op.f("ix_orders_venue_venue_cl_ord_id"), "orders", ["venue", "venue_cl_ord_id"])

    op.create_table(
        "executions",
        sa.Column("exec_id", sa.Text(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("venue", sa.Text(), nullable=False),
        sa.Column("venue_exec_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("last_qty", money, nullable=False),
        sa.Column("last_px", money, nullable=False),
        sa.Column("cum_qty", money, nullable=False),
        sa.Column("leaves_qty", money, nullable=False),
        sa.Column("avg_px", money, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("received_ns", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.TIMESTAMP(timezone=True), _ts("received_ns")),
        sa.PrimaryKeyConstraint("exec_id", name=op.f("pk_executions")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.order_id"], name=op.f("fk_executions_order_id_orders")
        ),
        sa.UniqueConstraint("venue", "venue_exec_id", name=op.f("uq_executions_venue_venue_exec_id")),
        sa.CheckConstraint(_in("kind", EXEC_KINDS), name=op.f("ck_executions_kind")),
        sa.CheckConstraint(_in("status", ORDER_STATUSES), name=op.f("ck_executions_status")),
    )
    op.create_index(op.f("ix_executions_order_id"), "executions", ["order_id"])

    op.create_table(
        "positions",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("quantity", money, nullable=False),
        sa.Column("avg_price", money, nullable=False),
        sa.Column("realized_pnl", money, nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.TIMESTAMP(timezone=True), _ts("updated_ns")),
        sa.PrimaryKeyConstraint("account", "symbol", name=op.f("pk_positions")),
    )


def downgrade() -> None:
    op.drop_table("positions")
    op.drop_index(op.f("ix_executions_order_id"), table_name="executions")
    op.drop_table("executions")
    op.drop_index(op.f("ix_orders_venue_venue_cl_ord_id"), table_name="orders")
    op.drop_index(op.f("ix_orders_status"), table_name="orders")
    op.drop_index(op.f("ix_orders_symbol"), table_name="orders")
    op.drop_index(op.f("ix_orders_account"), table_name="orders")
    op.drop_table("orders")
