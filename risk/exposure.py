"""Risk's in-memory view of exposure: positions and working orders, summed per account and firm.

Kept current by the OMS on every order and fill (under the OMS lock), and rebuilt from the book at
start. Each update changes a few sums by a delta, so every read a check makes is O(1).

Valuation (stated in docs/ARCHITECTURE.md): a position is valued at its exact open cost (what its open
quantity was bought or sold for, ``domain.positions``), a working order at its limit price (a market order
at the reference price). Gross notional is sum(|cost|) + working buys + working sells; net notional is
sum(cost); the worst-case net is net + working buys (long side) or net - working sells (short side);
credit used is the cost of long positions plus working buys. An order with a replace pending counts
the larger of its old and new open quantity at the higher of their prices: until the venue answers,
the old order may fill at its price and then the new one work at its own, and this bound covers
every mix of the two and never grows with a fill.

The trading day is the UTC day: realized P&L of earlier days is set aside when a day starts
(``start_day``), which the first fill after UTC midnight does (``day_end_ns``: one int compare).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from domain.model import Side
from domain.positions import unrealized_pnl

ZERO = Decimal(0)
DAY_NS = 86_400 * 1_000_000_000  # a UTC day; POSIX time has no leap seconds, so days are all this long


@dataclass(slots=True)
class SymbolExposure:
    """One account's position and working orders in one symbol."""

    position: Decimal = ZERO
    cost: Decimal = ZERO  # the position's exact open cost, signed like it
    open_buy_qty: Decimal = ZERO
    open_sell_qty: Decimal = ZERO
    realized: Decimal = ZERO


@dataclass(slots=True)
class Totals:
    """Sums over the symbols of one account, or of the firm."""

    position_gross: Decimal = ZERO  # sum |cost|
    position_net: Decimal = ZERO  # sum cost
    long_cost: Decimal = ZERO  # sum of the cost of long positions
    open_buy_notional: Decimal = ZERO
    open_sell_notional: Decimal = ZERO
    realized: Decimal = ZERO
    day_start_realized: Decimal = ZERO

    @property
    def gross(self) -> Decimal:
        return self.position_gross + self.open_buy_notional + self.open_sell_notional

    @property
    def credit_used(self) -> Decimal:
        return self.long_cost + self.open_buy_notional

    def add_position(self, sign: int, position: Decimal, cost: Decimal) -> None:
        self.position_gross += sign * abs(cost)
        self.position_net += sign * cost
        if position > 0:
            self.long_cost += sign * cost


@dataclass(slots=True)
class WorkingOrder:
    account: str
    symbol: str
    side: Side
    leaves: Decimal  # the open quantity counted (with a replace pending: the larger of old and new)
    price: Decimal  # what a unit is valued at: the limit price, or the reference price (pending: the higher)


