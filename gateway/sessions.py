"""Each FIX session's state as operators see it (``GET /sessions``, ``GET /metrics``, ``/health``).

One owner: :class:`FixSessions`, one per gateway, shared by the client acceptor and the venue
initiator. The QuickFIX callbacks feed it with O(1) work (a dict lookup and an integer add per
message, about 0.6 µs, most of it ``SessionID.toString``): logon and logout times, messages in and
out, the last error a session saw. Sequence numbers are QuickFIX's own: read from the engine's
session (``Session.lookupSession``) when someone asks, never on the order path.

Counts are exact without a lock: QuickFIX calls ``toAdmin``/``toApp`` under the session's own mutex
(whichever thread sends) and ``fromAdmin``/``fromApp`` on the session's one connection thread.
Readers run on the REST threads, without a lock the QuickFIX threads could wait on: each number is
a single attribute, read whole under the GIL. The one lock, ``_engines``, keeps a reader from
calling into a QuickFIX session while the gateway stops and its engines (which own the sessions)
are destroyed; the callbacks never take it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import quickfix as fix

from gateway import fixspec as t
from gateway.settings import session_key
from gateway.translate import venue_field

Role = Literal["client", "venue"]

#: Longest ``last_error`` kept: a counterparty's Text is untrusted, and a status page is not a log.
MAX_ERROR_LENGTH = 200

_MSG_LOGOUT = "5"


@dataclass(frozen=True, slots=True)
class SessionStatus:
    """One configured FIX session now. ``since_ns``: its last logon or logout in this process (epoch
    ns), ``None`` before either. ``next_sender_seq``/``next_target_seq``: the MsgSeqNum of the next
    message fixgate sends / expects (QuickFIX's store). ``messages_in``: messages QuickFIX delivered
    to fixgate since start (admin ones included: heartbeats, logons); ``messages_out``: messages it
    handed fixgate before sending (resends included). ``last_error``: the latest Reject or
    BusinessMessageReject sent or received, Logout with a Text, or refused logon, as text."""

    session_id: str
    role: Role
    begin_string: str
    sender_comp_id: str
    target_comp_id: str
    logged_on: bool
    since_ns: int | None
    next_sender_seq: int
    next_target_seq: int
    messages_in: int
    messages_out: int
    last_error: str | None


class _Session:
    """A session's mutable counters; each attribute is written by QuickFIX threads only."""

    __slots__ = ("begin_string", "key", "last_error", "logged_on", "messages_in", "messages_out", "next_sender_seq",
                 "next_target_seq", "role", "sender_comp_id", "session_id", "since_ns", "target_comp_id")

    def __init__(self, role: Role, session_id: fix.SessionID) -> None:
        self.role: Role = role
        self.key = session_key(session_id)
        # An owned copy: the SessionID passed to a callback belongs to the engine.
        self.begin_string = str(session_id.getBeginString().getValue())
        self.sender_comp_id = str(session_id.getSenderCompID().getValue())
        self.target_comp_id = str(session_id.getTargetCompID().getValue())
        self.session_id = fix.SessionID(self.begin_string, self.sender_comp_id, self.target_comp_id)
        self.logged_on = False
        self.since_ns: int | None = None
        self.messages_in = 0
        self.messages_out = 0
        self.last_error: str | None = None
        # As last read from QuickFIX: what a reader answers once the engines are gone.
        self.next_sender_seq = 1
        self.next_target_seq = 1


class FixSessions:
    """Every configured FIX session of the gateway, client and venue, with its state (see the module)."""

    def __init__(self, clock: Callable[[], int] = time.time_ns) -> None:
        self._clock = clock
        self._sessions: dict[str, _Session] = {}
        self._engines = threading.Lock()
        self._engines_up = True

    # -- QUICKFIX CALLBACKS (O(1); never raise out of a callback: the callers wrap them) --------------

    def created(self, role: Role, session_id: fix.SessionID) -> None:
        """A session the engine made from its config (``onCreate``)."""
        session = _Session(role, session_id)
        self._sessions[session.key] = session

    def logged_on(self, session_id: fix.SessionID) -> None:
        self._moved(session_id, True)

    def logged_out(self, session_id: fix.SessionID) -> None:
        """A logout, or a connection that dropped while logged on (QuickFIX calls ``onLogout`` for both)."""
        self._moved(session_id, False)

    def _moved(self, session_id: fix.SessionID, logged_on: bool) -> None:
        session = self._sessions.get(session_key(session_id))
        if session is not None:
            session.logged_on = logged_on
            session.since_ns = self._clock()

    def received(self, session_id: fix.SessionID) -> None:
        """One message in (``fromAdmin``, ``fromApp``)."""
        session = self._sessions.get(session_id.toString())
        if session is not None:
            session.messages_in += 1

    def sent(self, session_id: fix.SessionID) -> None:
        """One message out (``toAdmin``, ``toApp``)."""
        session = self._sessions.get(session_id.toString())
        if session is not None:
            session.messages_out += 1

    def admin_received(self, message: fix.Message, session_id: fix.SessionID, msg_type: str) -> None:
        """An admin message in: counted; a Reject or a Logout with a Text is the session's last error."""
        self.received(session_id)
        if msg_type in (t.MSG_REJECT, _MSG_LOGOUT):
            self._admin_error(message, session_id, msg_type, "received")

    def admin_sent(self, message: fix.Message, session_id: fix.SessionID, msg_type: str) -> None:
        """An admin message out: counted; QuickFIX's Reject of a message, or its Logout with a Text
        (a sequence number too low, a logon refused), is the session's last error."""
        self.sent(session_id)
        if msg_type in (t.MSG_REJECT, _MSG_LOGOUT):
            self._admin_error(message, session_id, msg_type, "sent")

    def _admin_error(self, message: fix.Message, session_id: fix.SessionID, msg_type: str, way: str) -> None:
        text = venue_field(message, t.TEXT) if message.isSetField(t.TEXT) else None
        if msg_type == _MSG_LOGOUT:
            if text:
                self.error(session_id, f"Logout {way}: {text}")
            return
        ref = f" (RefSeqNum {venue_field(message, t.REF_SEQ_NUM)})" if message.isSetField(t.REF_SEQ_NUM) else ""
        self.error(session_id, f"Reject {way}{ref}: {text or 'no Text'}")

    def error(self, session_id: fix.SessionID, text: str) -> None:
        """Something went wrong on the session: kept as its ``last_error`` (cut to MAX_ERROR_LENGTH)."""
        session = self._sessions.get(session_key(session_id))
        if session is not None:
            session.last_error = text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 3] + "..."

    # -- THE GATEWAY ----------------------------------------------------------------------------------

    def engines_stopping(self) -> None:
        """The engines are about to stop and free their sessions: from now on readers answer the
        sequence numbers last read instead of asking QuickFIX. Waits for a reader in QuickFIX to leave."""
        with self._engines:
            self._engines_up = False

    # -- READING (REST threads) -----------------------------------------------------------------------

    def statuses(self) -> list[SessionStatus]:
        """Every configured session, clients first, each kind by session id."""
        # Sessions are added only while the engines are built (onCreate), never while anyone reads.
        sessions = sorted(self._sessions.values(), key=lambda s: (s.role != "client", s.key))
        with self._engines:
            if self._engines_up:
                for s in sessions:
                    found = fix.Session.lookupSession(s.session_id)
                    if found is not None:
                        s.next_sender_seq = int(found.getExpectedSenderNum())
                        s.next_target_seq = int(found.getExpectedTargetNum())
        return [
            SessionStatus(s.key, s.role, s.begin_string, s.sender_comp_id, s.target_comp_id, s.logged_on,
                          s.since_ns, s.next_sender_seq, s.next_target_seq, s.messages_in, s.messages_out,
                          s.last_error)
            for s in sessions
        ]

    def venues_down(self) -> list[str]:
        """The venues (TargetCompIDs of venue sessions) not logged on, by name."""
        return sorted({s.target_comp_id for s in self._sessions.values() if s.role == "venue" and not s.logged_on})

    def venues(self) -> list[str]:
        """Every configured venue, by name."""
        return sorted({s.target_comp_id for s in self._sessions.values() if s.role == "venue"})
