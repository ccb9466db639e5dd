"""Market data from the venues: the top of each book and its last trade, for marks and risk's
reference prices. The gateway subscribes on every venue logon (MarketDataRequest, depth 1, bids,
offers and trades) and folds the snapshots (35=W) and incremental refreshes (35=X) in here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import quickfix as fix

from gateway import fixspec as t
from gateway.translate import venue_text

MD_REQ_ID = 262
SUBSCRIPTION_REQUEST_TYPE = 263
MARKET_DEPTH = 264
MD_UPDATE_TYPE = 265
NO_MD_ENTRY_TYPES = 267
NO_MD_ENTRIES = 268
MD_ENTRY_TYPE = 269
MD_ENTRY_PX = 270
MD_ENTRY_SIZE = 271
MD_UPDATE_ACTION = 279
NO_RELATED_SYM = 146
MD_REQ_REJ_REASON = 281
MSG_MARKET_DATA_REQUEST_REJECT = "Y"

MD_REQ_REJ_REASONS = {
    "0": "unknown symbol",
    "1": "duplicate MDReqID",
    "2": "insufficient bandwidth",
    "3": "insufficient permissions",
    "4": "unsupported SubscriptionRequestType",
    "5": "unsupported MarketDepth",
    "6": "unsupported MDUpdateType",
    "7": "unsupported AggregatedBook",
    "8": "unsupported MDEntryType",
}
"""MDReqRejReason (281) values by name."""

BID, OFFER, TRADE = "0", "1", "2"
NEW, CHANGE, DELETE = "0", "1", "2"
TWO = Decimal(2)


def subscription(venue: str, symbols: Iterable[str]) -> fix.Message:
    """Snapshot then updates of the top level of each book and its trades."""
    msg = fix.Message()
    msg.getHeader().setField(t.MSG_TYPE, "V")
    msg.setField(MD_REQ_ID, f"FIXGATE-MD-{venue}")
    msg.setField(SUBSCRIPTION_REQUEST_TYPE, "1")
    msg.setField(MARKET_DEPTH, "1")
    msg.setField(MD_UPDATE_TYPE, "1")
    for entry_type in (BID, OFFER, TRADE):
        group = fix.Group(NO_MD_ENTRY_TYPES, MD_ENTRY_TYPE)
        group.setField(MD_ENTRY_TYPE, entry_type)
        msg.addGroup(group)
    for symbol in symbols:
        group = fix.Group(NO_RELATED_SYM, t.SYMBOL)
        group.setField(t.SYMBOL, symbol)
        msg.addGroup(group)
    return msg


def parse_market_data_reject(msg: fix.Message) -> str:
    """A venue's MarketDataRequestReject (35=Y) as its reason in words: its Text, else the named
    MDReqRejReason; escaped as every venue string (``venue_text``)."""
    if msg.isSetField(t.TEXT):
        text = venue_text(msg.getField(t.TEXT))
        if text:
            return text
    if msg.isSetField(MD_REQ_REJ_REASON):
        code = venue_text(msg.getField(MD_REQ_REJ_REASON))
        return MD_REQ_REJ_REASONS.get(code, f"MDReqRejReason {code}")
    return "MarketDataRequestReject"


@dataclass(slots=True)
class Quote:
    bid: Decimal | None = None
    offer: Decimal | None = None
    last: Decimal | None = None
    # The size displayed at the best bid and offer (MDEntrySize 271; None when the venue gives none):
    # what the router may take at a venue with one IOC child.
    bid_size: Decimal | None = None
    offer_size: Decimal | None = None

    @property
    def mark(self) -> Decimal | None:
        """The last trade, else the mid of bid and offer, else nothing."""
        if self.last is not None:
            return self.last
        if self.bid is not None and self.offer is not None:
            return (self.bid + self.offer) / TWO
        return None

    @property
    def top(self) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
        """The mark, bid and offer: what a change is told by."""
        return (self.mark, self.bid, self.offer)

    @property
    def sizes(self) -> tuple[Decimal | None, Decimal | None]:
        return (self.bid_size, self.offer_size)


class TopOfBook:
    """Best bid, best offer and last trade per symbol, from one venue's market data.
    Used from that venue's QuickFIX thread only."""

    def __init__(self) -> None:
        self.quotes: dict[str, Quote] = {}
        self.moved: list[str] = []  # the symbols whose top of book the last ``apply`` changed

    def apply(self, msg: fix.Message) -> list[tuple[str, Decimal]]:
        """Fold a 35=W or 35=X in; returns the symbols whose mark or top of book changed, with the
        mark (the quotes are in ``quotes``). A quote that moves under an unchanged last trade is
        reported too: transaction cost analysis measures against the mid. ``moved`` names every symbol
        whose top or its displayed sizes changed, one left without a mark too (the router's quotes). A
        price that is not a finite positive number is skipped, and so is a size that is not a finite
        positive number (the price is kept, its size unknown)."""
        snapshot = msg.getHeader().getField(t.MSG_TYPE) == "W"
        count = int(msg.getField(NO_MD_ENTRIES)) if msg.isSetField(NO_MD_ENTRIES) else 0
        # Symbols as every venue string (``venue_text``): a mark's symbol goes to the book.
        symbol_of_message = venue_text(msg.getField(t.SYMBOL)) if msg.isSetField(t.SYMBOL) else ""
        before: dict[str, tuple[tuple[Decimal | None, ...], tuple[Decimal | None, ...]]] = {}
        if snapshot and symbol_of_message:
            quote = self._quote(symbol_of_message)
            before[symbol_of_message] = (quote.top, quote.sizes)
            old_last = self.quotes[symbol_of_message].last
            self.quotes[symbol_of_message] = Quote(last=old_last)
        group = fix.Group(NO_MD_ENTRIES, MD_ENTRY_TYPE if snapshot else MD_UPDATE_ACTION)
        for i in range(1, count + 1):
            msg.getGroup(i, group)
            symbol = venue_text(group.getField(t.SYMBOL)) if group.isSetField(t.SYMBOL) else symbol_of_message
            if not symbol or not group.isSetField(MD_ENTRY_PX):
                continue
            try:
                price = Decimal(group.getField(MD_ENTRY_PX))
            except InvalidOperation:
                continue
            if not price.is_finite() or price <= 0:  # the dictionary takes "NaN" and "-1" as prices
                continue
            quote = self._quote(symbol)
            before.setdefault(symbol, (quote.top, quote.sizes))
            action = NEW if snapshot else group.getField(MD_UPDATE_ACTION)
            entry_type = group.getField(MD_ENTRY_TYPE)
            if entry_type == TRADE:
                quote.last = price
            elif entry_type in (BID, OFFER):
                side = "bid" if entry_type == BID else "offer"
                if action == DELETE:
                    if getattr(quote, side) == price:
                        setattr(quote, side, None)
                        setattr(quote, f"{side}_size", None)
                else:
                    setattr(quote, side, price)
                    setattr(quote, f"{side}_size", _size(group))
        changed = []
        self.moved = []
        for symbol, (old_top, old_sizes) in before.items():
            quote = self.quotes[symbol]
            top = quote.top
            if top != old_top or quote.sizes != old_sizes:
                self.moved.append(symbol)
            if top != old_top and quote.mark is not None:
                changed.append((symbol, quote.mark))
        return changed

    def _quote(self, symbol: str) -> Quote:
        quote = self.quotes.get(symbol)
        if quote is None:
            quote = self.quotes[symbol] = Quote()
        return quote


def _size(group: fix.Group) -> Decimal | None:
    """An entry's MDEntrySize (271), or None when it has none that is a finite positive number."""
    if not group.isSetField(MD_ENTRY_SIZE):
        return None
    try:
        size = Decimal(group.getField(MD_ENTRY_SIZE))
    except InvalidOperation:
        return None
    return size if size.is_finite() and size > 0 else None
