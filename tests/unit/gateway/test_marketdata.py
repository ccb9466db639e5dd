"""The top of book from a venue's market data: what a change reports, for marks and for TCA's mids."""

from __future__ import annotations

from decimal import Decimal as D

import quickfix as fix

from gateway.marketdata import TopOfBook


def incremental(*entries: tuple[str, ...]) -> fix.Message:
    """A 35=X of (MDUpdateAction, MDEntryType, MDEntryPx[, MDEntrySize: 100 if not given, "" for
    none]) entries for AAPL."""
    msg = fix.Message()
    msg.getHeader().setField(35, "X")
    for action, entry_type, price, *size in entries:
        group = fix.Group(268, 279)
        group.setField(279, action)
        group.setField(269, entry_type)
        group.setField(55, "AAPL")
        group.setField(270, price)
        if (size or ["100"])[0]:
            group.setField(271, (size or ["100"])[0])
        msg.addGroup(group)
    return msg


def test_a_quote_that_moves_under_an_unchanged_last_trade_is_reported() -> None:
    book = TopOfBook()
    assert book.apply(incremental(("0", "0", "189.99"), ("0", "1", "190.01"))) == [("AAPL", D("190.00"))]
    assert book.apply(incremental(("0", "2", "190.01"))) == [("AAPL", D("190.01"))]  # a trade: the mark
    # The quotes move; the mark (the last trade) does not, but the change is reported, quotes and all.
    assert book.apply(incremental(("0", "0", "189.96"), ("0", "1", "189.99"))) == [("AAPL", D("190.01"))]
    quote = book.quotes["AAPL"]
    assert (quote.bid, quote.offer, quote.last) == (D("189.96"), D("189.99"), D("190.01"))
    # Nothing changed: nothing reported.
    assert book.apply(incremental(("1", "0", "189.96"))) == []


def test_a_price_that_is_not_a_finite_positive_number_is_skipped() -> None:
    book = TopOfBook()
    book.apply(incremental(("0", "0", "189.99"), ("0", "1", "190.01")))
    for bad in ("NaN", "Infinity", "-190.01", "0"):
        assert book.apply(incremental(("0", "1", bad))) == []
        assert book.quotes["AAPL"].offer == D("190.01")
        assert book.moved == []


def test_a_top_left_without_a_mark_is_still_said_to_have_moved() -> None:
    """The router's quotes follow every change of the top, one that leaves no mark too."""
    book = TopOfBook()
    book.apply(incremental(("0", "0", "189.99"), ("0", "1", "190.01")))
    assert book.moved == ["AAPL"]
    assert book.apply(incremental(("2", "1", "190.01"))) == []  # the offer gone, no trade: no mark
    assert book.moved == ["AAPL"]
    assert (book.quotes["AAPL"].bid, book.quotes["AAPL"].offer) == (D("189.99"), None)


def test_the_size_displayed_at_the_top_is_kept_and_a_change_of_it_alone_moves_the_top() -> None:
    """The router caps a sweep's child at the size a venue displays (MDEntrySize 271)."""
    book = TopOfBook()
    book.apply(incremental(("0", "0", "189.99", "300"), ("0", "1", "190.01", "200")))
    quote = book.quotes["AAPL"]
    assert (quote.bid_size, quote.offer_size) == (D(300), D(200))
    assert book.apply(incremental(("1", "1", "190.01", "150"))) == []  # no new mark: the price is the same
    assert book.moved == ["AAPL"] and book.quotes["AAPL"].offer_size == D(150)
    book.apply(incremental(("0", "1", "190.00", "")))  # a better offer with no size given
    assert (book.quotes["AAPL"].offer, book.quotes["AAPL"].offer_size) == (D("190.00"), None)
    for bad in ("NaN", "-5", "0", "abc"):
        book.apply(incremental(("0", "0", "189.98", bad)))
        assert (book.quotes["AAPL"].bid, book.quotes["AAPL"].bid_size) == (D("189.98"), None)
    book.apply(incremental(("2", "0", "189.98")))
    assert (book.quotes["AAPL"].bid, book.quotes["AAPL"].bid_size) == (None, None)
