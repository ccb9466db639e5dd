"""The TCA engine over a hand-made event stream; every expected number is worked out in a comment."""

from __future__ import annotations

import itertools
from decimal import Decimal as D
from typing import Any

from tca.engine import NS, QUIET_GRACE_NS, ChildOrder, TcaEngine
from tca.measures import ScoreKey

_offsets = itertools.count(100)


class Stream:
    """Events as the bus publisher makes them: ids in journal order, one frame per ``frame()``."""

    def __init__(self, engine: TcaEngine) -> None:
        self.engine = engine
        self.offset = next(_offsets)
        self.index = 0

    def frame(self) -> None:
        self.offset = next(_offsets)
        self.index = 0

    def send(self, kind: str, data: dict[str, Any]) -> None:
        event = {"v": 1, "id": f"fg:0001:{self.offset}:{self.index}", "kind": kind, "data": data,
                 "order_id": data.get("order_id")}
        self.index += 1
        self.engine.apply(event)

    def quote(self, venue: str, bid: str, offer: str, at_s: float, symbol: str = "AAPL") -> None:
        self.send("marks", {"symbol": symbol, "price": bid, "updated_ns": int(at_s * NS), "venue": venue,
                            "bid": bid, "offer": offer})

    def order(self, order_id: int, side: str, qty: int, status: str, at_s: float, created_s: float,
              venue: str = "A", cum: int = 0, parent_id: int | None = None) -> None:
        self.send("orders", {"order_id": order_id, "symbol": "AAPL", "side": side, "account": "ACC1",
                             "venue": venue, "quantity": str(qty), "status": status, "cum_qty": str(cum),
                             "created_ns": int(created_s * NS), "updated_ns": int(at_s * NS),
                             "parent_id": parent_id})

    def execution(self, order_id: int, kind: str, venue: str = "A") -> None:
        self.send("executions", {"order_id": order_id, "kind": kind, "venue": venue, "exec_id": f"x{kind}"})

    def fill(self, order_id: int, exec_id: str, qty: int, px: str, at_s: float, venue: str = "A",
             commission: str | None = None, venue_exec_id: str = "V") -> None:
        data = {"order_id": order_id, "exec_id": exec_id, "venue": venue, "kind": "TRADE", "last_qty": str(qty),
                "last_px": px, "received_ns": int(at_s * NS), "venue_exec_id": venue_exec_id}
        if commission is not None:
            data["commission"] = commission
        self.send("fills", data)


