"""Kill switches, trading states and limits rebuilt at start from the ``risk_events`` audit trail."""

from __future__ import annotations

import logging
from decimal import Decimal as D
from typing import Any

import pytest

from domain.model import Halt, Instrument, NewOrder, OrdType, Side, TimeInForce, TradingState
from risk import PreTradeRisk, risk_config_from_mapping
from risk.restore import RiskEvent, restore_from_events

INSTRUMENTS = {"AAPL": Instrument("AAPL", "SIM", D("0.01"), D(1), D("100.00"))}
FILE_LIMITS: dict[str, Any] = {"firm": {"max_order_qty": "1000"}}


def make() -> PreTradeRisk:
    return PreTradeRisk(INSTRUMENTS, risk_config_from_mapping(FILE_LIMITS), clock_ns=lambda: 0)


def event(id: int, action: str, scope: str | None = None, value: str | None = None, *, at: int | None = None,
          by: str = "alice", **details: Any) -> RiskEvent:
    return RiskEvent(id, at if at is not None else id * 1000, by, action, scope, value, details)


def order(account: str = "ACC", symbol: str = "AAPL", session: str = "FIX.4.4:FIXGATE->CLIENT1",
          qty: str = "1") -> NewOrder:
    return NewOrder(session, "c", account, symbol, Side.BUY, OrdType.LIMIT, D(qty), D(100), TimeInForce.DAY, 0)


def test_a_kill_not_followed_by_a_resume_of_its_scope_is_in_force_again() -> None:
    r = make()
    restored = restore_from_events(r, [
        event(1, "KILL", "account", "ACC", reason="runaway algo"),
        event(2, "KILL", "symbol", "AAPL", reason="bad prints"),
        event(3, "RESUME", "symbol", "AAPL", by="bob", lifted=None),
        event(4, "KILL", "session", "CLIENT9", reason="flooding"),
        event(5, "KILL", "firm", "", reason="market-wide"),
        event(6, "RESUME", "firm", ""),
    ])
    assert restored.halts == (Halt("account", "ACC", "alice", 1000, "runaway algo"),
                              Halt("session", "CLIENT9", "alice", 4000, "flooding"))
    assert r.check(order()) == "trading halted for account ACC by alice: runaway algo"
    assert r.check(order(session="FIX.4.2:FIXGATE->CLIENT9", account="B")) == (
        "trading halted for session CLIENT9 by alice: flooding")
    assert r.check(order(account="B")) is None
    # A resume after the restart works as before it.
    assert r.resume("account", "ACC", "bob") == Halt("account", "ACC", "alice", 1000, "runaway algo")
    assert r.check(order()) is None


def test_breach_states_stay_until_a_resume_of_that_account_or_the_firm() -> None:
    r = make()
    restored = restore_from_events(r, [
        event(1, "BREACH", "account", "ACC", by="risk", state="REDUCING", reason="daily loss 1001.00 > max 1000"),
        event(2, "BREACH", "account", "GONE", by="risk", state="HALTED", reason="daily loss 9 > max 1"),
        event(3, "RESUME", "account", "GONE"),
        event(4, "BREACH", "firm", "", by="risk", state="HALTED", reason="daily loss 6000 > max 5000"),
        event(5, "RESUME", "firm", ""),
        event(6, "BREACH", "account", "ESC", by="risk", state="HALTED", reason="daily loss 3 > max 2"),
    ])
    assert restored.states == (("ACC", TradingState.REDUCING, "daily loss 1001.00 > max 1000"),
                               ("ESC", TradingState.HALTED, "daily loss 3 > max 2"))
    assert r.account_states == {"ACC": TradingState.REDUCING, "ESC": TradingState.HALTED}
    assert r.firm_state is TradingState.ACTIVE
    assert r.check(order()) == (
        "account ACC REDUCING: daily loss 1001.00 > max 1000; BUY 1 AAPL would not reduce the position 0"
        " (working on that side 0)")
    assert r.check(order(account="ESC")) == "account ESC HALTED: daily loss 3 > max 2"
    r.resume("account", "ACC", "ops")
    assert r.check(order()) is None


def test_events_are_folded_by_time_not_by_row_id() -> None:
    # A breach replayed from the journal after a crash gets a later id than the resume written meanwhile.
    r = make()
    restore_from_events(r, [
        event(7, "BREACH", "account", "ACC", at=100, by="risk", state="HALTED", reason="daily loss 2 > max 1"),
        event(6, "RESUME", "account", "ACC", at=200),
        event(9, "KILL", "symbol", "AAPL", at=300, reason="x"),
        event(8, "RESUME", "symbol", "AAPL", at=400),
    ])
    assert r.account_states == {} and r.halts == {}


def test_the_last_limits_change_is_in_force() -> None:
    r = make()
    newer = {"firm": {"max_order_qty": "10"}}
    restored = restore_from_events(r, [
        event(2, "LIMITS", new=newer, old=FILE_LIMITS),
        event(1, "LIMITS", new={"firm": {"max_order_qty": "50"}}, old=FILE_LIMITS),
    ])
    assert restored.limits_from is not None and restored.limits_from.id == 2 and restored.limits_error is None
    assert r.check(order(qty="11")) == "order qty 11 > max 10 for AAPL"


@pytest.mark.parametrize("stored", [
    {"firm": {"max_order_qty": "lots"}},
    {"firm": {"no_such_limit": "1"}},
    ["not", "a", "table"],
    None,
])
def test_stored_limits_that_no_longer_validate_leave_the_file_config_and_log_an_error(
    stored: Any, caplog: pytest.LogCaptureFixture
) -> None:
    r = make()
    with caplog.at_level(logging.ERROR, logger="risk.restore"):
        restored = restore_from_events(r, [event(3, "LIMITS", new=stored), event(4, "KILL", "account", "ACC")])
    assert restored.limits_from is None and restored.limits_error is not None
    assert "risk_events id 3" in restored.limits_error
    assert any("stored risk limits do not validate" in m for m in caplog.messages)
    assert r.config == risk_config_from_mapping(FILE_LIMITS)
    assert r.halts  # the rest of the trail is still restored


def test_a_breach_row_of_an_unknown_state_is_restored_halted(caplog: pytest.LogCaptureFixture) -> None:
    r = make()
    with caplog.at_level(logging.ERROR, logger="risk.restore"):
        restore_from_events(r, [event(1, "BREACH", "account", "ACC", state="WOBBLY", reason="daily loss")])
    assert r.account_states == {"ACC": TradingState.HALTED}
    assert "restored as HALTED" in caplog.text


def test_nothing_recorded_changes_nothing() -> None:
    r = make()
    restored = restore_from_events(r, [])
    assert (restored.halts, restored.states, restored.limits_from) == ((), (), None)
    assert r.config == risk_config_from_mapping(FILE_LIMITS) and r.halts == {} and r.account_states == {}
