"""Limits swapped live: the next check uses the new ones, for accounts with per-order limits of their
own (rules worked out ahead) and for the others (a rule shared per instrument)."""

from __future__ import annotations

from decimal import Decimal as D

from domain.model import Instrument, NewOrder, OrdType, Side, TimeInForce
from risk import PreTradeRisk, risk_config_from_mapping

AAPL = Instrument("AAPL", "SIM", D("0.01"), D(1), D("100.00"))


def order(qty: str, account: str, price: str = "100") -> NewOrder:
    return NewOrder("FIX.4.4:FIXGATE->C", "c", account, "AAPL", Side.BUY, OrdType.LIMIT, D(qty), D(price),
                    TimeInForce.DAY, 0)


def test_a_new_config_applies_to_the_next_check_of_every_account() -> None:
    risk = PreTradeRisk({"AAPL": AAPL}, risk_config_from_mapping(
        {"firm": {"max_order_qty": "100"}, "accounts": {"OWN": {"max_order_qty": "50"}}}))
    assert risk.check(order("51", "OWN")) == "order qty 51 > max 50 for AAPL"
    assert risk.check(order("100", "ANY")) is None
    assert risk.check(order("101", "ANY")) == "order qty 101 > max 100 for AAPL"
    assert risk.check(order("50", "OWN")) is None

    risk.config = risk_config_from_mapping(
        {"firm": {"max_order_qty": "10"}, "accounts": {"OWN": {"max_order_qty": "20"}},
         "instruments": {"AAPL": {"price_collar_pct": "1"}}})
    assert risk.check(order("11", "OWN")) == "order qty 11 > max 10 for AAPL"  # the tightest: the firm's
    assert risk.check(order("11", "ANY")) == "order qty 11 > max 10 for AAPL"
    assert risk.check(order("10", "ANY", "101")) is None  # at the collar
    assert risk.check(order("10", "ANY", "101.01")) == "price 101.01 is more than 1% from the reference 100.00 for AAPL"
    risk.view.set_mark("AAPL", D("110.00"))  # the band follows the reference
    assert risk.check(order("10", "OWN", "111.10")) is None
    assert risk.check(order("10", "OWN", "108.89")) == "price 108.89 is more than 1% from the reference 110.00 for AAPL"
