"""Response bodies. Prices and quantities are JSON strings of exact decimals, never floats."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Context, Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema, create_model

from book.fields import record_fields
from domain.model import ExecutionRecord, OrderRecord, OrderStatus, PositionRecord


def format_decimal(value: Decimal) -> str:
    """The exact value as plain decimal text, without exponent or trailing fractional zeros:
    ``190.0500`` -> ``"190.05"``. Every decimal of the API is written so (money, prices, quantities);
    the only rounded value is a position's ``avg_price``, rounded where it is computed.

    ``Decimal.normalize`` alone would turn ``100`` into ``1E+2``; formatting with ``"f"`` afterwards
    spells it out again. It rounds to its context's precision (28 digits by default), so it gets one
    as wide as the value: stripping zeros never needs more. No float is involved at any step.
    """
    if not value.is_finite():
        return str(value)
    if value.is_zero():
        return "0"  # also folds -0 and 0E-10
    return format(value.normalize(Context(prec=len(value.as_tuple().digits))), "f")


DecimalString = Annotated[
    Decimal,
    PlainSerializer(format_decimal, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "decimal", "examples": ["190.05"]}, mode="serialization"),
]


class _Schema(BaseModel):
    model_config = ConfigDict(frozen=True)


def _record_fields(record_type: type, *, omit: Collection[str] = ()) -> type[_Schema]:
    """A base schema with a field per field of a book record (``book.fields``), in its order and of its
    type (a Decimal as :data:`DecimalString`, an enum as the enum), all required: a response model adds
    what the book derives beside them (``created_at`` and the like). ``omit``: fields kept from the API."""
    definitions: dict[str, Any] = {}
    for f in record_fields(record_type):
        if f.name not in omit:
            kind: Any = DecimalString if f.is_decimal else f.type
            definitions[f.name] = (kind | None if f.optional else kind, ...)
    return create_model(f"{record_type.__name__}Fields", __base__=_Schema, **definitions)


if TYPE_CHECKING:  # a base made at import is beyond mypy: it sees the plain schema
    _OrderFields: TypeAlias = _Schema
    _ExecutionFields: TypeAlias = _Schema
    _PositionFields: TypeAlias = _Schema
else:
    # The book's internal encodings of an order's outstanding requests are not the API's business.
    _OrderFields = _record_fields(OrderRecord, omit=("pending", "chained"))
    _ExecutionFields = _record_fields(ExecutionRecord)
    _PositionFields = _record_fields(PositionRecord)


class Order(_OrderFields):
    """An order as the book last recorded it."""

    created_at: datetime
    updated_at: datetime


class Execution(_ExecutionFields):
    """One execution report applied to an order; ``seq`` is the order in which the book applied them."""

    seq: int
    received_at: datetime


class OrderDetail(Order):
    """An order with its full event history: every execution applied to it, in ``seq`` order
    (the gateway's own PendingCancel, PendingReplace and Rejected events included), and the child
    orders the router split it into across venues (none for an order routed whole; each child's own
    executions at ``/orders/{child's order_id}``)."""

    executions: list[Execution]
    children: list[Order]


class Position(_PositionFields):
    """An account's position in one symbol, marked at the symbol's mark price.

    ``cost`` is the exact open cost: the signed sum of qty x price of the open quantity (negative for
    a short). ``unrealized_pnl`` is ``quantity * mark_price - cost``, exact; ``0`` while the symbol has
    no mark (``mark_price`` null). ``avg_price`` is ``cost / quantity`` rounded half-even to 8 decimal
    places, for display only: P&L never comes from it.
    """

    mark_price: DecimalString | None
    unrealized_pnl: DecimalString
    updated_at: datetime


class PnlTotals(_Schema):
    """Realized, unrealized and total (their sum) P&L."""

    realized_pnl: DecimalString
    unrealized_pnl: DecimalString
    total_pnl: DecimalString


class AccountPnl(PnlTotals):
    """One account's P&L over all its positions."""

    account: str


class Pnl(_Schema):
    """P&L per account, by account, and for the firm (every account)."""

    accounts: list[AccountPnl]
    total: PnlTotals


class CancelAccepted(_Schema):
    """An operator's cancel handed to the venue; the outcome arrives as the order's next events."""

    order_id: int
    status: OrderStatus
    detail: str


@dataclass(frozen=True, slots=True)
class PartHealth:
    """How one part of fixgate is, for ``/health``: ``state`` is "ok" or says what is wrong; ``stops``
    when that keeps the gateway from trading or from recording (``/health`` then answers 503)."""

    state: str
    stops: bool = False


class Health(_Schema):
    """Liveness of the API and the parts of fixgate: "ok", or what is wrong. ``status`` is "ok" when
    every part is; "down" (HTTP 503) when a part that stops trading or recording is not ok: the
    database (the book of record can be neither written nor read) or every venue (no order can be
    routed); "degraded" (200) otherwise: some venues, the book writer or the bus, whose work waits
    in the journal."""

    status: Literal["ok", "degraded", "down"]
    database: str
    venues: str | None = None  # "ok", or "down: <venues not logged on>" (None: no gateway in this process)
    book_writer: str | None = None  # the book writer process (None: not run by this API's process)
    bus: str | None = None  # the bus publisher and its NATS server (None: no bus)
    tls_terminator: str | None = None  # the TLS terminator process (None: no session speaks TLS)