def test_a_partly_filled_buy_measured_end_to_end() -> None:
    engine = TcaEngine(half_life=1)
    s = Stream(engine)
    s.quote("A", "189.99", "190.01", 1)
    s.quote("B", "189.98", "190.03", 1)  # consolidated: 189.99 / 190.01: mid 190.00
    s.frame()
    s.order(1, "BUY", 100, "PENDING_NEW", 2, 2)
    s.frame()
    s.execution(1, "NEW")
    s.order(1, "BUY", 100, "NEW", 2.1, 2)
    s.frame()
    s.fill(1, "F1", 60, "190.01", 3, commission="0.30")
    s.order(1, "BUY", 100, "PARTIALLY_FILLED", 3, 2, cum=60)
    s.frame()
    s.quote("A", "189.97", "189.99", 3.5)  # bid 189.98 (B), offer 189.99 (A): mid 189.985
    s.frame()
    s.quote("B", "189.96", "190.03", 6)  # bid 189.97, offer 189.99: mid 189.98 (the 1 s markout settles first)
    s.frame()
    s.quote("A", "190.01", "190.03", 9)  # bid 190.01, offer 190.03: mid 190.02 (the 5 s markout settles first)
    s.frame()
    s.order(1, "BUY", 100, "CANCELED", 10, 2, cum=60)
    engine.end_frame()

    changes = engine.take_changes()
    fill = changes.fills["F1"]
    assert (fill.arrival_mid, fill.mid_at_fill) == (D("190.00"), D("190.00"))
    assert fill.slippage_bps == D("0.5263")  # 0.01 / 190 x 10,000
    assert (fill.effective_spread, fill.effective_spread_bps) == (D("0.02"), D("1.0526"))
    assert fill.fee == D("0.30")
    one, five, thirty, sixty = fill.markouts
    assert (one.mid, one.bps, one.settled) == (D("189.985"), D("1.3157"), True)  # 0.025 / 190.01
    assert (five.mid, five.bps) == (D("189.98"), D("1.5789"))  # 0.03 / 190.01 = 1.578864...
    assert not thirty.settled and not sixty.settled  # no mark at or after 33 s yet

    order = changes.orders[1]
    assert (order.arrival_mid, order.end_mid, order.filled_qty, order.venues) == (
        D("190.00"), D("190.02"), D(60), ("A",))
    assert order.shortfall is not None
    # 60 x 0.01 + 0.30 fee + 40 unfilled x (190.02 - 190.00) = 0.60 + 0.30 + 0.80
    assert (order.shortfall.total, order.shortfall.total_bps) == (D("1.70"), D("0.8947"))
    assert order.fill_rate == D("0.6")
    assert order.time_to_complete_ns == 8 * NS  # canceled at 10 s, arrived at 2 s

    score = changes.scores[ScoreKey("A")]
    assert score.value("slippage_bps") == D("0.5263")
    assert score.value("markout_bps") == D("1.5789")
    assert (score.value("reject_rate"), score.value("fill_rate")) == (D(0), D("0.6"))
    assert set(changes.scores) == {ScoreKey("A"), ScoreKey("A", "AAPL"), ScoreKey("A", "AAPL", "100-999")}
    assert ScoreKey("B") not in changes.scores  # B quoted but never traded

    # Nothing moves for a minute: once the stream is read, the clock settles the last two markouts
    # with the mid in force (190.02): 190.01 bought, worth 190.02: -0.01 / 190.01 = -0.5263 bps.
    engine.settle_quiet(int(63 * NS) + QUIET_GRACE_NS)
    later = engine.take_changes().fills["F1"]
    assert [m.bps for m in later.markouts[2:]] == [D("-0.5263"), D("-0.5263")]
    engine.forget_done()
    assert engine.order(1) is None and engine.pending_markouts() == 0


def test_a_venue_reject_and_a_filled_sell_score_the_venue_with_the_half_life() -> None:
    engine = TcaEngine(half_life=1)
    s = Stream(engine)
    s.quote("A", "189.99", "190.01", 1)
    s.frame()
    s.order(1, "SELL", 50, "PENDING_NEW", 2, 2)
    s.frame()
    s.execution(1, "REJECTED")
    s.order(1, "SELL", 50, "REJECTED", 2.5, 2)
    s.frame()
    s.order(2, "SELL", 50, "PENDING_NEW", 3, 3)
    s.frame()
    s.fill(2, "F2", 50, "189.99", 4)
    s.order(2, "SELL", 50, "FILLED", 4, 3, cum=50)
    engine.end_frame()
    changes = engine.take_changes()
    assert changes.orders[1].fill_rate == D(0) and changes.orders[1].venue_rejected
    assert changes.fills["F2"].slippage_bps == D("0.5263")  # sold 0.01 under the mid 190.00
    assert changes.orders[2].time_to_complete_ns == 1 * NS  # filled at 4 s, arrived at 3 s
    score = changes.scores[ScoreKey("A", "AAPL", "1-99")]
    # reject rate: 1 then 0 with half-life 1: (1 x 0.5 + 0) / 1.5 = 1/3
    assert score.value("reject_rate") == D("0.5") / D("1.5")
    assert score.value("fill_rate") == D(1)  # the rejected order counts in the reject rate only


