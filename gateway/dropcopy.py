"""Drop copy sessions: read-only client sessions that receive a copy of what other clients are sent.

A ``[SESSION]`` of ``clients.cfg`` with ``DropCopy=Y`` and ``DropCopyOf=CLIENT1,CLIENT2`` (client
CompIDs, or ``*`` for every client session that is not a drop copy) gets a copy of every
ExecutionReport and OrderCancelReject fixgate hands to a covered client session, right after the
client's own, with its ids unchanged (ClOrdID, OrderID, ExecID). What it is owed survives its
disconnects and a restart through the client sessions' machinery (``ClientSent`` marks, one per drop
copy session, see ``ClientApplication.owe``). Everything it sends that a trading session would act on
is refused with a BusinessMessageReject.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

import quickfix as fix

from gateway import fixspec as t
from gateway.settings import SessionConfigError, session_key

COPY_MSG_INDICATOR = 797
DELIVER_TO_COMP_ID = 128
BRR_NOT_AUTHORIZED = "6"  # BusinessRejectReason 6 exists from FIX 4.3 on; FIX 4.2 gets 0 (other)

# Settings a drop copy session may not have: it trades nothing, so they could only mislead.
_TRADING_KEYS = ("Accounts", "CancelOnDisconnect")

_REFUSED_NAMES = {
    t.MSG_NEW_ORDER_SINGLE: "NewOrderSingle",
    t.MSG_ORDER_CANCEL_REQUEST: "OrderCancelRequest",
    t.MSG_ORDER_CANCEL_REPLACE_REQUEST: "OrderCancelReplaceRequest",
    t.MSG_ORDER_STATUS_REQUEST: "OrderStatusRequest",
    t.MSG_ORDER_MASS_CANCEL_REQUEST: "OrderMassCancelRequest",
}


@dataclass(frozen=True, slots=True)
class Coverage:
    """The drop copy sessions covering one client session, and the lock that keeps the order in which
    that client's messages reach them the order in which the client got them (two threads may send
    to one client: the venue's and the client's own)."""

    drop_copies: tuple[str, ...]  # drop copy session keys
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False)


@dataclass(frozen=True, slots=True)
class DropCopies:
    """Which sessions are drop copies, and which drop copies cover each client session."""

    sessions: frozenset[str] = frozenset()  # the drop copy sessions' keys
    covering: Mapping[str, Coverage] = field(default_factory=dict)  # client session key -> its coverage

    def of(self, client_key: str) -> tuple[str, ...]:
        """The drop copy sessions that get copies of what ``client_key`` is sent."""
        coverage = self.covering.get(client_key)
        return () if coverage is None else coverage.drop_copies


def drop_copies(settings: fix.SessionSettings) -> DropCopies:
    """The drop copy sessions of ``clients.cfg``: ``DropCopy=Y`` with ``DropCopyOf=`` the client CompIDs
    they cover (comma-separated) or ``*``. ``SessionConfigError`` for a drop copy that covers nothing or
    a CompID no client session has, for ``DropCopyOf`` without ``DropCopy=Y``, and for a drop copy with
    a trading setting (``Accounts``, ``CancelOnDisconnect``)."""
    covers: dict[str, tuple[str, frozenset[str] | None]] = {}  # drop copy key -> (its CompID, covered)
    clients: dict[str, str] = {}  # trading client session key -> its CompID
    for session_id in settings.getSessions():
        values = settings.get(session_id)
        key = session_key(session_id)
        comp_id = session_id.getTargetCompID().getValue()
        is_copy = values.has("DropCopy") and values.getBool("DropCopy")
        if not is_copy:
            if values.has("DropCopyOf"):
                raise SessionConfigError(f"{key}: DropCopyOf without DropCopy=Y")
            clients[key] = comp_id
            continue
        listed = values.getString("DropCopyOf").strip() if values.has("DropCopyOf") else ""
        names = frozenset(n.strip() for n in listed.split(",") if n.strip())
        if not names:
            raise SessionConfigError(f"{key}: DropCopy=Y needs DropCopyOf= (client CompIDs, or *)")
        for trading in _TRADING_KEYS:
            if values.has(trading):
                raise SessionConfigError(f"{key}: a drop copy session trades nothing: remove {trading}=")
        covers[key] = (comp_id, None if "*" in names else names)
    copy_ids = {comp_id for comp_id, _ in covers.values()}
    client_ids = set(clients.values())
    both = sorted(copy_ids & client_ids)
    if both:
        raise SessionConfigError(f"{', '.join(both)}: a drop copy in one [SESSION], trading in another")
    for key, (_, covered) in covers.items():
        unknown = sorted((covered or frozenset()) - client_ids)
        if unknown:
            raise SessionConfigError(f"{key}: DropCopyOf names {', '.join(unknown)}, not a trading client"
                                     " session of clients.cfg")
    covering: dict[str, Coverage] = {}
    for client_key, comp_id in clients.items():
        of = tuple(sorted(k for k, (_, covered) in covers.items() if covered is None or comp_id in covered))
        if of:
            covering[client_key] = Coverage(of)
    return DropCopies(frozenset(covers), covering)


def as_copy(msg: fix.Message, client_comp_id: str, begin_string: str) -> fix.Message:
    """Mark ``msg``, built for the drop copy session's FIX version, as a copy of what ``client_comp_id``
    was sent: DeliverToCompID (128) names that client; an ExecutionReport carries CopyMsgIndicator
    (797=Y) where its FIX version defines it (4.4 on; 4.2 has no such tag, and FIX defines none for an
    OrderCancelReject: there, what the session is says what the message is)."""
    msg.getHeader().setField(DELIVER_TO_COMP_ID, client_comp_id)
    if begin_string != t.FIX42 and msg.getHeader().getField(t.MSG_TYPE) == t.MSG_EXECUTION_REPORT:
        msg.setField(COPY_MSG_INDICATOR, "Y")
    return msg


def refusal(msg_type: str, comp_id: str, begin_string: str) -> tuple[str, str]:
    """Why a drop copy session's order message (an order, cancel, replace, status request or mass cancel)
    is refused, and the BusinessRejectReason to refuse it with."""
    name = _REFUSED_NAMES.get(msg_type, f"MsgType {msg_type}")
    reason = t.BRR_OTHER if begin_string == t.FIX42 else BRR_NOT_AUTHORIZED
    return f"{name} refused: session {comp_id} is a drop copy session (read-only)", reason
