"""Venues with a short memory: ExecIDs numbered again after a restart, orders forgotten by a restart.

A repeat of a report is known by its venue, ExecID, order and content together; a venue that forgot an
order ends it (``OrderManager._reconcile_unknown``)."""

from dataclasses import replace
from decimal import Decimal as D

from domain.model import (
    AppliedReport,
    CancelOrder,
    CancelRejectReason,
    ClientCancelReject,
    ExecKind,
    ExecutionRecord,
    OrderRecord,
    OrderStatus,
    PositionRecord,
    Routed,
    StatusRequest,
    VenueCancelReject,
    VenueChange,
    VenueReport,
)
from oms.manager import OrderManager
from tests.support import first_report, of
from tests.unit.oms.test_manager import make, new, report


def filled_order(oms: OrderManager, cl: str, new_id: str, fill_id: str, qty: str = "100",
                 px: str = "190.01") -> Routed:
    """An order acknowledged (ExecID ``new_id``) and filled in one go (``fill_id``)."""
    [routed] = oms.submit(new(cl, qty))
    assert isinstance(routed, Routed)
    assert first_report(oms.apply(report(routed, new_id, ExecKind.NEW, OrderStatus.NEW, leaves=qty))) is not None
    filled = first_report(oms.apply(report(routed, fill_id, ExecKind.TRADE, OrderStatus.FILLED, qty, px, qty, "0")))
    assert filled is not None
    return routed


def position(oms: OrderManager) -> D:
    [p] = oms.positions()
    return p.quantity


# -- REUSED EXECIDS --------------------------------------------------------------------------------------


def test_an_execid_reused_for_another_order_is_applied_not_dropped() -> None:
    oms, book = make()
    filled_order(oms, "c1", "E1", "E2")
    # The venue restarted and numbers from 1 again: the next order's reports reuse E1 and E2.
    [second] = oms.submit(new("c2"))
    assert isinstance(second, Routed)
    ack = first_report(oms.apply(report(second, "E1", ExecKind.NEW, OrderStatus.NEW)))
    fill = first_report(oms.apply(report(second, "E2", ExecKind.TRADE, OrderStatus.FILLED, "100", "190.02", "100",
                                         "0")))
    assert ack is not None and fill is not None and fill.status is OrderStatus.FILLED
    assert position(oms) == D(200)
    assert oms.counters.reused_exec_ids == 2 and oms.counters.duplicate_reports == 0
    # Each has an ExecID of its own for the client and the book (executions.exec_id is the key): the
    # venue's alone would repeat, today or when the venue restarts again days later.
    assert (ack.exec_id, fill.exec_id) == (f"SIM-{second.order_id}-E1", f"SIM-{second.order_id}-E2")
    exec_ids = [r.exec_id for r in book.of(ExecutionRecord)]
    assert len(exec_ids) == len(set(exec_ids)) == 4


def test_a_resend_is_still_a_repeat_whichever_report_under_a_reused_execid_it_repeats() -> None:
    oms, _ = make()
    first = filled_order(oms, "c1", "E1", "E2")
    second = filled_order(oms, "c2", "E1", "E2", px="190.02")
    applied = oms.counters.reports_applied
    for routed, px in ((first, "190.01"), (second, "190.02")):
        resend = report(routed, "E2", ExecKind.TRADE, OrderStatus.FILLED, "100", px, "100", "0")
        assert oms.apply(resend) == []
        assert oms.apply(report(routed, "E1", ExecKind.NEW, OrderStatus.NEW)) == []
    assert oms.counters.duplicate_reports == 4 and oms.counters.reports_applied == applied
    assert position(oms) == D(200)


