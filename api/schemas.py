"""Response bodies. Prices and quantities are JSON strings of exact decimals, never floats."""

from __future__ import annotations

from datetime import datetime
from decimal import Context, Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema

from domain.model import ExecKind, OrderStatus, OrdType, Side, TimeInForce


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


class Order(_Schema):
    """An order as the book last recorded it."""

    order_id: int
    session: str
    cl_ord_id: str
    account: str
    symbol: str
    side: Side
    ord_type: OrdType
    time_in_force: TimeInForce
    quantity: DecimalString
    price: DecimalString | None
    venue: str
    venue_cl_ord_id: str
    venue_order_id: str | None
    status: OrderStatus
    cum_qty: DecimalString
    leaves_qty: DecimalString
    avg_px: DecimalString
    text: str
    created_ns: int
    updated_ns: int
    created_at: datetime
    updated_at: datetime


class Execution(_Schema):
    """One execution report applied to an order; ``seq`` is the order in which the book applied them."""

    seq: int
    exec_id: str
    order_id: int
    venue: str
    venue_exec_id: str
    kind: ExecKind
    status: OrderStatus
    last_qty: DecimalString
    last_px: DecimalString
    cum_qty: DecimalString
    leaves_qty: DecimalString
    avg_px: DecimalString
    text: str
    received_ns: int
    received_at: datetime


class OrderDetail(Order):
    """An order with its full event history: every execution applied to it, in ``seq`` order
    (the gateway's own PendingCancel, PendingReplace and Rejected events included)."""

    executions: list[Execution]


class Position(_Schema):
    """An account's position in one symbol, marked at the symbol's mark price.

    ``cost`` is the exact open cost: the signed sum of qty x price of the open quantity (negative for
    a short). ``unrealized_pnl`` is ``quantity * mark_price - cost``, exact; ``0`` while the symbol has
    no mark (``mark_price`` null). ``avg_price`` is ``cost / quantity`` rounded half-even to 8 decimal
    places, for display only: P&L never comes from it.
    """

    account: str
    symbol: str
    quantity: DecimalString
    cost: DecimalString
    avg_price: DecimalString
    realized_pnl: DecimalString
    mark_price: DecimalString | None
    unrealized_pnl: DecimalString
    updated_ns: int
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


class Health(_Schema):
    """Liveness of the API and its database."""

    status: str
    database: str
