"""Every pre-trade check: passes at its limit, refuses just past it, and says which limit and values."""

from __future__ import annotations

import inspect
import re
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from domain.model import Instrument, NewOrder, OrdType, Side, TimeInForce, TradingState
from risk import PreTradeRisk, RiskConfigError, load_risk_config, risk_config_from_mapping
from risk.checks import CHECKS
from risk.limits import risk_config_to_mapping

AAPL = Instrument("AAPL", "SIM", D("0.01"), D(10), D("100.00"))
MSFT = Instrument("MSFT", "SIM", D("0.05"), D(1), D("400.00"))
INSTRUMENTS = {"AAPL": AAPL, "MSFT": MSFT}


class Clock:
    """A hand-driven nanosecond clock."""

    def __init__(self) -> None:
        self.now = 1_000_000_000_000

    def __call__(self) -> int:
        return self.now

    def advance_ms(self, ms: int) -> None:
        self.now += ms * 1_000_000


def risk(config: dict[str, Any], clock: Clock | None = None) -> PreTradeRisk:
    return PreTradeRisk(INSTRUMENTS, risk_config_from_mapping(config), clock_ns=clock or Clock())


def order(qty: str, price: str | None = "100", symbol: str = "AAPL", side: Side = Side.BUY,
          account: str = "ACC", session: str = "FIX.4.4:FIXGATE->CLIENT1", *, received: int = 0,
          sent: int = 0) -> NewOrder:
    """An order taken at ``received`` (ns) that the client stamped ``sent`` (SendingTime, ns)."""
    return NewOrder(session, "c", account, symbol, side, OrdType.LIMIT if price else OrdType.MARKET, D(qty),
                    D(price) if price else None, TimeInForce.DAY, received, sent_ns=sent)


def accept(r: PreTradeRisk, o: NewOrder, order_id: int) -> None:
    assert r.check(o) is None
    r.order_opened(order_id, o)


def test_unknown_and_restricted_symbols() -> None:
    r = risk({"restricted_symbols": ["MSFT"]})
    assert r.check(order("10", symbol="ZZZZ")) == "unknown symbol ZZZZ"
    assert r.check(order("10", "400", symbol="MSFT")) == "symbol MSFT is restricted"
    assert r.rejections == {"unknown_symbol": 1, "restricted_symbol": 1}


def test_max_order_qty_just_past_and_at() -> None:
    r = risk({"instruments": {"AAPL": {"max_order_qty": "1000"}}})
    assert r.check(order("1000")) is None
    assert r.check(order("1010")) == "order qty 1010 > max 1000 for AAPL"


def test_max_order_notional_and_market_orders_at_the_reference() -> None:
    r = risk({"firm": {"max_order_notional": "100000"}})
    assert r.check(order("1000", "100")) is None
    assert r.check(order("1000", "100.01")) == "order notional 100010.00 > max 100000 for AAPL (1000 @ 100.01)"
    assert r.check(order("1000", None)) is None  # 1000 x reference 100.00
    assert r.check(order("1010", None)) == "order notional 101000.00 > max 100000 for AAPL (1010 @ 100.00)"


def test_market_orders_can_be_refused() -> None:
    r = risk({"instruments": {"MSFT": {"allow_market_orders": False}}})
    assert r.check(order("10", None)) is None
    assert r.check(order("10", None, symbol="MSFT")) == "market orders are not allowed for MSFT"


def test_tick_and_lot_size() -> None:
    r = risk({"firm": {"check_tick_lot": True}})
    assert r.check(order("20", "100.01")) is None
    assert r.check(order("25", "100.01")) == "order qty 25 is not a multiple of the lot size 10 for AAPL"
    assert r.check(order("5", "400.05", symbol="MSFT")) is None
    assert r.check(order("5", "400.07", symbol="MSFT")) == "price 400.07 is not a multiple of the tick size 0.05 for MSFT"


def test_price_collar_in_percent_and_ticks() -> None:
    r = risk({"instruments": {"AAPL": {"price_collar_pct": "5", "price_collar_ticks": 600}}})
    assert r.check(order("10", "105.00")) is None
    assert r.check(order("10", "105.01")) == "price 105.01 is more than 5% from the reference 100.00 for AAPL"
    assert r.check(order("10", "95.00", side=Side.SELL)) is None
    r = risk({"instruments": {"AAPL": {"price_collar_ticks": 300}}})
    assert r.check(order("10", "103.00")) is None
    assert r.check(order("10", "103.01")) == "price 103.01 is 301 ticks from the reference 100.00 for AAPL (max 300)"


