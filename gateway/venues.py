"""Venue side: the QuickFIX initiator application that sends orders to venues and takes their reports."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import quickfix as fix

from domain.model import (
    Carried,
    ClientReport,
    Effect,
    ExecKind,
    StatusRequest,
    VenueCancelReject,
    VenueOrderRefusal,
)
from gateway import fixspec as t
from gateway.dispatch import Turns
from gateway.latency import HopMetrics
from gateway.marketdata import (
    MD_REQ_ID,
    MSG_MARKET_DATA_REQUEST_REJECT,
    TopOfBook,
    parse_market_data_reject,
    subscription,
)
from gateway.sessions import FixSessions
from gateway.settings import copy_session_id
from gateway.translate import (
    Invalid,
    VenueRejection,
    header_flag,
    parse_venue_cancel_reject,
    parse_venue_rejection,
    parse_venue_report,
    sending_time_ns,
    venue_field,
    venue_text,
)
from oms.manager import OrderManager
from oms.router import Router

log = logging.getLogger(__name__)

# How many of the latest application messages sent on a venue session a Reject or a
# BusinessMessageReject can name by RefSeqNum: a venue answers within moments, not 10,000 messages on.
SENT_MESSAGES_KEPT = 10_000


class SentMessages:
    """The latest application messages fixgate sent on one venue session, by MsgSeqNum: (MsgType, the
    ClOrdID or MDReqID it carried). A venue's Reject (35=3) names the refused message by RefSeqNum (45)
    only. Written in ``toApp``, which QuickFIX runs under the session's lock as it numbers each
    message (so before the venue can answer it), and read on the venue's thread: single dict
    operations, atomic under the GIL."""

    def __init__(self, capacity: int = SENT_MESSAGES_KEPT) -> None:
        self._capacity = capacity
        self._by_seq: dict[int, tuple[str, str]] = {}
        self._last = 0

    def add(self, seq: int, msg_type: str, ref_id: str) -> None:
        if seq <= self._last:
            self._by_seq.clear()  # the numbers began again (a sequence reset): the old ones mean nothing
        self._last = seq
        self._by_seq[seq] = (msg_type, ref_id)
        if len(self._by_seq) > self._capacity:
            del self._by_seq[next(iter(self._by_seq))]  # the oldest: dicts keep insertion order

    def get(self, seq: int) -> tuple[str, str] | None:
        return self._by_seq.get(seq)


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
        dispatch: Callable[[Sequence[Effect]], Carried],
        hops: HopMetrics | None = None,
        venue_lag: Callable[[str, int, int], None] | None = None,
        states: FixSessions | None = None,
        turns: Turns | None = None,
    ) -> None:
        super().__init__()
        self._oms = oms
        self._states = FixSessions() if states is None else states  # each session's state for operators
        self._venue_lag = venue_lag  # (venue, its SendingTime, taken at): feeds risk's fair-share throttle
        self._hops = HopMetrics() if hops is None else hops
        self._router = router
        self._dispatch = dispatch  # gateway.dispatch: where the OMS's effects go out
        self._sessions: dict[str, VenueSession] = {}
        self._books: dict[str, TopOfBook] = {}  # per venue; each touched by that venue's thread only
        self._sent: dict[str, SentMessages] = {}  # per venue, made in onCreate
        # Venues that refused an OrderStatusRequest since their last logon (said once per logon).
        self._status_refused: set[str] = set()
        # .out: (venue, MsgType, ClOrdID or MDReqID) of the message this thread is handing to QuickFIX
        # in _send_new(): toApp records its MsgSeqNum and needs no other check. A threading.local lives
        # as long as the callback that set it (QuickFIX's threads get a new thread state per callback),
        # and _send_new() and the toApp it causes run inside the same one.
        self._sending = threading.local()
        # Each report's OMS call and the sending of its effects are a turn of the order's client
        # session, shared with that session's own thread (gateway.dispatch.Turns).
        self._turns = Turns() if turns is None else turns

    def send(self, venue: str, msg: fix.Message, msg_type: str, cl_ord_id: str) -> str | None:
        """Hand an order message (its ``msg_type`` and ClOrdID, which a venue's refusal of it is tied
        back to) to a venue's session; ``None`` when sent, else why not."""
        session = self._sessions.get(venue)
        if session is None:
            return f"no FIX session configured for venue {venue}"
        try:
            if self._send_new(venue, session.session_id, msg, msg_type, cl_ord_id):
                return None
        except fix.SessionNotFound:
            return f"no FIX session configured for venue {venue}"
        # QuickFIX stores a message it could not send while logged out and would resend it on the
        # next logon; toApp drops such resends (DoNotSend), so a refused order stays refused.
        return f"venue {venue} session is not logged on"

    def _send_new(self, venue: str, session_id: fix.SessionID, msg: fix.Message, msg_type: str,
                  ref_id: str) -> bool:
        """``sendToTarget`` of a message made now (not a resend), remembered by its MsgSeqNum."""
        self._sending.out = (venue, msg_type, ref_id)
        try:
            return bool(fix.Session.sendToTarget(msg, session_id))
        finally:
            self._sending.out = None

    # -- QuickFIX callbacks --------------------------------------------------------------------------

    def onCreate(self, session_id: fix.SessionID) -> None:
        try:
            sid = copy_session_id(session_id)
            venue = sid.getTargetCompID().getValue()
            self._sessions[venue] = VenueSession(venue, sid, sid.getBeginString().getValue())
            self._sent[venue] = SentMessages()
            self._states.created("venue", sid)
        except Exception:
            log.exception("venue onCreate failed")

    def onLogon(self, session_id: fix.SessionID) -> None:
        try:
            venue = session_id.getTargetCompID().getValue()
            self._router.set_venue_up(venue, True)
            self._states.logged_on(session_id)
            log.info("venue %s logged on (%s)", venue, session_id.toString())
            self._status_refused.discard(venue)
            self._reconcile(venue)
            self._subscribe(venue, session_id)
        except Exception:
            log.exception("venue onLogon failed")

    def _subscribe(self, venue: str, session_id: fix.SessionID) -> None:
        """Ask for the top of book and trades of the venue's symbols, afresh on every logon: the
        snapshot replaces whatever the last session left."""
        symbols = self._router.symbols_at(venue)
        if symbols:
            self._books[venue] = TopOfBook()
            request = subscription(venue, symbols)
            self._send_new(venue, session_id, request, t.MSG_MARKET_DATA_REQUEST, request.getField(MD_REQ_ID))

    def _reconcile(self, venue: str) -> None:
        """Ask the venue for the status of every order the book has working there. Sent after the
        logon, so the venue answers after it has resent whatever the gap held; any difference left
        is applied from the answers (``OrderManager._reconcile``)."""
        working = self._oms.working_at(venue)
        self._dispatch([StatusRequest(order) for order in working])
        if working:
            log.info("venue %s: asked for the status of %d working orders", venue, len(working))

    def onLogout(self, session_id: fix.SessionID) -> None:
        try:
            venue = session_id.getTargetCompID().getValue()
            self._router.set_venue_up(venue, False)
            self._states.logged_out(session_id)
            log.warning("venue %s logged out (%s)", venue, session_id.toString())
        except Exception:
            log.exception("venue onLogout failed")

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            self._states.admin_sent(message, session_id, message.getHeader().getField(t.MSG_TYPE))
        except Exception:
            log.exception("venue toAdmin failed")

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            msg_type = message.getHeader().getField(t.MSG_TYPE)
            self._states.admin_received(message, session_id, msg_type)
            if msg_type == t.MSG_REJECT:
                self._on_rejection(message, session_id.getTargetCompID().getValue(), time.time_ns())
            elif msg_type == t.MSG_LOGON and message.isSetField(t.DEFAULT_APPL_VER_ID):
                version = message.getField(t.DEFAULT_APPL_VER_ID)
                if version != t.APPL_VER_FIX50SP2:
                    # Its reports are then read by tag as 5.0 SP2 ones (the versions agree on every tag
                    # fixgate reads), but QuickFIX has no dictionary to check them against.
                    log.error("venue %s says its DefaultApplVerID (1137) is %s, not %s (%s): its messages"
                              " are not validated", session_id.getTargetCompID().getValue(),
                              venue_text(version), t.APPL_VER_FIX50SP2, t.FIX50SP2)
        except Exception:
            log.exception("venue fromAdmin failed on %s", message.toString().replace("\x01", "|"))

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        out = getattr(self._sending, "out", None)
        if out is not None:
            # A message _send_new() is handing over right now is new, not one QuickFIX resends from its
            # store (those go out on the engine's thread): only its MsgSeqNum is read (one SWIG call
            # on every order), for a Reject that names it by number alone.
            try:
                venue, msg_type, ref_id = out
                self._sent[venue].add(int(message.getHeader().getField(t.MSG_SEQ_NUM)), msg_type, ref_id)
                self._states.sent(session_id)
            except Exception:
                log.exception("venue toApp failed")
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
        try:
            self._states.sent(session_id)  # a resend from the store (the gap fill is counted in toAdmin)
        except Exception:
            log.exception("venue toApp failed")

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            now = time.time_ns()
            self._states.received(session_id)
            msg_type = message.getHeader().getField(t.MSG_TYPE)
            venue = session_id.getTargetCompID().getValue()
            if msg_type == t.MSG_EXECUTION_REPORT:
                if self._venue_lag is not None:
                    self._venue_lag(venue, sending_time_ns(message), now)
                self._on_execution_report(message, venue, session_id.getBeginString().getValue(), now)
            elif msg_type == t.MSG_ORDER_CANCEL_REJECT:
                reject = parse_venue_cancel_reject(message, venue, now)
                with self._turn(venue, reject.venue_cl_ord_id):
                    self._dispatch(self._oms.apply_cancel_reject(reject))
            elif msg_type in ("W", "X"):
                book = self._books.get(venue)
                if book is not None:
                    marks = book.apply(message)
                    for symbol in book.moved:
                        quote = book.quotes[symbol]
                        self._router.quoted(venue, symbol, quote.bid, quote.offer, quote.bid_size, quote.offer_size)
                    self._oms.market_marks(marks, venue, book.quotes)
            elif msg_type == MSG_MARKET_DATA_REQUEST_REJECT:
                self._market_data_refused(venue, parse_market_data_reject(message))
            elif msg_type == t.MSG_BUSINESS_MESSAGE_REJECT:
                text = venue_field(message, t.TEXT) if message.isSetField(t.TEXT) else "no Text"
                self._states.error(session_id, f"BusinessMessageReject received: {text}")
                self._on_rejection(message, venue, now)
            else:
                log.error("venue %s sent message type %s, which fixgate has no rule for: %s", venue, msg_type,
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
        with self._turn(venue, report.venue_cl_ord_id, report.orig_venue_cl_ord_id):
            effects = self._oms.apply(report)
            if not effects:
                return
            applied = time.time_ns()
            carried = self._dispatch(effects)
        first = effects[0]
        if isinstance(first, ClientReport):
            self._hops.report(first.exec_id, now, applied, carried.report_sent_ns)

    # -- REFUSALS: a venue's Reject (35=3) or BusinessMessageReject (35=j) of a message fixgate sent --

    def _on_rejection(self, message: fix.Message, venue: str, now: int) -> None:
        """End what the refused message started: an order is rejected, a cancel or replace ends with
        the client's cancel reject; a refused status request or market data request is said once."""
        rejection = parse_venue_rejection(message)
        refused = self._refused_message(venue, rejection)
        if refused is None:
            log.error("venue %s sent a %s fixgate cannot tie to a message it sent (%s): %s", venue,
                      "Reject" if rejection.session_level else "BusinessMessageReject", rejection.reason,
                      message.toString().replace("\x01", "|"))
            return
        msg_type, ref_id = refused
        if msg_type == t.MSG_NEW_ORDER_SINGLE:
            text = f"venue {venue} rejected the order: {rejection.reason}"
            with self._turn(venue, ref_id):
                self._dispatch(self._oms.apply_order_refusal(VenueOrderRefusal(venue, ref_id, text, now)))
        elif msg_type in (t.MSG_ORDER_CANCEL_REQUEST, t.MSG_ORDER_CANCEL_REPLACE_REQUEST):
            # As the venue's OrderCancelReject of the request would be (a 35=j need not name the
            # order's id, and the OMS finds the order by the request's).
            with self._turn(venue, ref_id):
                self._dispatch(self._oms.apply_cancel_reject(VenueCancelReject(venue, ref_id, "", rejection.reason,
                                                                               now)))
        elif msg_type == t.MSG_ORDER_STATUS_REQUEST:
            if venue in self._status_refused:
                log.debug("venue %s refused the status request of %s", venue, ref_id)
            else:
                self._status_refused.add(venue)
                log.warning("venue %s refuses OrderStatusRequest (%s): reconciliation is unavailable for that"
                            " venue; its orders stay as the book has them", venue, rejection.reason)
        elif msg_type == t.MSG_MARKET_DATA_REQUEST:
            self._market_data_refused(venue, rejection.reason)
        else:  # pragma: no cover - only the types above are remembered by _send_new
            log.error("venue %s refused a %s message (%s): %s", venue, msg_type, rejection.reason,
                      message.toString().replace("\x01", "|"))

    def _turn(self, venue: str, venue_cl_ord_id: str,
              orig_venue_cl_ord_id: str | None = None) -> contextlib.AbstractContextManager[object]:
        """The turn of the client session whose order ``venue`` names (by its ClOrdID, else by the
        OrigClOrdID: a venue may answer a cancel under the order's own id)."""
        session = self._oms.session_of(venue, venue_cl_ord_id)
        if session is None and orig_venue_cl_ord_id:
            session = self._oms.session_of(venue, orig_venue_cl_ord_id)
        return self._turns.waited(session)

    def _market_data_refused(self, venue: str, reason: str) -> None:
        """The venue refused the market data request (a MarketDataRequestReject 35=Y, or a 35=3/35=j of
        the request): its book is dropped, so marks stay on the reference price; said once per logon
        (``_subscribe`` asks again at the next), however many refusals the venue sends."""
        self._router.forget_quotes(venue)
        if self._books.pop(venue, None) is None:
            log.debug("venue %s refused market data again (%s)", venue, reason)
            return
        log.warning("venue %s refuses market data (%s): marks stay on the reference price and fixgate's"
                    " own fills", venue, reason)

    def _refused_message(self, venue: str, rejection: VenueRejection) -> tuple[str, str] | None:
        """(MsgType, ClOrdID or MDReqID) of the message a refusal names: by RefSeqNum among those sent
        lately (exact, and all a 35=3 gives), else by RefMsgType and BusinessRejectRefID (a 35=j
        about a message sent before a restart)."""
        sent = self._sent.get(venue)
        found = None if sent is None or rejection.ref_seq_num is None else sent.get(rejection.ref_seq_num)
        if found is not None and rejection.ref_msg_type in (None, found[0]):
            return found
        if rejection.ref_msg_type is not None and rejection.ref_id is not None:
            return rejection.ref_msg_type, rejection.ref_id
        return None
