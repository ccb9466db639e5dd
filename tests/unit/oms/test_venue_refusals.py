"""Venue answers outside the usual ExecutionReport / OrderCancelReject: an order refused by a
session-level Reject or a BusinessMessageReject (``apply_order_refusal``), and a cancel acknowledged
under the order's own ClOrdID without OrigClOrdID."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal as D

from domain.model import (
    BookRecord,
    CancelOrder,
    CancelRejectReason,
    ClientCancelReject,
    ClientMessage,
    ExecKind,
    ExecutionRecord,
    Instrument,
    NewOrder,
    OrderStatus,
    OrdType,
    ReplaceOrder,
    Routed,
    Side,
    TimeInForce,
    VenueCancelReject,
    VenueChange,
    VenueOrderRefusal,
    VenueReport,
)
from oms.manager import OrderManager
from oms.router import Router
from risk import PreTradeRisk, risk_config_from_mapping
from tests.support import first_report, of, only

INSTRUMENTS = {"AAPL": Instrument("AAPL", "SIM", D("0.01"), D(1), D(190))}
SESSION = "FIX.4.4:FIXGATE->CLIENT1"
WHY = "venue SIM rejected the order: tag 40 value is incorrect (out of range) for this tag"


class Book:
    """What the OMS hands to the book writer and owes the client."""

    def __init__(self) -> None:
        self.records: list[BookRecord] = []
        self.owed: list[ClientMessage] = []

    def __call__(self, records: Sequence[BookRecord], owed: Sequence[ClientMessage] = ()) -> None:
        self.records.extend(records)
        self.owed.extend(owed)


def make() -> tuple[OrderManager, PreTradeRisk, Book]:
    router = Router(INSTRUMENTS)
    router.set_venue_up("SIM", True)
    risk = PreTradeRisk(INSTRUMENTS, risk_config_from_mapping({}))
    book = Book()
    oms = OrderManager(instruments=INSTRUMENTS, risk=risk, router=router, sink=book, clock_ns=lambda: 42)
    return oms, risk, book


def buy(oms: OrderManager, cl: str, qty: int = 100) -> Routed:
    [routed] = oms.submit(NewOrder(SESSION, cl, "ACC", "AAPL", Side.BUY, OrdType.LIMIT, D(qty), D(190),
                                 TimeInForce.DAY, 1))
    assert isinstance(routed, Routed)
    return routed


def report(venue_cl_ord_id: str, exec_id: str, kind: ExecKind, status: OrderStatus, leaves: str = "0",
           orig: str | None = None) -> VenueReport:
    return VenueReport("SIM", venue_cl_ord_id, orig, "V1", exec_id, kind, status, D(0), D(0), D(0), D(leaves),
                       "", 5)


def working(oms: OrderManager, cl: str, qty: int = 100) -> Routed:
    routed = buy(oms, cl, qty)
    assert first_report(oms.apply(report(routed.venue_cl_ord_id, f"{cl}-new", ExecKind.NEW, OrderStatus.NEW,
                                         str(qty))))
    return routed


# -- apply_order_refusal -----------------------------------------------------------------------------


def test_an_order_the_venue_refuses_ends_rejected_with_the_venues_reason_and_risk_releases_it() -> None:
    oms, risk, book = make()
    routed = buy(oms, "c1")
    assert risk.view.exposure("ACC", "AAPL").open_buy_qty == D(100)
    rejected = first_report(oms.apply_order_refusal(VenueOrderRefusal("SIM", routed.venue_cl_ord_id, WHY, 7)))
    assert rejected is not None
    assert (rejected.kind, rejected.status, rejected.cl_ord_id, rejected.text) == (
        ExecKind.REJECTED, OrderStatus.REJECTED, "c1", WHY)
    assert (rejected.cum_qty, rejected.leaves_qty) == (D(0), D(0))
    assert risk.view.working == {}
    assert risk.view.exposure("ACC", "AAPL").open_buy_qty == D(0)
    [execution] = [r for r in book.records if isinstance(r, ExecutionRecord)]
    assert (execution.venue, execution.kind, execution.text, execution.received_ns) == (
        "SIM", ExecKind.REJECTED, WHY, 7)
    assert book.owed[-1] == rejected
    record = oms.order(routed.order_id)
    assert record is not None and (record.status, record.text) == (OrderStatus.REJECTED, WHY)


def test_a_refusal_of_an_order_the_venue_acknowledged_is_not_applied() -> None:
    oms, risk, _ = make()
    routed = working(oms, "c1")
    assert oms.apply_order_refusal(VenueOrderRefusal("SIM", routed.venue_cl_ord_id, WHY, 7)) == []
    record = oms.order(routed.order_id)
    assert record is not None and record.status is OrderStatus.NEW
    assert risk.view.exposure("ACC", "AAPL").open_buy_qty == D(100)
    assert oms.counters.unknown_reports == 1
    # Nor one that names no order.
    assert oms.apply_order_refusal(VenueOrderRefusal("SIM", "FG999", WHY, 7)) == []
    assert oms.counters.unknown_reports == 2


def test_an_order_refused_while_its_cancel_is_on_its_way_answers_the_cancel_too_late() -> None:
    oms, risk, book = make()
    routed = buy(oms, "c1")
    _, change = oms.request_cancel(CancelOrder(SESSION, "x1", "c1", 2))
    assert isinstance(change, VenueChange)
    effects = oms.apply_order_refusal(VenueOrderRefusal("SIM", routed.venue_cl_ord_id, WHY, 7))
    rejected = first_report(effects)
    assert rejected is not None and rejected.status is OrderStatus.REJECTED
    assert risk.view.working == {}
    [late] = of(effects, ClientCancelReject)
    assert (late.cl_ord_id, late.orig_cl_ord_id, late.reason, late.status) == (
        "x1", "c1", CancelRejectReason.TOO_LATE, OrderStatus.REJECTED)
    assert book.owed[-2:] == [rejected, late]


# -- a cancel acknowledged under the order's own ClOrdID ----------------------------------------------


def test_a_canceled_report_under_the_orders_own_id_answers_the_pending_cancel_once() -> None:
    oms, risk, book = make()
    routed = working(oms, "c1")
    _, change = oms.request_cancel(CancelOrder(SESSION, "x1", "c1", 2))
    assert isinstance(change, VenueChange)
    # No OrigClOrdID (41), and the ClOrdID is the order's, not the request's.
    effects = oms.apply(report(routed.venue_cl_ord_id, "e2", ExecKind.CANCELED, OrderStatus.CANCELED))
    canceled = first_report(effects)
    assert canceled is not None
    assert (canceled.kind, canceled.status, canceled.cl_ord_id, canceled.orig_cl_ord_id) == (
        ExecKind.CANCELED, OrderStatus.CANCELED, "x1", "c1")
    assert of(effects, ClientCancelReject) == []  # exactly one answer: no "already CANCELED" besides
    assert book.owed[-1] == canceled
    assert risk.view.working == {}
    record = oms.order(routed.order_id)
    assert record is not None and (record.cl_ord_id, record.pending) == ("x1", None)


def test_an_ioc_remainder_meeting_a_cancel_answers_it_and_the_venues_refusal_after_is_expected() -> None:
    oms, _, _ = make()
    routed = working(oms, "c1")
    _, change = oms.request_cancel(CancelOrder(SESSION, "x1", "c1", 2))
    assert isinstance(change, VenueChange)
    # The venue cancels the IOC remainder under the order's id, then refuses the cancel: too late.
    effects = oms.apply(report(routed.venue_cl_ord_id, "e2", ExecKind.CANCELED, OrderStatus.CANCELED))
    assert of(effects, ClientCancelReject) == []
    canceled = first_report(effects)
    assert canceled is not None and (canceled.cl_ord_id, canceled.orig_cl_ord_id) == ("x1", "c1")
    record = oms.order(routed.order_id)
    assert record is not None and record.venue_cl_ord_id == routed.venue_cl_ord_id  # the venue's id for it
    refused = VenueCancelReject("SIM", change.venue_cl_ord_id, routed.venue_cl_ord_id, "too late to cancel", 6)
    assert oms.apply_cancel_reject(refused) == []
    assert oms.counters.unknown_reports == 0


def test_a_sweeps_cancel_chained_on_a_replace_is_answered_under_the_orders_own_id_too() -> None:
    oms, _, _ = make()
    routed = working(oms, "c1")
    _, replace = oms.request_replace(ReplaceOrder(SESSION, "c2", "c1", D(200), D(190), 2))
    assert isinstance(replace, VenueChange)
    only(oms.cancel_orders(account="ACC"), VenueChange)
    effects = oms.apply(report(routed.venue_cl_ord_id, "e2", ExecKind.CANCELED, OrderStatus.CANCELED))
    canceled = first_report(effects)
    assert canceled is not None
    assert (canceled.status, canceled.cl_ord_id, canceled.orig_cl_ord_id) == (OrderStatus.CANCELED, "c1", "c1")
    # The replace never happened: answered too late, once.
    [late] = of(effects, ClientCancelReject)
    assert (late.cl_ord_id, late.reason) == ("c2", CancelRejectReason.TOO_LATE)
    record = oms.order(routed.order_id)
    assert record is not None and record.venue_cl_ord_id == routed.venue_cl_ord_id  # the venue's id for it


def test_a_venues_own_cancel_with_no_cancel_outstanding_stays_unsolicited() -> None:
    oms, _, _ = make()
    routed = working(oms, "c1")
    effects = oms.apply(report(routed.venue_cl_ord_id, "e2", ExecKind.CANCELED, OrderStatus.CANCELED))
    canceled = first_report(effects)
    assert canceled is not None
    assert (canceled.status, canceled.cl_ord_id, canceled.orig_cl_ord_id) == (OrderStatus.CANCELED, "c1", None)
    assert of(effects, ClientCancelReject) == []
