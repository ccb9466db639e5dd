"""Every string a venue sends passes ``venue_text`` before fixgate stores it or hands it to a client:
a byte that is not UTF-8 reaches Python from QuickFIX as a lone surrogate (0xFF as U+DCFF), which
PostgreSQL refuses and which ``fix.Message.setField`` refuses with TypeError. One in a venue Reject's
Text once left the order REJECTED in the OMS, unbooked, and its client report unbuildable.

``fix.Message`` cannot be given such a string from Python (SWIG encodes strictly), so ``WireMessage``
stands in for the message QuickFIX hands over: the same getters, the strings as QuickFIX decodes them
(``surrogateescape``). The same bytes go over real sockets in tests/acceptance/test_venue_bytes.py."""

from __future__ import annotations

import dataclasses
import logging
from decimal import Decimal as D

import pytest
import quickfix as fix

from domain.model import (
    CancelOrder,
    ClientMessage,
    ClientReport,
    NewOrder,
    OrderStatus,
    OrdType,
    Routed,
    Side,
    TimeInForce,
    VenueChange,
    VenueReport,
)
from gateway import fixspec as t
from gateway.clients import ClientApplication
from gateway.marketdata import TopOfBook
from gateway.translate import (
    client_cancel_reject,
    client_execution_report,
    parse_venue_cancel_reject,
    parse_venue_rejection,
    parse_venue_report,
)
from tests.unit.book import samples
from tests.unit.gateway.test_venue_rejections import VENUE_SESSION, Venue, message


def wire(raw: bytes) -> str:
    """A field's bytes as QuickFIX hands them to Python."""
    return raw.decode("utf-8", "surrogateescape")


FF = wire(b"\xff")


class WireMessage:
    """The getters of a ``fix.Message`` QuickFIX decoded from the wire, over fields that may hold
    lone surrogates."""

    def __init__(self, msg_type: str, fields: dict[int, str]) -> None:
        self._header = _Fields({t.MSG_TYPE: msg_type})
        self._fields = _Fields(fields)

    def getHeader(self) -> _Fields:  # QuickFIX's names
        return self._header

    def getField(self, tag: int) -> str:
        return self._fields.getField(tag)

    def isSetField(self, tag: int) -> bool:
        return self._fields.isSetField(tag)

    def toString(self) -> str:
        return repr(self._fields)


class _Fields:
    def __init__(self, fields: dict[int, str]) -> None:
        self._fields = fields

    def getField(self, tag: int) -> str:
        if tag not in self._fields:
            raise fix.FieldNotFound(tag)
        return self._fields[tag]

    def isSetField(self, tag: int) -> bool:
        return tag in self._fields

    def __repr__(self) -> str:
        return repr(self._fields)


def test_a_field_that_is_not_utf8_cannot_go_into_a_fix_message() -> None:
    # Why the escape is needed at all: what QuickFIX hands over, QuickFIX will not take back.
    with pytest.raises(TypeError):
        fix.Message().setField(58, f"no {FF}")


# -- the parsers ----------------------------------------------------------------------------------


def test_a_venue_reject_reads_its_text_and_ids_escaped() -> None:
    session = parse_venue_rejection(WireMessage("3", {45: "7", 371: "40", 373: "5", 58: f"bad {FF} type"}))
    assert session.reason == "tag 40 value is incorrect (out of range) for this tag: bad \\xff type"
    business = parse_venue_rejection(WireMessage("j", {372: "F", 379: f"FG{FF}1", 380: "3", 58: f"x{FF}"}))
    assert (business.ref_id, business.reason) == ("FG\\xff1", "x\\xff")


def test_a_venue_cancel_reject_reads_its_text_and_ids_escaped() -> None:
    reject = parse_venue_cancel_reject(
        WireMessage("9", {11: f"R{FF}", 41: f"O{FF}", 58: f"too late {FF}", 102: "0"}), "SIM", 5)
    assert (reject.venue_cl_ord_id, reject.orig_venue_cl_ord_id, reject.text) == ("R\\xff", "O\\xff",
                                                                                  "too late \\xff")


def test_a_venue_report_reads_its_clordids_escaped() -> None:
    report = parse_venue_report(WireMessage("8", {
        11: f"N{FF}", 41: f"O{FF}", 37: "V1", 17: "E1", 150: "5", 39: "0", 14: "0", 151: "100"}),
        "SIM", "FIX.4.4", 5)
    assert isinstance(report, VenueReport)
    assert (report.venue_cl_ord_id, report.orig_venue_cl_ord_id) == ("N\\xff", "O\\xff")


def test_market_data_symbols_are_escaped() -> None:
    # A snapshot with no entries names its symbol only: its quote is reset under the escaped name.
    book = TopOfBook()
    book.apply(WireMessage("W", {55: f"AA{FF}"}))
    assert set(book.quotes) == {"AA\\xff"}


# -- through the venue application: what the client and the book get ------------------------------


