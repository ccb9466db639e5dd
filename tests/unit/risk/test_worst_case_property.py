"""Property: whatever orders, fills, cancels and replaces happen, the worst case never exceeds its limit.

Random sequences drive the real OrderManager and PreTradeRisk (no sockets): new orders of random
side, size and price are checked and routed, the venue fills random working orders in part or in
full, cancels remove them, and replaces are requested and later confirmed or refused by the venue
(fills may come in between). After every step the worst case is recomputed from the test's own
model of what the venue may still do: the position plus every working order on one side as if all
filled, an order with a replace pending counting the larger of its old and new open quantity at the
higher of the two prices (the old may fill before the new one works). The worst-case position and
the gross notional are held to their limits, and risk's view must agree with the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.model import (
    BookRecord,
    CancelOrder,
    CancelRejectReason,
    ClientCancelReject,
    ExecKind,
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
    VenueReport,
)
from oms.manager import OrderManager
from oms.router import Router
from risk import PreTradeRisk, risk_config_from_mapping

LIMIT = D(1000)
GROSS_LIMIT = D(150_000)
INSTRUMENTS = {"AAPL": Instrument("AAPL", "SIM", D("0.01"), D(1), D(100))}
SESSION = "FIX.4.4:FIXGATE->CLIENT1"
PRICES = (D(99), D(100), D(102))

new_order = st.tuples(st.just("new"), st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 700),
                      st.sampled_from(PRICES))
fill = st.tuples(st.just("fill"), st.integers(0, 50), st.integers(1, 700), st.just(D(0)))
cancel = st.tuples(st.just("cancel"), st.integers(0, 50), st.just(0), st.just(D(0)))
replace_order = st.tuples(st.just("replace"), st.integers(0, 50), st.integers(1, 900), st.sampled_from(PRICES))
answer = st.tuples(st.sampled_from(["confirm", "refuse"]), st.integers(0, 50), st.just(0), st.just(D(0)))


@dataclass(slots=True)
class Live:
    """What the venue holds of one order, and the replace it has not answered yet."""

    side: Side
    qty: D
    price: D
    cum: D
    cl_ord_id: str
    venue_id: str
    pending: tuple[str, str, D, D] | None = None  # client id, venue id, new qty, new price

    def counted(self) -> tuple[D, D]:
        """Open quantity and notional the worst case counts for this order."""
        leaves = self.qty - self.cum
        if self.pending is None:
            return leaves, leaves * self.price
        _, _, new_qty, new_price = self.pending
        most = max(leaves, new_qty - self.cum)
        return most, most * max(self.price, new_price)


def worst_case(oms: OrderManager, live: dict[int, Live]) -> tuple[D, D, D]:
    """Long-side and short-side worst-case position, and gross notional."""
    positions = oms.positions()
    position = sum((p.quantity for p in positions), D(0))
    gross = sum((abs(p.cost) for p in positions), D(0))
    buys = sells = D(0)
    for order in live.values():
        qty, notional = order.counted()
        gross += notional
        if order.side is Side.BUY:
            buys += qty
        else:
            sells += qty
    return position + buys, position - sells, gross


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(new_order, fill, cancel, replace_order, answer), min_size=1, max_size=60))
def test_worst_case_never_exceeds_its_limits(steps: Sequence[tuple[str, object, int, D]]) -> None:
    router = Router(INSTRUMENTS)
    router.set_venue_up("SIM", True)
    config = risk_config_from_mapping({"instruments": {"AAPL": {"max_position": str(LIMIT)}},
                                       "accounts": {"ACC": {"max_gross_notional": str(GROSS_LIMIT)}}})
    risk = PreTradeRisk(INSTRUMENTS, config)
    records: list[BookRecord] = []
    oms = OrderManager(instruments=INSTRUMENTS, risk=risk, router=router,
                       sink=lambda batch, owed=(): records.extend(batch))
    live: dict[int, Live] = {}
    exec_no = 0
    for n, (op, arg, qty, price) in enumerate(steps):
        exec_no += 1
        if op == "new":
            assert isinstance(arg, Side)
            [outcome] = oms.submit(NewOrder(SESSION, f"c{n}", "ACC", "AAPL", arg, OrdType.LIMIT, D(qty), price,
                                          TimeInForce.DAY, n))
            if isinstance(outcome, Routed):
                live[outcome.order_id] = Live(arg, D(qty), price, D(0), f"c{n}", outcome.venue_cl_ord_id)
        elif live:
            order_id = sorted(live)[int(str(arg)) % len(live)]
            order = live[order_id]
            if op == "fill":
                # The venue fills what it holds: the old order while a replace is unanswered.
                last = min(D(qty), order.qty - order.cum)
                order.cum += last
                status = OrderStatus.FILLED if order.cum == order.qty else OrderStatus.PARTIALLY_FILLED
                oms.apply(VenueReport("SIM", order.venue_id, None, "V", f"e{exec_no}", ExecKind.TRADE, status, last,
                                      order.price, order.cum, order.qty - order.cum, "", n))
                if status is OrderStatus.FILLED:
                    del live[order_id]  # the fill ends the replace too
            elif op == "cancel":
                *_, outcome_c = oms.request_cancel(CancelOrder(SESSION, f"x{n}", order.cl_ord_id, n))
                if order.pending is not None:
                    assert isinstance(outcome_c, ClientCancelReject)
                    assert outcome_c.reason is CancelRejectReason.ALREADY_PENDING
                    continue
                assert isinstance(outcome_c, VenueChange)
                oms.apply(VenueReport("SIM", outcome_c.venue_cl_ord_id, order.venue_id, "V", f"e{exec_no}",
                                      ExecKind.CANCELED, OrderStatus.CANCELED, D(0), D(0), order.cum, D(0), "", n))
                del live[order_id]
            elif op == "replace":
                *_, outcome_r = oms.request_replace(ReplaceOrder(SESSION, f"r{n}", order.cl_ord_id, D(qty), price,
                                                                 n))  # its reject, or the request after its ack
                if isinstance(outcome_r, VenueChange):
                    assert order.pending is None and D(qty) > order.cum
                    order.pending = (f"r{n}", outcome_r.venue_cl_ord_id, D(qty), price)
                else:
                    assert order.pending is not None or D(qty) <= order.cum or outcome_r.text.startswith(
                        ("worst-case position", "gross notional")), outcome_r.text
            elif order.pending is not None:
                cl_ord_id, venue_id, new_qty, new_price = order.pending
                if op == "confirm" and new_qty > order.cum:
                    leaves = new_qty - order.cum
                    status = OrderStatus.PARTIALLY_FILLED if order.cum else OrderStatus.NEW
                    oms.apply(VenueReport("SIM", venue_id, order.venue_id, "V", f"e{exec_no}", ExecKind.REPLACED,
                                          status, D(0), D(0), order.cum, leaves, "", n))
                    order.qty, order.price, order.cl_ord_id, order.venue_id = new_qty, new_price, cl_ord_id, venue_id
                else:  # refused (the venue refuses a quantity at or below what has filled)
                    assert oms.apply_cancel_reject(VenueCancelReject("SIM", venue_id, order.venue_id, "no", n))
                order.pending = None
        long_side, short_side, gross = worst_case(oms, live)
        assert long_side <= LIMIT and -short_side <= LIMIT, (long_side, short_side, steps[: n + 1])
        assert gross <= GROSS_LIMIT, (gross, steps[: n + 1])
        # Risk's own view agrees with the model, step by step.
        exposure = risk.view.symbols.get(("ACC", "AAPL"))
        if exposure is not None:
            assert exposure.position + exposure.open_buy_qty == long_side, steps[: n + 1]
            assert exposure.position - exposure.open_sell_qty == short_side, steps[: n + 1]
            assert risk.view.accounts["ACC"].gross == gross, steps[: n + 1]
