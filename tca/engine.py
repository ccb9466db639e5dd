"""The TCA engine: fixgate's events in, the cost of every fill and order and the venues' scores out.

Pure: no I/O, no clock of its own. ``tca.service`` feeds it the event stream in order and stores what
it changed (:meth:`TcaEngine.take_changes`); a test feeds it events by hand.

Which mid a measure uses (``tca.measures`` has the formulas and the sign conventions):

- the **arrival mid** of an order is the consolidated mid in force when the gateway accepted it (its
  ``created_ns``): the last quotes of every venue stamped at or before then;
- the **mid at a fill** (for the effective spread) is the one in force when the gateway received the
  fill (``received_ns``);
- the **markout mid** at horizon h is the one in force at the fill's ``received_ns + h``. It is known
  once a mark stamped at or after that time arrives: the quotes then in force are final. When no mark
  comes (a quiet market: no venue's top of book moved), :meth:`TcaEngine.settle_quiet` settles it with
  the quotes in force, once the caller has read everything the stream holds and its clock is past the
  time by ``QUIET_GRACE_NS``: nothing stamped earlier can still come. A markout whose symbol has no
  consolidated mid then stays empty (``mid`` ``None``), settled.

The gateway journals market-data marks with its next frame (``Journal.later``), so a mark stamped
before an order may come just after the order's records, in the same frame. So a mid "in force at t"
for an arrival or a fill is looked up when a mark stamped after t arrives or when the frame ends
(``end_frame``; the engine ends one itself when an event of the next frame comes), never earlier.

Marks of fills (no venue) are not quotes and are ignored; so are marks of a venue without quotes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tca.measures import (
    HALF_LIFE,
    HORIZONS_S,
    SCORED_HORIZON_S,
    ZERO,
    EwMean,
    ScoreKey,
    Shortfall,
    TopQuote,
    VenueScore,
    bps,
    consolidated_mid,
    decay,
    effective_spread,
    fill_rate,
    implementation_shortfall,
    markout_bps,
    score_keys,
    slippage_bps,
)

NS = 1_000_000_000
QUIET_GRACE_NS = 2 * NS
"""How far past a markout's time the clock must be, with the stream read to its end, before a quiet
market's markout is settled with the quotes in force."""
ENDED = frozenset({"FILLED", "CANCELED", "REJECTED", "EXPIRED", "DONE_FOR_DAY"})
CHILD_ENDED = ENDED - {"DONE_FOR_DAY"}  # a child done for the day may trade again
GATEWAY = "FIXGATE"  # the venue name on the gateway's own executions (risk rejects)


@dataclass(frozen=True, slots=True)
class ChildOrder:
    """A split order's child that may still trade, as TCA follows it: what its venue was sent, and
    what the venue did with it. Its fills are measured as its parent's; its end counts in its venue's
    reject and fill rates (the parent's, at no one venue, counts in none)."""

    order_id: int
    venue: str
    symbol: str
    quantity: Decimal
    cum_qty: Decimal = ZERO
    reached_venue: bool = False  # the venue answered it (acknowledged, filled or rejected)
    venue_rejected: bool = False


@dataclass(frozen=True, slots=True)
class Markout:
    """A fill's markout at one horizon: the mid then and the markout in bps, once settled."""

    horizon_s: int
    due_ns: int
    mid: Decimal | None = None
    bps: Decimal | None = None
    settled: bool = False


@dataclass(frozen=True, slots=True)
class FillCost:
    """What one fill cost (``tca.measures`` for each measure's definition)."""

    exec_id: str
    order_id: int
    venue: str
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal | None  # Commission (12), when the venue reported it and the event carries it
    fill_ns: int
    event_id: str
    order_quantity: Decimal  # the size its venue was sent (a split order's child's): its scores' size bucket
    arrival_mid: Decimal | None = None
    slippage_bps: Decimal | None = None
    mid_at_fill: Decimal | None = None
    effective_spread: Decimal | None = None
    effective_spread_bps: Decimal | None = None
    markouts: tuple[Markout, ...] = ()

    def markout(self, horizon_s: int) -> Markout | None:
        return next((m for m in self.markouts if m.horizon_s == horizon_s), None)