def test_a_mark_stamped_before_an_order_but_journaled_after_it_sets_its_arrival_mid() -> None:
    engine = TcaEngine()
    s = Stream(engine)
    s.quote("A", "189.99", "190.01", 1)
    s.frame()
    s.order(1, "BUY", 10, "PENDING_NEW", 2, 2)
    s.quote("A", "190.09", "190.11", 1.5)  # the same frame (Journal.later): stamped before the order
    s.quote("A", "190.19", "190.21", 2.5)  # stamped after: not the arrival's
    engine.end_frame()
    assert engine.order(1).arrival_mid == D("190.10")  # type: ignore[union-attr]


def test_an_order_never_seen_accepted_and_fills_marks_are_ignored() -> None:
    engine = TcaEngine()
    s = Stream(engine)
    s.fill(9, "F9", 10, "190.00", 1)
    s.send("marks", {"symbol": "AAPL", "price": "190.00", "updated_ns": NS})  # a fill's mark: no venue
    engine.end_frame()
    assert not engine.take_changes()
    assert engine.mid("AAPL") is None


def test_a_split_orders_fills_count_in_the_size_bucket_of_the_child_its_venue_was_sent() -> None:
    """A parent of 300 split 99 at A and 201 at B: A's fill scores as an order of 99 (1-99), B's as
    one of 201 (100-999), the parent's own size (also 100-999) nowhere for A. Each child's fill comes
    first, then the child's order, then the parent's fill naming the child's exec id, as the OMS
    publishes them."""
    engine = TcaEngine(half_life=1)
    s = Stream(engine)
    s.quote("A", "189.99", "190.01", 1)
    s.frame()
    s.order(1, "BUY", 300, "PENDING_NEW", 2, 2, venue="")
    s.order(2, "BUY", 99, "PENDING_NEW", 2, 2, parent_id=1)
    s.order(3, "BUY", 201, "PENDING_NEW", 2, 2, venue="B", parent_id=1)
    s.frame()
    for child, venue, qty, px in ((2, "A", 99, "190.01"), (3, "B", 201, "190.03")):
        s.fill(child, f"C{child}", qty, px, 3, venue=venue)
        s.order(child, "BUY", qty, "FILLED", 3, 2, venue=venue, cum=qty, parent_id=1)
        s.fill(1, f"C{child}-P1", qty, px, 3, venue=venue, venue_exec_id=f"C{child}")
        s.frame()
    s.order(1, "BUY", 300, "FILLED", 3, 2, venue="", cum=300)
    engine.end_frame()
    changes = engine.take_changes()
    assert [changes.fills[f"C{c}-P1"].order_quantity for c in (2, 3)] == [D(99), D(201)]
    assert set(changes.fills) == {"C2-P1", "C3-P1"}  # a child's own fill is not measured again
    assert changes.scores[ScoreKey("A", "AAPL", "1-99")].value("slippage_bps") == D("0.5263")  # 0.01 / 190
    assert changes.scores[ScoreKey("B", "AAPL", "100-999")].value("slippage_bps") == D("1.5789")  # 0.03 / 190
    assert ScoreKey("A", "AAPL", "100-999") not in changes.scores
    assert ScoreKey("B", "AAPL", "1-99") not in changes.scores
    # Each child ended filled at its venue: one order there, not rejected, all filled.
    for key in (ScoreKey("A", "AAPL", "1-99"), ScoreKey("B", "AAPL", "100-999"), ScoreKey("A", "*", "*")):
        assert (changes.scores[key].value("reject_rate"), changes.scores[key].value("fill_rate")) == (0, 1)
        assert changes.scores[key].means["fill_rate"].count == 1
    order = changes.orders[1]
    assert (order.filled_qty, order.venues) == (D(300), ("A", "B"))
    s.frame()
    s.quote("A", "189.99", "190.01", 5)
    assert not engine._children and not engine._child_fills  # nothing kept once the children ended


