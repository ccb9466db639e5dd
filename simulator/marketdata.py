"""Market data of the venue simulator: subscriptions, book snapshots and incremental updates.

Pure domain, like ``simulator.matching``: the venue turns a FIX MarketDataRequest into a
``Subscription``, hands the hub the touched books and the trades after every engine call, and turns
the ``MarketDataUpdate`` values it returns into MarketDataSnapshotFullRefresh (35=W) or
MarketDataIncrementalRefresh (35=X) messages.

The book is published by price level (aggregated): a level is keyed by side and price, an update
says New (a level entered the top N), Change (its size changed) or Delete (it left the top N or
emptied). Trades are published as New entries of type Trade. A subscriber that applies the updates
to the snapshot in order holds the same top N the venue does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from simulator.matching import Fill

__all__ = [
    "BookLevels",
    "EntryType",
    "MarketDataEntry",
    "MarketDataHub",
    "MarketDataUpdate",
    "RejectReason",
    "Subscription",
    "UpdateAction",
    "diff_levels",
]

Level = tuple[Decimal, Decimal]
"""(price, total quantity) of one price level."""


class EntryType(StrEnum):
    """FIX MDEntryType by name, the three this venue publishes."""

    BID = "BID"
    OFFER = "OFFER"
    TRADE = "TRADE"


class UpdateAction(StrEnum):
    """FIX MDUpdateAction by name."""

    NEW = "NEW"
    CHANGE = "CHANGE"
    DELETE = "DELETE"


class RejectReason(StrEnum):
    """FIX MDReqRejReason by name, the ones this venue gives."""

    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    DUPLICATE_MD_REQ_ID = "DUPLICATE_MD_REQ_ID"
    UNSUPPORTED_SUBSCRIPTION_REQUEST_TYPE = "UNSUPPORTED_SUBSCRIPTION_REQUEST_TYPE"
    UNSUPPORTED_MARKET_DEPTH = "UNSUPPORTED_MARKET_DEPTH"
    UNSUPPORTED_MD_UPDATE_TYPE = "UNSUPPORTED_MD_UPDATE_TYPE"
    UNSUPPORTED_MD_ENTRY_TYPE = "UNSUPPORTED_MD_ENTRY_TYPE"


@dataclass(frozen=True, slots=True)
class MarketDataEntry:
    """One entry of a snapshot (``action`` None) or of an incremental refresh."""

    entry_type: EntryType
    symbol: str
    price: Decimal
    size: Decimal | None
    action: UpdateAction | None = None


@dataclass(frozen=True, slots=True)
class BookLevels:
    """The top levels of one book, best first on each side."""

    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()


@dataclass(slots=True)
class Subscription:
    """One session's request for one or more symbols.

    ``depth`` 0 means the full book. ``incremental`` False means every change is published as a new
    full snapshot (MDUpdateType 0) rather than as incremental updates.
    """

    session: str
    req_id: str
    symbols: tuple[str, ...]
    depth: int
    entry_types: frozenset[EntryType]
    incremental: bool = True
    published: dict[str, BookLevels] = field(default_factory=dict)

    def top(self, levels: BookLevels) -> BookLevels:
        """What this subscription sees of a book: its depth and its entry types."""
        bids = levels.bids if EntryType.BID in self.entry_types else ()
        asks = levels.asks if EntryType.OFFER in self.entry_types else ()
        if self.depth > 0:
            bids, asks = bids[: self.depth], asks[: self.depth]
        return BookLevels(tuple(bids), tuple(asks))


@dataclass(frozen=True, slots=True)
class MarketDataUpdate:
    """What to send to one subscription: a snapshot of one symbol, or incremental entries."""

    subscription: Subscription
    entries: tuple[MarketDataEntry, ...]
    snapshot_symbol: str | None = None  # set for a full refresh (35=W), None for incremental (35=X)


def diff_levels(
    entry_type: EntryType, symbol: str, old: Sequence[Level], new: Sequence[Level]
) -> list[MarketDataEntry]:
    """Updates that turn the levels ``old`` into ``new``: deletes first, then changes and news."""
    old_sizes = dict(old)
    new_sizes = dict(new)
    entries = [
        MarketDataEntry(entry_type, symbol, price, None, UpdateAction.DELETE)
        for price, _ in old
        if price not in new_sizes
    ]
    for price, size in new:
        before = old_sizes.get(price)
        if before is None:
            entries.append(MarketDataEntry(entry_type, symbol, price, size, UpdateAction.NEW))
        elif before != size:
            entries.append(MarketDataEntry(entry_type, symbol, price, size, UpdateAction.CHANGE))
    return entries


def snapshot_entries(
    symbol: str, levels: BookLevels, last_trade: Fill | None, entry_types: frozenset[EntryType]
) -> tuple[MarketDataEntry, ...]:
    """The entries of a full refresh: bids, offers (best first), and the last trade if asked for."""
    entries = [MarketDataEntry(EntryType.BID, symbol, p, q) for p, q in levels.bids]
    entries += [MarketDataEntry(EntryType.OFFER, symbol, p, q) for p, q in levels.asks]
    if last_trade is not None and EntryType.TRADE in entry_types:
        entries.append(MarketDataEntry(EntryType.TRADE, symbol, last_trade.price, last_trade.quantity))
    return tuple(entries)


class MarketDataHub:
    """Every live subscription of one venue, and what each has been sent.

    Thread-safe, with a lock of its own held only inside its methods: a session's logout (which
    QuickFIX reports while holding that session's mutex) may drop subscriptions while the venue lock
    is held elsewhere to send to that very session.
    """

    def __init__(self, symbols: Iterable[str]) -> None:
        self._lock = threading.RLock()
        self._symbols = frozenset(symbols)
        self._subscriptions: dict[tuple[str, str], Subscription] = {}
        self._last_trade: dict[str, Fill] = {}

    @property
    def active(self) -> bool:
        """Whether anyone is subscribed (the venue skips all market data work otherwise)."""
        return bool(self._subscriptions)

    def subscriptions(self) -> list[Subscription]:
        with self._lock:
            return list(self._subscriptions.values())

    def check(
        self, session: str, req_id: str, symbols: Sequence[str], subscribe: bool
    ) -> tuple[RejectReason, str] | None:
        """Why a request cannot be served (reason and text), or None."""
        if not symbols:
            return RejectReason.UNKNOWN_SYMBOL, "no symbol requested"
        unknown = [s for s in symbols if s not in self._symbols]
        if unknown:
            return RejectReason.UNKNOWN_SYMBOL, f"unknown symbol {', '.join(unknown)}"
        with self._lock:
            duplicate = (session, req_id) in self._subscriptions
        if subscribe and duplicate:
            return RejectReason.DUPLICATE_MD_REQ_ID, f"MDReqID {req_id} is already subscribed"
        return None

    def snapshot(
        self, subscription: Subscription, depth_of: Callable[[str, int | None], BookLevels]
    ) -> list[MarketDataUpdate]:
        """One full refresh per symbol of ``subscription``, and remember it as published."""
        with self._lock:
            return self._snapshot(subscription, depth_of)

    def _snapshot(
        self, subscription: Subscription, depth_of: Callable[[str, int | None], BookLevels]
    ) -> list[MarketDataUpdate]:
        updates = []
        for symbol in subscription.symbols:
            levels = subscription.top(depth_of(symbol, subscription.depth or None))
            subscription.published[symbol] = levels
            entries = snapshot_entries(symbol, levels, self._last_trade.get(symbol), subscription.entry_types)
            updates.append(MarketDataUpdate(subscription, entries, snapshot_symbol=symbol))
        return updates

    def subscribe(self, subscription: Subscription) -> None:
        """Keep ``subscription`` updated from now on (call ``snapshot`` first)."""
        with self._lock:
            self._subscriptions[(subscription.session, subscription.req_id)] = subscription

    def unsubscribe(self, session: str, req_id: str) -> bool:
        """End one subscription; False if there was none with that MDReqID."""
        with self._lock:
            return self._subscriptions.pop((session, req_id), None) is not None

    def drop_session(self, session: str) -> int:
        """End every subscription of a session (it logged out); returns how many."""
        with self._lock:
            keys = [key for key in self._subscriptions if key[0] == session]
            for key in keys:
                del self._subscriptions[key]
            return len(keys)

    def on_change(
        self, touched: Iterable[str], trades: Sequence[Fill], depth_of: Callable[[str, int | None], BookLevels]
    ) -> list[MarketDataUpdate]:
        """The updates due after an engine call that touched the books of ``touched`` and made ``trades``.

        ``trades`` holds one fill per trade (the aggressor's); ``depth_of(symbol, limit)`` gives a book's best
        ``limit`` levels per side (all when None).
        """
        with self._lock:
            return self._on_change(touched, trades, depth_of)

    def _on_change(
        self, touched: Iterable[str], trades: Sequence[Fill], depth_of: Callable[[str, int | None], BookLevels]
    ) -> list[MarketDataUpdate]:
        for trade in trades:
            self._last_trade[trade.symbol] = trade
        if not self._subscriptions:
            return []
        touched = set(touched)
        books: dict[str, BookLevels] = {}
        # As deep as the deepest subscription (depth 0: the full book), no deeper.
        depths = [s.depth for s in self._subscriptions.values()]
        limit = None if 0 in depths else max(depths)

        def book(symbol: str) -> BookLevels:
            if symbol not in books:
                books[symbol] = depth_of(symbol, limit)
            return books[symbol]

        updates: list[MarketDataUpdate] = []
        for subscription in self._subscriptions.values():
            symbols = [s for s in subscription.symbols if s in touched]
            if not symbols:
                continue
            if not subscription.incremental:
                for symbol in symbols:
                    levels = subscription.top(book(symbol))
                    symbol_trades = [t for t in trades if t.symbol == symbol]
                    if levels == subscription.published.get(symbol) and not (
                        symbol_trades and EntryType.TRADE in subscription.entry_types
                    ):
                        continue
                    subscription.published[symbol] = levels
                    snapshot = snapshot_entries(
                        symbol, levels, self._last_trade.get(symbol), subscription.entry_types
                    )
                    updates.append(MarketDataUpdate(subscription, snapshot, snapshot_symbol=symbol))
                continue
            entries: list[MarketDataEntry] = []
            for symbol in symbols:
                if EntryType.TRADE in subscription.entry_types:
                    entries += [
                        MarketDataEntry(EntryType.TRADE, symbol, t.price, t.quantity, UpdateAction.NEW)
                        for t in trades
                        if t.symbol == symbol
                    ]
                levels = subscription.top(book(symbol))
                before = subscription.published.get(symbol, BookLevels())
                entries += diff_levels(EntryType.BID, symbol, before.bids, levels.bids)
                entries += diff_levels(EntryType.OFFER, symbol, before.asks, levels.asks)
                subscription.published[symbol] = levels
            if entries:
                updates.append(MarketDataUpdate(subscription, tuple(entries)))
        return updates
