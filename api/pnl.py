"""Unrealized and total P&L of positions against marks (average-cost method, see docs/ARCHITECTURE.md).

Pure functions on ``Decimal``, exact: unrealized P&L is quantity x mark - the position's exact open
cost (``domain.positions.unrealized_pnl``, the one formula risk uses too), never from a rounded average.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from domain.positions import unrealized_pnl

ZERO = Decimal(0)

__all__ = ["PnlReport", "PnlSum", "pnl_report", "unrealized_pnl"]


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
    """Sum ``(account, quantity, cost, realized_pnl, mark)`` rows per account and for the firm."""
    report = PnlReport()
    for account, quantity, cost, realized, mark in positions:
        unrealized = unrealized_pnl(quantity, cost, mark)
        report.accounts.setdefault(account, PnlSum()).add(realized, unrealized)
        report.firm.add(realized, unrealized)
    report.accounts = dict(sorted(report.accounts.items()))
    return report