def test_an_order_the_venue_rejects_with_a_text_that_is_not_utf8_reaches_the_client() -> None:
    venue = Venue()
    [routed] = venue.oms.submit(NewOrder("FIX.4.4:FIXGATE->CLIENT1", "c1", "ACC", "AAPL", Side.BUY, OrdType.LIMIT,
                                       D(100), D(190), TimeInForce.DAY, 1))
    assert isinstance(routed, Routed)
    venue.app._sent["SIM"].add(12, t.MSG_NEW_ORDER_SINGLE, routed.venue_cl_ord_id)  # as toApp records it
    venue.app.fromAdmin(WireMessage("3", {45: "12", 371: "40", 373: "5", 58: f"no {FF}"}), VENUE_SESSION)
    [report] = venue.reports
    assert report.status is OrderStatus.REJECTED
    assert report.text == ("venue SIM rejected the order: tag 40 value is incorrect (out of range) for this"
                           " tag: no \\xff")
    order = venue.oms.order(report.order_id)
    assert order is not None and order.text == report.text  # as the book writer gets it: valid UTF-8
    assert client_execution_report(report, "FIX.4.4", 0).getField(58) == report.text


def test_a_cancel_reject_with_a_text_that_is_not_utf8_reaches_the_client() -> None:
    venue = Venue()
    venue.working_order()
    _, change = venue.oms.request_cancel(CancelOrder("FIX.4.4:FIXGATE->CLIENT1", "x1", "c1", 3))
    assert isinstance(change, VenueChange)
    venue.app.fromApp(WireMessage("9", {11: change.venue_cl_ord_id, 41: change.orig_venue_cl_ord_id,
                                        39: "0", 58: f"no {FF}", 102: "0"}), VENUE_SESSION)
    [reject] = venue.rejects
    assert reject.text == "venue SIM: no \\xff"
    assert client_cancel_reject(reject, "FIX.4.4").getField(58) == reject.text


def test_a_replace_the_book_has_no_request_for_is_adopted_under_an_escaped_clordid() -> None:
    venue = Venue()
    routed = venue.working_order()
    venue.app.fromApp(WireMessage("8", {
        11: f"R{FF}", 41: routed.venue_cl_ord_id, 37: "V1", 17: "e2", 150: "5", 39: "0", 14: "0",
        151: "50", 44: "189"}), VENUE_SESSION)
    order = venue.oms.order(routed.order_id)
    assert order is not None and (order.venue_cl_ord_id, order.quantity) == ("R\\xff", D(50))


# -- owed messages at a client's logon --------------------------------------------------------------


class RecordingClients(ClientApplication):
    """The client application, with what its logon tried to send kept (no client session is up)."""

    def __init__(self) -> None:
        venue = Venue()
        super().__init__(venue.oms, venue.dispatcher.carry_out)
        self.sent: list[ClientMessage] = []

    def send_report(self, report: ClientReport, *, possible_resend: bool = False) -> None:
        self.sent.append(report)
        client_execution_report(report, "FIX.4.4", 0)  # as the real one builds it first


def test_one_owed_message_that_cannot_be_built_does_not_keep_the_rest_from_the_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Journaled by a fixgate that did not escape it yet: its report cannot be built.
    bad = dataclasses.replace(samples.report("A"), text=f"no {FF}")
    good = samples.report("B")
    clients = RecordingClients()
    clients.owe([bad, good], set())
    clients.onLogon(fix.SessionID("FIX.4.4", "FIXGATE", "CLIENT1"))
    assert clients.sent == [bad, good]
    [failed] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "owed" in failed.getMessage() and "A" in failed.getMessage()


# -- 35=Y: a MarketDataRequestReject, handled as the 35=3/35=j refusal of the request ----------------


def test_a_market_data_request_reject_drops_the_book_and_is_said_once(caplog: pytest.LogCaptureFixture) -> None:
    venue = Venue()
    venue.app._books["SIM"] = TopOfBook()  # as _subscribe leaves it at logon
    refusal = message("Y", "262=FIXGATE-MD-SIM\x01281=0\x0158=unknown symbol AAPL\x01")
    with caplog.at_level(logging.INFO):
        venue.app.fromApp(refusal, VENUE_SESSION)
        venue.app.fromApp(refusal, VENUE_SESSION)
    assert "SIM" not in venue.app._books
    said = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert [(r.levelno, r.getMessage()) for r in said] == [(logging.WARNING, (
        "venue SIM refuses market data (unknown symbol AAPL): marks stay on the reference price and"
        " fixgate's own fills"))]


def test_a_market_data_request_reject_without_text_names_its_reason() -> None:
    venue = Venue()
    venue.app._books["SIM"] = TopOfBook()
    venue.app.fromApp(message("Y", "262=FIXGATE-MD-SIM\x01281=5\x01"), VENUE_SESSION)
    assert "SIM" not in venue.app._books