def test_the_collar_follows_the_last_trade() -> None:
    r = risk({"instruments": {"AAPL": {"price_collar_pct": "5"}}})
    r.position_changed("X", "AAPL", D(10), D(1200), D(0), last_px=D("120.00"))
    assert r.check(order("10", "105.01")) == "price 105.01 is more than 5% from the reference 120.00 for AAPL"
    assert r.check(order("10", "126.00")) is None


def test_tightest_limit_of_firm_account_and_instrument_applies() -> None:
    r = risk({
        "firm": {"max_order_qty": "5000"},
        "accounts": {"SMALL": {"max_order_qty": "100"}},
        "instruments": {"AAPL": {"max_order_qty": "1000"}},
    })
    assert r.check(order("1000")) is None
    assert r.check(order("110", account="SMALL")) == "order qty 110 > max 100 for AAPL"
    assert r.check(order("1010", "400", symbol="MSFT")) is None
    assert r.check(order("5001", "400", symbol="MSFT")) == "order qty 5001 > max 5000 for MSFT"


def test_max_position_counts_working_orders_as_if_filled() -> None:
    r = risk({"instruments": {"AAPL": {"max_position": "1000"}}})
    r.position_changed("ACC", "AAPL", D(300), D(30000), D(0), D(100))
    accept(r, order("500"), 1)  # worst case 800
    assert r.check(order("200")) is None  # 1000
    assert r.check(order("210")) == (
        "worst-case position 1010 in AAPL for ACC > max 1000 (position 300, working 500, order 210)"
    )
    # The short side is worst case on its own: 300 - 1300 = -1000.
    assert r.check(order("1300", side=Side.SELL)) is None
    assert r.check(order("1310", side=Side.SELL)).startswith("worst-case position -1010 in AAPL")  # type: ignore[union-attr]
    r.order_working(1, D(0), "AAPL", OrdType.LIMIT, D(100))  # the working buy is cancelled
    assert r.check(order("700")) is None


def test_gross_and_net_notional_per_account_and_firm() -> None:
    r = risk({"accounts": {"ACC": {"max_gross_notional": "100000", "max_net_notional": "60000"}},
              "firm": {"max_gross_notional": "150000"}})
    r.position_changed("ACC", "AAPL", D(400), D(40000), D(0), D(100))  # 40,000 long
    assert r.check(order("200")) is None  # net 60,000
    assert r.check(order("210")) == "worst-case net notional 61000 > max 60000 for account ACC"
    accept(r, order("500", side=Side.SELL), 1)  # gross 40,000 + 50,000 working
    assert r.check(order("100", side=Side.SELL)) is None  # gross 100,000
    assert r.check(order("110", side=Side.SELL)) == "gross notional 101000 > max 100000 for account ACC"
    accept(r, order("600", side=Side.SELL, account="OTHER"), 2)  # firm gross 150,000
    assert r.check(order("10", account="THIRD")) == "gross notional 151000 > max 150000 for the firm"


def test_credit_limit_counts_long_cost_and_working_buys() -> None:
    r = risk({"accounts": {"ACC": {"credit_limit": "50000"}}})
    r.position_changed("ACC", "AAPL", D(200), D(20000), D(0), D(100))  # 20,000 used
    accept(r, order("100"), 1)  # 30,000 used
    assert r.check(order("200")) is None  # 50,000
    assert r.check(order("210")) == "credit used 51000 > credit limit 50000 for account ACC"
    assert r.check(order("1000", side=Side.SELL)) is None  # sells use no credit


def test_daily_loss_moves_the_account_to_reducing_then_only_reducing_orders_pass() -> None:
    r = risk({"accounts": {"ACC": {"max_daily_loss": "1000", "daily_loss_action": "REDUCING"}}})
    r.position_changed("ACC", "AAPL", D(100), D(10000), D(0), D(100))
    r.position_changed("ACC", "AAPL", D(100), D(10000), D(0), D(90))  # unrealized -1,000: at the limit
    assert r.account_states.get("ACC") is None
    r.position_changed("ACC", "AAPL", D(100), D(10000), D(0), D("89.99"))  # -1,001
    assert r.account_states["ACC"] is TradingState.REDUCING
    assert r.check(order("100", "90", side=Side.SELL)) is None
    # The Text names the state, the limit and the values that set it, then why this order fails it.
    assert r.check(order("110", "90", side=Side.SELL)) == (
        "account ACC REDUCING: daily loss 1001.00 > max 1000; SELL 110 AAPL would not reduce the position 100"
        " (working on that side 0)"
    )
    assert r.check(order("10", "90")).startswith(  # type: ignore[union-attr]
        "account ACC REDUCING: daily loss 1001.00 > max 1000; BUY 10 AAPL")
    r.resume("account", "ACC", "ops")
    assert r.check(order("10", "90")) is None
    assert r.state_reasons == {}


