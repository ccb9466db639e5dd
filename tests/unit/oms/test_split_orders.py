"""A client's order split across venues: the router's plan (a sweep of each venue's displayed size
with IOC children, the rest posted at the preferred venue) and the parent the client knows, whose
fills, acknowledgement, cancel, replace and end are its children's, rolled up; exposure and the
position count each fill once."""

import json
from collections.abc import Sequence
from decimal import Decimal as D

from domain.model import (
    CancelOrder,
    ClientCancelReject,
    ClientReport,
    Effect,
    ExecKind,
    ExecutionRecord,
    Instrument,
    Listing,
    NewOrder,
    OrderRecord,
    OrderStatus,
    OrdType,
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
from oms.router import Leg, Router
from risk import OrderLimits, PreTradeRisk, RiskConfig
from tests.unit.oms.test_manager import Book

AAPL = Instrument("AAPL", "SIM", D("0.01"), D(1), D("190.00"), (Listing("SIM"), Listing("SIM2")))
INSTRUMENTS = {"AAPL": AAPL}


def two_venues(sim: tuple[str, str] = ("190.01", "100"), sim2: tuple[str, str] = ("190.02", "150")) -> Router:
    router = Router(INSTRUMENTS)
    for venue, (offer, size) in (("SIM", sim), ("SIM2", sim2)):
        router.set_venue_up(venue, True)
        router.quoted(venue, "AAPL", D(offer) - D("0.02"), D(offer), D(500), D(size))
    return router


def buy(qty: str = "300", ord_type: OrdType = OrdType.MARKET, price: str | None = None,
        tif: TimeInForce = TimeInForce.DAY, cl: str = "p1") -> NewOrder:
    return NewOrder("S1", cl, "ACC", "AAPL", Side.BUY, ord_type, D(qty), None if price is None else D(price), tif, 1)


# -- THE PLAN --------------------------------------------------------------------------------------------


def test_a_buy_bigger_than_the_best_offer_sweeps_each_venues_displayed_size_and_posts_the_rest() -> None:
    plan = two_venues().plan(buy())
    assert plan.legs == (Leg("SIM", D(100), True), Leg("SIM2", D(150), True), Leg("SIM", D(50), False))
    decision = json.loads(plan.route.decision)
    assert decision["venue"] == "SIM"
    assert [(leg["venue"], leg["quantity"], leg["tif"]) for leg in decision["legs"]] == [
        ("SIM", "100", "IOC"), ("SIM2", "150", "IOC"), ("SIM", "50", "DAY")]
    assert {v["venue"]: v["size"] for v in decision["venues"]} == {"SIM": "100", "SIM2": "150"}


def test_an_order_the_best_venue_shows_enough_for_goes_whole() -> None:
    plan = two_venues().plan(buy("100"))
    assert plan.legs == () and plan.route.venue == "SIM"
    assert "legs" not in json.loads(plan.route.decision)


def test_a_limit_sweeps_only_the_venues_within_it_and_one_venue_left_is_no_split() -> None:
    router = two_venues()
    assert router.plan(buy(ord_type=OrdType.LIMIT, price="190.01")).legs == ()  # SIM2's 190.02 is beyond it
    plan = router.plan(buy(ord_type=OrdType.LIMIT, price="190.02"))
    assert [leg.venue for leg in plan.legs] == ["SIM", "SIM2", "SIM"]


def test_an_ioc_order_posts_nothing_and_a_fok_order_is_never_split() -> None:
    router = two_venues()
    assert router.plan(buy(tif=TimeInForce.IOC)).legs == (Leg("SIM", D(100), True), Leg("SIM2", D(150), True))
    assert router.plan(buy(tif=TimeInForce.FOK)).legs == ()


def test_a_venue_that_refused_the_order_is_left_out() -> None:
    router = two_venues()
    route = router.route(buy(), frozenset({"SIM"}))
    assert route.venue == "SIM2" and route.reason is None
    refused = router.route(buy(), frozenset({"SIM", "SIM2"}))
    assert refused.reason == "every venue of AAPL that is connected refused the order (SIM, SIM2)"


# -- THE PARENT --------------------------------------------------------------------------------------------


class Split:
    """An order manager over two venues with a book that keeps what it is handed."""

    def __init__(self, router: Router | None = None) -> None:
        self.book = Book()
        self.risk = PreTradeRisk(INSTRUMENTS, RiskConfig(firm_orders=OrderLimits(max_order_qty=D(1000))))
        self.router = router or two_venues()
        self.oms = OrderManager(instruments=INSTRUMENTS, risk=self.risk, router=self.router, sink=self.book,
                                clock_ns=lambda: 42)
        self.seq = 0

    def submit(self, order: NewOrder) -> list[Routed]:
        children = self.oms.submit(order)
        assert all(isinstance(c, Routed) for c in children), children
        return children  # type: ignore[return-value]

    def report(self, child: Routed, kind: ExecKind, status: OrderStatus, last_qty: str = "0", last_px: str = "0",
               cum: str = "0", leaves: str = "0", cl: str | None = None, text: str = "") -> list[Effect]:
        self.seq += 1
        return self.oms.apply(VenueReport(
            child.venue, cl or child.venue_cl_ord_id, None if cl is None else child.venue_cl_ord_id,
            f"V{child.order_id}", f"E{self.seq}", kind, status, D(last_qty), D(last_px), D(cum), D(leaves), text, 5))

    def parent(self, order_id: int) -> OrderRecord:
        record = self.oms.order(order_id)
        assert record is not None
        return record


def reports(effects: Sequence[Effect]) -> list[ClientReport]:
    return [e for e in effects if isinstance(e, ClientReport)]


def routed(effects: Sequence[Effect]) -> list[Routed]:
    return [e for e in effects if isinstance(e, Routed)]


def cancels(effects: Sequence[Effect]) -> dict[int, VenueChange]:
    return {e.order_id: e for e in effects if isinstance(e, VenueChange)}


def acked(s: "Split", *children: Routed) -> None:
    for child in children:
        s.report(child, ExecKind.NEW, OrderStatus.NEW, leaves=str(child.order.quantity))


def test_a_sweep_across_two_venues_fills_one_parent_the_client_sees_alone() -> None:
    s = Split()
    sweep_sim, sweep_sim2, post = s.submit(buy())
    assert [(c.venue, c.order.quantity, c.order.time_in_force) for c in (sweep_sim, sweep_sim2, post)] == [
        ("SIM", D(100), TimeInForce.IOC), ("SIM2", D(150), TimeInForce.IOC), ("SIM", D(50), TimeInForce.DAY)]
    parent_row, *child_rows = s.book.of(OrderRecord)
    assert parent_row.cl_ord_id == "p1" and parent_row.parent_id is None and parent_row.venue == ""
    assert [r.parent_id for r in child_rows] == [parent_row.order_id] * 3
    parent_id = parent_row.order_id
    assert list(s.risk.view.working) == [parent_id]  # risk counts the parent, once
    assert s.risk.view.exposure("ACC", "AAPL").open_buy_qty == D(300)

    [ack] = reports(s.report(sweep_sim, ExecKind.NEW, OrderStatus.NEW, leaves="100"))
    assert (ack.order_id, ack.cl_ord_id, ack.kind, ack.status) == (parent_id, "p1", ExecKind.NEW, OrderStatus.NEW)
    assert reports(s.report(sweep_sim2, ExecKind.NEW, OrderStatus.NEW, leaves="150")) == []  # acknowledged once
    [first] = reports(s.report(sweep_sim, ExecKind.TRADE, OrderStatus.FILLED, "100", "190.01", "100"))
    assert (first.order_id, first.last_mkt, first.last_qty, first.cum_qty, first.leaves_qty, first.status) == (
        parent_id, "SIM", D(100), D(100), D(200), OrderStatus.PARTIALLY_FILLED)
    [second] = reports(s.report(sweep_sim2, ExecKind.TRADE, OrderStatus.FILLED, "150", "190.02", "150"))
    assert (second.last_mkt, second.cum_qty, second.leaves_qty) == ("SIM2", D(250), D(50))
    [last] = reports(s.report(post, ExecKind.TRADE, OrderStatus.FILLED, "50", "190.03", "50"))
    assert (last.status, last.cum_qty, last.leaves_qty) == (OrderStatus.FILLED, D(300), D(0))
    assert last.avg_px == ((100 * D("190.01") + 150 * D("190.02") + 50 * D("190.03")) / 300).quantize(D("1e-8"))
    [position] = s.oms.positions()
    assert position.quantity == D(300)  # each fill once
    assert s.parent(parent_id).status is OrderStatus.FILLED
    parent_fills = [e for e in s.book.of(ExecutionRecord) if e.order_id == parent_id and e.kind is ExecKind.TRADE]
    assert [(e.venue, e.last_qty) for e in parent_fills] == [("SIM", D(100)), ("SIM2", D(150)), ("SIM", D(50))]
    assert s.risk.view.exposure("ACC", "AAPL").open_buy_qty == D(0)


def test_a_venue_order_is_known_by_its_client_session_a_childs_by_its_parents() -> None:
    """What a venue thread asks before it applies a report: the report and the sending of what it made
    are one turn of the order's client session (``gateway.dispatch.Turns``), a split order's children's
    their parent's."""
    s = Split()
    sweep_sim, sweep_sim2, _ = s.submit(buy())
    [whole] = s.submit(buy("10", cl="w1"))
    session = s.oms._orders[whole.order_id].session
    assert session
    assert s.oms.session_of("SIM", sweep_sim.venue_cl_ord_id) == session
    assert s.oms.session_of("SIM2", sweep_sim2.venue_cl_ord_id) == session
    assert s.oms.session_of("SIM", whole.venue_cl_ord_id) == session
    assert s.oms.session_of("SIM2", sweep_sim.venue_cl_ord_id) is None  # another venue's ClOrdID
    assert s.oms._orders[sweep_sim.order_id].session == ""  # a child has none of its own


def test_what_an_ioc_child_leaves_is_posted_again_at_the_preferred_venue() -> None:
    s = Split()
    sweep_sim, _, post = s.submit(buy())
    s.report(sweep_sim, ExecKind.TRADE, OrderStatus.PARTIALLY_FILLED, "60", "190.01", "60", "40")
    effects = s.report(sweep_sim, ExecKind.CANCELED, OrderStatus.CANCELED, cum="60")
    assert reports(effects) == []  # the client's order works on
    [again] = [e for e in effects if isinstance(e, Routed)]
    assert (again.venue, again.order.quantity, again.order.time_in_force) == ("SIM", D(40), TimeInForce.DAY)
    child = s.oms.order(again.order_id)
    assert child is not None and child.parent_id == post.order_id - 3 and json.loads(child.route)["leg"] == "reroute"


def test_a_child_every_venue_refuses_ends_the_parent_rejected_with_each_reason() -> None:
    s = Split()
    sweep_sim, sweep_sim2, post = s.submit(buy())
    effects = s.report(sweep_sim, ExecKind.REJECTED, OrderStatus.REJECTED, text="halted")
    [to_sim2] = [e for e in effects if isinstance(e, Routed)]
    assert (to_sim2.venue, to_sim2.order.quantity) == ("SIM2", D(100))  # not back to SIM
    [post_to_sim2] = [e for e in s.report(post, ExecKind.REJECTED, OrderStatus.REJECTED, text="halted")
                      if isinstance(e, Routed)]
    assert (post_to_sim2.venue, post_to_sim2.order.quantity) == ("SIM2", D(50))
    for child in (sweep_sim2, to_sim2):  # nowhere left to go; a child still works: the parent too
        effects = s.report(child, ExecKind.REJECTED, OrderStatus.REJECTED, text="no liquidity")
        assert reports(effects) == [] and not any(isinstance(e, Routed) for e in effects)
    [end] = reports(s.report(post_to_sim2, ExecKind.REJECTED, OrderStatus.REJECTED, text="no liquidity"))
    assert (end.kind, end.status, end.cl_ord_id) == (ExecKind.REJECTED, OrderStatus.REJECTED, "p1")
    assert end.text == ("SIM: halted; SIM2: no liquidity;"
                        " every venue of AAPL that is connected refused the order (SIM, SIM2)")
    assert s.risk.view.exposure("ACC", "AAPL").open_buy_qty == D(0)
    assert s.oms.positions() == []


def test_cancelling_the_parent_cancels_every_live_child_and_answers_once() -> None:
    s = Split()
    sweep_sim, sweep_sim2, post = s.submit(buy())
    s.report(sweep_sim, ExecKind.TRADE, OrderStatus.FILLED, "100", "190.01", "100")
    s.report(sweep_sim2, ExecKind.CANCELED, OrderStatus.CANCELED)  # rerouted: 150 more at SIM
    s.report(post, ExecKind.NEW, OrderStatus.NEW, leaves="50")
    rerouted = s.oms._orders[post.order_id - 3].children[-1]
    s.report(Routed(rerouted.order_id, rerouted.venue, rerouted.venue_cl_ord_id, buy()), ExecKind.NEW,
             OrderStatus.NEW, leaves="150")
    effects = s.oms.request_cancel(CancelOrder("S1", "p1-x", "p1", 0))
    [pending] = reports(effects)
    assert (pending.kind, pending.cl_ord_id, pending.orig_cl_ord_id) == (ExecKind.PENDING_CANCEL, "p1-x", "p1")
    cancels = [e for e in effects if isinstance(e, VenueChange)]
    assert sorted(c.order_id for c in cancels) == sorted([post.order_id, rerouted.order_id])
    assert all(c.kind is RequestKind.CANCEL for c in cancels)
    by_id = {c.order_id: c for c in cancels}
    assert reports(s.report(post, ExecKind.CANCELED, OrderStatus.CANCELED, cl=by_id[post.order_id].venue_cl_ord_id)) == []
    rerouted_routed = Routed(rerouted.order_id, rerouted.venue, rerouted.venue_cl_ord_id, buy())
    [done] = reports(s.report(rerouted_routed, ExecKind.CANCELED, OrderStatus.CANCELED,
                              cl=by_id[rerouted.order_id].venue_cl_ord_id))
    assert (done.kind, done.status, done.cl_ord_id, done.orig_cl_ord_id, done.cum_qty) == (
        ExecKind.CANCELED, OrderStatus.CANCELED, "p1-x", "p1", D(100))
    assert s.oms.status_report("S1", "p1-x") is not None


def test_a_mass_cancel_reaches_the_children_through_their_parent() -> None:
    s = Split()
    children = s.submit(buy())
    for child in children:
        s.report(child, ExecKind.NEW, OrderStatus.NEW, leaves=str(child.order.quantity))
    effects = s.oms.cancel_orders(session="S1")
    assert sorted(e.order_id for e in effects if isinstance(e, VenueChange)) == sorted(c.order_id for c in children)
    [pending] = reports(effects)
    assert pending.kind is ExecKind.PENDING_CANCEL and pending.order_id == children[0].order_id - 1


def test_replacing_the_parent_cancels_its_children_then_places_the_new_quantity() -> None:
    s = Split()
    sweep_sim, sweep_sim2, post = s.submit(buy())
    parent_id = post.order_id - 3
    s.report(sweep_sim, ExecKind.TRADE, OrderStatus.FILLED, "100", "190.01", "100")
    s.report(sweep_sim2, ExecKind.TRADE, OrderStatus.FILLED, "150", "190.02", "150")
    acked(s, post)
    effects = s.oms.request_replace(ReplaceOrder("S1", "p1-r", "p1", D(400), None, 0))
    [pending] = reports(effects)
    assert pending.kind is ExecKind.PENDING_REPLACE
    [cancel] = [e for e in effects if isinstance(e, VenueChange)]
    assert cancel.order_id == post.order_id
    effects = s.report(post, ExecKind.CANCELED, OrderStatus.CANCELED, cl=cancel.venue_cl_ord_id)
    [replaced] = reports(effects)
    assert (replaced.kind, replaced.cl_ord_id, replaced.orig_cl_ord_id, replaced.quantity, replaced.leaves_qty) == (
        ExecKind.REPLACED, "p1-r", "p1", D(400), D(150))
    placed = [e for e in effects if isinstance(e, Routed)]
    assert sum(r.order.quantity for r in placed) == D(150)  # 400 - 250 filled, placed again
    assert all(s.oms.order(r.order_id).parent_id == parent_id for r in placed)  # type: ignore[union-attr]


def test_a_child_whose_cancel_is_refused_fails_the_parents_cancel_and_the_freed_rest_is_placed_again() -> None:
    s = Split()
    sweep_sim, sweep_sim2, post = s.submit(buy())
    acked(s, sweep_sim, sweep_sim2, post)
    effects = s.oms.request_cancel(CancelOrder("S1", "p1-x", "p1", 0))
    by_id = {e.order_id: e for e in effects if isinstance(e, VenueChange)}
    s.report(sweep_sim, ExecKind.CANCELED, OrderStatus.CANCELED, cl=by_id[sweep_sim.order_id].venue_cl_ord_id)
    s.report(sweep_sim2, ExecKind.CANCELED, OrderStatus.CANCELED, cl=by_id[sweep_sim2.order_id].venue_cl_ord_id)
    refused = s.oms.apply_cancel_reject(VenueCancelReject(
        "SIM", by_id[post.order_id].venue_cl_ord_id, post.venue_cl_ord_id, "market closed for cancels", 7))
    [reject] = [e for e in refused if isinstance(e, ClientCancelReject)]
    assert (reject.cl_ord_id, reject.orig_cl_ord_id, reject.order_id) == ("p1-x", "p1", post.order_id - 3)
    assert "could not be cancelled: venue SIM: market closed for cancels" in reject.text
    [again] = [e for e in refused if isinstance(e, Routed)]
    assert again.order.quantity == D(250)  # the two cancelled sweeps' quantity works again
    assert s.parent(post.order_id - 3).status is OrderStatus.NEW


def test_a_restart_rebuilds_the_parent_and_a_childs_fill_rolls_up() -> None:
    s = Split()
    children = s.submit(buy())
    s.report(children[0], ExecKind.TRADE, OrderStatus.FILLED, "100", "190.01", "100")
    latest = {r.order_id: r for r in s.book.of(OrderRecord)}
    again = Split(two_venues())
    again.oms.restore([r for r in latest.values() if not r.status.is_terminal], [])
    parent_id = children[0].order_id - 1
    [fill] = reports(again.report(children[1], ExecKind.TRADE, OrderStatus.FILLED, "150", "190.02", "150"))
    assert (fill.order_id, fill.cum_qty, fill.last_mkt) == (parent_id, D(250), "SIM2")


def test_a_childs_cancel_waits_for_its_venues_acknowledgement() -> None:
    s = Split()
    sweep_sim, _, post = s.submit(buy())
    acked(s, sweep_sim)
    effects = s.oms.request_cancel(CancelOrder("S1", "p1-x", "p1", 0))
    assert list(cancels(effects)) == [sweep_sim.order_id]  # the others may not be on the wire yet
    assert list(cancels(s.report(post, ExecKind.NEW, OrderStatus.NEW, leaves="50"))) == [post.order_id]


def test_a_childs_fill_after_its_parent_ended_is_the_parents_and_reaches_the_client() -> None:
    s = Split()
    children = s.submit(buy())
    acked(s, *children)
    by_id = cancels(s.oms.request_cancel(CancelOrder("S1", "p1-x", "p1", 0)))
    for child in children:
        s.report(child, ExecKind.CANCELED, OrderStatus.CANCELED, cl=by_id[child.order_id].venue_cl_ord_id)
    parent_id = children[0].order_id - 1
    assert s.parent(parent_id).status is OrderStatus.CANCELED
    [late] = reports(s.report(children[2], ExecKind.TRADE, OrderStatus.FILLED, "50", "190.05", "50"))
    assert (late.session, late.order_id, late.kind, late.cum_qty, late.status) == (
        "S1", parent_id, ExecKind.TRADE, D(50), OrderStatus.CANCELED)
    assert s.oms.positions()[0].quantity == s.parent(parent_id).cum_qty == D(50)
    assert not [m for m in s.book.owed if m.session == ""]  # no child's message is owed to anyone


def test_a_replace_fills_make_too_small_meanwhile_is_refused_and_the_order_works_on() -> None:
    s = Split()
    sweep_sim, sweep_sim2, post = s.submit(buy())
    acked(s, sweep_sim, sweep_sim2, post)
    s.report(sweep_sim, ExecKind.TRADE, OrderStatus.FILLED, "100", "190.01", "100")
    by_id = cancels(s.oms.request_replace(ReplaceOrder("S1", "p1-r", "p1", D(150), None, 0)))
    s.report(sweep_sim2, ExecKind.TRADE, OrderStatus.FILLED, "150", "190.02", "150")
    effects = s.report(post, ExecKind.CANCELED, OrderStatus.CANCELED, cl=by_id[post.order_id].venue_cl_ord_id)
    [reject] = [e for e in effects if isinstance(e, ClientCancelReject)]
    assert (reject.cl_ord_id, reject.response_to) == ("p1-r", RequestKind.REPLACE)
    assert reject.text == "new quantity 150 is not above the 250 filled meanwhile"
    [again] = routed(effects)
    assert again.order.quantity == D(50)  # the order's own 300, less the 250 filled
    parent = s.parent(post.order_id - 3)
    assert (parent.cl_ord_id, parent.quantity, parent.status) == ("p1", D(300), OrderStatus.PARTIALLY_FILLED)


def test_after_a_kill_switch_nothing_more_is_placed_even_when_a_childs_cancel_is_refused() -> None:
    s = Split()
    sweep_sim, sweep_sim2, post = s.submit(buy())
    acked(s, sweep_sim, sweep_sim2, post)
    s.risk.kill("account", "ACC", "ops", "runaway")
    by_id = cancels(s.oms.cancel_orders(account="ACC", defer_unacknowledged=True))
    s.report(sweep_sim, ExecKind.CANCELED, OrderStatus.CANCELED, cl=by_id[sweep_sim.order_id].venue_cl_ord_id)
    s.report(sweep_sim2, ExecKind.CANCELED, OrderStatus.CANCELED, cl=by_id[sweep_sim2.order_id].venue_cl_ord_id)
    effects = s.oms.apply_cancel_reject(VenueCancelReject(
        "SIM", by_id[post.order_id].venue_cl_ord_id, post.venue_cl_ord_id, "busy", 7))
    assert routed(effects) == []
    assert routed(s.report(post, ExecKind.CANCELED, OrderStatus.CANCELED)) == []  # the venue's own cancel
    assert s.parent(post.order_id - 3).status is OrderStatus.CANCELED


def test_a_child_done_for_the_day_with_its_cancel_outstanding_still_works() -> None:
    s = Split()
    sweep_sim, sweep_sim2, post = s.submit(buy(tif=TimeInForce.GTC))
    s.report(sweep_sim, ExecKind.TRADE, OrderStatus.FILLED, "100", "190.01", "100")
    s.report(sweep_sim2, ExecKind.TRADE, OrderStatus.FILLED, "150", "190.02", "150")
    acked(s, post)
    by_id = cancels(s.oms.request_cancel(CancelOrder("S1", "p1-x", "p1", 0)))
    s.report(post, ExecKind.DONE_FOR_DAY, OrderStatus.DONE_FOR_DAY)  # crosses the cancel
    assert s.parent(post.order_id - 3).status is OrderStatus.PENDING_CANCEL
    [done] = reports(s.report(post, ExecKind.CANCELED, OrderStatus.CANCELED, cl=by_id[post.order_id].venue_cl_ord_id))
    assert (done.status, done.cl_ord_id) == (OrderStatus.CANCELED, "p1-x")


def test_a_gtc_parent_whose_child_is_done_for_the_day_is_done_for_the_day_not_ended() -> None:
    s = Split()
    sweep_sim, sweep_sim2, post = s.submit(buy(tif=TimeInForce.GTC))
    [again] = routed(s.report(sweep_sim, ExecKind.REJECTED, OrderStatus.REJECTED, text="halted"))
    s.report(sweep_sim2, ExecKind.TRADE, OrderStatus.FILLED, "150", "190.02", "150")
    acked(s, again)
    s.report(again, ExecKind.DONE_FOR_DAY, OrderStatus.DONE_FOR_DAY)
    [end] = reports(s.report(post, ExecKind.EXPIRED, OrderStatus.EXPIRED))
    assert end.status is OrderStatus.DONE_FOR_DAY
    assert s.risk.view.exposure("ACC", "AAPL").open_buy_qty == D(150)  # it may come back tomorrow


def test_a_child_whose_parent_is_not_in_memory_is_logged_not_raised() -> None:
    s = Split()
    children = s.submit(buy())
    parent_id = children[0].order_id - 1
    again = Split(two_venues())
    again.oms.restore([r for r in {r.order_id: r for r in s.book.of(OrderRecord)}.values()
                       if r.order_id != parent_id], [])
    assert reports(again.report(children[0], ExecKind.TRADE, OrderStatus.PARTIALLY_FILLED, "10", "190", "10", "90")) == []
    assert again.oms.positions()[0].quantity == D(10)  # the fill is booked under the child
