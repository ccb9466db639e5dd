"""Price-time-priority limit order books of the venue simulator.

Pure domain: nothing here knows FIX. The venue (``simulator.venue``) turns FIX messages into the
requests below and the events returned back into ExecutionReports. The engine is not thread-safe; its
owner serialises calls.

Rules the engine implements:

- Limit and market orders; TimeInForce DAY, GTC, IOC (remainder cancelled), FOK (all or nothing).
- A market order takes what liquidity there is and its remainder is cancelled: it never rests.
- Prices must be positive multiples of the instrument's tick size, quantities positive multiples of
  its lot size; otherwise the order is rejected with a reason that names the values.
- Trades print at the resting order's price; the incoming order is the aggressor.
- Replace keeps queue priority only when the price is unchanged and the quantity goes down; any
  other replace (an unchanged quantity too, e.g. one that only changes TimeInForce) moves the order
  to the back of the queue at its (new) price, where it may trade at once. A replace to a quantity at or below the filled quantity is rejected.
- DAY orders are treated like GTC until ``expire_day_orders`` is called (the simulator has no
  trading day of its own). That end of day also tells every live GTC order DoneForDay (OrdStatus 3):
  it stays on the book, and the next day (which begins at once) it trades, is cancelled or replaced
  as any working order; a replace makes it working again by its fills.
- Every order gets a venue OrderID and every report an ExecID, both prefixed with the engine's
  ``id_prefix`` (the venue passes its name and start time, so ids stay unique across restarts).
- Every order and every fill is kept in memory and can be read back (``orders()``, ``fills()``).
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from simulator.config import SimInstrument

__all__ = [
    "SEED_OWNER",
    "CancelRejectReason",
    "CancelRejected",
    "CancelRequest",
    "ExecutionEvent",
    "Fill",
    "MatchingEngine",
    "NewOrderRequest",
    "OrdType",
    "OrderAccepted",
    "OrderCanceled",
    "OrderDoneForDay",
    "OrderExpired",
    "OrderFilled",
    "OrderRejected",
    "OrderReplaced",
    "OrderStatus",
    "OrderView",
    "ReplaceRequest",
    "RequestKind",
    "Side",
    "TimeInForce",
]

SEED_OWNER = "SIM-LIQUIDITY"
"""Owner of the liquidity the venue seeds at start; it has no FIX session, so no reports go to it."""

_ZERO = Decimal(0)


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrdType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"


class TimeInForce(StrEnum):
    DAY = "DAY"
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderStatus(StrEnum):
    """FIX OrdStatus by name, restricted to the states the simulator's orders can be in."""

    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    # A GTC order at the end of a day: no more executions that day, but it rests on and works the
    # next day, so it is not terminal (FIX OrdStatus 3).
    DONE_FOR_DAY = "DONE_FOR_DAY"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED})


class CancelRejectReason(StrEnum):
    """Why a cancel or replace request was refused (FIX CxlRejReason, by name)."""

    TOO_LATE = "TOO_LATE"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    DUPLICATE_CL_ORD_ID = "DUPLICATE_CL_ORD_ID"
    OTHER = "OTHER"


class RequestKind(StrEnum):
    """Which request a cancel reject answers (FIX CxlRejResponseTo)."""

    CANCEL = "CANCEL"
    REPLACE = "REPLACE"


# -- REQUESTS -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewOrderRequest:
    """An order a participant sends; ``owner`` is who gets its reports (the venue uses the session)."""

    owner: str
    cl_ord_id: str
    symbol: str
    side: Side
    quantity: Decimal
    ord_type: OrdType = OrdType.LIMIT
    price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.DAY


@dataclass(frozen=True, slots=True)
class CancelRequest:
    """Cancel the owner's order known by ``orig_cl_ord_id`` (or, failing that, by venue ``order_id``)."""

    owner: str
    cl_ord_id: str
    orig_cl_ord_id: str
    order_id: str | None = None
    symbol: str | None = None
    side: Side | None = None


