from decimal import Decimal as D

from oms.model import Side
from oms.positions import Position


def test_buys_average_their_cost() -> None:
    p = Position("A", "AAPL")
    p.apply_fill(Side.BUY, D(100), D("10.00"))
    p.apply_fill(Side.BUY, D(300), D("12.00"))
    assert p.quantity == D(400)
    assert p.avg_price == D("11.5")
    assert p.realized_pnl == 0


def test_a_sell_realizes_against_average_cost_and_keeps_it() -> None:
    p = Position("A", "AAPL")
    p.apply_fill(Side.BUY, D(400), D("11.50"))
    p.apply_fill(Side.SELL, D(100), D("13.00"))
    assert p.quantity == D(300)
    assert p.avg_price == D("11.5")
    assert p.realized_pnl == D("150.00")


def test_a_fill_through_zero_opens_the_rest_at_its_price() -> None:
    p = Position("A", "AAPL")
    p.apply_fill(Side.BUY, D(100), D(10))
    p.apply_fill(Side.SELL, D(150), D(9))
    assert p.quantity == D(-50)
    assert p.avg_price == D(9)
    assert p.realized_pnl == D(-100)
    p.apply_fill(Side.BUY, D(50), D(8))  # a short covered lower makes money
    assert p.quantity == 0
    assert p.avg_price == 0
    assert p.realized_pnl == D(-50)


def test_decimal_money_stays_exact() -> None:
    p = Position("A", "X")
    for _ in range(10):
        p.apply_fill(Side.BUY, D(1), D("0.1"))
    p.apply_fill(Side.SELL, D(10), D("0.3"))
    assert p.realized_pnl == D("2.0")
