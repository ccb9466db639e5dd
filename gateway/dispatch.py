"""The one place the OMS's effects leave for the wire.

Every OMS call returns its effects in order (``domain.model.Effect``); the thread that made the call
hands them here once the OMS lock is released: orders and requests to their venue sessions, reports
and cancel rejects to their client sessions. A venue message the session cannot take goes back to the
OMS (``venue_send_failed``, ``change_send_failed``), and what that returns is carried out in turn.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Self

from domain.model import (
    Carried,
    ClientCancelReject,
    ClientReport,
    Effect,
    RequestKind,
    Routed,
    StatusRequest,
    VenueChange,
)
from gateway import fixspec as t
from gateway.translate import venue_change, venue_new_order, venue_status_request
from oms.manager import OrderManager

if TYPE_CHECKING:
    from gateway.clients import ClientApplication
    from gateway.venues import VenueApplication


log = logging.getLogger(__name__)

_ALONE = contextlib.nullcontext()
VENUE_TURN_WAIT_S = 2.0
"""How long a venue thread waits for a session's turn before it goes on without it (logged)."""


class Turns:
    """One turn at a time per client session: an OMS call about a session's orders and the sending of
    what it returned are one turn, on whichever thread makes it (the session's own, a venue's).

    The OMS orders its changes under its lock, but each thread sends their effects after it: without
    turns a client's PendingCancel made on its thread could reach it after a fill a venue thread
    applied later (CumQty going back), and a split order's children, reporting on several venues'
    threads, could be sent out of the order the OMS applied them. A reentrant lock, as QuickFIX may
    call back into the gateway on the thread that sends.

    The order of locks: a turn, then the OMS lock or a QuickFIX session's (in ``sendToTarget``); never
    a turn while holding either (``onLogout``, which QuickFIX calls under the session's lock, hands its
    sweep to a thread), never two sessions' turns. A venue thread waits for a turn at most
    ``VENUE_TURN_WAIT_S`` (``waited``): a client thread in its turn may be blocked sending to a venue
    that is not reading because it is blocked sending to that venue thread."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.RLock] = {}
        self._made = threading.Lock()

    def of(self, session: str | None) -> contextlib.AbstractContextManager[object]:
        """The turn of client session ``session`` (its key); no turn for None or "" (an order the
        gateway does not know, or one of no client session)."""
        lock = self._lock(session)
        return _ALONE if lock is None else lock

    def waited(self, session: str | None) -> contextlib.AbstractContextManager[object]:
        """The turn of ``session`` as a venue thread takes it: waiting at most ``VENUE_TURN_WAIT_S``."""
        lock = self._lock(session)
        return _ALONE if lock is None else _Waited(lock, session)

    def _lock(self, session: str | None) -> threading.RLock | None:
        if not session:
            return None
        lock = self._locks.get(session)  # read without a lock: made once per session, then only read
        if lock is None:
            with self._made:
                lock = self._locks.setdefault(session, threading.RLock())
        return lock


class _Waited:
    """A turn taken with a bounded wait; on timeout the holder goes on without it, and it is logged."""

    __slots__ = ("_got", "_lock", "_session")

    def __init__(self, lock: threading.RLock, session: str | None) -> None:
        self._lock = lock
        self._session = session
        self._got = False

    def __enter__(self) -> Self:
        self._got = self._lock.acquire(timeout=VENUE_TURN_WAIT_S)
        if not self._got:
            log.warning("client session %s: a venue report waited %g s for the session's turn and goes on"
                        " without it (its client may get it out of order)", self._session, VENUE_TURN_WAIT_S)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._got:
            self._lock.release()


class Dispatcher:
    """Carries out effects on the client and venue sessions (``bind`` them before the engines start)."""

    def __init__(self, oms: OrderManager) -> None:
        self._oms = oms
        self.turns = Turns()  # taken by the client and venue applications around each OMS call
        self._clients: ClientApplication | None = None
        self._venues: VenueApplication | None = None

    def bind(self, clients: ClientApplication, venues: VenueApplication) -> None:
        self._clients = clients
        self._venues = venues

    def carry_out(self, effects: Sequence[Effect]) -> Carried:
        """Each effect in order; what it did (venue messages sent, why others were not)."""
        clients, venues = self._clients, self._venues
        assert clients is not None and venues is not None, "Dispatcher.bind first"
        sent = order_sent_ns = report_sent_ns = 0
        failed: list[str] = []
        for effect in effects:
            if isinstance(effect, ClientReport):
                clients.send_report(effect)
                report_sent_ns = report_sent_ns or time.time_ns()
            elif isinstance(effect, Routed):
                reason = venues.send(effect.venue, venue_new_order(effect, effect.order.received_ns),
                                     t.MSG_NEW_ORDER_SINGLE, effect.venue_cl_ord_id)
                if reason is None:
                    sent += 1
                    order_sent_ns = time.time_ns()
                else:
                    failed.append(reason)
                    self.carry_out(self._oms.venue_send_failed(effect.order_id, reason))
            elif isinstance(effect, VenueChange):
                msg_type = (t.MSG_ORDER_CANCEL_REPLACE_REQUEST if effect.kind is RequestKind.REPLACE
                            else t.MSG_ORDER_CANCEL_REQUEST)
                reason = venues.send(effect.venue, venue_change(effect, time.time_ns()), msg_type,
                                     effect.venue_cl_ord_id)
                if reason is None:
                    sent += 1
                else:
                    failed.append(reason)
                    self.carry_out(self._oms.change_send_failed(effect, reason))
            elif isinstance(effect, ClientCancelReject):
                clients.send_cancel_reject(effect)
            elif isinstance(effect, StatusRequest):
                order = effect.order
                if venues.send(order.venue, venue_status_request(order), t.MSG_ORDER_STATUS_REQUEST,
                               order.venue_cl_ord_id) is None:
                    sent += 1
        return Carried(sent, tuple(failed), order_sent_ns, report_sent_ns)
