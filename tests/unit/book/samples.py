"""One record of every type the journal holds, with values that catch a lossy codec."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from domain.model import (
    CancelRejectReason,
    ClientCancelReject,
    ClientReport,
    ClientSent,
    ExecKind,
    ExecutionRecord,
    MarkRecord,
    OrderRecord,
    OrderStatus,
    OrdType,
    PositionRecord,
    RequestKind,
    Side,
    TimeInForce,
)


def order(order_id: int = 1, *, price: D | None = D("190.0100"), venue_order_id: str | None = "V1",
          status: OrderStatus = OrderStatus.PARTIALLY_FILLED, cum_qty: D = D(40)) -> OrderRecord:
    return OrderRecord(
        order_id, "FIX.4.4:FIXGATE->CLIENT1", f"c{order_id}", "ACC", "AAPL", Side.SELL, OrdType.LIMIT,
        TimeInForce.GTC, D(100), price, "SIM", f"FG-{order_id}", venue_order_id, status, cum_qty, "",
        1_700_000_000_000_000_001, 1_700_000_000_000_000_002, leaves_qty=D(100) - cum_qty,
        avg_px=D("190.01000000"),
    )


def execution(exec_id: str = "E1", order_id: int = 1) -> ExecutionRecord:
    return ExecutionRecord(
        exec_id, order_id, "SIM", f"X{exec_id}", ExecKind.TRADE, OrderStatus.PARTIALLY_FILLED, D(40),
        D("190.0100"), D(40), D(60), D("190.01000000"), "partial", 1_700_000_000_000_000_003,
    )


def position() -> PositionRecord:
    return PositionRecord("ACC", "AAPL", D(-40), D("190.01000000"), D("-0.00000001"), 4, D("-7600.4000"))


def mark() -> MarkRecord:
    return MarkRecord("AAPL", D("1E+2"), 5)


def report(exec_id: str = "R1", *, price: D | None = None, orig: str | None = None,
           session: str = "FIX.4.4:FIXGATE->CLIENT1") -> ClientReport:
    return ClientReport(
        session, 1, "c1", "ACC", "AAPL", Side.BUY, OrdType.MARKET, D(100), price, exec_id,
        ExecKind.TRADE, OrderStatus.PARTIALLY_FILLED, D(40), D("190.0100"), D(40), D(60),
        D("190.01000000"), "", orig,
    )


def cancel_reject(cl_ord_id: str = "x1", *, order_id: int | None = 1,
                  session: str = "FIX.4.4:FIXGATE->CLIENT1") -> ClientCancelReject:
    return ClientCancelReject(session, order_id, cl_ord_id, "c1", OrderStatus.FILLED, RequestKind.REPLACE,
                              CancelRejectReason.TOO_LATE, "order 1 is already FILLED")


def every_type() -> list[object]:
    pending = replace(order(3, status=OrderStatus.PENDING_CANCEL), pending='["CANCEL", "x3", "c3", "FG-3R1"]')
    return [order(), order(2, price=None, venue_order_id=None, status=OrderStatus.NEW, cum_qty=D(0)),
            execution(), position(), mark(), report(), report("R2", price=D("190.5"), orig="c0"), pending,
            cancel_reject(), cancel_reject("x2", order_id=None), ClientSent.of(report()),
            ClientSent.of(cancel_reject())]
