"""Property: whatever orders, fills and cancels happen, the worst-case position never exceeds its limit.

Random sequences drive the real OrderManager and PreTradeRisk (no sockets): new orders of random
side and size are checked and routed, the venue fills random working orders in part or in full, and
cancels remove them. After every step the worst case (position plus every working order on one
side, as if all filled) is recomputed from the OMS's own state and compared with the limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from oms.manager import OrderManager, Routed, VenueChange
from oms.model import (
    BookRecord,
    CancelOrder,
    ExecKind,
    Instrument,
    NewOrder,
    OrderStatus,
    OrdType,
    Side,
    TimeInForce,
    VenueReport,
)
from oms.router import Router
from risk import PreTradeRisk, risk_config_from_mapping

LIMIT = D(1000)
INSTRUMENTS = {"AAPL": Instrument("AAPL", "SIM", D("0.01"), D(1), D(100))}
SESSION = "FIX.4.4:FIXGATE->CLIENT1"

new_order = st.tuples(st.just("new"), st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 700))
fill = st.tuples(st.just("fill"), st.integers(0, 50), st.integers(1, 700))
cancel = st.tuples(st.just("cancel"), st.integers(0, 50), st.just(0))


def worst_case(oms: OrderManager, working: dict[int, tuple[Side, D, D]]) -> tuple[D, D]:
    position = sum((p.quantity for p in oms.positions()), D(0))
    buys = sells = D(0)
    for order_id in working:
        record = oms.order(order_id)
        assert record is not None
        if record.status.is_terminal:
            continue
        if record.side is Side.BUY:
            buys += record.leaves_qty
        else:
            sells += record.leaves_qty
    return position + buys, position - sells


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(new_order, fill, cancel), min_size=1, max_size=60))
def test_worst_case_position_never_exceeds_its_limit(steps: Sequence[tuple[str, object, int]]) -> None:
    router = Router(INSTRUMENTS)
    router.set_venue_up("SIM", True)
    config = risk_config_from_mapping({"instruments": {"AAPL": {"max_position": str(LIMIT)}}})
    risk = PreTradeRisk(INSTRUMENTS, config)
    records: list[BookRecord] = []
    oms = OrderManager(instruments=INSTRUMENTS, risk=risk, router=router,
                       sink=lambda batch, owed: records.extend(batch))
    working: dict[int, tuple[Side, D, D]] = {}  # order id -> side, qty, cum
    venue_ids: dict[int, str] = {}
    exec_no = 0
    for n, (op, arg, qty) in enumerate(steps):
        if op == "new":
            assert isinstance(arg, Side)
            outcome = oms.submit(NewOrder(SESSION, f"c{n}", "ACC", "AAPL", arg, OrdType.LIMIT, D(qty),
                                          D(100), TimeInForce.DAY, n))
            if isinstance(outcome, Routed):
                working[outcome.order_id] = (arg, D(qty), D(0))
                venue_ids[outcome.order_id] = outcome.venue_cl_ord_id
        elif working:
            order_id = sorted(working)[int(str(arg)) % len(working)]
            side, total, cum = working[order_id]
            exec_no += 1
            if op == "fill":
                last = min(D(qty), total - cum)
                cum += last
                status = OrderStatus.FILLED if cum == total else OrderStatus.PARTIALLY_FILLED
                oms.apply(VenueReport("SIM", venue_ids[order_id], None, "V", f"e{exec_no}", ExecKind.TRADE,
                                      status, last, D(100), cum, total - cum, "", n))
                working[order_id] = (side, total, cum)
                if status is OrderStatus.FILLED:
                    del working[order_id]
            else:
                record = oms.order(order_id)
                assert record is not None
                change = oms.request_cancel(CancelOrder(SESSION, f"x{n}", record.cl_ord_id, n))
                assert isinstance(change, VenueChange)
                oms.apply(VenueReport("SIM", change.venue_cl_ord_id, venue_ids[order_id], "V",
                                      f"e{exec_no}", ExecKind.CANCELED, OrderStatus.CANCELED, D(0), D(0), cum,
                                      D(0), "", n))
                del working[order_id]
        long_side, short_side = worst_case(oms, working)
        assert long_side <= LIMIT and -short_side <= LIMIT, (long_side, short_side, steps[: n + 1])
        # Risk's own view agrees with the OMS's, step by step.
        exposure = risk.view.symbols.get(("ACC", "AAPL"))
        if exposure is not None:
            assert exposure.position + exposure.open_buy_qty == long_side
            assert exposure.position - exposure.open_sell_qty == short_side
