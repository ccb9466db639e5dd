"""Orders with a cancel or replace outstanding: what risk counts meanwhile, what sweeps do with them,
and what reconciliation does with a request the venue never got."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal as D

import pytest

from domain.model import (
    BookRecord,
    CancelOrder,
    CancelRejectReason,
    ClientCancelReject,
    ClientMessage,
    ClientReport,
    Effect,
    ExecKind,
    Instrument,
    NewOrder,
    OrderStatus,
    OrdType,
    Refusal,
    ReplaceOrder,
    RequestKind,
    Routed,
    Side,
    TimeInForce,
    VenueCancelReject,
    VenueChange,
    VenueReport,
)
from oms.manager import OrderManager
from oms.router import Router
from risk import PreTradeRisk, risk_config_from_mapping
from tests.support import first_report, of, only

INSTRUMENTS = {"AAPL": Instrument("AAPL", "SIM", D("0.01"), D(1), D(190))}
SESSION = "FIX.4.4:FIXGATE->CLIENT1"


class Client:
    """What the OMS hands over for the client (through the sink, to be journaled): reports and the
    cancel rejects that follow a report."""

    def __init__(self) -> None:
        self.reports: list[ClientMessage] = []

    def __call__(self, records: Sequence[BookRecord], owed: Sequence[ClientMessage] = ()) -> None:
        self.reports.extend(owed)


def make(limits: dict[str, object] | None = None) -> tuple[OrderManager, PreTradeRisk, Client]:
    router = Router(INSTRUMENTS)
    router.set_venue_up("SIM", True)
    risk = PreTradeRisk(INSTRUMENTS, risk_config_from_mapping(limits or {}))
    client = Client()
    oms = OrderManager(instruments=INSTRUMENTS, risk=risk, router=router, sink=client, clock_ns=lambda: 42)
    return oms, risk, client


def buy(oms: OrderManager, cl: str, qty: int, price: str = "190") -> Routed | ClientReport:
    [outcome] = oms.submit(NewOrder(SESSION, cl, "ACC", "AAPL", Side.BUY, OrdType.LIMIT, D(qty), D(price),
                                  TimeInForce.DAY, 1))
    assert isinstance(outcome, (Routed, ClientReport))
    return outcome


def report(venue_cl_ord_id: str, exec_id: str, kind: ExecKind, status: OrderStatus, cum: str = "0",
           leaves: str = "0", orig: str | None = None, last_qty: str = "0") -> VenueReport:
    return VenueReport("SIM", venue_cl_ord_id, orig, "V1", exec_id, kind, status, D(last_qty),
                       D(190) if last_qty != "0" else D(0), D(cum), D(leaves), "", 5)


def working(oms: OrderManager, cl: str, qty: int, price: str = "190") -> Routed:
    routed = buy(oms, cl, qty, price)
    assert isinstance(routed, Routed)
    oms.apply(report(routed.venue_cl_ord_id, f"{cl}-new", ExecKind.NEW, OrderStatus.NEW, leaves=str(qty)))
    return routed


def replace_to(oms: OrderManager, cl: str, orig: str, qty: int, price: str = "190") -> VenueChange:
    return sent(oms.request_replace(ReplaceOrder(SESSION, cl, orig, D(qty), D(price), 2)))


def sent(effects: list[Effect] | Refusal) -> VenueChange:
    """The request a cancel or replace sends the venue (after the client's Pending report)."""
    assert not isinstance(effects, Refusal), effects
    change = effects[-1]
    assert isinstance(change, VenueChange), effects
    return change


def rejected(outcome: Routed | ClientReport) -> ClientReport:
    """The REJECTED report a refused order gets."""
    assert isinstance(outcome, ClientReport) and outcome.kind is ExecKind.REJECTED, outcome
    return outcome


# -- 1. RISK COUNTS THE WORSE OF OLD AND NEW WHILE A REPLACE IS PENDING ---------------------------------


def test_a_pending_replace_counts_the_larger_quantity_until_the_venue_answers() -> None:
    oms, risk, _ = make({"instruments": {"AAPL": {"max_position": "1000"}}})
    first = working(oms, "c1", 600)
    change = replace_to(oms, "c2", "c1", 1000)
    # Until the venue answers, 1000 may work: another 400 would make 1400 if both filled.
    refused = rejected(buy(oms, "c3", 400))
    assert refused.text == (
        "worst-case position 1400 in AAPL for ACC > max 1000 (position 0, working 1000, order 400)")
    # The venue refuses the replace: the 600 is what works, and 400 more fits.
    [reject] = oms.apply_cancel_reject(VenueCancelReject("SIM", change.venue_cl_ord_id, first.venue_cl_ord_id,
                                                         "no", 6))
    assert isinstance(reject, ClientCancelReject) and reject.status is OrderStatus.NEW
    assert risk.view.symbols[("ACC", "AAPL")].open_buy_qty == D(600)
    assert isinstance(buy(oms, "c4", 400), Routed)


def test_a_pending_downsize_at_a_dearer_price_counts_the_old_quantity_and_the_new_notional() -> None:
    oms, risk, client = make()
    first = working(oms, "c1", 600, "190")
    change = replace_to(oms, "c2", "c1", 300, "195")
    totals = risk.view.accounts["ACC"]
    assert risk.view.symbols[("ACC", "AAPL")].open_buy_qty == D(600)
    assert totals.open_buy_notional == D(117000)  # the larger quantity at the higher price: 600 x 195
    # A fill on the old order meanwhile: 500 of it may still fill, or 200 of the new.
    oms.apply(report(first.venue_cl_ord_id, "f1", ExecKind.TRADE, OrderStatus.PARTIALLY_FILLED, cum="100",
                     leaves="500", last_qty="100"))
    assert (risk.view.symbols[("ACC", "AAPL")].open_buy_qty, totals.open_buy_notional) == (D(500), D(97500))
    # Replaced: 300 in all, 100 filled, 200 @ 195 works.
    oms.apply(report(change.venue_cl_ord_id, "r1", ExecKind.REPLACED, OrderStatus.PARTIALLY_FILLED, cum="100",
                     leaves="200", orig=first.venue_cl_ord_id))
    assert (risk.view.symbols[("ACC", "AAPL")].open_buy_qty, totals.open_buy_notional) == (D(200), D(39000))
    assert client.reports[-1].kind is ExecKind.REPLACED and client.reports[-1].cl_ord_id == "c2"


# -- 2. SWEEPS CANCEL AN ORDER WHOSE REPLACE IS PENDING ------------------------------------------------


def test_a_sweep_chains_a_cancel_on_a_pending_replace_and_the_order_ends_canceled() -> None:
    oms, risk, client = make()
    first = working(oms, "c1", 100)
    replace = replace_to(oms, "c2", "c1", 200, "189")

    ack, cancel = oms.cancel_orders(account="ACC")
    assert isinstance(ack, ClientReport) and isinstance(cancel, VenueChange)
    # FIX chaining: the cancel names the replace (the last ClOrdID not rejected) and the venue's
    # OrderID, so the venue finds the order whichever way the replace goes.
    assert (cancel.kind, cancel.orig_venue_cl_ord_id, cancel.venue_order_id) == (
        RequestKind.CANCEL, replace.venue_cl_ord_id, "V1")
    assert (ack.kind, ack.status, ack.cl_ord_id) == (
        ExecKind.PENDING_CANCEL, OrderStatus.PENDING_CANCEL, "c1")
    assert oms.cancel_orders(account="ACC") == []  # a cancel is on its way: a second sweep leaves it

    # The venue takes them in order: the replace, then the cancel.
    replaced = first_report(oms.apply(report(replace.venue_cl_ord_id, "r1", ExecKind.REPLACED, OrderStatus.NEW,
                                             leaves="200", orig=first.venue_cl_ord_id)))
    assert replaced is not None and replaced.status is OrderStatus.PENDING_CANCEL  # still on its way out
    canceled = first_report(oms.apply(report(cancel.venue_cl_ord_id, "x1", ExecKind.CANCELED, OrderStatus.CANCELED,
                                             orig=replace.venue_cl_ord_id)))
    assert canceled is not None
    assert (canceled.status, canceled.cl_ord_id, canceled.orig_cl_ord_id) == (OrderStatus.CANCELED, "c2", "c2")
    assert client.reports[-1] == canceled
    assert risk.view.working == {}


def test_a_chained_cancel_still_cancels_when_the_venue_refuses_the_replace() -> None:
    oms, risk, _ = make()
    first = working(oms, "c1", 100)
    replace = replace_to(oms, "c2", "c1", 200)
    cancel = only(oms.cancel_orders(), VenueChange)
    [refused] = oms.apply_cancel_reject(VenueCancelReject("SIM", replace.venue_cl_ord_id, first.venue_cl_ord_id,
                                                          "price out of band", 6))
    assert isinstance(refused, ClientCancelReject)
    assert (refused.response_to, refused.cl_ord_id, refused.status) == (
        RequestKind.REPLACE, "c2", OrderStatus.PENDING_CANCEL)
    assert risk.view.symbols[("ACC", "AAPL")].open_buy_qty == D(100)  # the replace is off
    canceled = first_report(oms.apply(report(cancel.venue_cl_ord_id, "x1", ExecKind.CANCELED, OrderStatus.CANCELED,
                                             orig=replace.venue_cl_ord_id)))
    assert canceled is not None and (canceled.status, canceled.cl_ord_id) == (OrderStatus.CANCELED, "c1")
    assert risk.view.working == {}


def test_a_venue_that_refuses_a_chained_cancel_leaves_the_replace_and_the_next_sweep_cancels() -> None:
    oms, _, _ = make()
    first = working(oms, "c1", 100)
    replace = replace_to(oms, "c2", "c1", 200)
    cancel = only(oms.cancel_orders(symbol="AAPL"), VenueChange)
    [refused] = oms.apply_cancel_reject(VenueCancelReject("SIM", cancel.venue_cl_ord_id, replace.venue_cl_ord_id,
                                                          "order already pending replace", 7))
    assert isinstance(refused, ClientCancelReject)
    assert (refused.response_to, refused.cl_ord_id, refused.status, refused.reason) == (
        RequestKind.CANCEL, "c1", OrderStatus.PENDING_REPLACE, CancelRejectReason.OTHER)
    oms.apply(report(replace.venue_cl_ord_id, "r1", ExecKind.REPLACED, OrderStatus.NEW, leaves="200",
                     orig=first.venue_cl_ord_id))
    record = oms.order(first.order_id)
    assert record is not None and (record.status, record.quantity) == (OrderStatus.NEW, D(200))
    again = only(oms.cancel_orders(symbol="AAPL"), VenueChange)
    assert again.orig_venue_cl_ord_id == replace.venue_cl_ord_id


def test_an_operator_cancel_chains_too_and_is_refused_only_behind_another_cancel() -> None:
    oms, _, _ = make()
    first = working(oms, "c1", 100)
    replace_to(oms, "c2", "c1", 200)
    sent(oms.cancel_order(first.order_id))
    refusal = oms.cancel_order(first.order_id)
    assert isinstance(refusal, Refusal)
    assert refusal.reason is CancelRejectReason.ALREADY_PENDING


# -- 3. A REQUEST LOST IN A VENUE DROP ENDS AT RECONCILIATION -------------------------------------------


def status_answer(venue_cl_ord_id: str, status: OrderStatus, leaves: str = "100") -> VenueReport:
    return report(venue_cl_ord_id, f"status-{venue_cl_ord_id}", ExecKind.ORDER_STATUS, status, leaves=leaves)


def test_a_cancel_the_venue_never_got_is_rejected_to_the_client_at_reconciliation() -> None:
    oms, _, _ = make()
    first = working(oms, "c1", 100)
    sent(oms.request_cancel(CancelOrder(SESSION, "x1", "c1", 2)))
    # The connection drops with the cancel on the wire; at the logon the venue is asked, and
    # answers (after its resend) that the order works under its first ClOrdID.
    assert [r.order_id for r in oms.working_at("SIM")] == [first.order_id]
    [reject] = oms.apply(status_answer(first.venue_cl_ord_id, OrderStatus.NEW))  # no report: a reject only
    assert reject == ClientCancelReject(
        session=SESSION, order_id=first.order_id, cl_ord_id="x1", orig_cl_ord_id="c1", status=OrderStatus.NEW,
        response_to=RequestKind.CANCEL, reason=CancelRejectReason.OTHER,
        text="cancel: venue SIM never got the request (lost in a disconnect); the order is NEW",
    )
    record = oms.order(first.order_id)
    assert record is not None and record.status is OrderStatus.NEW
    # The order can be cancelled again, by its old id.
    sent(oms.request_cancel(CancelOrder(SESSION, "x2", "c1", 3)))


def test_a_lost_replace_is_rejected_and_risk_counts_the_old_order_again() -> None:
    oms, risk, _ = make()
    first = working(oms, "c1", 100)
    replace_to(oms, "c2", "c1", 300)
    cancel = only(oms.cancel_orders(), VenueChange)  # a kill chained on it, lost with it
    oms.working_at("SIM")
    rejects = of(oms.apply(status_answer(first.venue_cl_ord_id, OrderStatus.NEW)), ClientCancelReject)
    assert [(r.response_to, r.cl_ord_id) for r in rejects] == [(RequestKind.CANCEL, "c1"),
                                                                (RequestKind.REPLACE, "c2")]
    assert risk.view.symbols[("ACC", "AAPL")].open_buy_qty == D(100)
    assert cancel.venue_cl_ord_id
    again = only(oms.cancel_orders(), VenueChange)  # the next sweep sends a plain cancel
    assert again.orig_venue_cl_ord_id == first.venue_cl_ord_id


def test_a_request_made_after_the_status_was_asked_for_is_not_taken_for_lost() -> None:
    oms, _, _ = make()
    first = working(oms, "c1", 100)
    oms.working_at("SIM")
    change = sent(oms.request_cancel(CancelOrder(SESSION, "x1", "c1", 2)))
    # The status answer overtakes the cancel sent after the logon: the cancel may still arrive.
    assert oms.apply(status_answer(first.venue_cl_ord_id, OrderStatus.NEW)) == []  # no report, no reject
    done = first_report(oms.apply(report(change.venue_cl_ord_id, "x", ExecKind.CANCELED, OrderStatus.CANCELED,
                                         orig=first.venue_cl_ord_id)))
    assert done is not None and (done.status, done.cl_ord_id) == (OrderStatus.CANCELED, "x1")


def test_a_request_the_venue_did_get_is_left_to_its_answer() -> None:
    oms, _, _ = make()
    first = working(oms, "c1", 100)
    change = replace_to(oms, "c2", "c1", 200)
    oms.working_at("SIM")
    # The venue replaced it (the answer carries the new ClOrdID): not lost.
    answered = oms.apply(status_answer(change.venue_cl_ord_id, OrderStatus.NEW, leaves="200"))
    assert of(answered, ClientCancelReject) == []
    record = oms.order(first.order_id)
    assert record is not None and record.status is OrderStatus.PENDING_REPLACE


def test_an_order_rejected_by_the_venue_while_its_cancel_is_pending_ends_rejected() -> None:
    oms, risk, client = make()
    routed = buy(oms, "c1", 100)
    assert isinstance(routed, Routed)
    sent(oms.request_cancel(CancelOrder(SESSION, "x1", "c1", 2)))  # before the ack
    effects = oms.apply(report(routed.venue_cl_ord_id, "rej", ExecKind.REJECTED, OrderStatus.REJECTED))
    ended = first_report(effects)
    assert ended is not None and ended.status is OrderStatus.REJECTED  # not stuck PENDING_CANCEL
    assert oms.counters.illegal_transitions == 0
    assert risk.view.working == {}
    # The cancel is answered too: too late, the order is done; journaled after the report it follows.
    [reject] = of(effects, ClientCancelReject)
    assert (reject.cl_ord_id, reject.orig_cl_ord_id, reject.reason, reject.status) == (
        "x1", "c1", CancelRejectReason.TOO_LATE, OrderStatus.REJECTED)
    assert client.reports[-2:] == [ended, reject]


def test_a_cancel_overtaken_by_the_fill_is_answered_too_late_and_the_venues_reject_is_expected() -> None:
    oms, _, _ = make()
    first = working(oms, "c1", 100)
    change = sent(oms.request_cancel(CancelOrder(SESSION, "x1", "c1", 2)))
    effects = oms.apply(report(first.venue_cl_ord_id, "f1", ExecKind.TRADE, OrderStatus.FILLED, cum="100",
                               last_qty="100"))
    filled = first_report(effects)
    assert filled is not None and filled.status is OrderStatus.FILLED
    [reject] = of(effects, ClientCancelReject)  # the client's cancel gets its answer now
    assert reject == ClientCancelReject(
        session=SESSION, order_id=first.order_id, cl_ord_id="x1", orig_cl_ord_id="c1",
        status=OrderStatus.FILLED, response_to=RequestKind.CANCEL, reason=CancelRejectReason.TOO_LATE,
        text=f"order {first.order_id} is already FILLED",
    )
    # The venue's own OrderCancelReject comes after its fill: expected, answered already.
    late = oms.apply_cancel_reject(VenueCancelReject("SIM", change.venue_cl_ord_id, first.venue_cl_ord_id,
                                                     "order is filled", 6))
    assert late == [] and oms.counters.unknown_reports == 0


# -- 3b. A KILL SWITCH SWEEPS AN ORDER ITS VENUE HAS NOT ACKNOWLEDGED YET -------------------------------


def deferred(caplog: pytest.LogCaptureFixture) -> int:
    """How many orders the last sweep left for their venue's first report (it says so only in its log)."""
    [warning] = [r.getMessage() for r in caplog.records if "not acknowledged by their venue" in r.getMessage()]
    caplog.clear()
    return int(warning.split()[0])


def test_a_kill_cancels_an_unacknowledged_order_only_once_the_venue_has_it(
        caplog: pytest.LogCaptureFixture) -> None:
    oms, risk, client = make()
    routed = buy(oms, "c1", 100)
    assert isinstance(routed, Routed)
    # The order may still be on its way to the venue: a cancel now could arrive first.
    sweep = oms.cancel_orders(defer_unacknowledged=True)
    assert (sweep, deferred(caplog)) == ([], 1)
    assert oms.cancel_orders(defer_unacknowledged=True) == []
    assert deferred(caplog) == 1  # a second kill leaves it as is

    effects = oms.apply(report(routed.venue_cl_ord_id, "n1", ExecKind.NEW, OrderStatus.NEW, leaves="100"))
    new = first_report(effects)
    assert new is not None and new.status is OrderStatus.NEW
    cancel = only(effects, VenueChange)  # made once
    assert (cancel.kind, cancel.orig_venue_cl_ord_id, cancel.venue_order_id) == (
        RequestKind.CANCEL, routed.venue_cl_ord_id, "V1")
    assert (client.reports[-1].kind, client.reports[-1].cl_ord_id) == (ExecKind.PENDING_CANCEL, "c1")
    effects = oms.apply(report(cancel.venue_cl_ord_id, "x1", ExecKind.CANCELED, OrderStatus.CANCELED,
                               orig=routed.venue_cl_ord_id))
    assert of(effects, VenueChange) == []  # made once
    done = first_report(effects)
    assert done is not None and done.status is OrderStatus.CANCELED
    assert risk.view.working == {}


def test_a_killed_order_the_venue_rejects_or_fills_needs_no_cancel(caplog: pytest.LogCaptureFixture) -> None:
    oms, _, _ = make()
    refused, filled = buy(oms, "c1", 100), buy(oms, "c2", 100)
    assert isinstance(refused, Routed) and isinstance(filled, Routed)
    assert oms.cancel_orders(defer_unacknowledged=True) == [] and deferred(caplog) == 2
    effects = oms.apply(report(refused.venue_cl_ord_id, "r1", ExecKind.REJECTED, OrderStatus.REJECTED))
    effects += oms.apply(report(filled.venue_cl_ord_id, "f1", ExecKind.TRADE, OrderStatus.FILLED, cum="100",
                                last_qty="100"))
    assert of(effects, VenueChange) == []


def test_other_sweeps_cancel_an_unacknowledged_order_at_once() -> None:
    # A client's own mass cancel or disconnect runs on the thread that sent its orders: they are out.
    oms, _, _ = make()
    routed = buy(oms, "c1", 100)
    assert isinstance(routed, Routed)
    cancel = only(oms.cancel_orders(session=SESSION), VenueChange)
    assert cancel.orig_venue_cl_ord_id == routed.venue_cl_ord_id


# -- 4. A RESTART WHILE A REQUEST IS PENDING ------------------------------------------------------------


def restarted_with(oms: OrderManager, order_id: int) -> tuple[OrderManager, PreTradeRisk, Client]:
    """A new process whose book holds the order as ``oms`` last recorded it."""
    record = oms.order(order_id)
    assert record is not None
    restarted, risk, client = make()
    restarted.restore([record], [])
    return restarted, risk, client


def test_a_cancel_pending_at_a_restart_is_answered_to_the_client_by_its_own_ids() -> None:
    oms, _, _ = make()
    first = working(oms, "c1", 100)
    change = sent(oms.request_cancel(CancelOrder(SESSION, "x1", "c1", 2)))
    restarted, risk, _ = restarted_with(oms, first.order_id)
    record = restarted.order(first.order_id)
    assert record is not None and record.status is OrderStatus.PENDING_CANCEL
    # The request is still outstanding: another cancel of the order is refused as already pending.
    [again] = restarted.request_cancel(CancelOrder(SESSION, "x2", "c1", 3))
    assert isinstance(again, ClientCancelReject) and again.reason is CancelRejectReason.ALREADY_PENDING

    done = first_report(restarted.apply(report(change.venue_cl_ord_id, "cxl", ExecKind.CANCELED,
                                               OrderStatus.CANCELED, orig=first.venue_cl_ord_id)))
    assert done is not None
    assert (done.status, done.cl_ord_id, done.orig_cl_ord_id) == (OrderStatus.CANCELED, "x1", "c1")
    assert restarted.counters.unknown_reports == restarted.counters.illegal_transitions == 0
    assert risk.view.exposure("ACC", "AAPL").open_buy_qty == D(0)


def test_a_replace_pending_at_a_restart_takes_the_clients_new_id_and_quantity() -> None:
    oms, _, _ = make()
    first = working(oms, "c1", 100)
    change = replace_to(oms, "c2", "c1", 150, "190.05")
    restarted, risk, _ = restarted_with(oms, first.order_id)
    assert risk.view.exposure("ACC", "AAPL").open_buy_qty == D(150)  # the worse of old and new

    done = first_report(restarted.apply(report(change.venue_cl_ord_id, "rep", ExecKind.REPLACED,
                                               OrderStatus.REPLACED, leaves="150", orig=first.venue_cl_ord_id)))
    assert done is not None
    assert (done.kind, done.cl_ord_id, done.orig_cl_ord_id) == (ExecKind.REPLACED, "c2", "c1")
    after = restarted.order(first.order_id)
    assert after is not None
    assert (after.status, after.cl_ord_id, after.quantity, after.price, after.pending) == (
        OrderStatus.NEW, "c2", D(150), D("190.05"), None)
    # The client names the order by its new id from now on.
    sent(restarted.request_cancel(CancelOrder(SESSION, "c3", "c2", 4)))


def test_a_cancel_chained_on_a_replace_survives_a_restart() -> None:
    oms, _, _ = make()
    first = working(oms, "c1", 100)
    replace_to(oms, "c2", "c1", 150)
    cancel = only(oms.cancel_orders(), VenueChange)  # a kill switch sweep while the replace is pending
    restarted, _, _ = restarted_with(oms, first.order_id)
    done = first_report(restarted.apply(report(cancel.venue_cl_ord_id, "cxl", ExecKind.CANCELED,
                                               OrderStatus.CANCELED, orig=cancel.orig_venue_cl_ord_id)))
    assert done is not None and done.status is OrderStatus.CANCELED
    assert restarted.counters.unknown_reports == 0


def test_a_request_pending_at_a_restart_that_the_venue_never_got_is_rejected_by_the_clients_ids() -> None:
    oms, _, _ = make()
    first = working(oms, "c1", 100)
    sent(oms.request_cancel(CancelOrder(SESSION, "x1", "c1", 2)))
    restarted, _, _ = restarted_with(oms, first.order_id)  # killed before the cancel went out
    restarted.working_at("SIM")
    [reject] = of(restarted.apply(status_answer(first.venue_cl_ord_id, OrderStatus.NEW)), ClientCancelReject)
    assert (reject.cl_ord_id, reject.orig_cl_ord_id, reject.status) == ("x1", "c1", OrderStatus.NEW)


def test_an_order_restored_with_its_fills_notional_keeps_its_avg_px_exact() -> None:
    oms, _, _ = make()
    routed = working(oms, "c1", 6)
    for n, (qty, cum, px) in enumerate([("1", "1", "190.01"), ("2", "3", "190.02")]):
        oms.apply(VenueReport("SIM", routed.venue_cl_ord_id, None, "V1", f"f{n}", ExecKind.TRADE,
                              OrderStatus.PARTIALLY_FILLED, D(qty), D(px), D(cum), D(6) - D(cum), "", 5))
    record = oms.order(routed.order_id)
    assert record is not None and record.avg_px == D("190.01666667")  # 570.05 / 3, rounded

    def after_restart(notionals: dict[int, D] | None) -> D:
        restarted, _, _ = make()
        restarted.restore([record], [], notionals=notionals)
        last = first_report(restarted.apply(VenueReport("SIM", routed.venue_cl_ord_id, None, "V1", "f3",
                                                        ExecKind.TRADE, OrderStatus.FILLED, D(3), D("190.03"),
                                                        D(6), D(0), "", 5)))
        assert last is not None
        return last.avg_px

    # From the fills: 1140.14 / 6. From the row's rounded AvgPx it would be 1140.14000001 / 6.
    assert after_restart({routed.order_id: D("570.05")}) == D("190.02333333")
    assert after_restart(None) == D("190.02333334")


def test_a_replace_asked_before_a_restart_is_taken_from_the_venue_and_its_fills_are_applied() -> None:
    oms, _, _ = make()
    routed = working(oms, "c1", 100)
    change = replace_to(oms, "c2", "c1", 150, "190.05")
    pending_record = oms.order(routed.order_id)
    assert pending_record is not None and pending_record.status is OrderStatus.PENDING_REPLACE

    # A new process, and a book row written before requests were kept: the request itself is lost.
    restarted, risk, _ = make()
    restarted.restore([replace(pending_record, pending=None)], [])
    replaced = first_report(restarted.apply(report(change.venue_cl_ord_id, "rep", ExecKind.REPLACED,
                                                   OrderStatus.REPLACED, leaves="150", orig=routed.venue_cl_ord_id)))
    assert replaced is not None and replaced.kind is ExecKind.REPLACED
    after = restarted.order(routed.order_id)
    assert after is not None
    assert (after.status, after.quantity, after.venue_cl_ord_id) == (OrderStatus.NEW, D(150), change.venue_cl_ord_id)

    # The venue's fills name the new id: they are applied, none is lost as "unknown".
    fill = first_report(restarted.apply(report(change.venue_cl_ord_id, "f1", ExecKind.TRADE,
                                               OrderStatus.PARTIALLY_FILLED, cum="120", leaves="30", last_qty="120")))
    assert fill is not None and fill.cum_qty == D(120) and fill.leaves_qty == D(30)
    assert restarted.counters.unknown_reports == 0
    assert risk.view.exposure("ACC", "AAPL").open_buy_qty == D(30)


def test_a_replace_of_an_id_the_order_no_longer_has_is_still_refused() -> None:
    oms, _, _ = make()
    routed = working(oms, "c1", 100)
    stale = oms.apply(report(f"{routed.venue_cl_ord_id}R9", "rep", ExecKind.REPLACED, OrderStatus.REPLACED,
                             leaves="150", orig="FG-other"))
    assert stale == [] and oms.counters.unknown_reports == 1


def test_a_restart_counts_the_working_orders_of_the_book_in_risks_view() -> None:
    oms, _, _ = make()
    routed = working(oms, "c1", 100)
    record = oms.order(routed.order_id)
    assert record is not None
    restarted, risk, _ = make({"firm": {"max_position": "150"}})
    restarted.restore([record], [])
    assert risk.view.exposure("ACC", "AAPL").open_buy_qty == D(100)
    refused = rejected(buy(restarted, "c3", 60))  # 100 working + 60 > 150, counted as if both filled
    assert "150" in refused.text


def test_status_answers_that_reuse_an_exec_id_are_each_reconciled() -> None:
    # FIX 4.4 sends ExecID 0 on status answers (ExecType I): the second must not be taken for a repeat.
    oms, _, _ = make()
    first, second = buy(oms, "c1", 10), buy(oms, "c2", 10)
    assert isinstance(first, Routed) and isinstance(second, Routed)
    for routed in (first, second):  # the venue never got either order
        answer = report(routed.venue_cl_ord_id, "0", ExecKind.ORDER_STATUS, OrderStatus.REJECTED)
        oms.apply(replace(answer, venue_order_id="NONE"))
    statuses = [oms.order(r.order_id).status for r in (first, second)]  # type: ignore[union-attr]
    assert statuses == [OrderStatus.REJECTED, OrderStatus.REJECTED]
    assert oms.counters.duplicate_reports == 0
