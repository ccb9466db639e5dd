"""Unrealized and total P&L of positions against marks (average-cost method, see docs/ARCHITECTURE.md).

Pure functions on ``Decimal``: exact, no rounding (an average price has 8 decimal places, a mark and
a quantity a few, so their products are exact decimals).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)


def unrealized_pnl(quantity: Decimal, avg_price: Decimal, mark: Decimal | None) -> Decimal:
    """``quantity * (mark - avg_price)``; zero when the symbol has no mark yet."""
    if mark is None:
        return ZERO
    return quantity * (mark - avg_price)


@dataclass(slots=True)
class PnlSum:
    """Realized, unrealized and total P&L of a set of positions."""

    realized_pnl: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO

    @property
    def total_pnl(self) -> Decimal:
        return self.realized_pnl + self.unrealized_pnl

    def add(self, realized: Decimal, unrealized: Decimal) -> None:
        self.realized_pnl += realized
        self.unrealized_pnl += unrealized


@dataclass(slots=True)
class PnlReport:
    """P&L per account (by account name) and for the firm."""

    accounts: dict[str, PnlSum] = field(default_factory=dict)
    firm: PnlSum = field(default_factory=PnlSum)


def pnl_report(positions: Iterable[tuple[str, Decimal, Decimal, Decimal, Decimal | None]]) -> PnlReport:
    """Sum ``(account, quantity, avg_price, realized_pnl, mark)`` rows per account and for the firm."""
    report = PnlReport()
    for account, quantity, avg_price, realized, mark in positions:
        unrealized = unrealized_pnl(quantity, avg_price, mark)
        report.accounts.setdefault(account, PnlSum()).add(realized, unrealized)
        report.firm.add(realized, unrealized)
    report.accounts = dict(sorted(report.accounts.items()))
    return report
