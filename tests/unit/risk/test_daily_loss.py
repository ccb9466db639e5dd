"""The daily loss limit counts the UTC trading day: realized P&L of earlier days is set aside when the
day starts (the first fill after midnight) and when a position is restored from the book."""

from __future__ import annotations

from decimal import Decimal as D

from domain.model import Instrument, NewOrder, OrdType, PositionRecord, Side, TimeInForce, TradingState
from oms.manager import OrderManager
from oms.router import Router
from risk import PreTradeRisk, risk_config_from_mapping
from risk.status import risk_status

AAPL = Instrument("AAPL", "SIM", D("0.01"), D(1), D("100.00"))
MSFT = Instrument("MSFT", "SIM", D("0.01"), D(1), D("400.00"))
INSTRUMENTS = {"AAPL": AAPL, "MSFT": MSFT}
HOUR = 3600 * 1_000_000_000
DAY = 24 * HOUR
TODAY = 20_000 * DAY  # a UTC midnight


class Wall:
    """A hand-driven wall clock (epoch nanoseconds)."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def make(wall: Wall, max_daily_loss: str = "1000") -> PreTradeRisk:
    config = risk_config_from_mapping({"accounts": {"ACC": {"max_daily_loss": max_daily_loss}}})
    return PreTradeRisk(INSTRUMENTS, config, clock_ns=lambda: 0, wall_clock_ns=wall)


def test_the_day_rolls_at_utc_midnight_and_yesterdays_realized_loss_stops_counting() -> None:
    wall = Wall(TODAY - HOUR)  # 23:00 the day before
    r = make(wall)
    r.position_changed("ACC", "AAPL", D(100), D(10000), D(-900), D(100))  # -900 realized late yesterday
    assert r.view.daily_pnl("ACC") == D(-900)

    wall.now = TODAY + HOUR  # 01:00: no fill yet, the status already shows a fresh day
    [account] = risk_status(r).accounts
    assert account.daily_pnl == D(0)

    # Sell 50 @ 96: -200 realized today, the other 50 marked at 96: -200 unrealized. Lifetime
    # realized is -1,100 (past the max with the unrealized), today's loss only 400.
    r.position_changed("ACC", "AAPL", D(50), D(5000), D(-1100), D(96))
    assert r.view.daily_pnl("ACC") == D(-400)
    assert r.account_states == {}
    assert r.view.day_start_ns == TODAY

    # Later that day the loss grows past the max on today's trading alone.
    wall.now = TODAY + 20 * HOUR
    r.position_changed("ACC", "AAPL", D(0), D(0), D(-1901), D(84))
    assert r.view.daily_pnl("ACC") == D(-1001)
    assert r.account_states == {"ACC": TradingState.HALTED}
    order = NewOrder("FIX.4.4:FIXGATE->CLIENT1", "c", "ACC", "AAPL", Side.BUY, OrdType.LIMIT, D(1), D(84),
                     TimeInForce.DAY, 0)
    assert r.check(order) == "account ACC HALTED: daily loss 1001.00 > max 1000"


def test_restore_counts_only_todays_realized_pnl() -> None:
    wall = Wall(TODAY + 10 * HOUR)
    risk = make(wall)
    router = Router(INSTRUMENTS)
    oms = OrderManager(instruments=INSTRUMENTS, risk=risk, router=router, sink=lambda records, owed=(): None,
                       clock_ns=wall)
    oms.restore([], [
        # Last written yesterday: every cent of it is earlier days'.
        PositionRecord("ACC", "AAPL", D(100), D(100), D(-5000), TODAY - 2 * HOUR, D(10000)),
        # Written today: the row holds a lifetime total that cannot be split, so it all counts.
        PositionRecord("ACC", "MSFT", D(0), D(0), D(-300), TODAY + 9 * HOUR, D(0)),
    ])
    assert risk.view.daily_pnl("ACC") == D(-300)
    assert risk.view.daily_pnl(None) == D(-300)
    # A small loss today does not breach the max, as the lifetime -5,300 would.
    risk.position_changed("ACC", "AAPL", D(100), D(10000), D(-5000), D("99.00"))
    assert risk.view.daily_pnl("ACC") == D(-400)
    assert risk.account_states == {}
    [account] = risk_status(risk).accounts
    assert (account.daily_pnl, account.limits[0].used) == (D(-400), D(400))