def test_daily_loss_halt_names_the_limit_and_the_loss() -> None:
    r = risk({"accounts": {"ACC": {"max_daily_loss": "5000"}}})
    r.position_changed("ACC", "AAPL", D(-500), D(-50000), D("-12.50"), D("110.00"))  # -12.50 - 5,000
    assert r.account_states["ACC"] is TradingState.HALTED
    assert r.check(order("10")) == "account ACC HALTED: daily loss 5012.50 > max 5000"
    assert r.check(order("10", account="OTHER")) is None
    r.set_state("OTHER", TradingState.HALTED)
    assert r.check(order("10", account="OTHER")) == "account OTHER HALTED: set by an operator"


def test_daily_loss_of_the_firm_halts_everyone() -> None:
    r = risk({"firm": {"max_daily_loss": "500"}})
    r.position_changed("A", "AAPL", D(-100), D(-10000), D(-200), D(103))  # -200 realized, -300 unrealized
    assert r.firm_state is TradingState.ACTIVE
    r.position_changed("A", "AAPL", D(-100), D(-10000), D(-200), D("103.01"))
    assert r.firm_state is TradingState.HALTED
    assert r.check(order("10", account="B")) == "the firm HALTED: daily loss 501.00 > max 500"


MS = 1_000_000
T0 = 1_800_000_000 * 1_000_000_000  # a wall-clock moment, ns


def test_order_rate_per_session_in_a_sliding_second() -> None:
    r = risk({"flow": {"max_orders_per_second": 3}, "sessions": {"BENCH": {}}})
    for i in range(3):
        at = T0 + i * 100 * MS
        accept(r, order("10", f"100.0{i}", received=at, sent=at), i)
    at = T0 + 300 * MS
    assert r.check(order("10", received=at, sent=at)) == (
        "order rate of session CLIENT1 is at its max of 3 orders per second (counted by SendingTime)")
    assert r.check(order("10", session="FIX.4.4:FIXGATE->CLIENT2", received=at, sent=at)) is None  # its own
    assert r.check(order("10", session="FIX.4.4:FIXGATE->BENCH", received=at, sent=at)) is None  # no limit
    at = T0 + 1001 * MS  # the first order leaves the window
    assert r.check(order("10", received=at, sent=at)) is None


def test_order_rate_counts_orders_by_when_they_were_sent_not_when_taken() -> None:
    # A flood the gateway takes more slowly than it arrives: four orders sent within 30 ms, taken
    # 400 ms apart. Counted when taken they would be under 3 a second; sent, they are 4 in one.
    clock = Clock()  # the gateway's own clock moves with the orders taken, as it would
    r = risk({"flow": {"max_orders_per_second": 3}}, clock)
    for i in range(3):
        clock.now = T0 + i * 400 * MS
        accept(r, order("10", f"100.0{i}", received=clock.now, sent=T0 + i * 10 * MS), i)
    clock.now = T0 + 1200 * MS
    late = order("10", received=clock.now, sent=T0 + 30 * MS)
    assert r.check(late) == "order rate of session CLIENT1 is at its max of 3 orders per second (counted by SendingTime)"
    assert r.rejections["order_rate"] == 1


def test_a_sending_time_far_in_the_past_or_ahead_cannot_hide_a_flood() -> None:
    r = risk({"flow": {"max_orders_per_second": 2}})
    # Stamped a minute ago: counts as sent 5 s before it was taken, no earlier.
    accept(r, order("10", "100.01", received=T0, sent=T0 - 60_000 * MS), 1)
    # Stamped in the future: counts as sent when taken.
    accept(r, order("10", "100.02", received=T0 - 4_500 * MS, sent=T0 + 60_000 * MS), 2)
    assert r.check(order("10", received=T0 - 4_400 * MS, sent=T0 - 4_400 * MS)) is not None
    assert r.check(order("10", received=T0 + 2_000 * MS, sent=T0 + 2_000 * MS)) is None


