"""Marks per symbol, and the order in which executions were applied.

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-24

Hand-written, like 0001. ``executions.seq`` is an identity column the book writer never sets:
PostgreSQL numbers the rows as the single writer inserts them, which is the order the OMS applied
them, so positions can be recomputed from the fills in order. Rows already in the book are numbered
by (received_ns, exec_id), the best order known for them, before the identity takes over after the
highest number. ``marks`` is filled from the last fill of each symbol already in the book, so open
positions have a mark from the start.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("executions", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE executions AS e SET seq = numbered.n"
        " FROM (SELECT exec_id, row_number() OVER (ORDER BY received_ns, exec_id) AS n FROM executions)"
        " AS numbered WHERE e.exec_id = numbered.exec_id"
    )
    op.alter_column("executions", "seq", nullable=False)
    op.execute("ALTER TABLE executions ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY")
    # The next number follows the backfilled ones (is_called = false: this value is handed out next).
    op.execute(
        "SELECT setval(pg_get_serial_sequence('executions', 'seq'),"
        " (SELECT coalesce(max(seq), 0) + 1 FROM executions), false)"
    )
    op.create_unique_constraint(op.f("uq_executions_seq"), "executions", ["seq"])

    op.create_table(
        "marks",
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("price", sa.Numeric(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.Column(
            "updated_at",
            sa.TIMESTAMP(timezone=True),
            sa.Computed("to_timestamp(updated_ns::double precision / 1e9)", persisted=True),
        ),
        sa.PrimaryKeyConstraint("symbol", name=op.f("pk_marks")),
    )
    op.execute(
        "INSERT INTO marks (symbol, price, updated_ns)"
        " SELECT DISTINCT ON (o.symbol) o.symbol, e.last_px, e.received_ns"
        " FROM executions AS e JOIN orders AS o ON o.order_id = e.order_id"
        " WHERE e.kind = 'TRADE' ORDER BY o.symbol, e.seq DESC"
    )


def downgrade() -> None:
    op.drop_table("marks")
    op.drop_constraint(op.f("uq_executions_seq"), "executions", type_="unique")
    op.drop_column("executions", "seq")
