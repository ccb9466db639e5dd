"""Client side: the QuickFIX acceptor application that takes client orders and sends their reports."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import quickfix as fix

from domain.model import (
    CancelOrder,
    CancelRejectReason,
    Carried,
    ClientCancelReject,
    ClientCopy,
    ClientMessage,
    ClientReport,
    ClientSent,
    Effect,
    ExecKind,
    NewOrder,
    OrderStatus,
    ReplaceOrder,
    RequestKind,
    Routed,
    VenueChange,
)
from gateway import fixspec as t
from gateway.credentials import LogonCredentials
from gateway.dispatch import Turns
from gateway.dropcopy import DropCopies, as_copy
from gateway.dropcopy import refusal as drop_copy_refusal
from gateway.latency import HopMetrics
from gateway.sessions import FixSessions
from gateway.settings import copy_session_id, session_key
from gateway.translate import (
    Invalid,
    business_reject,
    client_cancel_reject,
    client_execution_report,
    foreign_appl_ver_id,
    header_flag,
    invalid_text,
    mass_cancel_report,
    parse_cancel,
    parse_new_order,
    parse_replace,
    refused_order_report,
    session_reject,
    text_field,
    unknown_order_status,
)
from oms.manager import OrderManager

log = logging.getLogger(__name__)

# What a client session (or a drop copy session) may be owed: a message, or a drop copy's copy of one.
Owed = ClientMessage | ClientCopy


@dataclass(frozen=True, slots=True)
class ClientSession:
    key: str
    session_id: fix.SessionID
    begin_string: str
    comp_id: str  # the client's CompID: the account of orders that carry no Account (1)

    def entitled(self, account: str, entitlements: dict[str, frozenset[str] | None]) -> str | None:
        """``None`` if this session may trade ``account``, else why not. A session not in
        ``entitlements`` may trade its own CompID only; ``None`` there means any account."""
        accounts = entitlements.get(self.key, frozenset((self.comp_id,)))
        if accounts is None or account in accounts:
            return None
        return f"account {account} is not entitled to session {self.comp_id}"


class ClientApplication(fix.Application):  # type: ignore[misc]
    """Turns client NewOrderSingles into OMS commands and routes them; sends reports back.

    Callbacks run on QuickFIX threads; no exception but QuickFIX's own may leave one."""

    def __init__(self, oms: OrderManager, dispatch: Callable[[Sequence[Effect]], Carried],
                 hops: HopMetrics | None = None, states: FixSessions | None = None,
                 turns: Turns | None = None) -> None:
        super().__init__()
        self._oms = oms
        # Each OMS call about a session's orders and the sending of its effects are one turn of the
        # session, shared with the venue threads that report its orders (gateway.dispatch.Turns).
        self._turns = Turns() if turns is None else turns
        self._states = FixSessions() if states is None else states  # each session's state for operators
        self._dispatch = dispatch  # gateway.dispatch: where the OMS's effects go out
        self._hops = HopMetrics() if hops is None else hops
        self._sessions: dict[str, ClientSession] = {}
        # Per session key, the accounts it may trade (``Accounts=`` in clients.cfg); None: any.
        self.entitlements: dict[str, frozenset[str] | None] = {}
        # Per session key, the Username/Password its Logon must carry (sessions with a Username=).
        self.credentials: dict[str, LogonCredentials] = {}
        self.cancel_on_disconnect: frozenset[str] = frozenset()  # session keys
        # The drop copy sessions (read-only) and which of them cover each client session.
        self.drop_copies = DropCopies()
        self._owed: dict[str, list[Owed]] = {}
        # Where a report or cancel reject is marked as on the wire (fixgate.app: the journal); marks
        # decide at the next start what is owed (``owe``). None: not recorded (tests of one run).
        self.record_sent: Callable[[Sequence[ClientSent]], None] | None = None
        # Per session key, what QuickFIX took while the client was away (stored, not sent): each with
        # the MsgSeqNum it was stored under, None if QuickFIX did not even store it. QuickFIX resends
        # one when the client asks, unless a 141=Y logon has emptied the store: onLogon tells which.
        self._away: dict[str, list[tuple[int | None, Owed]]] = {}
        self._away_lock = threading.Lock()  # _deliver runs on the venue threads too
        self._logon_seq: dict[str, int] = {}  # per session key, the MsgSeqNum of its last Logon sent
        # .message: the ClientMessage this thread is handing to QuickFIX in _deliver(); .state: what
        # toApp saw ("wire" or "stored"). As in VenueApplication, toApp runs inside sendToTarget on
        # the same thread (and the same callback's thread state), under QuickFIX's session lock.
        self._handing = threading.local()
        # Per thread inside a send to a client now, since when (monotonic): a send that lasts is one
        # to a client whose buffers are full, and it holds up that thread, often a venue's, so every
        # client's reports wait behind it (gateway.connections closes such a client).
        self._sending: dict[int, float] = {}
        self._sending_lock = threading.Lock()
        # Cancel-on-disconnect sweeps under way, each on its own thread (onLogout).
        self._sweeps: list[threading.Thread] = []
        self._sweeps_lock = threading.Lock()

    def owe(self, messages: Iterable[ClientMessage], sent: Collection[ClientSent]) -> list[ClientMessage | ClientSent]:
        """Reports and cancel rejects a previous run journaled with no mark in ``sent`` that they went
        out on the wire: each is sent when its client next logs on, with PossResend (97=Y), for the
        client may have had it (killed between the send and the mark). The same for each drop copy
        session covering the client: a copy with no mark of that session is owed to it. One journaled
        more than once (carried over to the next journal, then replayed from both) is owed once.

        Returns what the new journal must hold for the next start to owe the same: each message still
        owed to someone, in journal order, followed by the marks of those who had it already.

        The marks are fixgate's own (:class:`~domain.model.ClientSent`), not QuickFIX's store: a logon
        with ResetSeqNumFlag (141=Y) empties the store, and a report sent before it would look unsent
        and go again as new."""
        seen: set[ClientSent] = set()
        carried: list[ClientMessage | ClientSent] = []
        for message in messages:
            mark = ClientSent.of(message)
            if mark in seen:
                continue
            seen.add(mark)
            had: list[ClientSent] = []
            owed = False
            for to in (message.session, *self.drop_copies.of(message.session)):
                to_mark = ClientSent(to, mark.ref)
                if to_mark in sent:
                    had.append(to_mark)
                    continue
                owed = True
                self._owed.setdefault(to, []).append(message if to == message.session else ClientCopy(to, message))
            if owed:
                carried.append(message)
                carried.extend(had)
        return carried

    def send_cancel_reject(self, reject: ClientCancelReject, *, possible_resend: bool = False) -> None:
        """Send an OrderCancelReject to the client session that asked (``possible_resend``: with 97=Y)."""
        session = self._sessions.get(reject.session)
        if session is None:
            log.error("cancel reject for unknown client session %s dropped", reject.session)
            return
        msg = client_cancel_reject(reject, session.begin_string)
        coverage = None if possible_resend else self.drop_copies.covering.get(session.key)
        if coverage is None:
            self._deliver(msg, session, reject, possible_resend)
            return
        with coverage.lock:  # the drop copies get this client's messages in the order it gets them
            self._deliver(msg, session, reject, False)
            for key in coverage.drop_copies:
                self.send_copy(ClientCopy(key, reject))

    def send_report(self, report: ClientReport, *, possible_resend: bool = False) -> None:
        """Send an ExecutionReport to the client session the order came from (``possible_resend``: with
        97=Y). While the client is away QuickFIX keeps it in the session's store, and it is resent
        when the client asks; after a 141=Y logon, which empties the store, fixgate sends it again."""
        session = self._sessions.get(report.session)
        if session is None:
            log.error("report %s for unknown client session %s dropped", report.exec_id, report.session)
            return
        now = time.time_ns()
        msg = client_execution_report(report, session.begin_string, now)
        # A message owed again (possible_resend) is not copied again: each drop copy is owed its own.
        coverage = None if possible_resend else self.drop_copies.covering.get(session.key)
        if coverage is None:
            self._deliver(msg, session, report, possible_resend)
            return
        with coverage.lock:  # the drop copies get this client's messages in the order it gets them
            self._deliver(msg, session, report, False)
            for key in coverage.drop_copies:
                self.send_copy(ClientCopy(key, report), now_ns=now)

    def send_copy(self, copy: ClientCopy, *, possible_resend: bool = False, now_ns: int | None = None) -> None:
        """Send a drop copy session its copy of a client's report or cancel reject, marked as a copy
        (``gateway.dropcopy.as_copy``), in the drop copy's FIX version; delivered and marked as a client
        message is (``_deliver``). Never raises: one copy that fails must not stop the client's flow."""
        try:
            session = self._sessions.get(copy.session)
            client = self._sessions.get(copy.of.session)
            if session is None or client is None:
                log.error("copy %s: unknown session; dropped", ClientSent.of(copy))
                return
            original = copy.of
            if isinstance(original, ClientReport):
                now = time.time_ns() if now_ns is None else now_ns
                msg = client_execution_report(original, session.begin_string, now)
            else:
                msg = client_cancel_reject(original, session.begin_string)
            self._deliver(as_copy(msg, client.comp_id, session.begin_string), session, copy, possible_resend)
        except Exception:
            log.exception("drop copy %s not sent", ClientSent.of(copy))

    def _deliver(
        self, msg: fix.Message, session: ClientSession, message: Owed, possible_resend: bool
    ) -> None:
        """Send ``msg``, the wire form of ``message``, and once QuickFIX has put it on the wire, mark
        it so. Only then: ``sendToTarget`` is True as well when the client is away and QuickFIX merely
        stored the message (QuickFIX 1.16), so toApp tells the two apart. One stored is kept in
        ``_away`` until the client's next logon (``onLogon``); unmarked, a restart owes it again."""
        if possible_resend:
            msg.getHeader().setField(t.POSS_RESEND, "Y")
        self._handing.message = message
        self._handing.state = None
        try:
            self._send_to_target(msg, session.session_id)
        except fix.SessionNotFound:
            log.error("client session %s not found; message dropped", session.key)
            return
        finally:
            state = self._handing.state
            self._handing.message = None
        if state is None:
            # Never reached toApp: QuickFIX neither sent nor stored it (a session set to reset its
            # sequence numbers at logon drops what it is given while logged out). Sent at the next logon.
            with self._away_lock:
                self._away.setdefault(session.key, []).append((None, message))
        elif state == "wire":
            self._mark(session.key, message)

    def _send_to_target(self, msg: fix.Message, session_id: fix.SessionID) -> None:
        """``sendToTarget``, timed for :meth:`send_blocked_since`: every send to a client goes through here."""
        thread = threading.get_ident()
        with self._sending_lock:
            self._sending[thread] = time.monotonic()
        try:
            fix.Session.sendToTarget(msg, session_id)
        finally:
            with self._sending_lock:
                self._sending.pop(thread, None)

    def send_blocked_since(self) -> float | None:
        """When the oldest send to a client still under way began (``time.monotonic``), if one is."""
        with self._sending_lock:
            return min(self._sending.values(), default=None)

    def _mark(self, key: str, message: Owed) -> None:
        if self.record_sent is None:
            return
        try:
            self.record_sent((ClientSent.of(message),))
        except OSError:  # the message went out all the same; only a restart's PossResend is extra
            log.exception("client %s: could not journal that %s went out", key, ClientSent.of(message))

    def _send(self, msg: fix.Message, session_id: fix.SessionID) -> None:
        try:
            self._send_to_target(msg, session_id)
        except fix.SessionNotFound:
            log.error("client session %s not found; message dropped", session_id.toString())

    # -- QuickFIX callbacks --------------------------------------------------------------------------

    def onCreate(self, session_id: fix.SessionID) -> None:
        try:
            sid = copy_session_id(session_id)
            key = session_key(sid)
            self._sessions[key] = ClientSession(
                key, sid, sid.getBeginString().getValue(), sid.getTargetCompID().getValue()
            )
            self._states.created("client", sid)
        except Exception:
            log.exception("client onCreate failed")

    def onLogon(self, session_id: fix.SessionID) -> None:
        try:
            key = session_key(session_id)
            log.info("client logged on: %s", key)
            self._states.logged_on(session_id)
            owed = self._owed.pop(key, [])
            owed.extend(self._emptied_from_store(key))
            for message in owed:
                # Sent before the crash, or not: no mark says. PossResend lets the client tell by ExecID.
                # Each on its own: one that cannot be built or sent must not keep the rest from the client.
                try:
                    if isinstance(message, ClientCopy):
                        self.send_copy(message, possible_resend=True)
                    elif isinstance(message, ClientReport):
                        self.send_report(message, possible_resend=True)
                    else:
                        self.send_cancel_reject(message, possible_resend=True)
                except Exception:
                    log.exception("client %s: owed %s not sent", key, ClientSent.of(message))
            if owed:
                log.warning("client %s: sent %d reports and cancel rejects that a crash left unmarked as"
                            " sent or a 141=Y logon emptied from QuickFIX's store (PossResend)", key, len(owed))
        except Exception:
            log.exception("client onLogon failed")

    def onLogout(self, session_id: fix.SessionID) -> None:
        try:
            key = session_key(session_id)
            log.info("client logged out: %s", key)
            self._states.logged_out(session_id)
            if key in self.cancel_on_disconnect:
                # QuickFIX calls onLogout holding the session's lock, which a venue thread in the
                # session's turn needs to send it a report: waiting here for the turn could wait
                # for ever. The sweep takes the turn on a thread of its own (``join_sweeps``).
                sweep = threading.Thread(target=self._cancel_on_disconnect, args=(key,),
                                         name=f"cancel-on-disconnect {key}", daemon=True)
                with self._sweeps_lock:
                    self._sweeps = [s for s in self._sweeps if s.is_alive()] + [sweep]
                sweep.start()
        except Exception:
            log.exception("client onLogout failed")

    def _cancel_on_disconnect(self, key: str) -> None:
        try:
            with self._turns.of(key):
                effects = self._oms.cancel_orders(session=key)
                log.info("cancel on disconnect: %d working orders of %s", _cancels(effects), key)
                self._dispatch(effects)
        except Exception:
            log.exception("cancel on disconnect of %s failed", key)

    def join_sweeps(self, timeout: float = 10.0) -> None:
        """Wait for the cancel-on-disconnect sweeps under way (at shutdown: before the venue sessions go)."""
        with self._sweeps_lock:
            sweeps, self._sweeps = self._sweeps, []
        deadline = time.monotonic() + timeout
        for sweep in sweeps:
            sweep.join(max(0.0, deadline - time.monotonic()))

    def _emptied_from_store(self, key: str) -> list[Owed]:
        """Of what QuickFIX took while ``key``'s client was away, what its store no longer holds: a
        message stored under a MsgSeqNum at or above that of the Logon just sent was stored before the
        sequence numbers went back (a 141=Y logon, which empties the store). Those are taken out of
        ``_away``; the rest stay, for QuickFIX resends them when the client asks (``toApp``)."""
        logon_seq = self._logon_seq.get(key, 1)
        with self._away_lock:
            away = self._away.pop(key, [])
            kept: list[tuple[int | None, Owed]] = [
                (seq, m) for seq, m in away if seq is not None and seq < logon_seq
            ]
            if kept:
                self._away[key] = kept
        return [m for seq, m in away if seq is None or seq >= logon_seq]

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            header = message.getHeader()
            msg_type = header.getField(t.MSG_TYPE)
            self._states.admin_sent(message, session_id, msg_type)
            if msg_type == t.MSG_LOGON:
                self._logon_seq[session_key(session_id)] = int(header.getField(t.MSG_SEQ_NUM))
        except Exception:
            log.exception("client toAdmin failed")

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        refusal = None
        try:
            msg_type = message.getHeader().getField(t.MSG_TYPE)
            self._states.admin_received(message, session_id, msg_type)
            if msg_type == t.MSG_LOGON:
                refusal = self._logon_refusal(message, session_key(session_id))
        except Exception:
            log.exception("client fromAdmin failed")
            refusal = "internal error"
        if refusal is not None:
            log.warning("client %s: logon refused: %s", session_key(session_id), refusal)
            try:
                self._states.error(session_id, f"logon refused: {refusal}")
            except Exception:
                log.exception("client fromAdmin failed")
            # QuickFIX answers with a Logout whose Text is "Rejected Logon Attempt: <refusal>", then hangs up.
            raise fix.RejectLogon(refusal)

    def _logon_refusal(self, message: fix.Message, key: str) -> str | None:
        if message.getHeader().getField(t.BEGIN_STRING) == t.FIXT11:
            # The version every message of the session is validated against: QuickFIX has a dictionary
            # only for FIX 5.0 SP2 (AppDataDictionary), and would check another version's against none.
            version = message.getField(t.DEFAULT_APPL_VER_ID) if message.isSetField(t.DEFAULT_APPL_VER_ID) else ""
            if not version:
                return f"DefaultApplVerID (1137) is required: use {t.APPL_VER_FIX50SP2} ({t.FIX50SP2})"
            if version != t.APPL_VER_FIX50SP2:
                shown = version if version.isascii() and version.isprintable() and len(version) <= 8 else "given"
                return (f"DefaultApplVerID (1137) {shown} not supported: use {t.APPL_VER_FIX50SP2}"
                        f" ({t.FIX50SP2})")
        credentials = self.credentials.get(key)
        if credentials is None:
            return None
        username = message.getField(t.USERNAME) if message.isSetField(t.USERNAME) else None
        password = message.getField(t.PASSWORD) if message.isSetField(t.PASSWORD) else None
        return credentials.refusal(username, password)

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            self._states.sent(session_id)
            handing = getattr(self._handing, "message", None)
            if handing is None:
                self._resending(message, session_key(session_id))
                return
            # Under the session lock that sendToTarget holds until the message is written to the
            # socket or stored: a logout cannot come in between (QuickFIX disconnects under that lock).
            session = fix.Session.lookupSession(session_id)
            if session is not None and session.isLoggedOn():
                self._handing.state = "wire"
                return
            self._handing.state = "stored"
            seq = int(message.getHeader().getField(t.MSG_SEQ_NUM))
            with self._away_lock:
                self._away.setdefault(handing.session, []).append((seq, handing))
        except Exception:
            log.exception("client toApp failed")

    def _resending(self, message: fix.Message, key: str) -> None:
        """QuickFIX resends from its store (PossDupFlag) what the client missed: one it took while
        the client was away goes on the wire now, and is marked so."""
        if key not in self._away or not header_flag(message, t.POSS_DUP_FLAG):
            return
        seq = int(message.getHeader().getField(t.MSG_SEQ_NUM))
        with self._away_lock:
            away = self._away.get(key, [])
            resent = [m for s, m in away if s == seq]
            if resent:
                self._away[key] = [(s, m) for s, m in away if s != seq]
        for resent_message in resent:
            self._mark(key, resent_message)

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        handler = None
        try:
            self._states.received(session_id)
            msg_type = message.getHeader().getField(t.MSG_TYPE)
            handler = self._handlers.get(msg_type)
            foreign = foreign_appl_ver_id(message)
            if foreign is not None:
                self._send(session_reject(message, foreign, t.SRR_VALUE_INCORRECT), session_id)
                return
            if handler is not None:
                key = session_key(session_id)
                if key in self.drop_copies.sessions:
                    self._refuse_read_only(message, session_id, msg_type)
                else:
                    handler(self, message, session_id)
        except fix.FieldNotFound:
            # A tag the dictionary leaves optional but fixgate needs (FIX 4.4 Symbol is optional in
            # the Instrument block): QuickFIX answers with a reject naming the tag. Safe to raise:
            # each handler reads every field it needs before anything changes state.
            raise
        except Exception:
            log.exception("client fromApp failed on %s", message.toString().replace("\x01", "|"))
            self._reply(message, session_id, Invalid(0, "internal error: message not processed"), t.CL_ORD_ID)
        if handler is None:
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
        refusal = session.entitled(command.account, self.entitlements)
        if refusal is not None:
            self._refuse_order(session, command, refusal, now)
            return
        with self._turns.of(session.key):
            effects = self._oms.submit(command)
            decided = time.time_ns()
            carried = self._dispatch(effects)
        outcome = effects[0]
        if isinstance(outcome, Routed):  # a split order's hops are the client's order's, its first child's send
            self._hops.order(outcome.parent_id or outcome.order_id, now, decided, carried.order_sent_ns or None)
        elif isinstance(outcome, ClientReport) and outcome.kind is ExecKind.REJECTED:
            # (A resend's status report is of an order timed when first taken.)
            self._hops.order(outcome.order_id, now, decided, None)

    def _refuse_order(self, session: ClientSession, command: NewOrder, refusal: str, now: int) -> None:
        """Refuse an order at the edge (an account the session may not trade): the client gets an
        ExecutionReport saying why, and each drop copy covering it a copy. Neither is journaled (the
        OMS never saw the order), so neither is owed after a restart."""
        coverage = self.drop_copies.covering.get(session.key)
        if coverage is None:
            self._send(refused_order_report(command, session.begin_string, refusal, now), session.session_id)
            return
        with coverage.lock:
            self._send(refused_order_report(command, session.begin_string, refusal, now), session.session_id)
            for key in coverage.drop_copies:
                copy_session = self._sessions.get(key)
                if copy_session is None:
                    continue
                try:
                    msg = refused_order_report(command, copy_session.begin_string, refusal, now)
                    self._send(as_copy(msg, session.comp_id, copy_session.begin_string), copy_session.session_id)
                except Exception:
                    log.exception("drop copy to %s of the refusal of %s not sent", key, command.cl_ord_id)

    def _refuse_read_only(self, message: fix.Message, session_id: fix.SessionID, msg_type: str) -> None:
        """A drop copy session is read-only: its order, cancel, replace, status or mass cancel request is
        refused with a BusinessMessageReject saying so, and nothing reaches the OMS."""
        session = self._sessions[session_key(session_id)]
        text, reason = drop_copy_refusal(msg_type, session.comp_id, session.begin_string)
        log.warning("drop copy %s: %s", session.key, text)
        self._reply(message, session_id, Invalid(0, text, reason), t.CL_ORD_ID)

    def _on_cancel(self, message: fix.Message, session_id: fix.SessionID) -> None:
        command = parse_cancel(message, session_key(session_id), time.time_ns())
        if isinstance(command, Invalid):
            self._reply(message, session_id, command, t.CL_ORD_ID)
            return
        if not self._refuse_change(message, command, RequestKind.CANCEL):
            with self._turns.of(command.session):
                self._dispatch(self._oms.request_cancel(command))

    def _on_replace(self, message: fix.Message, session_id: fix.SessionID) -> None:
        command = parse_replace(message, session_key(session_id), time.time_ns())
        if isinstance(command, Invalid):
            self._reply(message, session_id, command, t.CL_ORD_ID)
            return
        if not self._refuse_change(message, command, RequestKind.REPLACE):
            with self._turns.of(command.session):
                self._dispatch(self._oms.request_replace(command))

    def _refuse_change(
        self, message: fix.Message, command: CancelOrder | ReplaceOrder, kind: RequestKind
    ) -> bool:
        """A cancel or replace that names an Account (1) its session may not trade gets an
        OrderCancelReject saying so (True). The order it names is looked up among the session's own
        orders anyway; this keeps the answer to a foreign account the same for every request."""
        if not message.isSetField(t.ACCOUNT):
            return False
        session = self._sessions[command.session]
        account = text_field(message, t.ACCOUNT)
        if isinstance(account, Invalid):
            text: str | None = account.text
        else:
            text = session.entitled(account, self.entitlements)
        if text is None:
            return False
        self.send_cancel_reject(ClientCancelReject(
            command.session, None, command.cl_ord_id, command.orig_cl_ord_id, OrderStatus.REJECTED, kind,
            CancelRejectReason.OTHER, text,
        ))
        return True

    def _on_status_request(self, message: fix.Message, session_id: fix.SessionID) -> None:
        session = self._sessions[session_key(session_id)]
        if not message.isSetField(t.CL_ORD_ID):  # optional in FIX 5.0 SP2 (an OrderID may name the order)
            self._reply(message, session_id, Invalid(
                t.CL_ORD_ID, "ClOrdID (11) is required: fixgate finds the order by it",
                t.BRR_CONDITIONALLY_REQUIRED_FIELD_MISSING), t.CL_ORD_ID)
            return
        invalid = invalid_text(message, (t.CL_ORD_ID, t.SYMBOL, t.ORD_STATUS_REQ_ID, t.ACCOUNT))
        if invalid is not None:
            self._reply(message, session_id, invalid, t.CL_ORD_ID)
            return
        now = time.time_ns()
        if message.isSetField(t.ACCOUNT):
            refusal = session.entitled(message.getField(t.ACCOUNT), self.entitlements)
            if refusal is not None:
                refused = unknown_order_status(message, session.begin_string, now, refusal)
                self._send(refused, session.session_id)
                return
        with self._turns.of(session.key):  # the status as of its place among the order's reports
            report = self._oms.status_report(session.key, message.getField(t.CL_ORD_ID))
            if report is None:
                self._send(unknown_order_status(message, session.begin_string, now), session.session_id)
                return
            msg = client_execution_report(report, session.begin_string, now)
            if message.isSetField(t.ORD_STATUS_REQ_ID) and session.begin_string != t.FIX42:
                msg.setField(t.ORD_STATUS_REQ_ID, message.getField(t.ORD_STATUS_REQ_ID))
            self._send(msg, session.session_id)

    def _on_mass_cancel(self, message: fix.Message, session_id: fix.SessionID) -> None:
        key = session_key(session_id)
        begin_string = self._sessions[key].begin_string
        invalid = invalid_text(message, (t.CL_ORD_ID, t.SYMBOL))
        if invalid is not None:
            self._reply(message, session_id, invalid, t.CL_ORD_ID)
            return
        kind = message.getField(t.MASS_CANCEL_REQUEST_TYPE)
        if kind == t.MASS_CANCEL_BY_SYMBOL and not message.isSetField(t.SYMBOL):
            report = mass_cancel_report(message, begin_string, t.MASS_CANCEL_REJECTED, 0,
                                        "Symbol (55) is required to cancel by symbol", t.MASS_CANCEL_REJECT_OTHER)
        elif kind not in (t.MASS_CANCEL_BY_SYMBOL, t.MASS_CANCEL_ALL):
            report = mass_cancel_report(
                message, begin_string, t.MASS_CANCEL_REJECTED, 0,
                f"MassCancelRequestType (530) {kind} not supported: use 1 (by symbol) or 7 (all orders)",
                t.MASS_CANCEL_REJECT_INVALID_TYPE,
            )
        else:
            symbol = message.getField(t.SYMBOL) if kind == t.MASS_CANCEL_BY_SYMBOL else None
            with self._turns.of(key):
                effects = self._oms.cancel_orders(session=key, symbol=symbol)
                count = _cancels(effects)
                report = mass_cancel_report(message, begin_string, kind, count, f"{count} orders to cancel")
                self._send(report, session_id)
                self._dispatch(effects)
            return
        self._send(report, session_id)

    _handlers: ClassVar[dict[str, Callable[[ClientApplication, fix.Message, fix.SessionID], None]]] = {
        t.MSG_NEW_ORDER_SINGLE: _on_new_order,
        t.MSG_ORDER_CANCEL_REQUEST: _on_cancel,
        t.MSG_ORDER_CANCEL_REPLACE_REQUEST: _on_replace,
        t.MSG_ORDER_STATUS_REQUEST: _on_status_request,
        t.MSG_ORDER_MASS_CANCEL_REQUEST: _on_mass_cancel,
    }

    def _reply(self, ref: fix.Message, session_id: fix.SessionID, invalid: Invalid, ref_id_tag: int) -> None:
        try:
            self._states.error(session_id, f"BusinessMessageReject sent: {invalid.text}")
            self._send_to_target(business_reject(ref, invalid, ref_id_tag), session_id)
        except Exception:
            log.exception("could not send BusinessMessageReject")


def _cancels(effects: Sequence[Effect]) -> int:
    """How many cancels a sweep's effects send."""
    return sum(isinstance(e, VenueChange) for e in effects)