def test_a_session_whose_orders_wait_past_the_max_backlog_is_throttled_until_it_catches_up() -> None:
    r = risk({"flow": {"max_backlog_ms": 100}})
    offset = 7 * MS  # the clocks' offset and the network: the least lag, never counted
    accept(r, order("10", "100.01", received=T0 + offset, sent=T0), 1)
    accept(r, order("10", "100.02", received=T0 + 100 * MS + offset, sent=T0 + 10 * MS), 2)  # 90 ms behind
    behind = order("10", "100.03", received=T0 + 250 * MS + offset, sent=T0 + 20 * MS)  # 230 ms behind
    assert r.check(behind) == (
        "session CLIENT1 throttled: this order waited 230 ms to be taken (max 100 ms): the session sends"
        " faster than the gateway takes its orders")
    assert r.rejections["throttle"] == 1
    caught_up = order("10", "100.04", received=T0 + 300 * MS + offset, sent=T0 + 299 * MS)
    assert r.check(caught_up) is None


def test_while_a_venue_answers_late_sessions_over_their_fair_share_are_throttled() -> None:
    r = risk({"flow": {"max_backlog_ms": 100}})
    one, two = "FIX.4.4:FIXGATE->CLIENT1", "FIX.4.2:FIXGATE->CLIENT2"
    for i in range(9):
        at = T0 + i * MS
        accept(r, order("10", f"100.{i:02d}", session=one, received=at, sent=at), i)
    accept(r, order("10", "101.00", session=two, received=T0, sent=T0), 100)
    r.venue_report("SIM", T0, T0 + 2 * MS)
    r.venue_report("SIM", T0 + 10 * MS, T0 + 50 * MS)  # 38 ms over its least lag: not yet late
    at = T0 + 20 * MS
    assert r.check(order("10", "100.50", session=one, received=at, sent=at)) is None
    r.venue_report("SIM", T0 + 20 * MS, T0 + 200 * MS)  # 178 ms over: late
    assert r.venue_backlog_ns["SIM"] == 178 * MS
    assert r.check(order("10", "100.50", session=one, received=at, sent=at)) == (
        "session CLIENT1 throttled: venue SIM's reports are taken 178 ms late (max 100 ms) and the session"
        " sent 9 of the last second's 10 orders, over its fair share of 5")
    assert r.check(order("10", "101.50", session=two, received=at, sent=at)) is None  # under its share
    # The venue judged is the one the order goes to: the router's choice when it names one.
    assert r.check(order("10", "100.50", session=one, received=at, sent=at), "SIM2") is None
    assert r.check(order("10", "100.50", session=one, received=at, sent=at), "SIM") is not None


def test_duplicate_orders_within_the_window() -> None:
    clock = Clock()
    r = risk({"duplicate_window_ms": 500}, clock)
    accept(r, order("10", "100.00"), 1)
    clock.advance_ms(499)
    assert r.check(order("10", "100.00")) == "duplicate of an order for ACC BUY 10 AAPL @ 100.00 within 500 ms"
    assert r.check(order("11", "100.00")) is None
    assert r.check(order("10", "100.00", side=Side.SELL)) is None
    clock.advance_ms(1)
    assert r.check(order("10", "100.00")) is None


@pytest.mark.parametrize(
    ("scope", "value", "blocked", "free"),
    [
        ("firm", "", order("1"), None),
        ("account", "ACC", order("1"), order("1", account="OTHER")),
        ("session", "CLIENT1", order("1"), order("1", session="FIX.4.2:FIXGATE->CLIENT2")),
        ("symbol", "AAPL", order("1"), order("1", "400", symbol="MSFT")),
    ],
)
def test_kill_switch_halts_its_scope_until_resumed(
    scope: str, value: str, blocked: NewOrder, free: NewOrder | None
) -> None:
    r = risk({})
    r.kill(scope, value, "alice", "runaway algo")
    where = "the firm" if scope == "firm" else f"{scope} {value}"
    assert r.check(blocked) == f"trading halted for {where} by alice: runaway algo"
    if free is not None:
        assert r.check(free) is None
    r.resume(scope, value, "bob")
    assert r.check(blocked) is None
    with pytest.raises(ValueError, match="unknown scope 'desk'"):
        r.kill("desk", "x", "alice", "")


