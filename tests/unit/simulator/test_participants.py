"""The simulator's background participants: seeded, reproducible, and they make a market that trades."""

from __future__ import annotations

from decimal import Decimal

from simulator.config import ParticipantsConfig, default_instruments
from simulator.matching import SEED_OWNER, MatchingEngine, OrderStatus
from simulator.participants import MAKER_OWNER, TAKER_OWNER, LivingMarket

D = Decimal


class Clock:
    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        self.now += 1
        return self.now


def run(seed: int, steps: int = 300) -> tuple[MatchingEngine, LivingMarket]:
    engine = MatchingEngine(default_instruments(), id_prefix="T", clock=Clock())
    market = LivingMarket(default_instruments(), ParticipantsConfig(enabled=True, seed=seed))
    market.start(engine)
    for _ in range(steps):
        market.step(engine)
    return engine, market


def test_same_seed_same_market_other_seed_other_market() -> None:
    first, _ = run(seed=3)
    again, _ = run(seed=3)
    other, _ = run(seed=4)
    assert first.orders() == again.orders() and first.fills() == again.fills()
    assert [f.price for f in first.fills()] != [f.price for f in other.fills()]


def test_maker_quotes_both_sides_around_a_moving_mid_and_takers_trade_with_it() -> None:
    engine, market = run(seed=11)
    fills = engine.fills()
    assert any(f.owner == TAKER_OWNER for f in fills) and any(f.owner == MAKER_OWNER for f in fills)
    assert {market.mid("AAPL"), market.mid("MSFT")} != {D("190.00"), D("420.00")}  # the mids walked
    for symbol in ("AAPL", "MSFT"):
        bids, asks = engine.depth(symbol)
        assert len(bids) >= 3 and len(asks) >= 3
        assert bids[0][0] < asks[0][0]  # never a crossed book
        mid = market.mid(symbol)
        assert bids[0][0] <= mid <= asks[0][0]
    # Every price is on the tick grid and every taker order ended (IOC).
    assert all(f.price % D("0.01") == 0 for f in fills)
    assert all(o.status.is_terminal for o in engine.orders() if o.owner == TAKER_OWNER)


def test_forgetting_finished_orders_keeps_live_ones() -> None:
    engine, market = run(seed=5)
    live_before = [o for o in engine.orders() if not o.status.is_terminal]
    assert engine.forget_done((MAKER_OWNER, TAKER_OWNER)) > 0
    assert [o for o in engine.orders() if not o.status.is_terminal] == live_before
    assert all(o.owner == SEED_OWNER or not o.status.is_terminal for o in engine.orders())
    live_ids = {o.order_id for o in live_before}
    assert all(f.order_id in live_ids for f in engine.fills() if f.owner in (MAKER_OWNER, TAKER_OWNER))
    # The maker can still find and cancel its live quotes: after more steps it quotes 3 levels a side.
    for _ in range(50):
        market.step(engine)
    maker_live = [o for o in engine.orders() if o.owner == MAKER_OWNER and not o.status.is_terminal]
    assert len(maker_live) <= 2 * 3 * 2  # never more than one ladder per instrument
    assert all(o.status is not OrderStatus.REJECTED for o in engine.orders())
