from decimal import Decimal as D
from pathlib import Path

import pytest

from oms.model import Instrument, NewOrder, OrdType, Side, TimeInForce
from risk import InstrumentLimits, PreTradeRisk, RiskConfig, load_risk_config
from risk.limits import RiskConfigError

AAPL = Instrument("AAPL", "SIM", D("0.01"), D(1), D("190.00"))
RISK = PreTradeRisk(
    {"AAPL": AAPL},
    RiskConfig(instruments={"AAPL": InstrumentLimits(max_order_qty=D(1000), max_order_notional=D(100000))}),
)


def order(qty: str, price: str | None = "100", symbol: str = "AAPL") -> NewOrder:
    return NewOrder(
        "s", "c1", "ACC", symbol, Side.BUY, OrdType.LIMIT if price else OrdType.MARKET, D(qty),
        D(price) if price else None, TimeInForce.DAY, 0,
    )


def test_unknown_symbol_is_named() -> None:
    assert RISK.check(order("1", symbol="ZZZZ")) == "unknown symbol ZZZZ"


def test_quantity_just_past_the_limit_is_refused_and_at_it_passes() -> None:
    assert RISK.check(order("1000")) is None
    assert RISK.check(order("1001")) == "order qty 1001 > max 1000 for AAPL"


def test_notional_just_past_the_limit_is_refused() -> None:
    assert RISK.check(order("1000", "100")) is None
    reason = RISK.check(order("1000", "100.01"))
    assert reason == "order notional 100010.00 > max 100000 for AAPL (1000 @ 100.01)"


def test_market_order_is_valued_at_the_reference_price() -> None:
    assert RISK.check(order("526", None)) is None  # 526 * 190 = 99,940
    assert RISK.check(order("527", None)) == "order notional 100130.00 > max 100000 for AAPL (527 @ 190.00)"


def test_config_file_is_read_exactly_and_refuses_floats(tmp_path: Path) -> None:
    good = tmp_path / "risk.toml"
    good.write_text('[default]\nmax_order_qty = "10"\n[instruments.AAPL]\nmax_order_notional = 5000\n')
    config = load_risk_config(good)
    assert config.for_symbol("MSFT").max_order_qty == D(10)
    assert config.for_symbol("AAPL") == InstrumentLimits(max_order_notional=D(5000))
    bad = tmp_path / "bad.toml"
    bad.write_text("[default]\nmax_order_qty = 10.5\n")
    with pytest.raises(RiskConfigError, match="max_order_qty = 10.5: write it as a string"):
        load_risk_config(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text('[default]\nmax_qty = "10"\n')
    with pytest.raises(RiskConfigError, match=r"unknown key\(s\) \['max_qty'\]"):
        load_risk_config(typo)
