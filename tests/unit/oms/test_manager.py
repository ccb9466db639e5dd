from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal as D

from domain.model import (
    BookRecord,
    Breach,
    ClientMessage,
    ClientReport,
    ExecKind,
    ExecutionRecord,
    Instrument,
    NewOrder,
    OrderRecord,
    OrderStatus,
    OrdType,
    PositionRecord,
    Routed,
    Side,
    TimeInForce,
    VenueReport,
)
from oms.manager import OrderManager
from oms.router import Router
from risk import OrderLimits, PreTradeRisk, RiskConfig
from tests.support import first_report

INSTRUMENTS = {"AAPL": Instrument("AAPL", "SIM", D("0.01"), D(1), D(190))}


class Book:
    """A hand-written sink that keeps what the OMS hands to the book writer."""

    def __init__(self) -> None:
        self.records: list[BookRecord] = []
        self.owed: list[ClientMessage] = []

    def __call__(self, records: Sequence[BookRecord | Breach], owed: Sequence[ClientMessage] = ()) -> None:
        self.records.extend(records)
        self.owed.extend(owed)

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [r for r in self.records if isinstance(r, kind)]


def make(venue_up: bool = True) -> tuple[OrderManager, Book]:
    router = Router(INSTRUMENTS)
    router.set_venue_up("SIM", venue_up)
    book = Book()
    risk = PreTradeRisk(INSTRUMENTS, RiskConfig(firm_orders=OrderLimits(max_order_qty=D(1000))))
    oms = OrderManager(instruments=INSTRUMENTS, risk=risk, router=router, sink=book, clock_ns=lambda: 42)
    return oms, book


def new(cl: str = "c1", qty: str = "100", side: Side = Side.BUY) -> NewOrder:
    return NewOrder("S1", cl, "ACC", "AAPL", side, OrdType.LIMIT, D(qty), D("190.05"), TimeInForce.DAY, 1)


def report(routed: Routed, exec_id: str, kind: ExecKind, status: OrderStatus, last_qty: str = "0",
           last_px: str = "0", cum: str = "0", leaves: str = "100") -> VenueReport:
    return VenueReport("SIM", routed.venue_cl_ord_id, None, "V1", exec_id, kind, status, D(last_qty),
                       D(last_px), D(cum), D(leaves), "", 5)


def test_routed_order_is_pending_new_in_the_book_with_a_venue_id() -> None:
    oms, book = make()
    [routed] = oms.submit(new())
    assert isinstance(routed, Routed)
    assert routed.venue == "SIM" and routed.venue_cl_ord_id == f"FG{routed.order_id}"
    [record] = book.of(OrderRecord)
    assert record.status is OrderStatus.PENDING_NEW and record.leaves_qty == D(100)


def test_risk_denial_is_a_rejected_order_with_the_reason() -> None:
    oms, book = make()
    [outcome] = oms.submit(new(qty="1001"))
    assert isinstance(outcome, ClientReport) and outcome.kind is ExecKind.REJECTED
    assert outcome.status is OrderStatus.REJECTED
    assert outcome.text == "order qty 1001 > max 1000 for AAPL"
    assert outcome.cl_ord_id == "c1"
    assert book.of(OrderRecord)[-1].status is OrderStatus.REJECTED
    assert book.of(ExecutionRecord)[-1].kind is ExecKind.REJECTED


def test_order_for_a_venue_that_is_down_is_rejected_not_queued() -> None:
    oms, _ = make(venue_up=False)
    [outcome] = oms.submit(new())
    assert isinstance(outcome, ClientReport) and outcome.kind is ExecKind.REJECTED
    assert outcome.text == "venue SIM for AAPL is not connected"


def test_fills_update_order_and_position_and_a_repeat_counts_once() -> None:
    oms, book = make()
    [routed] = oms.submit(new())
    assert isinstance(routed, Routed)
    oms.apply(report(routed, "e1", ExecKind.NEW, OrderStatus.NEW))
    fill = report(routed, "e2", ExecKind.TRADE, OrderStatus.PARTIALLY_FILLED, "40", "190.01", "40", "60")
    client = first_report(oms.apply(fill))
    assert client is not None
    assert (client.cum_qty, client.leaves_qty, client.avg_px) == (D(40), D(60), D("190.01"))
    assert oms.apply(fill) == []  # at-least-once delivery: the resend is not applied again
    assert oms.counters.duplicate_reports == 1
    filled = report(routed, "e3", ExecKind.TRADE, OrderStatus.FILLED, "60", "190.02", "100", "0")
    client = first_report(oms.apply(filled))
    assert client is not None and client.status is OrderStatus.FILLED
    assert client.avg_px == D("190.016")
    [position] = oms.positions()
    assert position.quantity == D(100)
    assert book.of(PositionRecord)[-1].quantity == D(100)
    assert [e.venue_exec_id for e in book.of(ExecutionRecord)] == ["e1", "e2", "e3"]


