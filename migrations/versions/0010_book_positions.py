"""book_positions: how far the book writer process has written the gateway's journal.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

Hand-written. The book writer left the gateway process (``book.follower``): it follows the journal
and commits, with each batch of rows, the journal position they reach, so after a crash it goes on
from exactly there.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "book_positions",
        sa.Column("consumer", sa.Text(), nullable=False),
        sa.Column("segment", sa.Text(), nullable=False),
        sa.Column("byte_offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", name=op.f("pk_book_positions")),
    )


def downgrade() -> None:
    op.drop_table("book_positions")
