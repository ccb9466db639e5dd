"""Conversions between book records (``domain.model``) and table rows (``book.tables``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from domain.model import (
    Breach,
    ExecKind,
    ExecutionRecord,
    MarkRecord,
    OrderRecord,
    OrderStatus,
    OrdType,
    PositionRecord,
    Side,
    TimeInForce,
)
from risk.restore import BREACH, RiskEvent

Row = dict[str, Any]


def _text(value: str) -> str:
    # PostgreSQL text cannot hold NUL; one such byte from a counterparty would make the whole batch
    # fail on every retry and stall the book, so it is replaced instead.
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def order_row(r: OrderRecord) -> Row:
    """The ``orders`` row of an order record."""
    return {
        "order_id": r.order_id,
        "session": _text(r.session),
        "cl_ord_id": _text(r.cl_ord_id),
        "account": _text(r.account),
        "symbol": _text(r.symbol),
        "side": r.side.value,
        "ord_type": r.ord_type.value,
        "time_in_force": r.time_in_force.value,
        "quantity": r.quantity,
        "price": r.price,
        "venue": _text(r.venue),
        "venue_cl_ord_id": _text(r.venue_cl_ord_id),
        "venue_order_id": None if r.venue_order_id is None else _text(r.venue_order_id),
        "status": r.status.value,
        "cum_qty": r.cum_qty,
        "leaves_qty": r.leaves_qty,
        "avg_px": r.avg_px,
        "text": _text(r.text),
        "created_ns": r.created_ns,
        "updated_ns": r.updated_ns,
        "pending": r.pending,  # JSON of ASCII (``PendingChange.encode``): no NUL to replace
        "chained": r.chained,
    }


def execution_row(r: ExecutionRecord) -> Row:
    """The ``executions`` row of an execution record."""
    return {
        "exec_id": _text(r.exec_id),
        "order_id": r.order_id,
        "venue": _text(r.venue),
        "venue_exec_id": _text(r.venue_exec_id),
        "kind": r.kind.value,
        "status": r.status.value,
        "last_qty": r.last_qty,
        "last_px": r.last_px,
        "cum_qty": r.cum_qty,
        "leaves_qty": r.leaves_qty,
        "avg_px": r.avg_px,
        "text": _text(r.text),
        "received_ns": r.received_ns,
    }


def position_row(r: PositionRecord) -> Row:
    """The ``positions`` row of a position record."""
    return {
        "account": _text(r.account),
        "symbol": _text(r.symbol),
        "quantity": r.quantity,
        "avg_price": r.avg_price,
        "realized_pnl": r.realized_pnl,
        "updated_ns": r.updated_ns,
        "cost": r.cost,
    }


def mark_row(r: MarkRecord) -> Row:
    """The ``marks`` row of a mark record."""
    return {"symbol": _text(r.symbol), "price": r.price, "updated_ns": r.updated_ns}


BREACH_BY = "risk"  # who a BREACH row names: the limit acted, not an operator


def breach_row(r: Breach) -> Row:
    """The ``risk_events`` row of a daily loss breach (``details`` as JSON text, for asyncpg's jsonb)."""
    details = {
        "state": r.state.value,
        "reason": _text(r.reason),
        "daily_loss": format(r.daily_loss, "f"),
        "max_daily_loss": format(r.limit, "f"),
    }
    return {
        "at_ns": r.at_ns,
        "by": BREACH_BY,
        "action": BREACH,
        "scope": "firm" if r.account is None else "account",
        "value": "" if r.account is None else _text(r.account),
        "details": json.dumps(details),
    }


def order_record(m: Mapping[Any, Any]) -> OrderRecord:
    """The order record of an ``orders`` row."""
    return OrderRecord(
        order_id=m["order_id"],
        session=m["session"],
        cl_ord_id=m["cl_ord_id"],
        account=m["account"],
        symbol=m["symbol"],
        side=Side(m["side"]),
        ord_type=OrdType(m["ord_type"]),
        time_in_force=TimeInForce(m["time_in_force"]),
        quantity=m["quantity"],
        price=m["price"],
        venue=m["venue"],
        venue_cl_ord_id=m["venue_cl_ord_id"],
        venue_order_id=m["venue_order_id"],
        status=OrderStatus(m["status"]),
        cum_qty=m["cum_qty"],
        leaves_qty=m["leaves_qty"],
        avg_px=m["avg_px"],
        text=m["text"],
        created_ns=m["created_ns"],
        updated_ns=m["updated_ns"],
        pending=m["pending"],
        chained=m["chained"],
    )


def execution_record(m: Mapping[Any, Any]) -> ExecutionRecord:
    """The execution record of an ``executions`` row."""
    return ExecutionRecord(
        exec_id=m["exec_id"],
        order_id=m["order_id"],
        venue=m["venue"],
        venue_exec_id=m["venue_exec_id"],
        kind=ExecKind(m["kind"]),
        status=OrderStatus(m["status"]),
        last_qty=m["last_qty"],
        last_px=m["last_px"],
        cum_qty=m["cum_qty"],
        leaves_qty=m["leaves_qty"],
        avg_px=m["avg_px"],
        text=m["text"],
        received_ns=m["received_ns"],
    )


def position_record(m: Mapping[Any, Any]) -> PositionRecord:
    """The position record of a ``positions`` row."""
    return PositionRecord(
        account=m["account"],
        symbol=m["symbol"],
        quantity=m["quantity"],
        avg_price=m["avg_price"],
        realized_pnl=m["realized_pnl"],
        updated_ns=m["updated_ns"],
        cost=m["cost"],
    )


def mark_record(m: Mapping[Any, Any]) -> MarkRecord:
    """The mark record of a ``marks`` row."""
    return MarkRecord(symbol=m["symbol"], price=m["price"], updated_ns=m["updated_ns"])


def risk_event(m: Mapping[Any, Any]) -> RiskEvent:
    """The risk event of a ``risk_events`` row."""
    details = m["details"]
    return RiskEvent(
        id=m["id"],
        at_ns=m["at_ns"],
        by=m["by"],
        action=m["action"],
        scope=m["scope"],
        value=m["value"],
        details=details if isinstance(details, Mapping) else {},
    )
