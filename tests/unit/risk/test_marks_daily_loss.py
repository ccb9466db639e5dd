"""The daily loss limit follows the market: a mark that moves (market data, or a fill of another
account) re-checks the accounts holding the symbol that have the limit, and the firm, with no fill
of their own; a mark nobody holds costs nothing."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from domain.model import Breach, Instrument, NewOrder, OrdType, Side, TimeInForce, TradingState
from risk import PreTradeRisk, risk_config_from_mapping

AAPL = Instrument("AAPL", "SIM", D("0.01"), D(1), D("100.00"))
MSFT = Instrument("MSFT", "SIM", D("0.01"), D(1), D("400.00"))
INSTRUMENTS = {"AAPL": AAPL, "MSFT": MSFT}
HOUR = 3600 * 1_000_000_000
TODAY = 20_000 * 24 * HOUR  # a UTC midnight


class Wall:
    """A hand-driven wall clock that counts its reads."""

    def __init__(self, now: int) -> None:
        self.now = now
        self.reads = 0

    def __call__(self) -> int:
        self.reads += 1
        return self.now


def make(config: dict[str, Any], wall: Wall | None = None) -> PreTradeRisk:
    return PreTradeRisk(INSTRUMENTS, risk_config_from_mapping(config), clock_ns=lambda: 0,
                        wall_clock_ns=wall or Wall(TODAY + 10 * HOUR))


def buy(qty: str, price: str, account: str = "ACC") -> NewOrder:
    return NewOrder("FIX.4.4:FIXGATE->CLIENT1", "c", account, "AAPL", Side.BUY, OrdType.LIMIT, D(qty), D(price),
                    TimeInForce.DAY, 0)


LIMITED = {"accounts": {"ACC": {"max_daily_loss": "1000", "daily_loss_action": "REDUCING"}}}


def test_a_falling_market_moves_a_long_account_to_reducing_without_a_fill_of_its_own() -> None:
    wall = Wall(TODAY + 10 * HOUR)
    r = make(LIMITED, wall)
    assert r.position_changed("ACC", "AAPL", D(100), D(10000), D(0), D(100)) == ()

    assert r.marks_changed([("AAPL", D(90))]) == ()  # a loss of 1,000: at the limit, not past it
    assert r.account_states == {}
    assert r.marks_changed([("AAPL", D("89.99"))]) == (
        Breach("ACC", TradingState.REDUCING, D("1001.00"), D(1000), "daily loss 1001.00 > max 1000", wall.now),)
    assert r.account_states == {"ACC": TradingState.REDUCING}
    assert r.check(buy("1", "89.99")) == (
        "account ACC REDUCING: daily loss 1001.00 > max 1000; BUY 1 AAPL would not reduce the position 100"
        " (working on that side 0)")
    # Already in the state the limit sets: no second breach however far the market falls.
    assert r.marks_changed([("AAPL", D(50))]) == ()
    assert r.reference_price("AAPL") == D(50)  # the mark still moves


def test_a_rising_market_breaches_a_short_and_the_halted_action_halts() -> None:
    r = make({"accounts": {"ACC": {"max_daily_loss": "500", "daily_loss_action": "HALTED"}}})
    r.position_changed("ACC", "MSFT", D(-10), D(-4000), D(0), D(400))
    [breach] = r.marks_changed([("MSFT", D("450.01"))])
    assert (breach.account, breach.state, breach.daily_loss) == ("ACC", TradingState.HALTED, D("500.10"))
    assert r.check(buy("1", "100")) == "account ACC HALTED: daily loss 500.10 > max 500"


def test_the_firm_limit_is_rechecked_on_a_mark_when_the_firm_holds_the_symbol() -> None:
    r = make({"firm": {"max_daily_loss": "300", "daily_loss_action": "HALTED"}})  # no account limits
    r.position_changed("A", "AAPL", D(20), D(2000), D(0), D(100))
    r.position_changed("B", "AAPL", D(20), D(2000), D(0), D(100))
    assert r.marks_changed([("AAPL", D("92.50"))]) == ()  # 40 x -7.50 = -300: at the limit
    [breach] = r.marks_changed([("AAPL", D("92.49"))])
    assert (breach.account, breach.state, breach.reason) == (None, TradingState.HALTED,
                                                            "daily loss 300.40 > max 300")
    assert r.firm_state is TradingState.HALTED
    assert r.check(buy("1", "92.49", account="C")) == "the firm HALTED: daily loss 300.40 > max 300"


def test_a_fill_of_one_account_that_moves_the_mark_rechecks_the_other_holders() -> None:
    r = make({"accounts": {"HOLDER": {"max_daily_loss": "100"}, "TRADER": {"max_daily_loss": "100000"}}})
    r.position_changed("HOLDER", "AAPL", D(10), D(1000), D(0), D(100))
    # TRADER buys at 89: a trade on the venue, so HOLDER is marked there too (-110).
    breaches = r.position_changed("TRADER", "AAPL", D(5), D(445), D(0), D(89))
    assert [(b.account, b.state, b.daily_loss) for b in breaches] == [("HOLDER", TradingState.HALTED, D(110))]


def test_only_holders_with_the_limit_are_summed_and_a_mark_nobody_holds_reads_no_clock() -> None:
    wall = Wall(TODAY + 10 * HOUR)
    r = make({"accounts": {"ACC": {"max_daily_loss": "1000"}}}, wall)
    r.position_changed("ACC", "AAPL", D(100), D(10000), D(0), D(100))
    r.position_changed("NOLIMIT", "MSFT", D(100), D(40000), D(0), D(400))
    assert r.view.holders == {"AAPL": {"ACC"}, "MSFT": {"NOLIMIT"}}

    reads = wall.reads
    assert r.marks_changed([("MSFT", D(1))]) == ()  # held, but by an account without the limit
    assert r.marks_changed([("AAPL", D(100))]) == ()  # the mark did not move
    assert r.marks_changed([("GOOG", D(1))]) == ()  # nobody holds it
    assert wall.reads == reads  # none of those summed any P&L or even read the clock

    r.position_changed("ACC", "AAPL", D(0), D(0), D(-10), D(100))  # flat: no longer a holder
    assert r.view.holders["AAPL"] == set()
    reads = wall.reads
    assert r.marks_changed([("AAPL", D(1))]) == ()
    assert wall.reads == reads


def test_limits_changed_live_decide_who_a_mark_rechecks() -> None:
    r = make({})
    r.position_changed("ACC", "AAPL", D(100), D(10000), D(0), D(100))
    assert r.marks_changed([("AAPL", D(80))]) == ()  # no limit: nothing to breach
    r.config = risk_config_from_mapping(LIMITED)
    [breach] = r.marks_changed([("AAPL", D(79))])
    assert (breach.account, breach.daily_loss) == ("ACC", D(2100))


def test_a_mark_after_utc_midnight_starts_the_day_before_it_counts() -> None:
    wall = Wall(TODAY - HOUR)
    r = make(LIMITED, wall)
    r.position_changed("ACC", "AAPL", D(100), D(10000), D(-5000), D(100))  # -5,000 realized yesterday
    assert r.account_states == {"ACC": TradingState.REDUCING}
    r.resume("account", "ACC", "ops")

    wall.now = TODAY + HOUR  # no fill since midnight: a mark starts the day
    assert r.marks_changed([("AAPL", D(95))]) == ()  # today: -500 unrealized only
    assert r.view.day_start_ns == TODAY
    assert r.account_states == {}
    assert r.marks_changed([("AAPL", D("89.99"))])[0].daily_loss == D("1001.00")
