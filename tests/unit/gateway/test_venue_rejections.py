"""A venue's Reject (35=3) and BusinessMessageReject (35=j): read, tied back to the message fixgate
sent, and applied to the OMS by the venue application (its QuickFIX callbacks called directly; the
same paths run over real sockets in tests/acceptance/test_venue_refusals.py)."""

from __future__ import annotations

import logging
from decimal import Decimal as D

import pytest
import quickfix as fix

from domain.model import (
    CancelOrder,
    ClientCancelReject,
    ClientReport,
    ExecKind,
    Instrument,
    NewOrder,
    OrderStatus,
    OrdType,
    Routed,
    Side,
    TimeInForce,
    VenueChange,
    VenueReport,
)
from gateway.dispatch import Dispatcher
from gateway.translate import parse_venue_rejection
from gateway.venues import SentMessages, VenueApplication
from oms.manager import OrderManager
from oms.router import Router
from risk import PreTradeRisk, risk_config_from_mapping

INSTRUMENTS = {"AAPL": Instrument("AAPL", "SIM", D("0.01"), D(1), D(190))}
SESSION = "FIX.4.4:FIXGATE->CLIENT1"
VENUE_SESSION = fix.SessionID("FIX.4.4", "FIXGATE", "SIM")


def message(msg_type: str, body: str) -> fix.Message:
    return fix.Message(f"8=FIX.4.4\x019=0\x0135={msg_type}\x0134=9\x0149=SIM\x0156=FIXGATE\x01{body}10=000\x01",
                       False)


def test_a_session_reject_reads_as_tag_reason_and_text() -> None:
    rejection = parse_venue_rejection(message("3", "45=7\x01371=40\x01372=D\x01373=5\x0158=no market orders\x01"))
    assert (rejection.session_level, rejection.ref_seq_num, rejection.ref_msg_type, rejection.ref_id) == (
        True, 7, "D", None)
    assert rejection.reason == "tag 40 value is incorrect (out of range) for this tag: no market orders"
    bare = parse_venue_rejection(message("3", "45=7\x01"))
    assert (bare.reason, bare.ref_msg_type) == ("session-level reject", None)


def test_a_business_reject_reads_as_its_text_else_its_reason() -> None:
    rejection = parse_venue_rejection(message("j", "45=8\x01372=F\x01379=FG1R5\x01380=3\x0158=not here\x01"))
    assert (rejection.session_level, rejection.ref_seq_num, rejection.ref_msg_type, rejection.ref_id,
            rejection.reason) == (False, 8, "F", "FG1R5", "not here")
    assert parse_venue_rejection(message("j", "372=G\x01380=3\x01")).reason == "unsupported message type"


def test_sent_messages_keep_the_latest_and_forget_numbers_that_began_again() -> None:
    sent = SentMessages(capacity=2)
    for seq in (5, 6, 7):
        sent.add(seq, "D", f"FG{seq}")
    assert (sent.get(5), sent.get(6), sent.get(7)) == (None, ("D", "FG6"), ("D", "FG7"))
    sent.add(2, "F", "FG9R1")  # a sequence reset: 6 and 7 were other messages
    assert (sent.get(6), sent.get(2)) == (None, ("F", "FG9R1"))


class Venue:
    """A venue application over a real OMS and the real dispatcher, with what it hands to clients kept
    (it stands in for the client application)."""

    def __init__(self) -> None:
        router = Router(INSTRUMENTS)
        router.set_venue_up("SIM", True)
        risk = PreTradeRisk(INSTRUMENTS, risk_config_from_mapping({}))
        self.oms = OrderManager(instruments=INSTRUMENTS, risk=risk, router=router, sink=lambda r, o=(): None)
        self.reports: list[ClientReport] = []
        self.rejects: list[ClientCancelReject] = []
        self.dispatcher = Dispatcher(self.oms)
        self.app = VenueApplication(self.oms, router, self.dispatcher.carry_out)
        self.dispatcher.bind(self, self.app)  # type: ignore[arg-type]
        self.app.onCreate(VENUE_SESSION)

    def send_report(self, report: ClientReport) -> None:
        self.reports.append(report)

    def send_cancel_reject(self, reject: ClientCancelReject) -> None:
        self.rejects.append(reject)

    def working_order(self) -> Routed:
        [routed] = self.oms.submit(NewOrder(SESSION, "c1", "ACC", "AAPL", Side.BUY, OrdType.LIMIT, D(100), D(190),
                                          TimeInForce.DAY, 1))
        assert isinstance(routed, Routed)
        self.oms.apply(VenueReport("SIM", routed.venue_cl_ord_id, None, "V1", "e1", ExecKind.NEW, OrderStatus.NEW,
                                   D(0), D(0), D(0), D(100), "", 2))
        return routed


def test_a_session_reject_of_a_cancel_ends_it_with_the_clients_cancel_reject() -> None:
    venue = Venue()
    routed = venue.working_order()
    _, change = venue.oms.request_cancel(CancelOrder(SESSION, "x1", "c1", 3))
    assert isinstance(change, VenueChange)
    venue.app._sent["SIM"].add(12, "F", change.venue_cl_ord_id)  # as toApp records it when sent
    venue.app.fromAdmin(message("3", "45=12\x01371=41\x01373=1\x0158=OrigClOrdID missing\x01"), VENUE_SESSION)
    [reject] = venue.rejects
    assert (reject.cl_ord_id, reject.orig_cl_ord_id, reject.status) == ("x1", "c1", OrderStatus.NEW)
    assert reject.text == "venue SIM: tag 41 required tag missing: OrigClOrdID missing"
    order = venue.oms.order(routed.order_id)
    assert order is not None and (order.status, order.pending) == (OrderStatus.NEW, None)


def test_a_refusal_fixgate_cannot_tie_to_anything_is_logged_at_error_with_the_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    venue = Venue()
    routed = venue.working_order()
    venue.app.fromAdmin(message("3", "45=99\x01373=99\x01"), VENUE_SESSION)
    [logged] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "cannot tie to a message it sent" in logged.getMessage() and "45=99" in logged.getMessage()
    order = venue.oms.order(routed.order_id)
    assert order is not None and order.status is OrderStatus.NEW  # as it was: visible and cancellable
    assert venue.reports == [] and venue.rejects == []
