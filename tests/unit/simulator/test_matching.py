"""Rules of the simulator's matching engine: priority, fills, TimeInForce, validation, cancel/replace."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.config import SimInstrument, default_instruments
from simulator.matching import (
    SEED_OWNER,
    CancelRejected,
    CancelRejectReason,
    CancelRequest,
    ExecutionEvent,
    MatchingEngine,
    NewOrderRequest,
    OrderAccepted,
    OrderCanceled,
    OrderDoneForDay,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderReplaced,
    OrderStatus,
    OrderView,
    OrdType,
    ReplaceRequest,
    RequestKind,
    Side,
    TimeInForce,
)

D = Decimal
ALICE = "alice"
BOB = "bob"


def make_engine(seeded: bool = True, instruments: tuple[SimInstrument, ...] | None = None) -> MatchingEngine:
    engine = MatchingEngine(instruments or default_instruments(), id_prefix="T", clock=_Clock())
    if seeded:
        engine.seed_liquidity(SEED_OWNER, levels=5, level_qty=D(100))
    return engine


class _Clock:
    """A clock that ticks one nanosecond per reading: deterministic and strictly increasing."""

    def __init__(self) -> None:
        self.now = 1_700_000_000_000_000_000

    def __call__(self) -> int:
        self.now += 1
        return self.now


def buy(
    cl: str,
    qty: str | int,
    price: str | None = None,
    *,
    owner: str = ALICE,
    symbol: str = "AAPL",
    tif: TimeInForce = TimeInForce.DAY,
    market: bool = False,
) -> NewOrderRequest:
    return _order(cl, Side.BUY, qty, price, owner=owner, symbol=symbol, tif=tif, market=market)


def sell(
    cl: str,
    qty: str | int,
    price: str | None = None,
    *,
    owner: str = ALICE,
    symbol: str = "AAPL",
    tif: TimeInForce = TimeInForce.DAY,
    market: bool = False,
) -> NewOrderRequest:
    return _order(cl, Side.SELL, qty, price, owner=owner, symbol=symbol, tif=tif, market=market)


def _order(
    cl: str,
    side: Side,
    qty: str | int,
    price: str | None,
    *,
    owner: str = ALICE,
    symbol: str = "AAPL",
    tif: TimeInForce = TimeInForce.DAY,
    market: bool = False,
) -> NewOrderRequest:
    return NewOrderRequest(
        owner=owner,
        cl_ord_id=cl,
        symbol=symbol,
        side=side,
        quantity=D(qty),
        ord_type=OrdType.MARKET if market else OrdType.LIMIT,
        price=None if price is None else D(price),
        time_in_force=tif,
    )


def fills_of(events: list[ExecutionEvent], owner: str = ALICE) -> list[tuple[Decimal, Decimal]]:
    return [
        (e.fill.quantity, e.fill.price)
        for e in events
        if isinstance(e, OrderFilled) and e.order.owner == owner
    ]


def view(event: ExecutionEvent) -> OrderView:
    """The order state an event reports (cancel rejects carry none)."""
    assert not isinstance(event, CancelRejected), event
    return event.order


def last_state(events: list[ExecutionEvent], owner: str = ALICE) -> OrderView:
    return [view(e) for e in events if not isinstance(e, CancelRejected) and e.order.owner == owner][-1]


# -- SEEDED LIQUIDITY ---------------------------------------------------------------------------------


def test_seeded_liquidity_rests_levels_one_tick_apart_around_the_reference() -> None:
    bids, asks = make_engine().depth("AAPL")
    assert asks == [(D("190.01") + D("0.01") * i, D(100)) for i in range(5)]
    assert bids == [(D("189.99") - D("0.01") * i, D(100)) for i in range(5)]
    assert make_engine().depth("MSFT")[1][0] == (D("420.01"), D(100))


# -- PRIORITY AND FILLS -------------------------------------------------------------------------------


def test_buy_through_two_levels_fills_best_price_first_at_resting_prices() -> None:
    engine = make_engine()
    events = engine.submit(buy("o1", 150, "190.02"))
    assert isinstance(events[0], OrderAccepted)
    assert fills_of(events) == [(D(100), D("190.01")), (D(50), D("190.02"))]
    order = last_state(events)
    assert order.status is OrderStatus.FILLED
    assert (order.cum_qty, order.leaves_qty) == (D(150), D(0))
    assert order.avg_px == D("190.01333333")  # (100*190.01 + 50*190.02) / 150, 8 places
    assert engine.depth("AAPL")[1][:2] == [(D("190.02"), D(50)), (D("190.03"), D(100))]


def test_trade_prints_at_the_resting_price_not_the_aggressors_limit() -> None:
    events = make_engine().submit(buy("o1", 100, "190.05"))
    assert fills_of(events) == [(D(100), D("190.01"))]
    assert last_state(events).avg_px == D("190.01")


def test_large_buy_fills_partially_and_rests_the_remainder() -> None:
    engine = make_engine()
    events = engine.submit(buy("o1", 1000, "190.01"))
    assert fills_of(events) == [(D(100), D("190.01"))]
    order = last_state(events)
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert (order.cum_qty, order.leaves_qty) == (D(100), D(900))
    bids, asks = engine.depth("AAPL")
    assert bids[0] == (D("190.01"), D(900))
    assert asks[0] == (D("190.02"), D(100))


def test_orders_at_the_same_price_fill_in_time_order() -> None:
    engine = make_engine()
    engine.submit(sell("first", 30, "190.00", owner=ALICE))
    engine.submit(sell("second", 30, "190.00", owner=BOB))
    events = engine.submit(buy("taker", 40, "190.00", owner="carol"))
    assert fills_of(events, ALICE) == [(D(30), D("190.00"))]
    assert fills_of(events, BOB) == [(D(10), D("190.00"))]
    assert last_state(events, BOB).leaves_qty == D(20)


def test_better_price_beats_earlier_time() -> None:
    engine = make_engine(seeded=False)
    engine.submit(sell("early", 10, "190.00", owner=ALICE))
    engine.submit(sell("better", 10, "189.99", owner=BOB))
    events = engine.submit(buy("taker", 10, "190.00", owner="carol"))
    assert fills_of(events, BOB) == [(D(10), D("189.99"))]
    assert fills_of(events, ALICE) == []


def test_both_sides_of_a_trade_get_a_fill_with_their_own_exec_id() -> None:
    engine = make_engine()
    engine.submit(sell("s1", 50, "190.00", owner=ALICE))
    events = engine.submit(buy("b1", 50, "190.00", owner=BOB))
    filled = [e for e in events if isinstance(e, OrderFilled)]
    assert {e.order.owner for e in filled} == {ALICE, BOB}
    assert len({e.exec_id for e in filled}) == 2
    assert filled[0].fill.match_id == filled[1].fill.match_id
    assert {e.order.owner: e.fill.aggressor for e in filled} == {BOB: True, ALICE: False}
    assert all(e.order.status is OrderStatus.FILLED for e in filled)


# -- ORDER TYPES AND TIME IN FORCE --------------------------------------------------------------------


def test_market_order_takes_liquidity_and_cancels_what_is_left() -> None:
    engine = make_engine()
    events = engine.submit(buy("m1", 600, market=True))
    assert sum(q for q, _ in fills_of(events)) == D(500)
    assert isinstance(events[-1], OrderCanceled)
    order = view(events[-1])
    assert order.status is OrderStatus.CANCELED
    assert (order.cum_qty, order.leaves_qty) == (D(500), D(0))
    assert engine.depth("AAPL")[1] == []
    assert engine.depth("AAPL")[0][0][0] == D("189.99")  # the market order did not rest


def test_market_order_on_an_empty_book_is_canceled_without_fills() -> None:
    events = make_engine(seeded=False).submit(sell("m1", 10, market=True))
    assert [type(e) for e in events] == [OrderAccepted, OrderCanceled]
    assert view(events[-1]).cum_qty == 0


def test_ioc_fills_what_it_can_and_cancels_the_rest() -> None:
    engine = make_engine()
    events = engine.submit(buy("i1", 150, "190.01", tif=TimeInForce.IOC))
    assert fills_of(events) == [(D(100), D("190.01"))]
    assert isinstance(events[-1], OrderCanceled)
    assert view(events[-1]).cum_qty == D(100)
    assert engine.depth("AAPL")[0][0][0] == D("189.99")  # nothing rested at 190.01


def test_fok_that_cannot_fill_in_full_is_canceled_and_touches_nothing() -> None:
    engine = make_engine()
    before = engine.depth("AAPL")
    events = engine.submit(buy("f1", 150, "190.01", tif=TimeInForce.FOK))
    assert [type(e) for e in events] == [OrderAccepted, OrderCanceled]
    assert engine.depth("AAPL") == before
    assert engine.fills() == []


def test_fok_that_can_fill_in_full_fills() -> None:
    events = make_engine().submit(buy("f1", 150, "190.02", tif=TimeInForce.FOK))
    assert sum(q for q, _ in fills_of(events)) == D(150)
    assert last_state(events).status is OrderStatus.FILLED


def test_end_of_day_expires_day_orders_and_tells_gtc_orders_done_for_day() -> None:
    engine = make_engine(seeded=False)
    engine.submit(buy("day", 10, "189.00", tif=TimeInForce.DAY))
    engine.submit(buy("gtc", 10, "189.00", tif=TimeInForce.GTC))
    events = engine.expire_day_orders()
    assert [(type(e), view(e).cl_ord_id, view(e).status) for e in events] == [
        (OrderExpired, "day", OrderStatus.EXPIRED),
        (OrderDoneForDay, "gtc", OrderStatus.DONE_FOR_DAY),
    ]
    # Done for the day is not done: the GTC order keeps its place in the book and its open quantity.
    gtc = view(events[1])
    assert not gtc.status.is_terminal and gtc.leaves_qty == D(10)
    assert engine.depth("AAPL")[0] == [(D("189.00"), D(10))]
    # Every end of day is reported; an order already done (the expired one) is left alone.
    again = engine.expire_day_orders()
    assert [(type(e), view(e).cl_ord_id) for e in again] == [(OrderDoneForDay, "gtc")]


def test_a_gtc_order_done_for_the_day_trades_the_next_day_and_keeps_its_priority() -> None:
    engine = make_engine(seeded=False)
    engine.submit(buy("first", 10, "189.00", tif=TimeInForce.GTC))
    engine.expire_day_orders()
    engine.submit(buy("second", 10, "189.00", owner=BOB, tif=TimeInForce.GTC))
    events = engine.submit(sell("s", 15, "189.00", owner=BOB))
    first = last_state(events)
    assert (first.cl_ord_id, first.status, first.cum_qty, first.text) == (
        "first", OrderStatus.FILLED, D(10), None)
    assert fills_of(events, BOB)[-1] == (D(5), D("189.00"))  # the second order got the rest


def test_a_gtc_order_done_for_the_day_can_be_cancelled_or_replaced() -> None:
    engine = make_engine(seeded=False)
    engine.submit(buy("c", 10, "189.00", tif=TimeInForce.GTC))
    engine.submit(buy("r", 10, "188.00", tif=TimeInForce.GTC))
    engine.expire_day_orders()
    canceled = engine.cancel(CancelRequest(ALICE, "c2", "c"))
    assert isinstance(canceled[0], OrderCanceled) and view(canceled[0]).status is OrderStatus.CANCELED
    replaced = engine.replace(ReplaceRequest(ALICE, "r2", "r", D(20), D("188.00")))
    # A replace the venue takes makes the order work in the session now: NEW again, not DoneForDay.
    assert isinstance(replaced[0], OrderReplaced) and view(replaced[0]).status is OrderStatus.NEW
    assert engine.depth("AAPL")[0] == [(D("188.00"), D(20))]


# -- VALIDATION ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "fragment"),
    [
        (buy("x", 10, "190.005"), "not a multiple of tick size 0.01"),
        (buy("x", 10, "0"), "must be positive"),
        (buy("x", "10.5", "190.00"), "not a multiple of lot size 1"),
        (buy("x", 0, "190.00"), "must be positive"),
        (buy("x", -5, "190.00"), "must be positive"),
        (buy("x", 10, None), "without a price"),
        (buy("x", 10, "190.00", symbol="NOPE"), "unknown symbol NOPE"),
    ],
)
def test_invalid_orders_are_rejected_with_a_reason_and_recorded(
    request_: NewOrderRequest, fragment: str
) -> None:
    engine = make_engine()
    before = engine.depth("AAPL")
    events = engine.submit(request_)
    assert len(events) == 1 and isinstance(events[0], OrderRejected)
    assert fragment in events[0].reason
    assert view(events[0]).status is OrderStatus.REJECTED
    assert engine.depth("AAPL") == before
    recorded = engine.find(ALICE, "x")
    assert recorded is not None and recorded.status is OrderStatus.REJECTED


def test_lot_size_is_checked_against_the_instrument() -> None:
    instrument = SimInstrument("BRK", D("0.05"), D("100"), D("50.00"))
    engine = make_engine(seeded=False, instruments=(instrument,))
    rejected = engine.submit(buy("a", 150, "50.05", symbol="BRK"))
    assert isinstance(rejected[0], OrderRejected)
    assert "lot size 100" in rejected[0].reason
    accepted = engine.submit(buy("b", 200, "50.05", symbol="BRK"))
    assert isinstance(accepted[0], OrderAccepted)
    assert isinstance(engine.submit(buy("c", 100, "50.07", symbol="BRK"))[0], OrderRejected)


def test_duplicate_cl_ord_id_is_rejected_per_owner() -> None:
    engine = make_engine()
    engine.submit(buy("same", 10, "189.00"))
    dup = engine.submit(buy("same", 10, "189.00"))
    assert isinstance(dup[0], OrderRejected) and "duplicate ClOrdID" in dup[0].reason
    other = engine.submit(buy("same", 10, "189.00", owner=BOB))
    assert isinstance(other[0], OrderAccepted)
    # The first order keeps its ClOrdID: it can still be found and cancelled.
    found = engine.find(ALICE, "same")
    assert found is not None and found.status is OrderStatus.NEW


# -- CANCEL -------------------------------------------------------------------------------------------


def test_cancel_removes_a_resting_order_and_keeps_its_fills() -> None:
    engine = make_engine()
    engine.submit(buy("o1", 1000, "190.01"))
    events = engine.cancel(CancelRequest(ALICE, "c1", "o1"))
    assert len(events) == 1 and isinstance(events[0], OrderCanceled)
    order = view(events[0])
    assert (order.cl_ord_id, order.orig_cl_ord_id) == ("c1", "o1")
    assert order.cl_ord_ids == ("o1", "c1")
    assert order.status is OrderStatus.CANCELED
    assert (order.cum_qty, order.leaves_qty) == (D(100), D(0))
    assert engine.depth("AAPL")[0][0][0] == D("189.99")


def test_cancel_by_venue_order_id_when_the_cl_ord_id_is_unknown() -> None:
    engine = make_engine()
    accepted = engine.submit(buy("o1", 10, "189.00"))[0]
    events = engine.cancel(CancelRequest(ALICE, "c1", "not-the-id", order_id=view(accepted).order_id))
    assert isinstance(events[0], OrderCanceled)


def test_cancel_of_an_unknown_order_is_rejected() -> None:
    events = make_engine().cancel(CancelRequest(ALICE, "c1", "ghost"))
    assert len(events) == 1 and isinstance(events[0], CancelRejected)
    reject = events[0]
    assert reject.reason_code is CancelRejectReason.UNKNOWN_ORDER
    assert reject.response_to is RequestKind.CANCEL
    assert reject.order_id is None and "ghost" in reject.reason


def test_cancel_after_fill_is_rejected_too_late() -> None:
    engine = make_engine()
    engine.submit(buy("o1", 100, "190.01"))
    events = engine.cancel(CancelRequest(ALICE, "c1", "o1"))
    assert isinstance(events[0], CancelRejected)
    assert events[0].reason_code is CancelRejectReason.TOO_LATE
    assert events[0].status is OrderStatus.FILLED
    assert "filled" in events[0].reason


def test_cancel_of_someone_elses_order_is_unknown_to_the_requester() -> None:
    engine = make_engine()
    accepted = engine.submit(buy("o1", 10, "189.00", owner=ALICE))[0]
    events = engine.cancel(CancelRequest(BOB, "c1", "o1", order_id=view(accepted).order_id))
    assert isinstance(events[0], CancelRejected)
    assert events[0].reason_code is CancelRejectReason.UNKNOWN_ORDER
    alice_order = engine.find(ALICE, "o1")
    assert alice_order is not None and alice_order.status is OrderStatus.NEW


# -- REPLACE ------------------------------------------------------------------------------------------


def _two_resting_sells(engine: MatchingEngine) -> None:
    engine.submit(sell("a", 50, "190.00", owner=ALICE))
    engine.submit(sell("b", 50, "190.00", owner=BOB))


def _replace(owner: str, cl: str, orig: str, qty: int, price: str) -> ReplaceRequest:
    return ReplaceRequest(owner=owner, cl_ord_id=cl, orig_cl_ord_id=orig, quantity=D(qty), price=D(price))


def test_replace_down_in_quantity_at_the_same_price_keeps_priority() -> None:
    engine = make_engine()
    _two_resting_sells(engine)
    replaced = engine.replace(_replace(ALICE, "a2", "a", 40, "190.00"))
    assert [type(e) for e in replaced] == [OrderReplaced]
    assert (view(replaced[0]).quantity, view(replaced[0]).orig_cl_ord_id) == (D(40), "a")
    events = engine.submit(buy("t", 10, "190.00", owner="carol"))
    assert fills_of(events, ALICE) == [(D(10), D("190.00"))]
    assert fills_of(events, BOB) == []


def test_replace_up_in_quantity_loses_priority() -> None:
    engine = make_engine()
    _two_resting_sells(engine)
    engine.replace(_replace(ALICE, "a2", "a", 60, "190.00"))
    events = engine.submit(buy("t", 10, "190.00", owner="carol"))
    assert fills_of(events, BOB) == [(D(10), D("190.00"))]
    assert fills_of(events, ALICE) == []


def test_replace_with_the_same_quantity_and_price_loses_priority() -> None:
    # Only a quantity that goes down keeps priority; an unchanged one (here a TIF change) does not.
    engine = make_engine()
    _two_resting_sells(engine)
    request = ReplaceRequest(
        owner=ALICE,
        cl_ord_id="a2",
        orig_cl_ord_id="a",
        quantity=D(50),
        price=D("190.00"),
        time_in_force=TimeInForce.GTC,
    )
    assert [type(e) for e in engine.replace(request)] == [OrderReplaced]
    events = engine.submit(buy("t", 10, "190.00", owner="carol"))
    assert fills_of(events, BOB) == [(D(10), D("190.00"))]
    assert fills_of(events, ALICE) == []


def test_replace_to_another_price_loses_priority_even_when_coming_back() -> None:
    engine = make_engine()
    _two_resting_sells(engine)
    engine.replace(_replace(ALICE, "a2", "a", 50, "190.01"))
    engine.replace(_replace(ALICE, "a3", "a2", 50, "190.00"))
    events = engine.submit(buy("t", 10, "190.00", owner="carol"))
    assert fills_of(events, BOB) == [(D(10), D("190.00"))]


def test_replace_to_a_crossing_price_trades_at_once() -> None:
    engine = make_engine()
    engine.submit(buy("o1", 150, "189.00"))
    events = engine.replace(_replace(ALICE, "o2", "o1", 150, "190.02"))
    assert isinstance(events[0], OrderReplaced)
    assert fills_of(events) == [(D(100), D("190.01")), (D(50), D("190.02"))]
    order = last_state(events)
    assert order.status is OrderStatus.FILLED and order.cl_ord_id == "o2"


@pytest.mark.parametrize("new_qty", [100, 50])
def test_replace_to_a_quantity_at_or_below_the_filled_quantity_is_rejected(new_qty: int) -> None:
    engine = make_engine()
    engine.submit(buy("o1", 1000, "190.01"))  # 100 filled, 900 resting
    events = engine.replace(_replace(ALICE, "o2", "o1", new_qty, "190.01"))
    assert len(events) == 1 and isinstance(events[0], CancelRejected)
    assert events[0].response_to is RequestKind.REPLACE
    assert f"new order qty {new_qty} <= filled qty 100" in events[0].reason
    unchanged = engine.find(ALICE, "o1")
    assert unchanged is not None and (unchanged.quantity, unchanged.leaves_qty) == (D(1000), D(900))


def test_replace_above_the_filled_quantity_leaves_the_difference() -> None:
    engine = make_engine()
    engine.submit(buy("o1", 1000, "190.01"))
    events = engine.replace(_replace(ALICE, "o2", "o1", 200, "190.01"))
    order = view(events[0])
    assert (order.quantity, order.cum_qty, order.leaves_qty) == (D(200), D(100), D(100))
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert engine.depth("AAPL")[0][0] == (D("190.01"), D(100))


def test_replace_off_the_tick_grid_is_rejected() -> None:
    engine = make_engine()
    engine.submit(buy("o1", 10, "189.00"))
    events = engine.replace(_replace(ALICE, "o2", "o1", 10, "189.001"))
    assert isinstance(events[0], CancelRejected) and "tick size" in events[0].reason


def test_replace_of_a_filled_order_is_too_late() -> None:
    engine = make_engine()
    engine.submit(buy("o1", 100, "190.01"))
    events = engine.replace(_replace(ALICE, "o2", "o1", 200, "190.01"))
    assert isinstance(events[0], CancelRejected)
    assert events[0].reason_code is CancelRejectReason.TOO_LATE


def test_replace_with_a_used_cl_ord_id_is_rejected() -> None:
    engine = make_engine()
    engine.submit(buy("o1", 10, "189.00"))
    engine.submit(buy("o2", 10, "189.00"))
    events = engine.replace(_replace(ALICE, "o2", "o1", 5, "189.00"))
    assert isinstance(events[0], CancelRejected)
    assert events[0].reason_code is CancelRejectReason.DUPLICATE_CL_ORD_ID


# -- IDS AND RECORD -----------------------------------------------------------------------------------


def test_ids_are_unique_and_carry_the_engine_prefix() -> None:
    engine = make_engine()
    events = engine.submit(buy("o1", 450, "190.05"))
    exec_ids = [e.exec_id for e in events if not isinstance(e, CancelRejected)]
    assert len(exec_ids) == len(set(exec_ids))
    assert all(x.startswith("T-E") for x in exec_ids)
    other = MatchingEngine(default_instruments(), id_prefix="U")
    assert other.next_exec_id() != engine.next_exec_id()


def test_record_holds_every_order_and_both_sides_of_every_fill() -> None:
    engine = make_engine()
    engine.submit(buy("o1", 150, "190.02"))
    engine.submit(buy("bad", 1, "190.001"))
    orders = engine.orders()
    assert len([o for o in orders if o.owner == SEED_OWNER]) == 20
    mine = {o.cl_ord_id: o.status for o in orders if o.owner == ALICE}
    assert mine == {"o1": OrderStatus.FILLED, "bad": OrderStatus.REJECTED}
    fills = engine.fills()
    assert len(fills) == 4
    assert sum(f.quantity for f in fills if f.owner == ALICE) == D(150)
    assert sum(f.quantity for f in fills if f.owner == SEED_OWNER) == D(150)


# -- PROPERTIES ---------------------------------------------------------------------------------------

_orders = st.lists(
    st.tuples(
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(min_value=1, max_value=400),
        st.integers(min_value=-8, max_value=8),  # ticks from the reference price
        st.sampled_from(list(TimeInForce)),
        st.booleans(),  # market?
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(_orders)
def test_random_order_flow_keeps_the_book_consistent(
    flow: list[tuple[Side, int, int, TimeInForce, bool]],
) -> None:
    engine = make_engine()
    for i, (side, qty, ticks, tif, market) in enumerate(flow):
        price = None if market else str(D("190.00") + D("0.01") * ticks)
        engine.submit(_order(f"o{i}", side, qty, price, tif=tif, market=market, owner=f"p{i % 3}"))
        bids, asks = engine.depth("AAPL")
        if bids and asks:
            assert bids[0][0] < asks[0][0], "book is crossed"
    fills = engine.fills()
    by_order: dict[str, Decimal] = {}
    for f in fills:
        by_order[f.order_id] = by_order.get(f.order_id, D(0)) + f.quantity
    for order in engine.orders():
        assert by_order.get(order.order_id, D(0)) == order.cum_qty
        assert order.cum_qty <= order.quantity
        if order.status.is_terminal:
            assert order.leaves_qty == 0
        else:
            assert order.leaves_qty == order.quantity - order.cum_qty > 0
        if order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK) or order.ord_type is OrdType.MARKET:
            assert order.status.is_terminal
        if order.time_in_force is TimeInForce.FOK:
            assert order.cum_qty in (D(0), order.quantity)
    bought = sum(f.quantity for f in fills if f.side is Side.BUY)
    sold = sum(f.quantity for f in fills if f.side is Side.SELL)
    assert bought == sold