@dataclass(frozen=True, slots=True)
class OrderCost:
    """What one order cost: its implementation shortfall, fill rate, time to complete, venues used."""

    order_id: int
    symbol: str
    side: str
    account: str
    venue: str
    quantity: Decimal
    created_ns: int
    status: str
    arrival_mid: Decimal | None = None
    filled_qty: Decimal = ZERO
    fill_notional: Decimal = ZERO  # sum of quantity x price over its fills
    fees: Decimal = ZERO
    venues: tuple[str, ...] = ()  # where it filled, in the order of first fill
    last_fill_ns: int | None = None
    ended_ns: int | None = None  # when it ended (filled, canceled, rejected, expired, done for day)
    end_mid: Decimal | None = None
    shortfall: Shortfall | None = None
    fill_rate: Decimal | None = None
    time_to_complete_ns: int | None = None  # from arrival to its last fill (filled) or its end
    reached_venue: bool = False  # a venue answered it (acknowledged, filled or rejected)
    venue_rejected: bool = False

    @property
    def avg_price(self) -> Decimal | None:
        return None if self.filled_qty == 0 else self.fill_notional / self.filled_qty


@dataclass(slots=True)
class Changes:
    """What the events since the last :meth:`TcaEngine.take_changes` changed, latest state each."""

    fills: dict[str, FillCost] = field(default_factory=dict)
    orders: dict[int, OrderCost] = field(default_factory=dict)
    scores: dict[ScoreKey, VenueScore] = field(default_factory=dict)
    quotes: dict[tuple[str, str], tuple[TopQuote, int]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.fills or self.orders or self.scores or self.quotes)


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _frame(event_id: str) -> str:
    """The frame an event came in: its id without the index (``<instance>:<segment>:<offset>``)."""
    return event_id.rsplit(":", 1)[0]