@dataclass(slots=True)
class RiskView:
    """Positions, working orders and their sums; marks for unrealized P&L."""

    symbols: dict[tuple[str, str], SymbolExposure] = field(default_factory=dict)
    accounts: dict[str, Totals] = field(default_factory=dict)
    firm: Totals = field(default_factory=Totals)
    working: dict[int, WorkingOrder] = field(default_factory=dict)
    account_symbols: dict[str, set[str]] = field(default_factory=dict)
    symbol_totals: dict[str, list[Decimal]] = field(default_factory=dict)  # symbol -> [qty, open cost]
    marks: dict[str, Decimal] = field(default_factory=dict)
    # symbol -> accounts with a position in it: a mark that moves re-checks the daily loss of these
    # only (``PreTradeRisk.marks_changed``), not of every account.
    holders: dict[str, set[str]] = field(default_factory=dict)
    day_start_ns: int = 0  # the current UTC trading day, [start, end) in epoch nanoseconds
    day_end_ns: int = 0  # 0 until the first ``start_day``: the first fill then starts one

    def exposure(self, account: str, symbol: str) -> SymbolExposure:
        key = (account, symbol)
        found = self.symbols.get(key)
        if found is None:
            found = self.symbols[key] = SymbolExposure()
            self.account_symbols.setdefault(account, set()).add(symbol)
        return found

    def totals(self, account: str) -> Totals:
        found = self.accounts.get(account)
        if found is None:
            found = self.accounts[account] = Totals()
        return found

    # -- WORKING ORDERS ------------------------------------------------------------------------------

    def open_order(self, order_id: int, account: str, symbol: str, side: Side, leaves: Decimal,
                   price: Decimal) -> None:
        """An order is working at its venue (or on its way there)."""
        self.working[order_id] = WorkingOrder(account, symbol, side, ZERO, price)
        if leaves > 0:  # registered even at 0 (the OMS's restore sets the quantity right after)
            self.set_working(order_id, leaves, price)

    def set_working(self, order_id: int, leaves: Decimal, price: Decimal) -> None:
        """The order's open quantity or price changed (a fill, a replace asked for or answered);
        0 leaves closes it."""
        order = self.working.get(order_id)
        if order is None:
            return
        exposure = self.exposure(order.account, order.symbol)
        totals = self.totals(order.account)
        delta_qty = leaves - order.leaves
        delta_notional = leaves * price - order.leaves * order.price
        if order.side is Side.BUY:
            exposure.open_buy_qty += delta_qty
            totals.open_buy_notional += delta_notional
            self.firm.open_buy_notional += delta_notional
        else:
            exposure.open_sell_qty += delta_qty
            totals.open_sell_notional += delta_notional
            self.firm.open_sell_notional += delta_notional
        order.leaves = leaves
        order.price = price
        if leaves <= 0:
            del self.working[order_id]

    def close_order(self, order_id: int) -> None:
        """The order is done (filled, canceled, rejected, expired): nothing of it works any more."""
        order = self.working.get(order_id)
        if order is not None:
            self.set_working(order_id, ZERO, order.price)

    # -- POSITIONS -----------------------------------------------------------------------------------

    def set_position(self, account: str, symbol: str, quantity: Decimal, cost: Decimal,
                     realized: Decimal) -> None:
        """The account's position in ``symbol`` is now this (the OMS computed it from the fills);
        ``cost`` is its exact open cost (``domain.positions.after_fill``)."""
        exposure = self.exposure(account, symbol)
        totals = self.totals(account)
        realized_delta = realized - exposure.realized
        for sums in (totals, self.firm):
            sums.add_position(-1, exposure.position, exposure.cost)
            sums.add_position(1, quantity, cost)
            sums.realized += realized_delta
        per_symbol = self.symbol_totals.setdefault(symbol, [ZERO, ZERO])
        per_symbol[0] += quantity - exposure.position
        per_symbol[1] += cost - exposure.cost
        if quantity:
            self.holders.setdefault(symbol, set()).add(account)
        else:
            holders = self.holders.get(symbol)
            if holders is not None:
                holders.discard(account)
        exposure.position = quantity
        exposure.cost = cost
        exposure.realized = realized

    def restore_position(self, account: str, symbol: str, quantity: Decimal, cost: Decimal,
                         realized: Decimal, updated_ns: int) -> None:
        """A position from the book at start. The row holds realized P&L as a lifetime total: a row
        last written before today began holds none of today's, so all of it is set aside as earlier
        days'. A row written today cannot be split (the book keeps no day-start snapshot): all of
        its realized P&L counts as today's, so a restart on a day that position traded overstates
        today's loss by what it lost on earlier days (or understates it by what it made)."""
        self.set_position(account, symbol, quantity, cost, realized)
        if updated_ns < self.day_start_ns:
            for sums in (self.totals(account), self.firm):
                sums.day_start_realized += realized

    def set_mark(self, symbol: str, price: Decimal) -> None:
        self.marks[symbol] = price

    # -- P&L -----------------------------------------------------------------------------------------

    def unrealized(self, account: str) -> Decimal:
        """Sum over the account's symbols of position x mark - cost; a symbol with no mark adds 0."""
        total = ZERO
        # Copies and lookups that tolerate absence: ``GET /risk/status`` reads this while fills change it.
        for symbol in tuple(self.account_symbols.get(account, ())):
            mark = self.marks.get(symbol)
            exposure = self.symbols.get((account, symbol))
            if mark is not None and exposure is not None:
                total += unrealized_pnl(exposure.position, exposure.cost, mark)
        return total

    def firm_unrealized(self) -> Decimal:
        """The same over every account, from per-symbol sums: O(symbols), not O(accounts)."""
        total = ZERO
        for symbol, (quantity, cost) in list(self.symbol_totals.items()):
            total += unrealized_pnl(quantity, cost, self.marks.get(symbol))
        return total

    def daily_pnl(self, account: str | None, *, day_ended: bool = False) -> Decimal:
        """Realized since the day began plus unrealized now; ``None`` for the firm. ``day_ended``: the
        view's day is over and no fill has started the next one, so nothing is realized today yet."""
        totals = self.firm if account is None else self.accounts.get(account)
        unrealized = self.firm_unrealized() if account is None else self.unrealized(account)
        if totals is None or day_ended:
            return unrealized
        return totals.realized - totals.day_start_realized + unrealized

    def roll_day(self, now_ns: int) -> None:
        """Start the UTC day holding ``now_ns`` if the view's day has ended (one compare)."""
        if now_ns >= self.day_end_ns:
            self.start_day(now_ns)

    def start_day(self, now_ns: int) -> None:
        """The UTC day holding ``now_ns`` begins: realized P&L so far belongs to earlier days (the
        day-start snapshot per account and for the firm). O(accounts), once a day."""
        self.day_start_ns = now_ns - now_ns % DAY_NS
        self.day_end_ns = self.day_start_ns + DAY_NS
        for totals in (*self.accounts.values(), self.firm):
            totals.day_start_realized = totals.realized
