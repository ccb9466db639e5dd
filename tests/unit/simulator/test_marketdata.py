"""Market data of the simulator without a socket: level diffs, subscriptions, and the FIX messages."""

from __future__ import annotations

from decimal import Decimal

import pytest
import quickfix as fix

from simulator.marketdata import (
    BookLevels,
    EntryType,
    MarketDataEntry,
    MarketDataHub,
    MarketDataUpdate,
    RejectReason,
    Subscription,
    UpdateAction,
    diff_levels,
)
from simulator.matching import Fill, Side
from simulator.venue import data_dictionary_path, market_data_message, market_data_reject
from tests.support import validate_fix50sp2

D = Decimal
ALL = frozenset(EntryType)


def levels(*pairs: tuple[str, int]) -> tuple[tuple[Decimal, Decimal], ...]:
    return tuple((D(p), D(q)) for p, q in pairs)


def trade(price: str, qty: int, symbol: str = "AAPL") -> Fill:
    return Fill("E1", "M1", "O1", "o", "c", symbol, Side.BUY, D(price), D(qty), True, "O2", 1)


def test_diff_levels_deletes_changes_and_adds() -> None:
    old = levels(("10.00", 100), ("9.99", 50), ("9.98", 10))
    new = levels(("10.00", 70), ("9.98", 10), ("9.97", 5))
    assert diff_levels(EntryType.BID, "X", old, new) == [
        MarketDataEntry(EntryType.BID, "X", D("9.99"), None, UpdateAction.DELETE),
        MarketDataEntry(EntryType.BID, "X", D("10.00"), D(70), UpdateAction.CHANGE),
        MarketDataEntry(EntryType.BID, "X", D("9.97"), D(5), UpdateAction.NEW),
    ]
    assert diff_levels(EntryType.OFFER, "X", new, new) == []


class FakeBooks:
    def __init__(self) -> None:
        self.books = {"AAPL": BookLevels(levels(("9", 1), ("8", 1)), levels(("11", 1), ("12", 1)))}
        self.reads = 0
        self.limits: list[int | None] = []  # how many levels each read asked for

    def __call__(self, symbol: str, limit: int | None) -> BookLevels:
        self.reads += 1
        self.limits.append(limit)
        book = self.books[symbol]
        return BookLevels(book.bids[:limit], book.asks[:limit])


def test_hub_publishes_only_to_subscribers_of_the_touched_book_within_their_depth() -> None:
    hub = MarketDataHub(["AAPL", "MSFT"])
    books = FakeBooks()
    assert hub.check("s", "r", ["AAPL", "ZZZ"], subscribe=True) == (
        RejectReason.UNKNOWN_SYMBOL,
        "unknown symbol ZZZ",
    )
    top = Subscription("s", "r", ("AAPL",), depth=1, entry_types=frozenset({EntryType.BID, EntryType.TRADE}))
    (snapshot,) = hub.snapshot(top, books)
    assert snapshot.snapshot_symbol == "AAPL" and [e.price for e in snapshot.entries] == [D(9)]
    hub.subscribe(top)
    assert hub.check("s", "r", ["AAPL"], subscribe=True) == (
        RejectReason.DUPLICATE_MD_REQ_ID,
        "MDReqID r is already subscribed",
    )

    assert hub.on_change(["MSFT"], [], books) == []  # not this subscriber's book
    books.books["AAPL"] = BookLevels(levels(("9", 1)), levels(("12", 1)))  # offer side not subscribed
    assert hub.on_change(["AAPL"], [], books) == []
    books.books["AAPL"] = BookLevels(levels(("10", 3), ("9", 1)), ())
    (update,) = hub.on_change(["AAPL"], [trade("11", 1)], books)
    assert update.entries == (
        MarketDataEntry(EntryType.TRADE, "AAPL", D(11), D(1), UpdateAction.NEW),
        MarketDataEntry(EntryType.BID, "AAPL", D(9), None, UpdateAction.DELETE),
        MarketDataEntry(EntryType.BID, "AAPL", D(10), D(3), UpdateAction.NEW),
    )
    assert set(books.limits) == {1}  # never summed a level deeper than the subscription shows
    assert hub.drop_session("s") == 1 and not hub.active


def _updates() -> list[MarketDataUpdate]:
    hub = MarketDataHub(["AAPL"])
    books = FakeBooks()
    full = Subscription("s", "r1", ("AAPL",), depth=0, entry_types=ALL)
    empty = Subscription("s", "r2", ("AAPL",), depth=0, entry_types=frozenset({EntryType.TRADE}))
    updates = hub.snapshot(full, books) + hub.snapshot(empty, books)
    hub.subscribe(full)
    books.books["AAPL"] = BookLevels(levels(("9", 2)), levels(("11", 1), ("13", 1)))
    updates += hub.on_change(["AAPL"], [trade("12", 1)], books)
    actions = {e.action for u in updates for e in u.entries}
    assert actions >= {None, UpdateAction.NEW, UpdateAction.CHANGE, UpdateAction.DELETE}
    return updates


@pytest.mark.parametrize("begin_string", ["FIX.4.4", "FIX.4.2"])
def test_market_data_messages_are_valid_for_the_clients_data_dictionary(begin_string: str) -> None:
    dictionary = fix.DataDictionary(str(data_dictionary_path(begin_string)))
    messages = [market_data_message(u, begin_string) for u in _updates()]
    messages += [
        market_data_reject("r9", RejectReason.UNKNOWN_SYMBOL, "unknown symbol NOPE"),
        market_data_reject("r9", RejectReason.UNSUPPORTED_MD_ENTRY_TYPE, "unsupported MDEntryType 4"),
        market_data_reject("r9", None, "no subscription with MDReqID r9"),
    ]
    assert {m.getHeader().getField(35) for m in messages} == {"W", "X", "Y"}
    for message in messages:
        header = message.getHeader()
        for tag, value in ((8, begin_string), (49, "SIM"), (56, "CLIENT1"), (34, "2")):
            header.setField(tag, value)
        header.setField(52, "20250101-00:00:00.000")
        parsed = fix.Message(message.toString(), dictionary, True)
        dictionary.validate(parsed)  # raises on a missing required tag, a wrong value, a stray field


def test_market_data_messages_are_valid_fix50sp2_for_a_fixt_client() -> None:
    # A FIX 5.0 SP2 snapshot needs LastUpdateTime (779), which FIX 4.4 does not define.
    messages = [market_data_message(u, "FIXT.1.1") for u in _updates()]
    messages.append(market_data_reject("r9", RejectReason.UNKNOWN_SYMBOL, "unknown symbol NOPE"))
    assert any(m.getHeader().getField(35) == "W" and m.isSetField(779) for m in messages)
    assert not any(m.isSetField(779) for m in (market_data_message(u) for u in _updates()))
    for message in messages:
        validate_fix50sp2(message, "SIM", "CLIENT1")
