"""The fields of a record dataclass (``domain.model``), read once per type: what table rows, table
columns, the journal's frames and the API's schemas are derived from, so a record's fields are
spelled out in its dataclass only.

A field holds an ``int``, a ``Decimal``, a ``str`` or a ``StrEnum``, each possibly ``| None``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a record: its name, its value type (without ``None``) and whether it may be ``None``.

    ``default`` makes the value of a field a source lacks (an old journal's record), ``None`` when the
    dataclass gives it no default."""

    name: str
    type: type
    optional: bool
    default: Callable[[], Any] | None

    @property
    def is_enum(self) -> bool:
        return issubclass(self.type, Enum)

    @property
    def enum_values(self) -> list[str]:
        """The values an enum field may hold, in declaration order."""
        kind: type[StrEnum] = self.type
        return [member.value for member in kind]

    @property
    def is_text(self) -> bool:
        """A ``str`` and not an enum (a ``StrEnum`` is a ``str`` too)."""
        return self.type is str

    @property
    def is_decimal(self) -> bool:
        return self.type is Decimal

    @property
    def is_int(self) -> bool:
        return self.type is int


_TYPES = (int, Decimal, str)


_FIELDS: dict[type, tuple[Field, ...]] = {}


def record_fields(record_type: type) -> tuple[Field, ...]:
    """The fields of a record dataclass, in declaration order; a ``TypeError`` for a field whose type is
    none of those a record may hold."""
    known = _FIELDS.get(record_type)
    if known is None:
        known = _FIELDS[record_type] = _read_fields(record_type)
    return known


def _read_fields(record_type: type) -> tuple[Field, ...]:
    hints = typing.get_type_hints(record_type)
    fields = []
    for f in dataclasses.fields(record_type):
        hint = hints[f.name]
        union = isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
        args = typing.get_args(hint) if union else ()
        optional = type(None) in args
        kinds = [a for a in args if a is not type(None)] if args else [hint]
        if len(kinds) != 1 or not (kinds[0] in _TYPES or _is_enum(kinds[0])):
            raise TypeError(f"{record_type.__name__}.{f.name}: {hint} is not a record field type")
        default: Callable[[], Any] | None = None
        if f.default is not dataclasses.MISSING:
            default = _constant(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory
        fields.append(Field(f.name, kinds[0], optional, default))
    return tuple(fields)


def _is_enum(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, StrEnum)


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def field_names(record_type: type) -> tuple[str, ...]:
    """The names of a record's fields, in declaration order."""
    return tuple(f.name for f in record_fields(record_type))
