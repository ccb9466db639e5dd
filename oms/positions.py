"""Positions per account and symbol, derived from fills by the average-cost method."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from oms.model import PositionRecord, Side

PRICE_QUANTUM = Decimal("1e-8")  # average prices are kept to 8 decimal places, half-even
ZERO = Decimal(0)


@dataclass(slots=True)
class Position:
    """Net quantity (long > 0, short < 0), average cost of the open quantity, realized P&L."""

    account: str
    symbol: str
    quantity: Decimal = ZERO
    avg_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO

    def apply_fill(self, side: Side, qty: Decimal, price: Decimal) -> None:
        """Fold one fill in. Closing quantity realizes P&L against the average cost; the average
        cost changes only when the position grows; a fill through zero opens the rest at its price."""
        signed = qty if side is Side.BUY else -qty
        held = self.quantity
        if held == 0 or (held > 0) == (signed > 0):
            total = abs(held) + qty
            self.avg_price = ((abs(held) * self.avg_price + qty * price) / total).quantize(
                PRICE_QUANTUM, ROUND_HALF_EVEN
            )
            self.quantity = held + signed
            return
        closed = min(abs(held), qty)
        direction = 1 if held > 0 else -1
        self.realized_pnl += closed * (price - self.avg_price) * direction
        self.quantity = held + signed
        if self.quantity == 0:
            self.avg_price = ZERO
        elif (self.quantity > 0) != (held > 0):
            self.avg_price = price

    def record(self, now_ns: int) -> PositionRecord:
        return PositionRecord(
            account=self.account,
            symbol=self.symbol,
            quantity=self.quantity,
            avg_price=self.avg_price,
            realized_pnl=self.realized_pnl,
            updated_ns=now_ns,
        )
