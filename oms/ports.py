"""What the OMS needs of the parts beside it, as Protocols: it imports none of them.

``risk.PreTradeRisk`` is the risk gate; ``book.journal.JournaledSink`` the hand-off to the book.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol

from domain.model import BookRecord, Breach, ClientMessage, NewOrder, OrdType, PositionRecord, Side


class RiskGate(Protocol):
    """Pre-trade risk as the OMS sees it: the checks, and the one home of positions and working
    exposure, which the OMS tells of every order's change and every fill."""

    def check(self, order: NewOrder, venue: str = "") -> str | None:
        """``None`` when the order may go out to ``venue`` (the router's choice), else why not."""
        ...

    def halted(self, session: str, account: str, symbol: str) -> str | None:
        """Why nothing more may be placed for such an order now (a kill switch, HALTED), else ``None``."""
        ...

    def check_replace(self, order_id: int, session: str, account: str, symbol: str, side: Side,
                      ord_type: OrdType, quantity: Decimal, price: Decimal | None,
                      cum_qty: Decimal) -> str | None:
        """``None`` when the replace may go out, else why not."""
        ...

    def order_opened(self, order_id: int, order: NewOrder) -> None:
        """A checked order was routed: it works from now."""
        ...

    def order_changed(self, order_id: int, symbol: str, ord_type: OrdType, leaves: Decimal, price: Decimal | None,
                      replacing: tuple[Decimal, Decimal | None] | None) -> None:
        """The order's open quantity, price or pending replace changed (0 leaves: done)."""
        ...

    def fill(self, account: str, symbol: str, side: Side, qty: Decimal, price: Decimal, now_ns: int
             ) -> tuple[PositionRecord, tuple[Breach, ...]]:
        """A fill: the position after it, and the daily loss breaches it made."""
        ...

    def marks_changed(self, marks: Sequence[tuple[str, Decimal]]) -> tuple[Breach, ...]:
        """New marks from market data: the breaches they made."""
        ...

    def restore_order(self, order_id: int, account: str, symbol: str, side: Side) -> None:
        """A working order from the book at start."""
        ...

    def restore_position(self, p: PositionRecord) -> None:
        """A position from the book at start."""
        ...

    def positions(self, now_ns: int) -> list[PositionRecord]:
        """Every position held."""
        ...


class BookSink(Protocol):
    """Where the OMS hands what one call changed, under its lock, so rows change in the order they
    happened: the book records (with the daily loss breaches a fill or mark made) and the client
    messages the call owes, which the journal keeps so a restart can send one never sent."""

    def __call__(self, records: Sequence[BookRecord | Breach], owed: Sequence[ClientMessage] = ()) -> None: ...