class TcaEngine:
    """Turns the event stream into fill and order costs and venue scores; see the module's text."""

    def __init__(self, half_life: int = HALF_LIFE, horizons_s: Iterable[int] = HORIZONS_S) -> None:
        self.half_life = half_life
        self._keep = decay(half_life)
        self.horizons_s = tuple(horizons_s)
        self._quotes: dict[str, dict[str, TopQuote]] = {}
        self._orders: dict[int, OrderCost] = {}
        self._fills: dict[str, FillCost] = {}  # those with a measure still to come
        # A split order's children that may still trade (child order id -> child), and the size behind
        # each child fill (child exec id -> quantity) until its parent's fill, which follows it in the
        # same frame and names it as its venue_exec_id, takes it (a frame's end drops what no parent's
        # fill took). The size a venue was sent decides the size bucket its fills count in (a venue's
        # cost may grow with it).
        self._children: dict[int, ChildOrder] = {}
        self._child_fills: dict[str, Decimal] = {}
        self._scores: dict[ScoreKey, VenueScore] = {}
        self._past: list[tuple[int, str, Any]] = []  # (time, what, key): mids looked up at frame end
        self._frame: str | None = None
        self._earliest_due: int | None = None  # the first time a markout of ``_fills`` is due
        self._changes = Changes()

    # -- STATE (restart) -------------------------------------------------------------------------------

    def restore(self, quotes: Iterable[tuple[str, str, TopQuote]], orders: Iterable[OrderCost],
                fills: Iterable[FillCost], scores: Iterable[VenueScore],
                children: Iterable[ChildOrder] = ()) -> None:
        """Take back what a previous run stored: each venue's last quotes, the orders not ended, the
        fills with a markout to come, the scores; and the split orders' children not ended, from the
        book."""
        self._children.update((child.order_id, child) for child in children)
        for symbol, venue, quote in quotes:
            self._quotes.setdefault(symbol, {})[venue] = quote
        for order in orders:
            self._orders[order.order_id] = order
        for fill in fills:
            self._fills[fill.exec_id] = fill
            self._note_due(fill)
        for score in scores:
            self._scores[score.key] = score

    def mid(self, symbol: str) -> Decimal | None:
        """The consolidated mid of ``symbol`` in force now."""
        return consolidated_mid(self._quotes.get(symbol, {}).values())

    def order(self, order_id: int) -> OrderCost | None:
        return self._orders.get(order_id)

    def score(self, key: ScoreKey) -> VenueScore | None:
        return self._scores.get(key)

    def pending_markouts(self) -> int:
        return sum(1 for f in self._fills.values() for m in f.markouts if not m.settled)

    def take_changes(self) -> Changes:
        """What changed since the last call (and forget it)."""
        changes, self._changes = self._changes, Changes()
        return changes

    # -- EVENTS ----------------------------------------------------------------------------------------

    def apply(self, event: Mapping[str, Any]) -> None:
        """Fold one event in (events of one instance, in stream order; kinds it has no use for are
        ignored, as are fields it does not know)."""
        frame = _frame(str(event["id"]))
        if frame != self._frame:
            self.end_frame()
            self._child_fills.clear()  # each was its parent's fill's, in its frame
            self._frame = frame
        kind = event.get("kind")
        data = event.get("data") or {}
        if kind == "marks":
            self._on_mark(data)
        elif kind == "orders":
            self._on_order(data)
        elif kind == "fills":
            self._on_fill(data, str(event["id"]))
        elif kind == "executions":
            self._on_execution(data)

    def end_frame(self) -> None:
        """Every mark stamped before the frame's arrivals, fills and ends has come: look their mids up."""
        past, self._past = self._past, []
        for _, what, key in past:
            self._settle_past(what, key)

    def settle_quiet(self, now_ns: int) -> None:
        """Settle the markouts due ``QUIET_GRACE_NS`` or more before ``now_ns`` with the quotes in force:
        call only with everything the stream holds read (no mark came: the market did not move)."""
        self.end_frame()
        self._settle_due(now_ns - QUIET_GRACE_NS, inclusive=True)

    def _on_mark(self, data: Mapping[str, Any]) -> None:
        venue = data.get("venue")
        if venue is None:
            return  # a fill's mark: not a quote
        stamped = int(data["updated_ns"])
        symbol = str(data["symbol"])
        # What was looked up for a time before this mark takes the quotes before it.
        still = []
        for item in self._past:
            if item[0] < stamped:
                self._settle_past(item[1], item[2])
            else:
                still.append(item)
        self._past = still
        self._settle_due(stamped, inclusive=False)
        quote = TopQuote(_decimal(data.get("bid")), _decimal(data.get("offer")))
        self._quotes.setdefault(symbol, {})[str(venue)] = quote
        self._changes.quotes[(symbol, str(venue))] = (quote, stamped)
        self._settle_due(stamped, inclusive=True)

    def _on_order(self, data: Mapping[str, Any]) -> None:
        order_id = int(data["order_id"])
        if data.get("parent_id") is not None:  # a child: measured as its parent, whose fills name its venue
            self._on_child(order_id, data)
            return
        known = self._orders.get(order_id)
        status = str(data["status"])
        if known is None:
            known = OrderCost(
                order_id=order_id, symbol=str(data["symbol"]), side=str(data["side"]),
                account=str(data["account"]), venue=str(data["venue"]), quantity=Decimal(data["quantity"]),
                created_ns=int(data["created_ns"]), status=status,
            )
            self._past.append((known.created_ns, "arrival", order_id))
        elif known.ended_ns is not None:
            return  # ended and measured: a later change (none should come) does not reopen it
        order = dataclasses.replace(known, status=status, quantity=Decimal(data["quantity"]),
                                    venue=str(data["venue"]))
        if status in ENDED:
            order = dataclasses.replace(order, ended_ns=int(data["updated_ns"]))
            self._past.append((int(data["updated_ns"]), "end", order_id))
        self._put_order(order)

    def _on_child(self, order_id: int, data: Mapping[str, Any]) -> None:
        known = self._children.get(order_id)
        child = ChildOrder(order_id, str(data["venue"]), str(data["symbol"]), Decimal(data["quantity"]),
                           Decimal(data["cum_qty"]), reached_venue=known is not None and known.reached_venue,
                           venue_rejected=known is not None and known.venue_rejected)
        if str(data["status"]) not in CHILD_ENDED:
            self._children[order_id] = child
            return
        self._children.pop(order_id, None)
        if child.reached_venue:
            self._observe_end(child.venue, child.symbol, child.quantity, child.venue_rejected,
                              fill_rate(child.cum_qty, child.quantity), int(data["updated_ns"]))

    def _on_execution(self, data: Mapping[str, Any]) -> None:
        order_id = int(data["order_id"])
        venue = data.get("venue")
        child = self._children.get(order_id)
        if child is not None:
            if venue != GATEWAY:
                self._children[order_id] = dataclasses.replace(
                    child, reached_venue=True, venue_rejected=child.venue_rejected or data.get("kind") == "REJECTED")
            return
        order = self._orders.get(order_id)
        if order is None or venue == GATEWAY or order.reached_venue and data.get("kind") != "REJECTED":
            return
        self._put_order(dataclasses.replace(order, reached_venue=True,
                                            venue_rejected=order.venue_rejected or data.get("kind") == "REJECTED"))

    def _on_fill(self, data: Mapping[str, Any], event_id: str) -> None:
        exec_id = str(data["exec_id"])
        order_id = int(data["order_id"])
        order = self._orders.get(order_id)
        if order is None:
            child = self._children.get(order_id)
            if child is not None:  # a child's fill: its parent's follows, sized as the child was
                self._child_fills[exec_id] = child.quantity
                if not child.reached_venue:
                    self._children[order_id] = dataclasses.replace(child, reached_venue=True)
            return  # else an order this consumer never saw accepted (its start is before the stream's)
        # The size the venue was sent: the child's for a split order's fill (the parent's for a child
        # this consumer does not know: one the book had not written when it restarted), else the order's.
        sent = self._child_fills.pop(str(data.get("venue_exec_id")), order.quantity)
        quantity, price = Decimal(data["last_qty"]), Decimal(data["last_px"])
        fill_ns = int(data["received_ns"])
        fee = _decimal(data.get("commission"))
        fill = FillCost(
            exec_id=exec_id, order_id=order.order_id, venue=str(data["venue"]), symbol=order.symbol,
            side=order.side, quantity=quantity, price=price, fee=fee, fill_ns=fill_ns, event_id=event_id,
            order_quantity=sent, arrival_mid=order.arrival_mid,
            markouts=tuple(Markout(h, fill_ns + h * NS) for h in self.horizons_s),
        )
        if order.arrival_mid is not None:
            fill = dataclasses.replace(fill, slippage_bps=slippage_bps(order.side, price, order.arrival_mid))
            self._observe(fill.venue, order.symbol, sent, "slippage_bps", fill.slippage_bps, fill_ns)
        self._put_fill(fill)
        self._past.append((fill_ns, "at_fill", exec_id))
        venues = order.venues if fill.venue in order.venues else (*order.venues, fill.venue)
        self._put_order(dataclasses.replace(
            order, filled_qty=order.filled_qty + quantity, fill_notional=order.fill_notional + quantity * price,
            fees=order.fees + (fee or ZERO), venues=venues, last_fill_ns=fill_ns, reached_venue=True,
        ))

    # -- LOOK-UPS --------------------------------------------------------------------------------------

    def _settle_past(self, what: str, key: Any) -> None:
        if what == "arrival":
            order = self._orders.get(key)
            if order is not None and order.arrival_mid is None:
                self._put_order(dataclasses.replace(order, arrival_mid=self.mid(order.symbol)))
        elif what == "at_fill":
            fill = self._fills.get(key)
            if fill is not None:
                mid = self.mid(fill.symbol)
                if mid is not None:
                    spread = effective_spread(fill.side, fill.price, mid)
                    fill = dataclasses.replace(fill, mid_at_fill=mid, effective_spread=spread,
                                               effective_spread_bps=bps(spread, mid))
                self._put_fill(fill)
        elif what == "end":
            order = self._orders.get(key)
            if order is not None:
                self._end(order)

    def _settle_due(self, until_ns: int, *, inclusive: bool) -> None:
        earliest = self._earliest_due
        if earliest is None or (until_ns < earliest if inclusive else until_ns <= earliest):
            return  # nothing due yet: most marks settle nothing, and this spares a look at every fill
        for fill in list(self._fills.values()):
            if all(m.settled for m in fill.markouts):
                continue
            markouts = []
            for m in fill.markouts:
                if not m.settled and (m.due_ns <= until_ns if inclusive else m.due_ns < until_ns):
                    mid = self.mid(fill.symbol)
                    value = None if mid is None else markout_bps(fill.side, fill.price, mid)
                    m = Markout(m.horizon_s, m.due_ns, mid, value, True)
                    if m.horizon_s == SCORED_HORIZON_S:
                        self._observe(fill.venue, fill.symbol, fill.order_quantity, "markout_bps", value, m.due_ns)
                markouts.append(m)
            updated = dataclasses.replace(fill, markouts=tuple(markouts))
            if updated != fill:
                self._put_fill(updated)
        self._earliest_due = min((m.due_ns for f in self._fills.values() for m in f.markouts if not m.settled),
                                 default=None)

    def _end(self, order: OrderCost) -> None:
        end_mid = self.mid(order.symbol)
        assert order.ended_ns is not None
        done_ns = order.last_fill_ns if order.status == "FILLED" and order.last_fill_ns else order.ended_ns
        shortfall = None
        if order.arrival_mid is not None:
            shortfall = implementation_shortfall(order.side, order.quantity, order.filled_qty, order.fill_notional,
                                                 order.fees, order.arrival_mid, end_mid)
        rate = fill_rate(order.filled_qty, order.quantity)
        ended = dataclasses.replace(order, end_mid=end_mid, shortfall=shortfall, fill_rate=rate,
                                    time_to_complete_ns=done_ns - order.created_ns)
        self._put_order(ended)
        if order.reached_venue and order.venue not in (GATEWAY, ""):  # "": split, its children count
            self._observe_end(order.venue, order.symbol, order.quantity, order.venue_rejected, rate, order.ended_ns)

    def _observe_end(self, venue: str, symbol: str, quantity: Decimal, rejected: bool, rate: Decimal | None,
                     ended_ns: int) -> None:
        """An order that reached ``venue`` ended: whether the venue rejected it, else how much it filled."""
        self._observe(venue, symbol, quantity, "reject_rate", Decimal(1 if rejected else 0), ended_ns)
        if not rejected:
            self._observe(venue, symbol, quantity, "fill_rate", rate, ended_ns)

    def forget_done(self) -> None:
        """Drop from memory the orders measured to their end and the fills with every markout settled
        (call after their rows are stored, with no frame open: ``end_frame`` first)."""
        for order_id in [o.order_id for o in self._orders.values() if o.fill_rate is not None]:
            del self._orders[order_id]
        for exec_id in [f.exec_id for f in self._fills.values() if all(m.settled for m in f.markouts)]:
            del self._fills[exec_id]

    # -- RECORDING -------------------------------------------------------------------------------------

    def _put_order(self, order: OrderCost) -> None:
        self._orders[order.order_id] = order
        self._changes.orders[order.order_id] = order

    def _put_fill(self, fill: FillCost) -> None:
        self._fills[fill.exec_id] = fill
        self._changes.fills[fill.exec_id] = fill
        self._note_due(fill)

    def _note_due(self, fill: FillCost) -> None:
        for m in fill.markouts:
            if not m.settled and (self._earliest_due is None or m.due_ns < self._earliest_due):
                self._earliest_due = m.due_ns

    def _observe(self, venue: str, symbol: str, quantity: Decimal, metric: str, value: Decimal | None,
                 now_ns: int) -> None:
        if value is None:
            return
        for key in score_keys(venue, symbol, quantity):
            score = self._scores.get(key) or VenueScore(key, {}, now_ns)
            self._scores[key] = self._changes.scores[key] = score.observe(metric, value, self._keep, now_ns)


__all__ = ["Changes", "ChildOrder", "EwMean", "FillCost", "Markout", "OrderCost", "TcaEngine"]