def test_a_fill_alike_in_all_but_cumqty_is_a_new_fill_of_the_same_order() -> None:
    # A venue that kept the order over its restart but numbers its ExecIDs again: the second 40 @ 190.01
    # under E2 says CumQty 80, more than the book has: not a resend of the first.
    oms, _ = make()
    [routed] = oms.submit(new())
    assert isinstance(routed, Routed)
    oms.apply(report(routed, "E1", ExecKind.NEW, OrderStatus.NEW))
    oms.apply(report(routed, "E2", ExecKind.TRADE, OrderStatus.PARTIALLY_FILLED, "40", "190.01", "40", "60"))
    again = report(routed, "E2", ExecKind.TRADE, OrderStatus.PARTIALLY_FILLED, "40", "190.01", "80", "20")
    client = first_report(oms.apply(again))
    assert client is not None and client.cum_qty == D(80) and client.exec_id == f"SIM-{routed.order_id}-E2#2"
    # ... and that one's resend is a repeat in its turn.
    assert oms.apply(again) == [] and oms.counters.duplicate_reports == 1
    assert position(oms) == D(80)


def test_after_a_restart_the_book_tells_repeats_from_reused_execids() -> None:
    oms, book = make()
    first = filled_order(oms, "c1", "E1", "E2")
    restarted, _ = make()
    restarted.restore(
        [book.of(OrderRecord)[-1]], [book.of(PositionRecord)[-1]],
        [AppliedReport("SIM", r.venue_exec_id, r.order_id, r.kind, r.last_qty, r.last_px, r.cum_qty)
         for r in book.of(ExecutionRecord)],
    )
    resend = report(first, "E2", ExecKind.TRADE, OrderStatus.FILLED, "100", "190.01", "100", "0")
    assert restarted.apply(resend) == [] and restarted.counters.duplicate_reports == 1
    [second] = restarted.submit(new("c2"))
    assert isinstance(second, Routed)
    assert first_report(restarted.apply(report(second, "E1", ExecKind.NEW, OrderStatus.NEW))) is not None
    assert first_report(restarted.apply(
        report(second, "E2", ExecKind.TRADE, OrderStatus.FILLED, "100", "190.01", "100", "0"))) is not None
    assert position(restarted) == D(200) and restarted.counters.reused_exec_ids == 2


# -- FORGOTTEN ORDERS ------------------------------------------------------------------------------------


def partly_filled(oms: OrderManager) -> Routed:
    """1000 ordered, 100 filled, 900 working (what the demo leaves at the venue)."""
    [routed] = oms.submit(new("c1", "1000"))
    assert isinstance(routed, Routed)
    oms.apply(report(routed, "E1", ExecKind.NEW, OrderStatus.NEW, leaves="1000"))
    oms.apply(report(routed, "E2", ExecKind.TRADE, OrderStatus.PARTIALLY_FILLED, "100", "190.01", "100",
                     "900"))
    return routed


def unknown(routed: Routed) -> VenueReport:
    """The simulator's answer to a status request for an order it does not know (37=NONE, 39=8, 14=0)."""
    return VenueReport("SIM", routed.venue_cl_ord_id, None, "NONE", "E1", ExecKind.ORDER_STATUS,
                       OrderStatus.REJECTED, D(0), D(0), D(0), D(0), f"unknown order {routed.venue_cl_ord_id}",
                       7)


def test_a_partly_filled_order_the_venue_forgot_is_canceled_with_its_fills() -> None:
    oms, _ = make()
    routed = partly_filled(oms)
    assert oms._risk.view.working[routed.order_id].leaves == D(900)
    client = first_report(oms.apply(unknown(routed)))
    # The venue's CumQty 0 is no disagreement about fills: it knows nothing of the order.
    assert client is not None and (client.kind, client.status) == (ExecKind.CANCELED, OrderStatus.CANCELED)
    assert (client.cum_qty, client.leaves_qty) == (D(100), D(0))
    assert client.text == ("venue SIM does not know the order (unknown order FG1): canceled with 100 of 1000"
                           " filled")
    assert routed.order_id not in oms._risk.view.working  # risk no longer counts the 900
    order = oms.order(routed.order_id)
    assert order is not None and order.venue_order_id == "V1"  # the venue's id, not its "NONE"
    assert position(oms) == D(100) and oms.counters.reconcile_mismatches == 0
    assert oms.apply(unknown(routed)) == []  # asked again: it agrees now