def test_a_child_live_across_a_restart_is_sized_from_the_book_and_one_done_for_the_day_stays_known() -> None:
    engine = TcaEngine(half_life=1)
    s = Stream(engine)
    s.quote("A", "189.99", "190.01", 1)
    s.frame()
    s.order(1, "BUY", 300, "PENDING_NEW", 2, 2, venue="")
    s.frame()
    changes = engine.take_changes()
    # A restart: the parent from TCA's own tables, its child of 99 (placed before) from the book's.
    engine = s.engine = TcaEngine(half_life=1)
    engine.restore([("AAPL", "A", changes.quotes[("AAPL", "A")][0])], changes.orders.values(), [], [],
                   children=[ChildOrder(2, "A", "AAPL", D(99), reached_venue=True)])
    s.order(2, "BUY", 99, "DONE_FOR_DAY", 3, 2, parent_id=1)  # done for the day: it may trade again
    s.frame()
    s.fill(2, "C2", 99, "190.01", 4)
    s.fill(1, "C2-P1", 99, "190.01", 4, venue_exec_id="C2")
    s.frame()
    s.fill(2, "C2b", 1, "190.01", 5)  # a child's fill whose parent's never comes (not rolled up)
    s.frame()
    s.quote("A", "189.99", "190.01", 6)
    engine.end_frame()
    assert engine.take_changes().fills["C2-P1"].order_quantity == D(99)
    assert not engine._child_fills  # the unclaimed one went with its frame


def test_a_split_orders_children_count_in_their_venues_reject_and_fill_rates_and_the_parent_in_none() -> None:
    """Three children of one parent: one B rejects, one A fills 30 of 100 before the client cancels,
    one the gateway itself refuses (its venue session down: no venue answered). B's reject rate is 1
    over 1 order; A's is 0 with a fill rate of 0.3; the parent (at no one venue) and the refused
    child count nowhere."""
    engine = TcaEngine(half_life=1)
    s = Stream(engine)
    s.quote("A", "189.99", "190.01", 1)
    s.frame()
    s.order(1, "BUY", 300, "PENDING_NEW", 2, 2, venue="")
    for child, venue in ((2, "A"), (3, "B"), (4, "C")):
        s.order(child, "BUY", 100, "PENDING_NEW", 2, 2, venue=venue, parent_id=1)
    s.frame()
    s.execution(3, "REJECTED", venue="B")
    s.order(3, "BUY", 100, "REJECTED", 3, 2, venue="B", parent_id=1)
    s.frame()
    s.execution(4, "REJECTED", venue="FIXGATE")
    s.order(4, "BUY", 100, "REJECTED", 3, 2, venue="C", parent_id=1)
    s.frame()
    s.execution(2, "NEW")
    s.frame()
    s.fill(2, "C2", 30, "190.01", 4)
    s.order(2, "BUY", 100, "PARTIALLY_FILLED", 4, 2, cum=30, parent_id=1)
    s.fill(1, "C2-P1", 30, "190.01", 4, venue_exec_id="C2")
    s.order(1, "BUY", 300, "PARTIALLY_FILLED", 4, 2, venue="", cum=30)
    s.frame()
    s.order(2, "BUY", 100, "CANCELED", 5, 2, cum=30, parent_id=1)
    s.order(1, "BUY", 300, "CANCELED", 5, 2, venue="", cum=30)
    engine.end_frame()
    scores = engine.take_changes().scores
    b = scores[ScoreKey("B", "AAPL", "100-999")]
    assert (b.value("reject_rate"), b.means["reject_rate"].count, b.value("fill_rate")) == (1, 1, None)
    a = scores[ScoreKey("A", "AAPL", "100-999")]
    assert (a.value("reject_rate"), a.means["reject_rate"].count, a.value("fill_rate")) == (0, 1, D("0.3"))
    assert not any(key.venue in ("C", "", "FIXGATE") for key in scores)
    assert not engine._children
