"""Venue side: the QuickFIX initiator application that sends orders to venues and takes their reports."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import quickfix as fix

from gateway import fixspec as t
from gateway.latency import HopMetrics
from gateway.marketdata import TopOfBook, subscription
from gateway.settings import copy_session_id
from gateway.translate import (
    Invalid,
    header_flag,
    parse_venue_cancel_reject,
    parse_venue_report,
    venue_change,
    venue_status_request,
)
from oms.manager import OrderManager, VenueChange
from oms.model import ClientCancelReject, ClientReport, ExecKind
from oms.router import Router

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VenueSession:
    """One venue's FIX session: its name is the session's TargetCompID."""

    venue: str
    session_id: fix.SessionID
    begin_string: str


class VenueApplication(fix.Application):  # type: ignore[misc]
    """Forwards routed orders to venues; applies venue ExecutionReports to the OMS.

    Callbacks run on QuickFIX threads; no exception but QuickFIX's own may leave one."""

    def __init__(
        self,
        oms: OrderManager,
        router: Router,
        to_client: Callable[[ClientReport], None],
        cancel_reject_to_client: Callable[[ClientCancelReject], None],
        hops: HopMetrics | None = None,
    ) -> None:
        super().__init__()
        self._oms = oms
        self._hops = HopMetrics() if hops is None else hops
        self._router = router
        self._to_client = to_client
        self._cancel_reject_to_client = cancel_reject_to_client
        self._sessions: dict[str, VenueSession] = {}
        self._books: dict[str, TopOfBook] = {}  # per venue; each touched by that venue's thread only
        # .fresh: this thread is in send(), so toApp needs no check. A threading.local lives as long
        # as the callback that set it (QuickFIX's threads get a new thread state per callback), and
        # send() and the toApp it causes run inside the same one.
        self._sending = threading.local()

    def send(self, venue: str, msg: fix.Message) -> str | None:
        """Hand an order message to a venue's session; ``None`` when sent, else why not."""
        session = self._sessions.get(venue)
        if session is None:
            return f"no FIX session configured for venue {venue}"
        self._sending.fresh = True
        try:
            if fix.Session.sendToTarget(msg, session.session_id):
                return None
        except fix.SessionNotFound:
            return f"no FIX session configured for venue {venue}"
        finally:
            self._sending.fresh = False
        # QuickFIX stores a message it could not send while logged out and would resend it on the
        # next logon; toApp drops such resends (DoNotSend), so a refused order stays refused.
        return f"venue {venue} session is not logged on"

    def send_change(self, change: VenueChange) -> str | None:
        """Send a cancel or replace to the venue; the client gets the Pending report first, then a
        cancel reject if the venue session cannot take the request. ``None`` when sent, else why not."""
        self._to_client(change.ack)
        reason = self.send(change.venue, venue_change(change, time.time_ns()))
        if reason is not None:
            reject = self._oms.change_send_failed(change, reason)
            if reject is not None:
                self._cancel_reject_to_client(reject)
        return reason

    # -- QuickFIX callbacks --------------------------------------------------------------------------

    def onCreate(self, session_id: fix.SessionID) -> None:
        try:
            sid = copy_session_id(session_id)
            venue = sid.getTargetCompID().getValue()
            self._sessions[venue] = VenueSession(venue, sid, sid.getBeginString().getValue())
        except Exception:
            log.exception("venue onCreate failed")

    def onLogon(self, session_id: fix.SessionID) -> None:
        try:
            venue = session_id.getTargetCompID().getValue()
            self._router.set_venue_up(venue, True)
            log.info("venue %s logged on (%s)", venue, session_id.toString())
            self._reconcile(venue, session_id)
            self._subscribe(venue, session_id)
        except Exception:
            log.exception("venue onLogon failed")

    def _subscribe(self, venue: str, session_id: fix.SessionID) -> None:
        """Ask for the top of book and trades of the venue's symbols, afresh on every logon: the
        snapshot replaces whatever the last session left."""
        symbols = self._router.symbols_at(venue)
        if symbols:
            self._books[venue] = TopOfBook()
            fix.Session.sendToTarget(subscription(venue, symbols), session_id)

    def _reconcile(self, venue: str, session_id: fix.SessionID) -> None:
        """Ask the venue for the status of every order the book has working there. Sent after the
        logon, so the venue answers after it has resent whatever the gap held; any difference left
        is applied from the answers (``OrderManager._reconcile``)."""
        working = self._oms.working_at(venue)
        for order in working:
            fix.Session.sendToTarget(venue_status_request(order), session_id)
        if working:
            log.info("venue %s: asked for the status of %d working orders", venue, len(working))

    def onLogout(self, session_id: fix.SessionID) -> None:
        try:
            venue = session_id.getTargetCompID().getValue()
            self._router.set_venue_up(venue, False)
            log.warning("venue %s logged out (%s)", venue, session_id.toString())
        except Exception:
            log.exception("venue onLogout failed")

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        if getattr(self._sending, "fresh", False):
            # A message send() is handing over right now is new, not one QuickFIX resends from its
            # store (those go out on the engine's thread): skip reading the header (a few SWIG calls
            # on every order).
            return
        try:
            drop = header_flag(message, t.POSS_DUP_FLAG) and message.getHeader().getField(t.MSG_TYPE) in t.ORDER_MSG_TYPES
        except Exception:
            log.exception("venue toApp failed")
            return
        if drop:
            # An order resent on a sequence gap is stale: the client was told it failed, or it is
            # already live. The engine sends a gap fill instead.
            raise fix.DoNotSend()

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            now = time.time_ns()
            msg_type = message.getHeader().getField(t.MSG_TYPE)
            venue = session_id.getTargetCompID().getValue()
            if msg_type == t.MSG_EXECUTION_REPORT:
                self._on_execution_report(message, venue, session_id.getBeginString().getValue(), now)
            elif msg_type == t.MSG_ORDER_CANCEL_REJECT:
                reject = self._oms.apply_cancel_reject(parse_venue_cancel_reject(message, venue, now))
                if reject is not None:
                    self._cancel_reject_to_client(reject)
                if self._oms.status_checks_owed:  # "unknown order": has the venue forgotten it?
                    for order in self._oms.take_status_checks():
                        fix.Session.sendToTarget(venue_status_request(order), session_id)
            elif msg_type in ("W", "X"):
                book = self._books.get(venue)
                if book is not None:
                    self._oms.market_marks(book.apply(message))
            elif msg_type == "Y":
                log.warning("venue %s refused market data: %s", venue, message.toString().replace("\x01", "|"))
            else:
                log.warning("venue %s sent unhandled message type %s: %s", venue, msg_type,
                            message.toString().replace("\x01", "|"))
        except fix.FieldNotFound:
            raise  # QuickFIX rejects the report naming the tag; nothing was applied yet
        except Exception:
            log.exception("venue fromApp failed on %s", message.toString().replace("\x01", "|"))

    def _on_execution_report(self, message: fix.Message, venue: str, begin_string: str, now: int) -> None:
        report = parse_venue_report(message, venue, begin_string, now)
        if isinstance(report, Invalid):
            log.error("venue %s report not applied: %s", venue, report.text)
            return
        if report.kind is ExecKind.ORDER_STATUS and header_flag(message, t.POSS_DUP_FLAG):
            # A status answer resent on a sequence gap answered an earlier process's question: what
            # it says is old (a cancel may have been done since), and taken for the answer to this
            # logon's question it would end requests the venue did get. The fresh answer follows.
            log.info("venue %s: resent status answer for %s ignored", venue, report.venue_cl_ord_id)
            return
        client_report = self._oms.apply(report)
        if client_report is not None:
            applied = time.time_ns()
            self._to_client(client_report)
            self._hops.report(client_report.exec_id, now, applied, time.time_ns())
        if self._oms.cancel_rejects_owed:
            # A status answer showed the venue never got a cancel or replace (lost in a drop).
            for reject in self._oms.take_cancel_rejects():
                self._cancel_reject_to_client(reject)
        if self._oms.cancels_owed:
            # The venue acknowledged an order a kill switch swept while it was on its way.
            for change in self._oms.take_cancels():
                self.send_change(change)