def test_a_fills_commission_reaches_its_execution_and_its_client_report() -> None:
    oms, book = make()
    [routed] = oms.submit(new())
    assert isinstance(routed, Routed)
    oms.apply(replace(report(routed, "e1", ExecKind.NEW, OrderStatus.NEW), commission=D(9)))  # not a fill
    fill = replace(report(routed, "e2", ExecKind.TRADE, OrderStatus.PARTIALLY_FILLED, "40", "190.01", "40", "60"),
                   commission=D("0.1400"))
    client = first_report(oms.apply(fill))
    assert client is not None and client.commission == D("0.1400")
    ack, traded = book.of(ExecutionRecord)
    assert (ack.commission, traded.commission, str(traded.commission)) == (None, D("0.14"), "0.1400")
    oms.apply(report(routed, "e3", ExecKind.TRADE, OrderStatus.FILLED, "60", "190.02", "100", "0"))
    assert book.of(ExecutionRecord)[-1].commission is None  # the venue reported no fee on this one


def test_illegal_transition_is_counted_and_not_applied() -> None:
    oms, _ = make()
    [routed] = oms.submit(new())
    assert isinstance(routed, Routed)
    oms.apply(report(routed, "e1", ExecKind.CANCELED, OrderStatus.CANCELED, leaves="0"))
    assert oms.apply(report(routed, "e2", ExecKind.NEW, OrderStatus.NEW)) == []
    assert oms.counters.illegal_transitions == 1
    record = oms.order(routed.order_id)
    assert record is not None and record.status is OrderStatus.CANCELED


def test_a_fill_after_cancel_is_still_applied_to_the_position() -> None:
    oms, _ = make()
    [routed] = oms.submit(new())
    assert isinstance(routed, Routed)
    oms.apply(report(routed, "e1", ExecKind.CANCELED, OrderStatus.CANCELED, leaves="0"))
    oms.apply(report(routed, "e2", ExecKind.TRADE, OrderStatus.FILLED, "100", "190", "100", "0"))
    assert oms.counters.illegal_transitions == 1
    assert oms.positions()[0].quantity == D(100)


def test_duplicate_live_cl_ord_id_is_rejected_and_reusable_once_done() -> None:
    oms, _ = make()
    [first] = oms.submit(new("dup"))
    assert isinstance(first, Routed)
    [second] = oms.submit(new("dup"))
    assert isinstance(second, ClientReport) and second.kind is ExecKind.REJECTED
    assert second.text == f"duplicate ClOrdID dup: order {first.order_id} is live"
    oms.apply(report(first, "e1", ExecKind.TRADE, OrderStatus.FILLED, "100", "190", "100", "0"))
    [again] = oms.submit(new("dup"))
    assert isinstance(again, Routed)


def test_unknown_venue_order_is_counted_not_applied() -> None:
    oms, _ = make()
    stray = VenueReport("SIM", "FG999", None, "V", "x", ExecKind.NEW, OrderStatus.NEW, D(0), D(0), D(0), D(1), "", 0)
    assert oms.apply(stray) == []
    assert oms.counters.unknown_reports == 1


def test_an_order_that_ended_before_its_send_failed_is_not_rejected_again() -> None:
    # The venue's status answer at its logon found the order unknown while the client thread was still
    # about to hand it to the session, whose send then failed: the order is already REJECTED.
    oms, book = make()
    [routed] = oms.submit(new())
    assert isinstance(routed, Routed)
    [ended] = oms.apply(report(routed, "E1", ExecKind.REJECTED, OrderStatus.REJECTED, leaves="0"))
    assert isinstance(ended, ClientReport) and ended.status is OrderStatus.REJECTED
    frames = len(book.records)
    assert oms.venue_send_failed(routed.order_id, "venue SIM session is not logged on") == []
    assert len(book.records) == frames and oms.counters.rejected == 0