def replace_check(r: PreTradeRisk, order_id: int, qty: str, price: str, cum: str = "0") -> str | None:
    return r.check_replace(order_id, "FIX.4.4:FIXGATE->CLIENT1", "ACC", "AAPL", Side.BUY, OrdType.LIMIT,
                           D(qty), D(price), D(cum))


def test_a_replace_counts_its_new_open_quantity_instead_of_the_old() -> None:
    r = risk({"instruments": {"AAPL": {"max_position": "1000", "max_order_qty": "1000"}}})
    accept(r, order("800"), 1)
    # Replacing the 800 by 1000 (nothing filled) is within the position limit: 1000, not 1800.
    assert replace_check(r, 1, "1000", "100") is None
    assert replace_check(r, 1, "1010", "100") == "order qty 1010 > max 1000 for AAPL"


def test_a_pending_replace_counts_the_worse_of_old_and_new_until_answered() -> None:
    r = risk({"instruments": {"AAPL": {"max_position": "1000"}}})
    accept(r, order("600"), 1)
    # 600 @ 100 replaced by 300 @ 110: the old may still fill, the new may be what works: the
    # larger quantity at the higher price.
    r.order_replacing(1, D(600), D(300), "AAPL", OrdType.LIMIT, D(100), D(110))
    exposure, totals = r.view.symbols[("ACC", "AAPL")], r.view.accounts["ACC"]
    assert (exposure.open_buy_qty, totals.open_buy_notional) == (D(600), D(66000))
    r.order_replacing(1, D(600), D(1000), "AAPL", OrdType.LIMIT, D(100), D(99))
    assert (exposure.open_buy_qty, totals.open_buy_notional) == (D(1000), D(100000))
    assert r.check(order("1")) == (
        "worst-case position 1001 in AAPL for ACC > max 1000 (position 0, working 1000, order 1)")
    assert r.check(order("10", "110", side=Side.SELL)) is None  # the other side is not held back
    r.order_working(1, D(600), "AAPL", OrdType.LIMIT, D(100))  # the venue refused the replace
    assert (exposure.open_buy_qty, totals.open_buy_notional) == (D(600), D(60000))
    assert r.check(order("400")) is None


def test_a_replace_is_checked_for_the_notional_it_adds_at_its_new_price() -> None:
    r = risk({"accounts": {"ACC": {"max_gross_notional": "100000"}}})
    accept(r, order("900"), 1)  # 90,000
    # Same quantity, dearer: 900 x 112 = 100,800 counts while pending, past the max.
    assert replace_check(r, 1, "900", "112") == "gross notional 100800 > max 100000 for account ACC"
    assert replace_check(r, 1, "900", "111") is None
    # A limit lowered under what works already: a replace that adds nothing is still not refused.
    r.config = risk_config_from_mapping({"accounts": {"ACC": {"max_gross_notional": "50000"}}})
    assert replace_check(r, 1, "500", "100") is None
    assert replace_check(r, 1, "901", "100") == "gross notional 90100 > max 50000 for account ACC"


def test_config_file_round_trips_and_refuses_mistakes(tmp_path: Path) -> None:
    shipped = load_risk_config(Path(__file__).resolve().parents[3] / "config" / "risk.toml")
    assert risk_config_from_mapping(risk_config_to_mapping(shipped)) == shipped
    bad = tmp_path / "bad.toml"
    bad.write_text("[firm]\nmax_order_qty = 10.5\n")
    with pytest.raises(RiskConfigError, match="firm.max_order_qty = 10.5: write it as a string"):
        load_risk_config(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text('[instruments.AAPL]\nmax_qty = "10"\n')
    with pytest.raises(RiskConfigError, match=r"instruments.AAPL: unknown key\(s\) \['max_qty'\]"):
        load_risk_config(typo)
    action = tmp_path / "action.toml"
    action.write_text('[firm]\ndaily_loss_action = "PANIC"\n')
    with pytest.raises(RiskConfigError, match="must be REDUCING or HALTED"):
        load_risk_config(action)


def test_every_check_that_can_deny_is_named_in_checks() -> None:
    # GET /risk/status shows a count for each name in CHECKS: a check missing there would not show.
    source = Path(inspect.getfile(PreTradeRisk)).read_text()  # risk/checks.py
    names = set(re.findall(r'return "(\w+)", ', source))
    assert names == set(CHECKS) and len(CHECKS) == len(set(CHECKS))
