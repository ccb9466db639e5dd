"""Positions per account and symbol, derived from fills by the average-cost method, kept exact.

A position carries its open cost: the signed sum of qty x price of its open quantity (negative for a
short), an exact ``Decimal``. P&L comes from it, never from a rounded average price:

- unrealized = quantity x mark - cost (:func:`unrealized_pnl`, used by risk and the REST API alike);
- a fill that closes ``closed`` of the ``open`` quantity realizes closed x price less the closed part's
  share of the cost, cost x closed / open. That share need not be a finite decimal (300.07 x 1/3): it
  is rounded half-even to 8 decimal places, or to the cost's own places if it has more (so an exact
  share of a cost of up to 8 places is kept whole), and the cost keeps the rest: the cost stays what
  the fills paid minus what the closes took out, and no amount grows more places than its inputs;
- hence realized + unrealized always equals the cash-flow P&L exactly (sells' notional - buys'
  notional + quantity x mark), and a position opened and closed to flat realizes exactly its sells'
  notional minus its buys'. Rounding only moves at most half of 1e-8 between realized and unrealized
  at a partial close.

``avg_price`` (cost / quantity, rounded half-even to 8 places) is for display only.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal

from domain.model import PositionRecord, Side

PRICE_QUANTUM = Decimal("1e-8")  # average prices are shown to 8 decimal places, half-even
SHARE_PLACES = 8  # a closed part's share of the cost is rounded to this many places (or the cost's)
ZERO = Decimal(0)

# Far more digits than any quantity x price needs, so sums and products here are exact (the default
# context's 28 digits could round a large cost silently).
_WIDE = Context(prec=80, rounding=ROUND_HALF_EVEN)


def unrealized_pnl(quantity: Decimal, cost: Decimal, mark: Decimal | None) -> Decimal:
    """``quantity x mark - cost`` of a position with open ``cost``; zero when there is no mark yet."""
    if mark is None:
        return ZERO
    return _WIDE.subtract(_WIDE.multiply(quantity, mark), cost)


def average_price(quantity: Decimal, cost: Decimal) -> Decimal:
    """The average price of the open quantity, for display: cost / quantity to 8 places (0 if flat)."""
    if not quantity:
        return ZERO
    return _WIDE.divide(cost, quantity).quantize(PRICE_QUANTUM, ROUND_HALF_EVEN, context=_WIDE)


def closed_cost(cost: Decimal, closed: Decimal, open_qty: Decimal) -> Decimal:
    """The share of ``cost`` that ``closed`` of ``open_qty`` carries, rounded half-even to
    :data:`SHARE_PLACES` places or the cost's own if more; all of it when everything closes."""
    if closed == open_qty:
        return cost
    exponent = cost.as_tuple().exponent
    places = max(SHARE_PLACES, -exponent if isinstance(exponent, int) else 0)
    share = _WIDE.divide(_WIDE.multiply(cost, closed), open_qty)
    return share.quantize(Decimal(1).scaleb(-places), ROUND_HALF_EVEN, context=_WIDE)


def after_fill(quantity: Decimal, cost: Decimal, realized: Decimal, side: Side, qty: Decimal, price: Decimal
               ) -> tuple[Decimal, Decimal, Decimal]:
    """A position's (quantity, cost, realized P&L) after one fill. Closing quantity realizes P&L against
    its share of the cost; a fill through zero closes all and opens the rest at its price."""
    signed = qty if side is Side.BUY else -qty
    if quantity == 0 or (quantity > 0) == (signed > 0):
        return quantity + signed, _WIDE.add(cost, _WIDE.multiply(signed, price)), realized
    open_qty = abs(quantity)
    closed = min(open_qty, qty)
    share = closed_cost(cost, closed, open_qty)
    # Closing a long sells ``closed`` (cash in); closing a short buys it (cash out).
    proceeds = _WIDE.multiply(closed if quantity > 0 else -closed, price)
    realized = _WIDE.add(realized, _WIDE.subtract(proceeds, share))
    after = quantity + signed
    if after and (after > 0) != (quantity > 0):
        return after, _WIDE.multiply(after, price), realized  # the rest opens the other way
    return after, _WIDE.subtract(cost, share), realized  # exactly 0 cost when all of it closed


def position_record(account: str, symbol: str, quantity: Decimal, cost: Decimal, realized: Decimal,
                    now_ns: int) -> PositionRecord:
    """A position as the book records it (``avg_price`` for display: :func:`average_price`)."""
    return PositionRecord(account, symbol, quantity, average_price(quantity, cost), realized, now_ns, cost)
