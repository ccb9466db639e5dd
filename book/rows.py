"""Conversions between book records (``domain.model``) and table rows (``book.tables``), derived from
each record's fields (``book.fields``): a row has a column of the same name for every field, an enum
as its value, text with any NUL replaced, a Decimal or an int as it is."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from book.fields import record_fields
from domain.model import ExecutionRecord, MarkRecord, OrderRecord, PositionRecord

Row = dict[str, Any]
R = TypeVar("R")


def without_nul(value: str) -> str:
    """``value`` with any NUL replaced (U+FFFD): PostgreSQL text cannot hold one, and one such byte from
    a counterparty would make the whole batch fail on every retry and stall the book."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def row_function(record_type: type[R]) -> Callable[[R], Row]:
    """The function of ``record -> row`` for one record type.

    Compiled once from the fields, as ``dataclasses`` compiles an ``__init__``: the writer converts
    thousands of records a second, and a loop over the fields costs a third more than the one dict
    display this is."""
    items = []
    for f in record_fields(record_type):
        value = f"r.{f.name}"
        if f.is_enum:
            converted = f"{value}._value_"
        elif f.is_text:
            converted = f"without_nul({value})"
        else:
            items.append(f"{f.name!r}: {value}")
            continue
        items.append(f"{f.name!r}: {f'None if {value} is None else {converted}' if f.optional else converted}")
    namespace: dict[str, Any] = {"without_nul": without_nul}
    exec(f"def row(r):\n    return {{{', '.join(items)}}}", namespace)  # noqa: S102 - names of dataclass fields only
    row: Callable[[R], Row] = namespace["row"]
    row.__qualname__ = row.__name__ = f"{record_type.__name__}_row"
    row.__doc__ = f"The row of a {record_type.__name__}."
    return row


def record_function(record_type: type[R]) -> Callable[[Mapping[Any, Any]], R]:
    """The function of ``row -> record`` for one record type (a row with a column of each field's name)."""
    names = tuple(f.name for f in record_fields(record_type))
    enums = tuple((f.name, f.type) for f in record_fields(record_type) if f.is_enum)

    def record(m: Mapping[Any, Any]) -> R:
        values = {name: m[name] for name in names}
        for name, kind in enums:
            if values[name] is not None:
                values[name] = kind(values[name])
        return record_type(**values)

    record.__doc__ = f"The {record_type.__name__} of a row."
    return record


order_row = row_function(OrderRecord)
execution_row = row_function(ExecutionRecord)
position_row = row_function(PositionRecord)
mark_row = row_function(MarkRecord)

order_record = record_function(OrderRecord)
execution_record = record_function(ExecutionRecord)
position_record = record_function(PositionRecord)
mark_record = record_function(MarkRecord)
