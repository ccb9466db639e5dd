from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.model import PositionRecord, Side
from domain.positions import unrealized_pnl
from risk import PreTradeRisk, risk_config_from_mapping


class Position:
    """One account's position in one symbol, held where positions live: risk's view (``fill``)."""

    def __init__(self, account: str, symbol: str, restored: PositionRecord | None = None) -> None:
        self.account, self.symbol = account, symbol
        self._risk = PreTradeRisk({}, risk_config_from_mapping({}))
        self.last = restored or PositionRecord(account, symbol, D(0), D(0), D(0), 0, D(0))
        if restored is not None:
            self._risk.restore_position(restored)

    def apply_fill(self, side: Side, qty: D, price: D) -> None:
        self.last, _ = self._risk.fill(self.account, self.symbol, side, qty, price, 1)

    quantity = property(lambda self: self.last.quantity)
    cost = property(lambda self: self.last.cost)
    avg_price = property(lambda self: self.last.avg_price)
    realized_pnl = property(lambda self: self.last.realized_pnl)

    def unrealized(self, mark: D | None) -> D:
        return unrealized_pnl(self.last.quantity, self.last.cost, mark)


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


def test_a_non_terminating_average_leaks_into_no_pnl() -> None:
    # 300.07 / 3 = 100.02333...: the average is shown rounded, P&L comes from the exact cost.
    p = Position("A", "X")
    for price in ("100.01", "100.02", "100.04"):
        p.apply_fill(Side.BUY, D(1), D(price))
    assert (p.quantity, p.cost, p.avg_price) == (D(3), D("300.07"), D("100.02333333"))
    assert p.unrealized(D("134.74")) == D("104.15")  # 3 x 134.74 - 300.07; not 3 x (134.74 - 100.02333333)
    assert p.unrealized(None) == 0
    p.apply_fill(Side.SELL, D(1), D("100.10"))  # closes a third of 300.07: 100.02333333 (rounded)
    assert p.realized_pnl == D("0.07666667")
    assert p.cost == D("200.04666667")  # what is left of 300.07: cost stays the exact remainder
    p.apply_fill(Side.SELL, D(2), D("100.10"))
    assert (p.quantity, p.cost, p.avg_price) == (D(0), D(0), D(0))
    assert p.realized_pnl == D("0.23")  # exactly 300.30 - 300.07


def test_a_short_carries_a_negative_cost() -> None:
    p = Position("A", "X")
    p.apply_fill(Side.SELL, D(3), D("10.01"))
    assert (p.cost, p.avg_price) == (D("-30.03"), D("10.01"))
    assert p.unrealized(D(10)) == D("0.03")  # a short gains as the price falls
    p.apply_fill(Side.BUY, D(1), D(10))
    assert (p.realized_pnl, p.cost) == (D("0.01"), D("-20.02"))


def test_a_position_from_its_book_record_goes_on_exactly() -> None:
    p = Position("A", "X")
    p.apply_fill(Side.BUY, D(3), D("100.01"))
    p.apply_fill(Side.BUY, D(1), D("100.02"))
    back = Position("A", "X", restored=p.last)  # a restart: risk's view from the book's row
    [held] = back._risk.positions(2)
    assert (held.quantity, held.cost, held.realized_pnl) == (D(4), D("400.05"), D(0))
    back.apply_fill(Side.SELL, D(4), D("100.02"))
    assert (back.quantity, back.cost, back.realized_pnl) == (D(0), D(0), D("0.03"))


_PRICES = st.decimals(min_value=D("0.0001"), max_value=D(100_000), places=4, allow_nan=False,
                      allow_infinity=False)
_QTYS = st.decimals(min_value=D("0.01"), max_value=D(10_000), places=2, allow_nan=False, allow_infinity=False)
_FILLS = st.lists(st.tuples(st.sampled_from(Side), _QTYS, _PRICES), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(fills=_FILLS, mark=_PRICES)
def test_realized_plus_unrealized_is_the_exact_cash_flow_pnl(fills: list[tuple[Side, D, D]], mark: D) -> None:
    p = Position("A", "X")
    cash = quantity = D(0)
    for side, qty, price in fills:
        p.apply_fill(side, qty, price)
        signed = qty if side is Side.BUY else -qty
        quantity += signed
        cash -= signed * price  # a buy pays its notional, a sell receives it
        assert p.quantity == quantity
        assert p.realized_pnl + p.unrealized(mark) == cash + quantity * mark
        assert p.realized_pnl - p.cost == cash  # the cost is exactly what is still to realize
    if quantity == 0:
        assert p.cost == 0 and p.realized_pnl == cash  # flat: sells' notional minus buys', exactly


def test_a_closed_share_has_no_more_places_than_eight_or_the_cost() -> None:
    p = Position("A", "X")
    p.apply_fill(Side.BUY, D(3), D("100.01"))
    p.apply_fill(Side.SELL, D(1), D(100))  # a third of 300.03: 100.01 exactly
    assert (p.realized_pnl, p.cost) == (D("-0.01"), D("200.02"))
    p.apply_fill(Side.BUY, D(2), D("0.000000001"))  # cost 200.020000002: 9 places
    p.apply_fill(Side.SELL, D(3), D(50))  # 3/4 of it: 150.0150000015, rounded to 9 places (half-even)
    assert str(p.cost) == "50.005000000"  # 200.020000002 - 150.015000002
    assert str(p.realized_pnl) == "-0.025000002"  # -0.01 + 150 - 150.015000002