def test_a_cancel_pending_on_a_forgotten_order_is_answered_by_its_end() -> None:
    oms, _ = make()
    routed = partly_filled(oms)
    _, change = oms.request_cancel(CancelOrder("S1", "c1-x", "c1", 3))
    assert isinstance(change, VenueChange)
    effects = oms.apply(unknown(routed))
    client = first_report(effects)
    assert client is not None and client.status is OrderStatus.CANCELED
    assert (client.cl_ord_id, client.orig_cl_ord_id) == ("c1-x", "c1")  # the client's cancel, answered
    assert of(effects, ClientCancelReject) == []  # and only once


def test_a_cancel_answered_unknown_order_asks_the_venue_for_the_orders_status() -> None:
    oms, _ = make()
    routed = partly_filled(oms)
    _, change = oms.request_cancel(CancelOrder("S1", "c1-x", "c1", 3))
    assert isinstance(change, VenueChange)
    refused = VenueCancelReject("SIM", change.venue_cl_ord_id, routed.venue_cl_ord_id,
                                f"unknown order {routed.venue_cl_ord_id}", 4,
                                CancelRejectReason.UNKNOWN_ORDER)
    answer, check = oms.apply_cancel_reject(refused)
    assert isinstance(answer, ClientCancelReject) and "unknown order" in answer.text
    assert isinstance(check, StatusRequest)
    # Owed to SIM's session alone (a venue that never had the order is not asked).
    asked = check.order
    assert asked.venue == "SIM"
    assert (asked.order_id, asked.venue_cl_ord_id, asked.status) == (
        routed.order_id, routed.venue_cl_ord_id, OrderStatus.PARTIALLY_FILLED)
    client = first_report(oms.apply(unknown(routed)))  # the status answer ends it
    assert client is not None and client.status is OrderStatus.CANCELED


def test_a_cancel_refused_for_another_reason_or_before_the_ack_asks_nothing() -> None:
    oms, _ = make()
    routed = partly_filled(oms)
    _, change = oms.request_cancel(CancelOrder("S1", "c1-x", "c1", 3))
    assert isinstance(change, VenueChange)
    effects = oms.apply_cancel_reject(
        VenueCancelReject("SIM", change.venue_cl_ord_id, routed.venue_cl_ord_id, "no", 4))
    assert of(effects, StatusRequest) == []
    # An order not acknowledged yet may still be on its way: "unknown" proves nothing.
    [waiting] = oms.submit(new("c2"))
    assert isinstance(waiting, Routed)
    _, change = oms.request_cancel(CancelOrder("S1", "c2-x", "c2", 3))
    assert isinstance(change, VenueChange)
    effects = oms.apply_cancel_reject(replace(
        VenueCancelReject("SIM", change.venue_cl_ord_id, waiting.venue_cl_ord_id, "unknown order", 4),
        reason=CancelRejectReason.UNKNOWN_ORDER))
    assert of(effects, StatusRequest) == []


def test_exec_ids_given_after_a_restart_never_repeat_one_in_the_book() -> None:
    oms, book = make()
    [routed] = oms.submit(new())
    assert isinstance(routed, Routed)
    oms.apply(report(routed, "E2", ExecKind.TRADE, OrderStatus.PARTIALLY_FILLED, "40", "190.01", "40", "60"))
    oms.apply(report(routed, "E2", ExecKind.TRADE, OrderStatus.PARTIALLY_FILLED, "40", "190.01", "80", "20"))
    restarted, _ = make()
    restarted.restore(
        [book.of(OrderRecord)[-1]], [book.of(PositionRecord)[-1]],
        {AppliedReport("SIM", r.venue_exec_id, r.order_id, r.kind, r.last_qty, r.last_px, r.cum_qty)
         for r in book.of(ExecutionRecord)},  # as the book loads them: a set
    )
    third = first_report(restarted.apply(
        report(routed, "E2", ExecKind.TRADE, OrderStatus.FILLED, "20", "190.01", "100", "0")))
    assert third is not None
    assert third.exec_id == f"SIM-{routed.order_id}-E2#3"
    assert third.exec_id not in {r.exec_id for r in book.of(ExecutionRecord)}
