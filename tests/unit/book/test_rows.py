"""Rows and writer columns derived from the records: they agree with the tables and round-trip."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql

from book import writer
from book.rows import (
    execution_record,
    execution_row,
    mark_record,
    mark_row,
    order_record,
    order_row,
    position_record,
    position_row,
)
from book.tables import executions, marks, orders, positions
from tests.unit.book import samples

WRITTEN = [
    (orders, (*writer._ORDER_COLUMNS, *writer._ORDER_HOP_COLUMNS)),
    (executions, writer._EXECUTION_ALL),
    (positions, writer._POSITION_COLUMNS),
    (marks, writer._MARK_COLUMNS),
]


@pytest.mark.parametrize(("table", "columns"), WRITTEN, ids=lambda v: getattr(v, "name", ""))
def test_the_writer_writes_every_column_of_its_tables_with_the_tables_types(
    table: Table, columns: tuple[tuple[str, str], ...]
) -> None:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    # What PostgreSQL fills in itself: generated timestamps and the executions' numbering.
    own = {c.name for c in table.columns if c.computed is not None or c.identity is not None}
    expected = {c.name: c.type.compile(dialect=dialect).lower() for c in table.columns if c.name not in own}
    assert dict(columns) == expected
    assert len(columns) == len(expected)  # no column written twice


def test_rows_round_trip_every_book_record() -> None:
    pairs = [(order_row, order_record), (execution_row, execution_record), (position_row, position_record),
             (mark_row, mark_record)]
    records = [samples.order(), samples.order(2, price=None, venue_order_id=None), samples.execution(),
               samples.position(), samples.mark(), replace(samples.order(3), pending='["CANCEL"]')]
    for record in records:
        row, back = next(p for p in pairs if p[0].__name__ == f"{type(record).__name__}_row")
        assert repr(back(row(record))) == repr(record)


def test_a_row_has_enum_values_and_text_without_nul() -> None:
    row = order_row(replace(samples.order(), text="bad\x00byte", venue_order_id="V\x00"))
    assert row["side"] == "SELL" and type(row["side"]) is str
    assert row["text"] == "bad\ufffdbyte" and row["venue_order_id"] == "V\ufffd"
    assert list(row) == [c for c, _ in writer._ORDER_COLUMNS]
