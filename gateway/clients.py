"""Client side: the QuickFIX acceptor application that takes client orders and sends their reports."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import quickfix as fix

from gateway import fixspec as t
from gateway.settings import copy_session_id, session_key
from gateway.translate import (
    Invalid,
    business_reject,
    client_execution_report,
    parse_new_order,
    venue_new_order,
)
from gateway.venues import VenueApplication
from oms.manager import OrderManager, Rejected
from oms.model import ClientReport

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClientSession:
    key: str
    session_id: fix.SessionID
    begin_string: str
    comp_id: str  # the client's CompID: the account of orders that carry no Account (1)


class ClientApplication(fix.Application):  # type: ignore[misc]
    """Turns client NewOrderSingles into OMS commands and routes them; sends reports back.

    Callbacks run on QuickFIX threads; no exception but QuickFIX's own may leave one."""

    def __init__(self, oms: OrderManager, venues: VenueApplication) -> None:
        super().__init__()
        self._oms = oms
        self._venues = venues
        self._sessions: dict[str, ClientSession] = {}

    def send_report(self, report: ClientReport) -> None:
        """Send an ExecutionReport to the client session the order came from. While the client is
        away QuickFIX keeps it in the session's store, and it is resent when the client asks."""
        session = self._sessions.get(report.session)
        if session is None:
            log.error("report %s for unknown client session %s dropped", report.exec_id, report.session)
            return
        msg = client_execution_report(report, session.begin_string, time.time_ns())
        try:
            fix.Session.sendToTarget(msg, session.session_id)
        except fix.SessionNotFound:
            log.error("client session %s not found for report %s", report.session, report.exec_id)

    # -- QuickFIX callbacks --------------------------------------------------------------------------

    def onCreate(self, session_id: fix.SessionID) -> None:
        try:
            sid = copy_session_id(session_id)
            key = session_key(sid)
            self._sessions[key] = ClientSession(
                key, sid, sid.getBeginString().getValue(), sid.getTargetCompID().getValue()
            )
        except Exception:
            log.exception("client onCreate failed")

    def onLogon(self, session_id: fix.SessionID) -> None:
        log.info("client logged on: %s", session_id.toString())

    def onLogout(self, session_id: fix.SessionID) -> None:
        log.info("client logged out: %s", session_id.toString())

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        unsupported = False
        try:
            msg_type = message.getHeader().getField(t.MSG_TYPE)
            if msg_type == t.MSG_NEW_ORDER_SINGLE:
                self._on_new_order(message, session_id)
            else:
                unsupported = True
        except fix.FieldNotFound:
            # A tag the dictionary leaves optional but fixgate needs (FIX 4.4 Symbol is optional in
            # the Instrument block): QuickFIX answers with a session Reject naming the tag. Safe to
            # raise: parsing reads every field before anything changes state.
            raise
        except Exception:
            log.exception("client fromApp failed on %s", message.toString().replace("\x01", "|"))
            self._reply(message, session_id, Invalid(0, "internal error: message not processed"), t.CL_ORD_ID)
        if unsupported:
            # QuickFIX answers with a BusinessMessageReject (UnsupportedMessageType).
            raise fix.UnsupportedMessageType()

    # -- ORDER FLOW ----------------------------------------------------------------------------------

    def _on_new_order(self, message: fix.Message, session_id: fix.SessionID) -> None:
        now = time.time_ns()
        session = self._sessions[session_key(session_id)]
        command = parse_new_order(message, session.key, session.comp_id, now)
        if isinstance(command, Invalid):
            self._reply(message, session_id, command, t.CL_ORD_ID)
            return
        outcome = self._oms.submit(command)
        if isinstance(outcome, Rejected):
            self.send_report(outcome.report)
            return
        reason = self._venues.send(outcome.venue, venue_new_order(outcome, now))
        if reason is not None:
            self.send_report(self._oms.venue_send_failed(outcome.order_id, reason))

    def _reply(self, ref: fix.Message, session_id: fix.SessionID, invalid: Invalid, ref_id_tag: int) -> None:
        try:
            fix.Session.sendToTarget(business_reject(ref, invalid, ref_id_tag), session_id)
        except Exception:
            log.exception("could not send BusinessMessageReject")