@dataclass(frozen=True, slots=True)
class ReplaceRequest:
    """Change quantity, price (or DAY/GTC) of the owner's live order; ``cl_ord_id`` becomes its id."""

    owner: str
    cl_ord_id: str
    orig_cl_ord_id: str
    quantity: Decimal
    price: Decimal | None
    order_id: str | None = None
    symbol: str | None = None
    side: Side | None = None
    ord_type: OrdType = OrdType.LIMIT
    time_in_force: TimeInForce | None = None


# -- RECORDS AND EVENTS -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order's state at one moment: what its reports carry and what the record shows.

    ``cl_ord_ids`` is every ClOrdID the order has carried (new, replaces, cancel), oldest first.
    ``ord_type``/``time_in_force`` are ``None`` only for an order rejected because the venue did not
    understand them. ``leaves_qty`` is 0 once the order is done; ``avg_px`` is 0 before any fill.
    """

    order_id: str
    owner: str
    cl_ord_id: str
    orig_cl_ord_id: str | None
    cl_ord_ids: tuple[str, ...]
    symbol: str
    side: Side
    ord_type: OrdType | None
    price: Decimal | None
    quantity: Decimal
    time_in_force: TimeInForce | None
    status: OrderStatus
    cum_qty: Decimal
    leaves_qty: Decimal
    avg_px: Decimal
    text: str | None
    created_ns: int
    updated_ns: int


@dataclass(frozen=True, slots=True)
class Fill:
    """One side of one trade. Each trade makes two fills sharing ``match_id``, each with its ExecID."""

    exec_id: str
    match_id: str
    order_id: str
    owner: str
    cl_ord_id: str
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    aggressor: bool
    counterparty_order_id: str
    ts_ns: int


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    exec_id: str
    order: OrderView


@dataclass(frozen=True, slots=True)
class OrderRejected:
    exec_id: str
    order: OrderView
    reason: str


@dataclass(frozen=True, slots=True)
class OrderFilled:
    exec_id: str
    order: OrderView
    fill: Fill


@dataclass(frozen=True, slots=True)
class OrderCanceled:
    """Cancelled on request (``order.cl_ord_id`` is the request's) or by the venue (IOC/FOK/market)."""

    exec_id: str
    order: OrderView
    reason: str


@dataclass(frozen=True, slots=True)
class OrderReplaced:
    exec_id: str
    order: OrderView


@dataclass(frozen=True, slots=True)
class OrderExpired:
    exec_id: str
    order: OrderView


@dataclass(frozen=True, slots=True)
class OrderDoneForDay:
    """A GTC order told at the end of the day that it is done for the day; it stays on the book."""

    exec_id: str
    order: OrderView


@dataclass(frozen=True, slots=True)
class CancelRejected:
    """A cancel or replace the engine refused; the order (if it exists) is unchanged."""

    owner: str
    cl_ord_id: str
    orig_cl_ord_id: str
    response_to: RequestKind
    reason_code: CancelRejectReason
    reason: str
    order_id: str | None
    status: OrderStatus | None


ExecutionEvent = (
    OrderAccepted
    | OrderRejected
    | OrderFilled
    | OrderCanceled
    | OrderReplaced
    | OrderExpired
    | OrderDoneForDay
    | CancelRejected
)


def event_owner(event: ExecutionEvent) -> str:
    """Whose session an event is reported to."""
    return event.owner if isinstance(event, CancelRejected) else event.order.owner


# -- ORDERS AND BOOKS ---------------------------------------------------------------------------------


@dataclass(slots=True, eq=False)  # identity equality: the book removes orders by identity
class _Order:
    order_id: str
    owner: str
    cl_ord_id: str
    orig_cl_ord_id: str | None
    symbol: str
    side: Side
    ord_type: OrdType | None
    price: Decimal | None
    quantity: Decimal
    time_in_force: TimeInForce | None
    status: OrderStatus
    created_ns: int
    updated_ns: int
    cum_qty: Decimal = _ZERO
    notional: Decimal = _ZERO
    text: str | None = None
    history: list[str] = field(default_factory=list)  # earlier ClOrdIDs, oldest first

    def rename(self, cl_ord_id: str) -> None:
        """Take the ClOrdID of a cancel or replace; the old one becomes OrigClOrdID."""
        self.history.append(self.cl_ord_id)
        self.orig_cl_ord_id = self.cl_ord_id
        self.cl_ord_id = cl_ord_id

    @property
    def leaves_qty(self) -> Decimal:
        return _ZERO if self.status.is_terminal else self.quantity - self.cum_qty


class _BookSide:
    """One side of one book: price levels, each a FIFO queue of resting orders."""

    def __init__(self, side: Side) -> None:
        self.side = side
        self._levels: dict[Decimal, deque[_Order]] = {}
        self._prices: list[Decimal] = []  # ascending; best bid is last, best ask first

    def add(self, order: _Order) -> None:
        assert order.price is not None
        queue = self._levels.get(order.price)
        if queue is None:
            queue = self._levels[order.price] = deque()
            bisect.insort(self._prices, order.price)
        queue.append(order)

    def remove(self, order: _Order) -> None:
        assert order.price is not None
        queue = self._levels[order.price]
        queue.remove(order)
        if not queue:
            self._drop_level(order.price)

    def _drop_level(self, price: Decimal) -> None:
        del self._levels[price]
        del self._prices[bisect.bisect_left(self._prices, price)]

    def prices_best_first(self) -> Iterator[Decimal]:
        return reversed(self._prices) if self.side is Side.BUY else iter(self._prices)

    def best(self) -> _Order | None:
        """The order first in priority on this side, or None when the side is empty."""
        if not self._prices:
            return None
        price = self._prices[-1] if self.side is Side.BUY else self._prices[0]
        return self._levels[price][0]

    def pop_best(self) -> None:
        order = self.best()
        assert order is not None and order.price is not None
        queue = self._levels[order.price]
        queue.popleft()
        if not queue:
            self._drop_level(order.price)

    def level(self, price: Decimal) -> deque[_Order]:
        return self._levels[price]

    def depth(self, limit: int | None = None) -> list[tuple[Decimal, Decimal]]:
        """(price, total leaves) of the best ``limit`` levels (all when None): a level's total is
        summed over its orders, so market data asks for no more levels than it publishes."""
        prices = itertools.islice(self.prices_best_first(), limit)
        return [(p, sum((o.leaves_qty for o in self._levels[p]), _ZERO)) for p in prices]


class _Book:
    def __init__(self, instrument: SimInstrument) -> None:
        self.instrument = instrument
        self.bids = _BookSide(Side.BUY)
        self.asks = _BookSide(Side.SELL)

    def same_side(self, side: Side) -> _BookSide:
        return self.bids if side is Side.BUY else self.asks

    def opposite(self, side: Side) -> _BookSide:
        return self.asks if side is Side.BUY else self.bids


def _crosses(order: _Order, resting_price: Decimal) -> bool:
    if order.ord_type is OrdType.MARKET:
        return True
    assert order.price is not None
    return resting_price <= order.price if order.side is Side.BUY else resting_price >= order.price


# -- ENGINE -------------------------------------------------------------------------------------------


class MatchingEngine:
    """The order books of one venue, one per instrument, and the record of everything they did.

    Every command returns the events it caused, in the order they happened; the caller reports them.
    """

    def __init__(
        self,
        instruments: Iterable[SimInstrument],
        *,
        id_prefix: str,
        exec_id_prefix: str | None = None,
        clock: Callable[[], int] = time.time_ns,
        avg_px_places: int = 8,
    ) -> None:
        self._books: dict[str, _Book] = {i.symbol: _Book(i) for i in instruments}
        self._prefix = id_prefix
        # ExecIDs may have a prefix of their own: a venue that numbers them from 1 in each process
        # (``VenueDialect.restart_exec_ids``) gives them one without its start time.
        self._exec_prefix = id_prefix if exec_id_prefix is None else exec_id_prefix
        self._clock = clock
        self._avg_px_quantum = Decimal(1).scaleb(-avg_px_places)
        self._order_seq = itertools.count(1)
        self._exec_seq = itertools.count(1)
        self._match_seq = itertools.count(1)
        self._orders: list[_Order] = []
        self._by_order_id: dict[str, _Order] = {}
        # Every ClOrdID an owner has used (new, cancel, replace) -> the order it names; FIX requires
        # ClOrdIDs unique per session, and a cancel may name any id of the order's chain.
        self._by_cl_ord_id: dict[tuple[str, str], _Order] = {}
        self._fills: list[Fill] = []

    # -- IDS ------------------------------------------------------------------------------------------

    def next_exec_id(self) -> str:
        """A fresh ExecID (also used by the venue for status reports, which change nothing)."""
        return f"{self._exec_prefix}-E{next(self._exec_seq)}"

    def renumber_exec_ids(self) -> None:
        """Number ExecIDs from 1 again (a venue restarted that does not keep its ExecID counter)."""
        self._exec_seq = itertools.count(1)

    def _next_order_id(self) -> str:
        return f"{self._prefix}-O{next(self._order_seq)}"

    # -- COMMANDS -------------------------------------------------------------------------------------

    def seed_liquidity(self, owner: str, levels: int, level_qty: Decimal) -> list[ExecutionEvent]:
        """Rest ``levels`` GTC orders of ``level_qty`` per side of every book, one tick apart.

        The first ask is at reference + 1 tick and the first bid at reference - 1 tick; bids that
        would not be positive are skipped.
        """
        events: list[ExecutionEvent] = []
        for symbol, book in self._books.items():
            tick = book.instrument.tick_size
            ref = book.instrument.reference_price
            for i in range(1, levels + 1):
                for side, price in ((Side.SELL, ref + i * tick), (Side.BUY, ref - i * tick)):
                    if price <= 0:
                        continue
                    request = NewOrderRequest(
                        owner=owner,
                        cl_ord_id=f"SEED-{symbol}-{side.value[0]}{i}",
                        symbol=symbol,
                        side=side,
                        quantity=level_qty,
                        ord_type=OrdType.LIMIT,
                        price=price,
                        time_in_force=TimeInForce.GTC,
                    )
                    events.extend(self.submit(request))
        return events

    def shift_quotes(self, symbol: str, owners: Iterable[str], ticks: int) -> None:
        """Move every resting order of ``owners`` (the venue's own liquidity) in ``symbol``'s book by
        ``ticks`` ticks, both sides alike: the venue's quotes follow a price that moved. An order that
        would then cross another owner's resting order, or go to a price of zero or less, stays where it
        was. Moved orders go to the back of their new level. Nothing is reported: no client's order
        changes, only the book (which market data then shows)."""
        book = self._books[symbol]
        owned = set(owners)
        step = ticks * book.instrument.tick_size
        moved: list[tuple[_BookSide, _Order]] = []
        for side in (book.bids, book.asks):
            for price in list(side.prices_best_first()):
                for order in list(side.level(price)):
                    if order.owner in owned:
                        side.remove(order)
                        moved.append((side, order))
        for side, order in moved:
            assert order.price is not None
            price = order.price + step
            best = book.opposite(order.side).best()
            crosses = best is not None and best.price is not None and (
                price >= best.price if order.side is Side.BUY else price <= best.price)
            if price > 0 and not crosses:
                order.price = price
            side.add(order)

    def submit(self, request: NewOrderRequest) -> list[ExecutionEvent]:
        """Accept (or reject) a new order, match it, and rest or cancel what is left."""
        now = self._clock()
        order = _Order(
            order_id=self._next_order_id(),
            owner=request.owner,
            cl_ord_id=request.cl_ord_id,
            orig_cl_ord_id=None,
            symbol=request.symbol,
            side=request.side,
            ord_type=request.ord_type,
            price=request.price if request.ord_type is OrdType.LIMIT else None,
            quantity=request.quantity,
            time_in_force=request.time_in_force,
            status=OrderStatus.NEW,
            created_ns=now,
            updated_ns=now,
        )
        reason = self._validate_new(request)
        if reason is not None:
            return [self._reject(order, reason)]
        self._remember(order)
        events: list[ExecutionEvent] = [OrderAccepted(self.next_exec_id(), self._view(order))]
        book = self._books[order.symbol]

        if order.time_in_force is TimeInForce.FOK and self._available(book, order) < order.quantity:
            events.append(self._cancel_by_venue(order, "FOK order cannot be filled in full", now))
            return events

        self._match(book, order, events)
        if order.status.is_terminal:
            return events
        if order.ord_type is OrdType.MARKET:
            reason = "market order remainder canceled: no more liquidity"
            events.append(self._cancel_by_venue(order, reason, self._clock()))
        elif order.time_in_force is TimeInForce.IOC:
            events.append(self._cancel_by_venue(order, "IOC remainder canceled", self._clock()))
        else:
            book.same_side(order.side).add(order)
        return events

    def reject_new(
        self,
        *,
        owner: str,
        cl_ord_id: str,
        symbol: str,
        side: Side,
        quantity: Decimal,
        reason: str,
        price: Decimal | None = None,
        ord_type: OrdType | None = None,
        time_in_force: TimeInForce | None = None,
    ) -> list[ExecutionEvent]:
        """Record and reject an order the caller could not turn into a ``NewOrderRequest``.

        For example an OrdType or TimeInForce the venue does not support, or a missing quantity.
        """
        now = self._clock()
        order = _Order(
            order_id=self._next_order_id(),
            owner=owner,
            cl_ord_id=cl_ord_id,
            orig_cl_ord_id=None,
            symbol=symbol,
            side=side,
            ord_type=ord_type,
            price=price,
            quantity=quantity,
            time_in_force=time_in_force,
            status=OrderStatus.NEW,
            created_ns=now,
            updated_ns=now,
        )
        if (owner, cl_ord_id) in self._by_cl_ord_id:
            reason = f"duplicate ClOrdID {cl_ord_id}; {reason}"
        return [self._reject(order, reason)]

    def cancel(self, request: CancelRequest) -> list[ExecutionEvent]:
        """Cancel a live order, or refuse with a ``CancelRejected`` that says why."""
        order, refusal = self._find_for_amend(request.owner, request.orig_cl_ord_id, request.order_id)
        if order is None or refusal is not None:
            code = CancelRejectReason.UNKNOWN_ORDER if order is None else CancelRejectReason.TOO_LATE
            return [self._cancel_reject(request, RequestKind.CANCEL, code, refusal or "", order)]
        if (request.owner, request.cl_ord_id) in self._by_cl_ord_id:
            return [
                self._cancel_reject(
                    request,
                    RequestKind.CANCEL,
                    CancelRejectReason.DUPLICATE_CL_ORD_ID,
                    f"duplicate ClOrdID {request.cl_ord_id}",
                    order,
                )
            ]
        mismatch = _identity_mismatch(order, request.symbol, request.side)
        if mismatch is not None:
            return [
                self._cancel_reject(request, RequestKind.CANCEL, CancelRejectReason.OTHER, mismatch, order)
            ]

        self._books[order.symbol].same_side(order.side).remove(order)
        order.rename(request.cl_ord_id)
        self._by_cl_ord_id[(order.owner, order.cl_ord_id)] = order
        order.status = OrderStatus.CANCELED
        order.updated_ns = self._clock()
        order.text = "canceled on request"
        return [OrderCanceled(self.next_exec_id(), self._view(order), order.text)]

    def replace(self, request: ReplaceRequest) -> list[ExecutionEvent]:
        """Change a live order's quantity/price; it may trade at once if its new price crosses."""
        order, refusal = self._find_for_amend(request.owner, request.orig_cl_ord_id, request.order_id)
        if order is None or refusal is not None:
            code = CancelRejectReason.UNKNOWN_ORDER if order is None else CancelRejectReason.TOO_LATE
            return [self._cancel_reject(request, RequestKind.REPLACE, code, refusal or "", order)]
        if (request.owner, request.cl_ord_id) in self._by_cl_ord_id:
            return [
                self._cancel_reject(
                    request,
                    RequestKind.REPLACE,
                    CancelRejectReason.DUPLICATE_CL_ORD_ID,
                    f"duplicate ClOrdID {request.cl_ord_id}",
                    order,
                )
            ]
        reason = self._validate_replace(order, request)
        if reason is not None:
            return [
                self._cancel_reject(request, RequestKind.REPLACE, CancelRejectReason.OTHER, reason, order)
            ]

        book = self._books[order.symbol]
        # Only a pure size reduction at the same price keeps the order's place in the queue: the
        # venue rule this simulator follows. Anything else, an unchanged quantity included, is a new
        # time stamp at the back of the queue.
        keeps_priority = request.price == order.price and request.quantity < order.quantity
        if not keeps_priority:
            book.same_side(order.side).remove(order)
        order.rename(request.cl_ord_id)
        self._by_cl_ord_id[(order.owner, order.cl_ord_id)] = order
        order.quantity = request.quantity
        order.price = request.price
        if order.status is OrderStatus.DONE_FOR_DAY:
            # A replace the venue takes is an order working in the session now: it is what its fills
            # say, not done for the day any more.
            order.status = OrderStatus.PARTIALLY_FILLED if order.cum_qty > 0 else OrderStatus.NEW
        if request.time_in_force is not None:
            order.time_in_force = request.time_in_force
        order.updated_ns = self._clock()
        order.text = None
        events: list[ExecutionEvent] = [OrderReplaced(self.next_exec_id(), self._view(order))]
        if not keeps_priority:
            self._match(book, order, events)
            if not order.status.is_terminal:
                book.same_side(order.side).add(order)
        return events

    def expire_day_orders(self) -> list[ExecutionEvent]:
        """End the trading day: every live DAY order expires (and leaves the book); every live GTC
        order is done for the day (``OrderDoneForDay``) and keeps its place in the book, for the next
        day. One already done for an earlier day is told again: each end of day is reported."""
        events: list[ExecutionEvent] = []
        now = self._clock()
        for order in self._orders:
            if order.status.is_terminal:
                continue
            if order.time_in_force is TimeInForce.DAY:
                self._books[order.symbol].same_side(order.side).remove(order)
                order.status = OrderStatus.EXPIRED
                order.updated_ns = now
                order.text = "DAY order expired at end of day"
                events.append(OrderExpired(self.next_exec_id(), self._view(order)))
            elif order.time_in_force is TimeInForce.GTC:
                order.status = OrderStatus.DONE_FOR_DAY
                order.updated_ns = now
                order.text = "GTC order done for the day; it stays on the book"
                events.append(OrderDoneForDay(self.next_exec_id(), self._view(order)))
        return events

    def forget_done(self, owners: Iterable[str]) -> int:
        """Drop finished orders of ``owners`` (and their fills) from memory; returns how many orders.

        For the venue's own background traders, whose churn would otherwise grow without bound.
        """
        owners = frozenset(owners)
        done = [o for o in self._orders if o.owner in owners and o.status.is_terminal]
        if not done:
            return 0
        gone = {id(o) for o in done}
        self._orders = [o for o in self._orders if id(o) not in gone]
        for order in done:
            if self._by_order_id.get(order.order_id) is order:
                del self._by_order_id[order.order_id]
            for cl_ord_id in (*order.history, order.cl_ord_id):
                if self._by_cl_ord_id.get((order.owner, cl_ord_id)) is order:
                    del self._by_cl_ord_id[(order.owner, cl_ord_id)]
        gone_ids = {o.order_id for o in done}
        self._fills = [f for f in self._fills if f.order_id not in gone_ids]
        return len(done)

    # -- QUERIES --------------------------------------------------------------------------------------

    def find(self, owner: str, cl_ord_id: str | None = None, order_id: str | None = None) -> OrderView | None:
        """The owner's order named by ``cl_ord_id`` (any id of its chain) or by venue ``order_id``."""
        order = self._lookup(owner, cl_ord_id, order_id)
        return None if order is None else self._view(order)

    def orders(self) -> list[OrderView]:
        """Every order the engine has seen, rejected ones included, in arrival order."""
        return [self._view(order) for order in self._orders]

    def fills(self) -> list[Fill]:
        """Every fill, both sides of every trade, in the order they happened."""
        return list(self._fills)

    def depth(
        self, symbol: str, limit: int | None = None
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """(bids, asks) as (price, total leaves quantity) per level, best first; the best ``limit``
        levels of each side, or all."""
        book = self._books[symbol]
        return book.bids.depth(limit), book.asks.depth(limit)

    @property
    def symbols(self) -> list[str]:
        return list(self._books)

    # -- INTERNALS ------------------------------------------------------------------------------------

    def _validate_new(self, request: NewOrderRequest) -> str | None:
        if (request.owner, request.cl_ord_id) in self._by_cl_ord_id:
            return f"duplicate ClOrdID {request.cl_ord_id}"
        book = self._books.get(request.symbol)
        if book is None:
            return f"unknown symbol {request.symbol}"
        reason = _check_quantity(request.quantity, book.instrument)
        if reason is not None:
            return reason
        if request.ord_type is OrdType.LIMIT:
            return _check_price(request.price, book.instrument)
        return None

    def _validate_replace(self, order: _Order, request: ReplaceRequest) -> str | None:
        mismatch = _identity_mismatch(order, request.symbol, request.side)
        if mismatch is not None:
            return mismatch
        if order.ord_type is not OrdType.LIMIT or request.ord_type is not OrdType.LIMIT:
            return "only limit orders can be replaced, and only by limit orders"
        if request.time_in_force not in (None, TimeInForce.DAY, TimeInForce.GTC):
            return f"cannot replace a resting order to TimeInForce {request.time_in_force}"
        instrument = self._books[order.symbol].instrument
        reason = _check_quantity(request.quantity, instrument) or _check_price(request.price, instrument)
        if reason is not None:
            return reason
        if request.quantity <= order.cum_qty:
            return f"new order qty {request.quantity} <= filled qty {order.cum_qty}"
        return None

    def _lookup(self, owner: str, cl_ord_id: str | None, order_id: str | None) -> _Order | None:
        order = self._by_cl_ord_id.get((owner, cl_ord_id)) if cl_ord_id is not None else None
        if order is None and order_id is not None:
            candidate = self._by_order_id.get(order_id)
            # Only the owner may see or touch its orders.
            if candidate is not None and candidate.owner == owner:
                order = candidate
        return order

    def _find_for_amend(
        self, owner: str, orig_cl_ord_id: str, order_id: str | None
    ) -> tuple[_Order | None, str | None]:
        order = self._lookup(owner, orig_cl_ord_id, order_id)
        if order is None:
            return None, f"unknown order {orig_cl_ord_id}"
        if order.status.is_terminal:
            return order, f"order {orig_cl_ord_id} is already {order.status.value.lower()}"
        return order, None

    def _remember(self, order: _Order) -> None:
        self._orders.append(order)
        self._by_order_id[order.order_id] = order
        self._by_cl_ord_id[(order.owner, order.cl_ord_id)] = order

    def _reject(self, order: _Order, reason: str) -> OrderRejected:
        order.status = OrderStatus.REJECTED
        order.text = reason
        self._orders.append(order)
        self._by_order_id[order.order_id] = order
        # A rejected order's ClOrdID is taken too (unless it was a duplicate: keep the original).
        self._by_cl_ord_id.setdefault((order.owner, order.cl_ord_id), order)
        return OrderRejected(self.next_exec_id(), self._view(order), reason)

    def _cancel_by_venue(self, order: _Order, reason: str, now: int) -> OrderCanceled:
        order.status = OrderStatus.CANCELED
        order.text = reason
        order.updated_ns = now
        return OrderCanceled(self.next_exec_id(), self._view(order), reason)

    def _cancel_reject(
        self,
        request: CancelRequest | ReplaceRequest,
        kind: RequestKind,
        code: CancelRejectReason,
        reason: str,
        order: _Order | None,
    ) -> CancelRejected:
        return CancelRejected(
            owner=request.owner,
            cl_ord_id=request.cl_ord_id,
            orig_cl_ord_id=request.orig_cl_ord_id,
            response_to=kind,
            reason_code=code,
            reason=reason,
            order_id=None if order is None else order.order_id,
            status=None if order is None else order.status,
        )

    def _available(self, book: _Book, order: _Order) -> Decimal:
        """Quantity the order could take right now, counting only as far as it needs."""
        side = book.opposite(order.side)
        total = _ZERO
        for price in side.prices_best_first():
            if not _crosses(order, price):
                break
            total += sum((o.leaves_qty for o in side.level(price)), _ZERO)
            if total >= order.quantity:
                break
        return total

    def _match(self, book: _Book, aggressor: _Order, events: list[ExecutionEvent]) -> None:
        opposite = book.opposite(aggressor.side)
        while aggressor.leaves_qty > 0:
            resting = opposite.best()
            if resting is None:
                return
            assert resting.price is not None
            if not _crosses(aggressor, resting.price):
                return
            quantity = min(aggressor.leaves_qty, resting.leaves_qty)
            price = resting.price
            now = self._clock()
            match_id = f"{self._prefix}-M{next(self._match_seq)}"
            events.append(self._execute(aggressor, resting, price, quantity, match_id, now, aggressor=True))
            events.append(self._execute(resting, aggressor, price, quantity, match_id, now, aggressor=False))
            if resting.status is OrderStatus.FILLED:
                opposite.pop_best()

    def _execute(
        self,
        order: _Order,
        counterparty: _Order,
        price: Decimal,
        quantity: Decimal,
        match_id: str,
        now: int,
        *,
        aggressor: bool,
    ) -> OrderFilled:
        if order.status is OrderStatus.DONE_FOR_DAY:
            order.text = None  # a new day's trade: the end-of-day note no longer describes it
        order.cum_qty += quantity
        order.notional += price * quantity
        order.status = OrderStatus.FILLED if order.cum_qty >= order.quantity else OrderStatus.PARTIALLY_FILLED
        order.updated_ns = now
        fill = Fill(
            exec_id=self.next_exec_id(),
            match_id=match_id,
            order_id=order.order_id,
            owner=order.owner,
            cl_ord_id=order.cl_ord_id,
            symbol=order.symbol,
            side=order.side,
            price=price,
            quantity=quantity,
            aggressor=aggressor,
            counterparty_order_id=counterparty.order_id,
            ts_ns=now,
        )
        self._fills.append(fill)
        return OrderFilled(fill.exec_id, self._view(order), fill)

    def _view(self, order: _Order) -> OrderView:
        avg_px = (
            _ZERO if order.cum_qty == 0 else (order.notional / order.cum_qty).quantize(self._avg_px_quantum)
        )
        return OrderView(
            order_id=order.order_id,
            owner=order.owner,
            cl_ord_id=order.cl_ord_id,
            orig_cl_ord_id=order.orig_cl_ord_id,
            cl_ord_ids=(*order.history, order.cl_ord_id),
            symbol=order.symbol,
            side=order.side,
            ord_type=order.ord_type,
            price=order.price,
            quantity=order.quantity,
            time_in_force=order.time_in_force,
            status=order.status,
            cum_qty=order.cum_qty,
            leaves_qty=order.leaves_qty,
            avg_px=avg_px,
            text=order.text,
            created_ns=order.created_ns,
            updated_ns=order.updated_ns,
        )


def _check_quantity(quantity: Decimal, instrument: SimInstrument) -> str | None:
    if not quantity.is_finite() or quantity <= 0:
        return f"order qty {quantity} must be positive"
    if quantity % instrument.lot_size != 0:
        return f"order qty {quantity} is not a multiple of lot size {instrument.lot_size} for {instrument.symbol}"
    return None


def _check_price(price: Decimal | None, instrument: SimInstrument) -> str | None:
    if price is None:
        return "limit order without a price"
    if not price.is_finite() or price <= 0:
        return f"price {price} must be positive"
    if price % instrument.tick_size != 0:
        return f"price {price} is not a multiple of tick size {instrument.tick_size} for {instrument.symbol}"
    return None


def _identity_mismatch(order: _Order, symbol: str | None, side: Side | None) -> str | None:
    if symbol is not None and symbol != order.symbol:
        return f"symbol {symbol} does not match order {order.cl_ord_id} ({order.symbol})"
    if side is not None and side is not order.side:
        return f"side {side} does not match order {order.cl_ord_id} ({order.side})"
    return None
