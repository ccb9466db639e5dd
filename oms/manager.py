"""The order manager: order ids, the maps from client and venue ids to orders, and the hand-off.

Called from QuickFIX callback threads (one per client and venue connection) and the REST server's.
Every call runs under one lock and returns its effects, in order, as one list (``domain.model.Effect``:
orders and requests for venues, reports and cancel rejects for clients), which ``gateway.dispatch``
carries out after the lock is released. Before the lock is released, the call hands off what it
changed in one piece (``_hand_off``; a routed order's one record and market marks go to the sink
directly): risk learns each touched order's working state (risk holds the
positions and the working exposure: ``oms.ports.RiskGate``), and the book sink (the journal) gets the
records and the client messages owed, so rows change in the order they happened.

An order changes only through its own methods (``oms.order.Order``); this module finds the order,
decides which change a command or report makes, and keeps the ids.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Protocol

from domain.model import (
    AppliedReport,
    BookRecord,
    Breach,
    CancelOrder,
    CancelRejectReason,
    ClientCancelReject,
    ClientMessage,
    ClientReport,
    Effect,
    ExecKind,
    ExecutionRecord,
    Instrument,
    MarkRecord,
    NewOrder,
    OrderRecord,
    OrderStatus,
    OrdType,
    PositionRecord,
    Refusal,
    ReplaceOrder,
    RequestKind,
    Routed,
    StatusRequest,
    TimeInForce,
    VenueCancelReject,
    VenueChange,
    VenueOrderRefusal,
    VenueReport,
)
from domain.positions import ZERO
from oms.ids import OrderIds
from oms.lifecycle import IllegalTransition
from oms.order import Order, PendingChange
from oms.ports import BookSink, RiskGate
from oms.router import Leg, Router


class TopQuote(Protocol):
    """A venue's best bid and offer of a symbol (``gateway.marketdata.Quote``)."""

    @property
    def bid(self) -> Decimal | None: ...

    @property
    def offer(self) -> Decimal | None: ...

log = logging.getLogger(__name__)

GATEWAY = "FIXGATE"  # the "venue" of reports the gateway makes itself (risk rejects)

MAX_REROUTES = 8
"""Children a split order may place again for what ended children left (a venue that cancels every
order it gets must not make an endless loop of them)."""

# A child's end that puts its quantity back with the router: its venue refused it, or cancelled it
# (the rest of an IOC sweep, or a venue's own cancel). One the day ended (EXPIRED, DONE_FOR_DAY) ends
# the parent alike.
_REROUTED = (OrderStatus.REJECTED, OrderStatus.CANCELED)

# The report kind a venue's status implies, when reconciling the book with it.
_KIND_OF_STATUS = {
    OrderStatus.NEW: ExecKind.NEW,
    OrderStatus.PARTIALLY_FILLED: ExecKind.NEW,
    OrderStatus.CANCELED: ExecKind.CANCELED,
    OrderStatus.EXPIRED: ExecKind.EXPIRED,
    OrderStatus.DONE_FOR_DAY: ExecKind.DONE_FOR_DAY,
    OrderStatus.REJECTED: ExecKind.REJECTED,
}


@dataclass(slots=True)
class OmsCounters:
    orders: int = 0
    rejected: int = 0
    reports_applied: int = 0
    duplicate_reports: int = 0
    reused_exec_ids: int = 0  # reports applied although their ExecID was seen: their content differed
    unknown_reports: int = 0
    illegal_transitions: int = 0
    cancel_rejects: int = 0
    reconciled: int = 0
    reconcile_mismatches: int = 0


@dataclass(slots=True)
class _Changes:
    """What one call changed and owes, in order, until ``_hand_off``."""

    effects: list[Effect] = field(default_factory=list)
    records: list[BookRecord | Breach] = field(default_factory=list)
    owed: list[ClientMessage] = field(default_factory=list)  # journaled: a restart sends one never sent
    touched: dict[int, Order] = field(default_factory=dict)  # orders whose working state risk must see

    def owe(self, message: ClientMessage) -> None:
        self.owed.append(message)
        self.effects.append(message)


class OrderManager:
    """Owns every live order; the one place their state changes."""

    def __init__(
        self,
        *,
        instruments: dict[str, Instrument],
        risk: RiskGate,
        router: Router,
        sink: BookSink,
        marks_sink: Callable[[Sequence[BookRecord]], None] | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
        next_order_id: int = 1,
        order_ids: OrderIds | None = None,
    ) -> None:
        self._instruments = instruments
        self._risk = risk
        self._router = router
        self._sink = sink
        # Marks from market data are not facts the book must survive a crash with (the venue sends a
        # fresh snapshot at the next logon): straight to the book writer, not through the journal,
        # which they would otherwise fill at the rate of the market. None: through ``sink``.
        self._marks_sink = marks_sink
        self._clock_ns = clock_ns
        # Durable (fixgate.app: blocks reserved in the data folder) or, without one, from next_order_id.
        self._order_ids = OrderIds(next_order_id) if order_ids is None else order_ids
        # Venue ids of cancel/replace requests: counted from the start time in ms, so ids made after
        # a restart never repeat ones made before it.
        self._request_seq = itertools.count(clock_ns() // 1_000_000)
        self._lock = threading.Lock()
        self._orders: dict[int, Order] = {}
        self._by_venue_id: dict[tuple[str, str], Order] = {}  # every venue ClOrdID an order had
        self._by_client_id: dict[tuple[str, str], Order] = {}  # every client ClOrdID, per session
        # (venue, venue ExecID) of every report applied -> what each report under it said: a venue that
        # restarts its ExecIDs reuses them for other reports (``_is_repeat``).
        self._applied: dict[tuple[str, str], list[AppliedReport]] = {}
        # (venue, venue ClOrdID) of requests answered too late when their order ended first: the
        # venue's OrderCancelReject of one is expected, not an unknown report.
        self._ended_requests: set[tuple[str, str]] = set()
        self._has_children = False  # a child order is in memory: client messages are looked at (``_roll_up``)
        self.counters = OmsCounters()

    def restore(
        self,
        orders: Iterable[OrderRecord],
        positions: Iterable[PositionRecord],
        applied: Iterable[AppliedReport] = (),
        notionals: Mapping[int, Decimal] | None = None,
    ) -> None:
        """Rebuild the in-memory state from the book (at start, before any session is up).
        ``notionals``: per order, the exact sum of its fills' qty x price."""
        with self._lock:
            children = []
            for r in orders:
                order = Order.from_record(r, None if notionals is None else notionals.get(r.order_id))
                self._orders[order.order_id] = order
                if order.parent_id is not None:
                    children.append(order)
                    self._by_venue_id[(order.venue, order.venue_cl_ord_id)] = order
                    continue
                self._index(order, order.venue_cl_ord_id, order.cl_ord_id)
                # The request's ids, as ``_start_change`` and ``_sweep_cancel`` indexed them: the
                # venue answers under the request's ClOrdID, the client may name it by its own.
                if order.pending is not None:
                    self._index(order, order.pending.venue_cl_ord_id, order.pending.cl_ord_id)
                if order.chained is not None:
                    self._by_venue_id[(order.venue, order.chained.venue_cl_ord_id)] = order
                self._order_ids.above(order.order_id)
            for child in sorted(children, key=lambda c: c.order_id):
                self._order_ids.above(child.order_id)
                if child.pending is not None:
                    self._by_venue_id[(child.venue, child.pending.venue_cl_ord_id)] = child
                if child.chained is not None:
                    self._by_venue_id[(child.venue, child.chained.venue_cl_ord_id)] = child
                parent = self._orders.get(child.parent_id)  # type: ignore[arg-type]
                if parent is None:
                    log.error("order %d: child of order %s, which the book does not have", child.order_id,
                              child.parent_id)
                    continue
                parent.children = (*parent.children, child)
            self._has_children = bool(children)
            for order in self._orders.values():
                if order.parent_id is None and (order.venue or order.is_parent) and not order.status.is_terminal:
                    self._risk.restore_order(order.order_id, order.account, order.symbol, order.side)
                    self._show_risk(order)
            for p in positions:
                self._risk.restore_position(p)
            for a in applied:
                self._applied.setdefault((a.venue, a.venue_exec_id), []).append(a)

    # -- COMMANDS ------------------------------------------------------------------------------------

    def submit(self, cmd: NewOrder) -> list[Effect]:
        """Check a new order: ``[Routed]`` (the order is PENDING_NEW), or its REJECTED report, or for
        a possible resend of an order already taken, that order's status report (not routed again)."""
        with self._lock:
            now = self._clock_ns()
            known = self._by_client_id.get((cmd.session, cmd.cl_ord_id))
            if known is not None and cmd.possible_resend:
                return [known.client_report(self._exec_id(known, "STATUS", now), ExecKind.ORDER_STATUS,
                                            cl_ord_id=cmd.cl_ord_id)]
            order_id = self._order_ids.take()
            venue = decision = ""
            legs: tuple[Leg, ...] = ()
            if known is not None and not known.status.is_terminal:
                reason: str | None = f"duplicate ClOrdID {cmd.cl_ord_id}: order {known.order_id} is live"
            else:
                # Routed first (it changes nothing), so that risk's flow checks judge the venue chosen
                # (of a split order, the first choice); risk's reason still comes before the router's.
                (venue, route_refusal, decision), legs = self._router.plan(cmd)
                reason = self._risk.check(cmd, venue) or route_refusal
                if reason is not None and route_refusal is None:
                    venue = decision = ""
            order = Order(order_id, cmd.session, cmd.cl_ord_id, cmd.account, cmd.symbol, cmd.side, cmd.ord_type,
                          cmd.time_in_force, cmd.quantity, cmd.price, venue, f"FG{order_id}", None,
                          OrderStatus.PENDING_NEW, ZERO, "", now, now, decision)
            self._orders[order_id] = order
            self.counters.orders += 1
            if reason is not None:
                if known is None or known.status.is_terminal:
                    self._by_client_id[(cmd.session, cmd.cl_ord_id)] = order  # a resend is answered
                changes = _Changes()
                self._reject(changes, order, reason, now)
                return self._hand_off(changes)
            if legs:
                return self._open_parent(order, cmd, legs, now)
            self._index(order, order.venue_cl_ord_id, order.cl_ord_id)
            self._risk.order_opened(order_id, cmd)
            self._sink((order.record(),))
            return [Routed(order_id, venue, order.venue_cl_ord_id, cmd)]

    def venue_send_failed(self, order_id: int, reason: str) -> list[Effect]:
        """The routed order could not be handed to its venue session: its REJECTED report (none if the
        order ended meanwhile: a venue's status answer at its logon found it unknown, say)."""
        with self._lock:
            order = self._orders[order_id]
            if order.status.is_terminal:
                log.warning("order %d: not sent to its venue (%s), and already %s", order_id, reason, order.status)
                return []
            changes = _Changes()
            self._reject(changes, order, reason, self._clock_ns())
            return self._hand_off(changes)

    def request_cancel(self, cmd: CancelOrder) -> list[Effect]:
        """A client's cancel: its PendingCancel report and the request for the venue, or a cancel reject."""
        with self._lock:
            order, refusal = self._changeable(cmd.session, cmd.cl_ord_id, cmd.orig_cl_ord_id, RequestKind.CANCEL)
            if refusal is not None:
                return [refusal]
            assert order is not None
            changes = _Changes()
            if order.is_parent:
                self._ask_parent(changes, order, RequestKind.CANCEL, cmd.cl_ord_id, self._clock_ns())
            else:
                self._start_change(changes, order, RequestKind.CANCEL, cmd.cl_ord_id, self._clock_ns())
            return self._hand_off(changes)

    def request_replace(self, cmd: ReplaceOrder) -> list[Effect]:
        """A client's cancel/replace: checked by risk again when it adds exposure."""
        with self._lock:
            order, refusal = self._changeable(
                cmd.session, cmd.cl_ord_id, cmd.orig_cl_ord_id, RequestKind.REPLACE
            )
            if refusal is not None:
                return [refusal]
            assert order is not None
            reason: str | None = None
            if cmd.quantity <= order.cum_qty:
                reason = f"new quantity {cmd.quantity} is not above the {order.cum_qty} already filled"
            elif order.ord_type is OrdType.LIMIT and cmd.price is None:
                reason = "Price (44) is required to replace a limit order"
            elif cmd.quantity > order.quantity or cmd.price != order.price:
                reason = self._risk.check_replace(
                    order.order_id, order.session, order.account, order.symbol, order.side, order.ord_type,
                    cmd.quantity, cmd.price, order.cum_qty,
                )
            if reason is not None:
                return [self._cancel_reject(cmd.session, order, cmd.cl_ord_id, cmd.orig_cl_ord_id,
                                            RequestKind.REPLACE, CancelRejectReason.OTHER, reason)]
            changes = _Changes()
            if order.is_parent:
                self._ask_parent(changes, order, RequestKind.REPLACE, cmd.cl_ord_id, self._clock_ns(), cmd.quantity,
                                 cmd.price)
            else:
                self._start_change(changes, order, RequestKind.REPLACE, cmd.cl_ord_id, self._clock_ns(),
                                   cmd.quantity, cmd.price)
            return self._hand_off(changes)

    def cancel_orders(
        self, *, session: str | None = None, account: str | None = None, symbol: str | None = None,
        comp_id: str | None = None, defer_unacknowledged: bool = False,
    ) -> list[Effect]:
        """Cancel every working order in a scope (mass cancel, cancel on disconnect, the kill switch);
        ``comp_id`` matches the client's sessions of every FIX version (``FIX.x.y:FIXGATE-><comp_id>``).
        An order with a cancel already on its way is left to it; one with a replace pending gets a
        cancel chained after the replace (``_sweep_cancel``).

        ``defer_unacknowledged`` (the kill switch, on another thread than the orders' own): an order
        still PENDING_NEW may not be on the wire yet, and a cancel sent now could reach the venue
        first, be refused as unknown, and leave the order working once it arrives. Its cancel is made
        at the venue's first report instead (``Order.cancel_on_ack``); a reject or a full fill needs none."""
        with self._lock:
            now = self._clock_ns()
            changes = _Changes()
            deferred = 0
            for order in self._orders.values():
                if (
                    order.status.is_terminal
                    or not (order.venue or order.is_parent)
                    or order.parent_id is not None  # its parent's cancel reaches it
                    or (session is not None and order.session != session)
                    or (comp_id is not None and order.session.rpartition(">")[2] != comp_id)
                    or (account is not None and order.account != account)
                    or (symbol is not None and order.symbol != symbol)
                ):
                    continue
                if order.is_parent:  # its children not acknowledged yet get their cancel at their first report
                    deferred += self._sweep_parent(changes, order, now)
                    continue
                if defer_unacknowledged and order.status is OrderStatus.PENDING_NEW:
                    order.cancel_on_ack = True
                    deferred += 1
                    continue
                self._sweep_cancel(changes, order, now)
            if deferred:
                log.warning("%d orders not acknowledged by their venue yet get their cancel at its first report",
                            deferred)
            return self._hand_off(changes)

    def cancel_order(self, order_id: int) -> list[Effect] | Refusal:
        """An operator's cancel of one order: its effects, or why there is none."""
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                return Refusal(CancelRejectReason.UNKNOWN_ORDER, f"order {order_id} not found")
            if order.status.is_terminal:
                return Refusal(CancelRejectReason.TOO_LATE, f"order {order_id} is {order.status}: nothing to cancel")
            if order.parent_id is not None:
                return Refusal(CancelRejectReason.OTHER, f"order {order_id} is a child of order {order.parent_id}:"
                                                         f" cancel order {order.parent_id}")
            changes = _Changes()
            if order.is_parent:
                if order.pending is not None and (order.pending.kind is RequestKind.CANCEL or order.chained):
                    return Refusal(CancelRejectReason.ALREADY_PENDING,
                                   f"order {order_id} already has a cancel pending")
                self._sweep_parent(changes, order, self._clock_ns())
                return self._hand_off(changes)
            if not self._sweep_cancel(changes, order, self._clock_ns()):
                return Refusal(CancelRejectReason.ALREADY_PENDING, f"order {order_id} already has a cancel pending")
            return self._hand_off(changes)

    def change_send_failed(self, change: VenueChange, reason: str) -> list[Effect]:
        """A cancel or replace could not be handed to the venue session: undone, the client's reject."""
        with self._lock:
            order = self._orders[change.order_id]
            changes = _Changes()
            if order.chained is not None and order.chained.venue_cl_ord_id == change.venue_cl_ord_id:
                changes.effects.append(
                    self._end_chained(changes, order, CancelRejectReason.OTHER, reason, self._clock_ns()))
            elif order.pending is not None and order.pending.venue_cl_ord_id == change.venue_cl_ord_id:
                changes.effects.append(
                    self._end_change(changes, order, CancelRejectReason.OTHER, reason, self._clock_ns()))
            return self._hand_off(changes)

    # -- EVENTS --------------------------------------------------------------------------------------

    def apply(self, report: VenueReport) -> list[Effect]:
        """Apply a venue's execution report once: the client's report (if it is owed one), then what
        the report settled: cancel rejects of requests it ended or showed lost, and the cancel of an
        order a kill switch swept before the venue acknowledged it."""
        with self._lock:
            changes = _Changes()
            self._apply(changes, report)
            return self._hand_off(changes)

    def _apply(self, changes: _Changes, report: VenueReport) -> None:
        order = self._by_venue_id.get((report.venue, report.venue_cl_ord_id))
        if order is None and report.orig_venue_cl_ord_id:
            order = self._by_venue_id.get((report.venue, report.orig_venue_cl_ord_id))
        if order is None:
            self.counters.unknown_reports += 1
            log.warning(
                "report %s from %s for unknown ClOrdID %s ignored",
                report.exec_id, report.venue, report.venue_cl_ord_id,
            )
            return
        applied_key = (report.venue, report.exec_id)
        repeat = ""  # a suffix when the venue reused this order's ExecID (another report under it)
        rejects: list[ClientCancelReject] = []  # owed after the client's report
        if report.kind is ExecKind.ORDER_STATUS:
            # Not de-duplicated by ExecID: venues reuse it on status answers (FIX 4.4 even says 0),
            # and an answer changes nothing when the book already agrees with it.
            rejects = self._end_lost_requests(changes, order, report)
            reconciled = self._reconcile(order, report)
            if reconciled is None:
                for reject in rejects:
                    changes.owe(reject)
                return
            report = reconciled
            applied_key = (report.venue, report.exec_id)
        else:
            seen = self._applied.get(applied_key)
            if seen is not None:
                if self._is_repeat(order, report, seen):
                    self.counters.duplicate_reports += 1
                    return
                # Not a resend: the venue reused the ExecID (it restarted its numbering). Applied, under
                # an ExecID of its own for the client and the book.
                self.counters.reused_exec_ids += 1
                earlier = sum(a.order_id == order.order_id for a in seen)
                if earlier:  # the same order's report under the same ExecID before (another fill)
                    repeat = f"#{earlier + 1}"
                log.warning("order %d: venue %s reused ExecID %s for a different report (%s %s @ %s):"
                            " applied", order.order_id, report.venue, report.exec_id, report.kind,
                            report.last_qty, report.last_px)
        # Unique for good: a venue's ExecID need not be (``_is_repeat``); the order's id is.
        client_exec_id = f"{report.venue}-{order.order_id}-{report.exec_id}{repeat}"

        venue_id = report.venue_cl_ord_id  # the id the venue knows the order by after this report
        report = self._as_answer_to_cancel(order, report)
        status = report.status
        adopted = None
        if report.kind is ExecKind.REPLACED:
            pending = order.pending
            if (pending is None and order.chained is None
                    and report.orig_venue_cl_ord_id == order.venue_cl_ord_id):
                # A replace of the order's current id that the book has no request for: asked
                # before a restart (requests live in memory only). The venue did it, and its
                # fills will name the new id: take it, with quantity and price from the report.
                pending = adopted = self._adopt_replace(order, report)
            elif pending is not None and report.venue_cl_ord_id != pending.venue_cl_ord_id:
                pending = None
            if pending is None or pending.kind is not RequestKind.REPLACE:
                self.counters.illegal_transitions += 1
                log.error("order %d: venue reports a replace nobody asked for (exec %s)",
                          order.order_id, report.exec_id)
                for reject in rejects:
                    changes.owe(reject)
                return
            order.quantity = pending.quantity if pending.quantity is not None else order.quantity
            order.price = pending.price
            status = order.working_status  # FIX 4.2 venues say 39=5; the order works on
        legal = order.may_become(status)
        if not legal:
            self.counters.illegal_transitions += 1
            log.error("%s (venue %s exec %s)", IllegalTransition(order.order_id, order.status, status),
                      report.venue, report.exec_id)
            if report.kind is not ExecKind.TRADE:
                for reject in rejects:  # the lost requests a status answer ended stay ended
                    changes.owe(reject)
                return  # not applied; a fill is a fact and is applied below regardless

        now = self._clock_ns()
        cum_after = order.cum_qty + report.last_qty if report.kind is ExecKind.TRADE else order.cum_qty
        self._applied.setdefault(applied_key, []).append(AppliedReport(
            report.venue, report.exec_id, order.order_id, report.kind, report.last_qty, report.last_px,
            cum_after))  # as the book's row has it, so a restart restores the same
        order.updated_ns = now
        if report.venue_order_id:
            order.venue_order_id = report.venue_order_id
        if report.text:
            order.text = report.text
        fill_records: list[BookRecord | Breach] = []
        if report.kind is ExecKind.TRADE:
            order.fill(report.last_qty, report.last_px)
            if order.cum_qty != report.cum_qty:
                log.error(
                    "order %d: venue says CumQty %s, fills add up to %s",
                    order.order_id, report.cum_qty, order.cum_qty,
                )
            position, breaches = self._risk.fill(order.account, order.symbol, order.side, report.last_qty,
                                                 report.last_px, now)
            fill_records += (position, MarkRecord(order.symbol, report.last_px, now), *breaches)
        if legal:
            order.become(status)
        if adopted is not None:
            order.pending = adopted
        cl_ord_id, orig_cl_ord_id = order.answer(report.kind, report.venue_cl_ord_id, venue_id)
        for request in order.settle_requests():
            # An end (the cancel, a fill, an IOC remainder, an expiry) ends every request too. One it
            # does not answer is answered now, too late: the venue's own OrderCancelReject may follow
            # (it is then dropped) or never come (a venue that forgets the request).
            self._ended_requests.add((order.venue, request.venue_cl_ord_id))
            rejects.append(self._cancel_reject(
                order.session, order, request.cl_ord_id, request.orig_cl_ord_id, request.kind,
                CancelRejectReason.TOO_LATE, f"order {order.order_id} is already {order.status}",
            ))

        changes.touched[order.order_id] = order
        self.counters.reports_applied += 1
        client = order.client_report(
            client_exec_id, report.kind, report.last_qty, report.last_px, cl_ord_id, orig_cl_ord_id,
            report.commission if report.kind is ExecKind.TRADE else None,  # a fee is a fill's
        )
        changes.records += fill_records
        changes.records += (self._execution(order, client, report.venue, report.exec_id, report.received_ns),
                            order.record())
        changes.owe(client)
        for reject in rejects:
            changes.owe(reject)
        if order.cancel_on_ack and order.status is not OrderStatus.PENDING_NEW:
            order.cancel_on_ack = False
            if not order.status.is_terminal:
                self._sweep_cancel(changes, order, now)

    def apply_order_refusal(self, refusal: VenueOrderRefusal) -> list[Effect]:
        """A venue refused an order it never acknowledged, at the session level or with a business
        reject: the order ends REJECTED as if the venue had reported so (risk releases it, a request
        on its way is answered too late), with the venue's reason as Text. No effects, logged at ERROR,
        when the refusal names no order still waiting for the venue: the order stays as it is."""
        with self._lock:
            order = self._by_venue_id.get((refusal.venue, refusal.venue_cl_ord_id))
            if (order is None or order.status.is_terminal or order.venue_order_id is not None
                    or order.venue_cl_ord_id != refusal.venue_cl_ord_id):
                self.counters.unknown_reports += 1
                log.error("venue %s refused order ClOrdID %s (%s), but %s: not applied", refusal.venue,
                          refusal.venue_cl_ord_id, refusal.text,
                          "no order has that id" if order is None
                          else f"order {order.order_id} is {order.status}, venue OrderID {order.venue_order_id}")
                return []
            report = VenueReport(
                venue=refusal.venue, venue_cl_ord_id=refusal.venue_cl_ord_id, orig_venue_cl_ord_id=None,
                venue_order_id="", exec_id=f"REFUSED-{order.order_id}-{refusal.received_ns}",
                kind=ExecKind.REJECTED, status=OrderStatus.REJECTED, last_qty=ZERO, last_px=ZERO,
                cum_qty=ZERO, leaves_qty=ZERO, text=refusal.text, received_ns=refusal.received_ns,
            )
            changes = _Changes()
            self._apply(changes, report)  # as the venue's report would be
            return self._hand_off(changes)

    def apply_cancel_reject(self, reject: VenueCancelReject) -> list[Effect]:
        """The venue refused a cancel or replace: the order works on as it was; the client's reject,
        and for an order the venue says it does not know, a request for its status."""
        with self._lock:
            changes = _Changes()
            order = self._by_venue_id.get((reject.venue, reject.venue_cl_ord_id))
            chained = None if order is None else order.chained
            if order is not None and chained is not None and chained.venue_cl_ord_id == reject.venue_cl_ord_id:
                # A venue that takes one request at a time refuses a cancel chained on a replace
                # (CxlRejReason 3): the order keeps its replace; the next sweep cancels it.
                changes.effects.append(self._end_chained(changes, order, CancelRejectReason.OTHER,
                                                         f"venue {reject.venue}: {reject.text}", reject.received_ns))
                return self._hand_off(changes)
            pending = None if order is None else order.pending
            if order is None or pending is None or pending.venue_cl_ord_id != reject.venue_cl_ord_id:
                if (reject.venue, reject.venue_cl_ord_id) in self._ended_requests:
                    self._ended_requests.discard((reject.venue, reject.venue_cl_ord_id))
                    return []  # its order ended first, and the client was told then
                self.counters.unknown_reports += 1
                log.warning("cancel reject from %s for %s matches no pending request",
                            reject.venue, reject.venue_cl_ord_id)
                return []
            reason = CancelRejectReason.TOO_LATE if order.status.is_terminal else CancelRejectReason.OTHER
            changes.effects.append(self._end_change(changes, order, reason, f"venue {reject.venue}: {reject.text}",
                                                    reject.received_ns))
            if reject.reason is CancelRejectReason.UNKNOWN_ORDER and order.status in (
                    OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
                # The venue does not know an order it acknowledged: it may have forgotten it (restarted
                # with empty books). Ask it for the order's status; an "unknown" answer ends the order
                # (``_reconcile_unknown``), any other leaves it as its fills say. (One not acknowledged
                # yet may still be on its way: it is left alone.)
                log.warning("order %d: venue %s does not know it (%s): asking for its status",
                            order.order_id, reject.venue, reject.text)
                changes.effects.append(StatusRequest(order.record()))
            return self._hand_off(changes)

    def market_marks(self, marks: Sequence[tuple[str, Decimal]], venue: str | None = None,
                     quotes: Mapping[str, TopQuote] | None = None) -> None:
        """Marks from a venue's market data (last trade, else mid): risk's reference prices and the
        book's unrealized P&L follow the market, not only fixgate's own fills. Under the lock because
        risk re-checks the daily loss of the accounts holding a symbol whose mark moved, and a breach
        goes to the book in order with the rest. ``venue`` and its ``quotes`` (symbol -> an object with
        ``bid`` and ``offer``) go on the mark records, for transaction cost analysis."""
        if not marks:
            return
        with self._lock:
            now = self._clock_ns()
            breaches = self._risk.marks_changed(marks)
            records = [self._mark_record(symbol, price, now, venue, quotes) for symbol, price in marks]
            if breaches or self._marks_sink is None:
                # A breach is a fact: journaled, with the marks that caused it.
                self._sink([*records, *breaches])
            else:
                self._marks_sink(records)

    @staticmethod
    def _mark_record(symbol: str, price: Decimal, now: int, venue: str | None,
                     quotes: Mapping[str, TopQuote] | None) -> MarkRecord:
        quote = None if quotes is None else quotes.get(symbol)
        if quote is None:
            return MarkRecord(symbol, price, now, venue)
        return MarkRecord(symbol, price, now, venue, quote.bid, quote.offer)

    # -- QUERIES -------------------------------------------------------------------------------------

    def order(self, order_id: int) -> OrderRecord | None:
        with self._lock:
            order = self._orders.get(order_id)
            return None if order is None else order.record()

    def status_report(self, session: str, cl_ord_id: str) -> ClientReport | None:
        """The order's current state as an order-status report (from memory, no venue round trip)."""
        with self._lock:
            order = self._by_client_id.get((session, cl_ord_id))
            if order is None:
                return None
            return order.client_report(
                self._exec_id(order, "STATUS", self._clock_ns()), ExecKind.ORDER_STATUS, cl_ord_id=cl_ord_id
            )

    def session_of(self, venue: str, venue_cl_ord_id: str) -> str | None:
        """The client session (key) of ``venue``'s order ``venue_cl_ord_id``, a split order's child's
        its parent's; None when no order has that id. What a venue thread asks before it applies a
        report, to take that session's turn (``gateway.dispatch.Turns``). Read without the lock: dict
        lookups another thread may change (each atomic under the GIL), of facts that never change
        once the order exists."""
        order = self._by_venue_id.get((venue, venue_cl_ord_id))
        if order is None:
            return None
        if order.parent_id is not None:
            order = self._orders.get(order.parent_id)
            if order is None:
                return None
        return order.session

    def working_at(self, venue: str) -> list[OrderRecord]:
        """The orders the book has working (or pending) at ``venue``: what to ask it about (at every
        venue logon). Their requests outstanding now are marked as asked about: they were sent before
        the venue's answers, so an answer that does not know of one means it was lost."""
        with self._lock:
            working = [o for o in self._orders.values() if o.venue == venue and not o.status.is_terminal]
            for order in working:
                order.mark_status_asked()
            return [o.record() for o in working]

    def counter_values(self) -> dict[str, int]:
        """The counters since start (``OmsCounters``: orders, rejects, venue reports applied, duplicate
        and unknown reports, illegal lifecycle transitions, cancel rejects, reconciliation). Read
        without the lock, which the FIX threads need: each number is exact, two of them may be one
        report apart."""
        return dataclasses.asdict(self.counters)

    def positions(self) -> list[PositionRecord]:
        """Every position (risk holds them: ``RiskGate.positions``)."""
        with self._lock:
            return self._risk.positions(self._clock_ns())

    # -- SPLIT ORDERS --------------------------------------------------------------------------------
    #
    # A client's order the router splits (``Router.plan``) is a parent: the client knows it alone, by
    # its ClOrdID and OrderID; each leg is a child order at one venue, an ``Order`` like any other (its
    # requests, reports, repeats and reconciliation are the same code), whose client messages are
    # turned into the parent's by ``_roll_up`` instead of being sent. Risk checked the parent once and
    # counts its leaves; a child's fill moves the position once, as any fill.

    def _open_parent(self, parent: Order, cmd: NewOrder, legs: Sequence[Leg], now: int) -> list[Effect]:
        parent.venue = ""  # it works at its children's venues
        self._by_client_id[(parent.session, parent.cl_ord_id)] = parent
        self._risk.order_opened(parent.order_id, cmd)
        records: list[BookRecord | Breach] = [parent.record()]
        effects: list[Effect] = list(self._place(records, parent, legs, now, cmd.received_ns))
        self._sink(records)
        return effects

    def _place(self, records: list[BookRecord | Breach], parent: Order, legs: Sequence[Leg], now: int,
               received_ns: int) -> list[Routed]:
        """A child of ``parent`` per leg (IOC for a sweep, else the parent's time in force)."""
        return [self._new_child(records, parent, leg.venue, leg.quantity,
                                TimeInForce.IOC if leg.sweep else parent.time_in_force,
                                '"sweep"' if leg.sweep else '"post"', now, received_ns) for leg in legs]

    def _new_child(self, records: list[BookRecord | Breach], parent: Order, venue: str, quantity: Decimal,
                   time_in_force: TimeInForce, leg: str, now: int, received_ns: int) -> Routed:
        """A child of ``parent`` for ``quantity`` at ``venue`` (``leg``: why, as JSON), and its order."""
        child_id = self._order_ids.take()
        venue_cl_ord_id = f"FG{child_id}"
        child = Order(child_id, "", venue_cl_ord_id, parent.account, parent.symbol, parent.side, parent.ord_type,
                      time_in_force, quantity, parent.price, venue, venue_cl_ord_id, None, OrderStatus.PENDING_NEW,
                      ZERO, "", now, now, f'{{"parent":{parent.order_id},"leg":{leg}}}', parent.order_id)
        self._orders[child_id] = child
        self._by_venue_id[(venue, venue_cl_ord_id)] = child
        self._has_children = True
        parent.children = (*parent.children, child)
        records.append(child.record())
        return Routed(child_id, venue, venue_cl_ord_id, self._rest_of(parent, quantity, received_ns, venue_cl_ord_id,
                                                                       time_in_force), parent.order_id)

    @staticmethod
    def _rest_of(parent: Order, quantity: Decimal, now: int, cl_ord_id: str | None = None,
                 time_in_force: TimeInForce | None = None) -> NewOrder:
        """``quantity`` of the parent's order as a new order (to route, or to send as a child)."""
        return NewOrder(parent.session, parent.cl_ord_id if cl_ord_id is None else cl_ord_id, parent.account,
                        parent.symbol, parent.side, parent.ord_type, quantity, parent.price,
                        parent.time_in_force if time_in_force is None else time_in_force, now)

    def _ask_parent(self, changes: _Changes, parent: Order, kind: RequestKind, cl_ord_id: str, now: int,
                    quantity: Decimal | None = None, price: Decimal | None = None) -> int:
        """A cancel or replace of a parent: its Pending report, and a cancel of every live child (a
        replace places the order again once none works: ``_finish_parent_request``). Returns the
        children whose cancel waits for their venue's first report."""
        pending = parent.ask(kind, cl_ord_id, "", quantity, price)
        parent.updated_ns = now
        self._by_client_id[(parent.session, cl_ord_id)] = parent
        self._parent_report(changes, parent, ExecKind.PENDING_CANCEL if kind is RequestKind.CANCEL
                            else ExecKind.PENDING_REPLACE, now, pending.cl_ord_id, pending.orig_cl_ord_id)
        return self._cancel_children(changes, parent, now)

    def _sweep_parent(self, changes: _Changes, parent: Order, now: int) -> int:
        """A sweep's cancel of a parent (``_sweep_cancel`` of an order routed whole)."""
        pending = parent.pending
        if pending is None:
            return self._ask_parent(changes, parent, RequestKind.CANCEL, parent.cl_ord_id, now)
        if pending.kind is RequestKind.CANCEL or parent.chained is not None:
            return 0
        # A replace is pending: its children are being cancelled already; the parent ends once it is
        # answered instead of being placed again.
        parent.chain_cancel("")
        parent.updated_ns = now
        self._parent_report(changes, parent, ExecKind.PENDING_CANCEL, now, parent.cl_ord_id, parent.cl_ord_id)
        return 0

    def _cancel_children(self, changes: _Changes, parent: Order, now: int) -> int:
        """Every live child's cancel. One its venue has not acknowledged yet gets it at its first report
        (``Order.cancel_on_ack``): a child placed again on a venue's thread may not be on the wire yet,
        and a cancel that overtook it would be refused as unknown and leave it working."""
        deferred = 0
        for child in parent.children:
            if child.status.is_terminal:
                continue
            if child.status is OrderStatus.PENDING_NEW:
                child.cancel_on_ack = True
                deferred += 1
            else:
                self._sweep_cancel(changes, child, now)
        if not parent.working_child:
            self._finish_parent_request(changes, parent, now)
        return deferred

    def _roll_up(self, changes: _Changes) -> _Changes:
        """The call's changes with each child's client message replaced by what it makes of its
        parent (``_child_reported``, ``_child_refused``): the client hears of the parent alone."""
        orders = self._orders
        if not any(isinstance(e, ClientReport | ClientCancelReject) and e.order_id is not None
                   and (o := orders.get(e.order_id)) is not None and o.parent_id is not None
                   for e in changes.effects):
            return changes
        owed = {id(m) for m in changes.owed}
        out = _Changes(records=changes.records, touched=changes.touched)
        for effect in changes.effects:
            if isinstance(effect, ClientReport | ClientCancelReject) and effect.order_id is not None:
                child = orders.get(effect.order_id)
                if child is not None and child.parent_id is not None:
                    parent = orders.get(child.parent_id)
                    if parent is None:  # not loaded at a restart: the child's row and fills are booked
                        log.error("order %d: a child of order %d, which is not in memory: %s not rolled up",
                                  child.order_id, child.parent_id, effect)
                    elif isinstance(effect, ClientReport):
                        self._child_reported(out, parent, child, effect)
                    else:
                        self._child_refused(out, parent, child, effect)
                    continue
            out.effects.append(effect)
            if id(effect) in owed:
                out.owed.append(effect)  # type: ignore[arg-type]  # what was owed is a client message
        return out

    def _child_reported(self, changes: _Changes, parent: Order, child: Order, report: ClientReport) -> None:
        """A child's report, as its parent's: a fill is the parent's fill (LastMkt: the child's venue),
        the first acknowledgement the parent's; an end puts what the child left back with the router
        or, once no child works, ends the parent."""
        now = self._clock_ns()
        changes.touched[parent.order_id] = parent
        if report.kind is ExecKind.TRADE:
            self._parent_fill(changes, parent, child, report, now)
        elif parent.status.is_terminal:
            log.error("order %d: child %d reports %s after the order ended", parent.order_id, child.order_id,
                      report.kind)
            return
        elif report.kind is ExecKind.NEW and parent.status in (OrderStatus.PENDING_NEW, OrderStatus.DONE_FOR_DAY):
            parent.become(OrderStatus.NEW)
            self._parent_report(changes, parent, ExecKind.NEW, now)
        if parent.status.is_terminal or not child.status.is_terminal:
            return
        if child.status is OrderStatus.REJECTED:
            parent.refuse(child.venue, child.text or "rejected")
        if parent.pending is not None:
            if not parent.working_child:
                self._finish_parent_request(changes, parent, now)
            return
        if child.status in _REROUTED and not (child.status is OrderStatus.CANCELED
                                              and parent.time_in_force is TimeInForce.IOC):
            self._reroute(changes, parent, now, min(parent.unallocated, child.quantity - child.cum_qty))
        if not parent.working_child:
            self._end_parent(changes, parent, child, now)

    def _parent_fill(self, changes: _Changes, parent: Order, child: Order, report: ClientReport, now: int) -> None:
        """A child's fill is its parent's: reported to the client, whatever the parent's status (a fill
        is a fact: one after the parent ended is applied too, and logged)."""
        ended = parent.status.is_terminal
        parent.fill(report.last_qty, report.last_px)
        parent.updated_ns = now
        if ended:
            log.error("order %d: child %d filled %s @ %s after the order ended %s: applied", parent.order_id,
                      child.order_id, report.last_qty, report.last_px, parent.status)
        elif parent.cum_qty >= parent.quantity:
            parent.become(OrderStatus.FILLED)
        elif parent.pending is None:
            parent.become(parent.working_status)
        fill = replace(parent.client_report(f"{report.exec_id}-P{parent.order_id}", ExecKind.TRADE, report.last_qty,
                                            report.last_px, commission=report.commission), last_mkt=child.venue)
        changes.records += (self._execution(parent, fill, child.venue, report.exec_id, now), parent.record())
        changes.owe(fill)
        if parent.status.is_terminal and not ended:
            self._parent_ended(changes, parent)

    def _child_refused(self, changes: _Changes, parent: Order, child: Order, reject: ClientCancelReject) -> None:
        """A child's cancel, made for its parent's request, was refused or not sent. A child that ended
        anyway settles the parent by its report; one that works on fails the parent's request: the
        client's cancel reject. What the other children's cancels freed is placed again after a
        client's request; after a sweep's (kill switch, mass cancel, a disconnect) nothing more is."""
        if child.status.is_terminal or parent.pending is None:
            return
        now = self._clock_ns()
        pending = parent.pending
        swept = parent.chained is not None or pending.cl_ord_id == pending.orig_cl_ord_id
        failed = parent.fail_requests()
        parent.updated_ns = now
        changes.touched[parent.order_id] = parent
        changes.records.append(parent.record())
        for request in failed:
            changes.effects.append(self._cancel_reject(
                parent.session, parent, request.cl_ord_id, request.orig_cl_ord_id, request.kind,
                CancelRejectReason.OTHER,
                f"child order {child.order_id} at venue {child.venue} could not be cancelled: {reject.text}"))
        if parent.status is OrderStatus.PENDING_NEW and any(c.status not in (OrderStatus.PENDING_NEW,)
                                                           and not c.status.is_terminal for c in parent.children):
            parent.become(OrderStatus.NEW)  # a child was acknowledged while the request was pending
            self._parent_report(changes, parent, ExecKind.NEW, now)
        if swept:
            parent.reroutes = MAX_REROUTES
            parent.text = "a sweep's cancel stopped placing the rest"
        else:
            self._reroute(changes, parent, now, parent.unallocated)

    def _finish_parent_request(self, changes: _Changes, parent: Order, now: int) -> None:
        """No child works any more: the parent's cancel is done, or its replace, which places the
        order again as replaced (``Router.plan``), unless a sweep's cancel is chained behind it. A
        replace that fills meanwhile made too small is refused, and the order works on as it was."""
        pending = parent.pending
        assert pending is not None
        changes.touched[parent.order_id] = parent
        parent.updated_ns = now
        if pending.kind is RequestKind.REPLACE and pending.quantity is not None and pending.quantity <= parent.cum_qty:
            parent.end_request()  # a cancel chained behind it is the request now
            changes.records.append(parent.record())
            changes.owe(self._cancel_reject(
                parent.session, parent, pending.cl_ord_id, pending.orig_cl_ord_id, RequestKind.REPLACE,
                CancelRejectReason.OTHER,
                f"new quantity {pending.quantity} is not above the {parent.cum_qty} filled meanwhile"))
            if parent.chained is None and parent.pending is None:
                self._reroute(changes, parent, now, parent.unallocated)
            elif parent.pending is not None:  # the chained cancel is the request now: nothing works
                self._finish_parent_request(changes, parent, now)
            if not parent.working_child and parent.pending is None:
                self._end_parent(changes, parent, None, now)
            return
        parent.answer_parent_request()
        if pending.kind is RequestKind.CANCEL:
            parent.become(OrderStatus.CANCELED)
            self._parent_report(changes, parent, ExecKind.CANCELED, now, pending.cl_ord_id, pending.orig_cl_ord_id)
            self._parent_ended(changes, parent)
            return
        self._parent_report(changes, parent, ExecKind.REPLACED, now, pending.cl_ord_id, pending.orig_cl_ord_id)
        if parent.status.is_terminal:
            self._parent_ended(changes, parent)
            return
        if parent.chained is not None:
            parent.promote_chained()
            self._finish_parent_request(changes, parent, now)
            return
        remaining = parent.quantity - parent.cum_qty
        halted = self._risk.halted(parent.session, parent.account, parent.symbol)
        plan = self._router.plan(self._rest_of(parent, remaining, now), parent.refused_venues)
        if halted is not None or plan.route.reason is not None:
            parent.text = f"replaced, but not placed again: {halted or plan.route.reason}"
            self._end_parent(changes, parent, None, now)
            return
        parent.route = plan.route.decision
        changes.effects += self._place(changes.records, parent, plan.legs or (Leg(plan.route.venue, remaining, False),),
                                       now, now)
        changes.records.append(parent.record())

    def _reroute(self, changes: _Changes, parent: Order, now: int, quantity: Decimal) -> None:
        """``quantity`` no child works any more goes to the venue the router now prefers, not one that
        refused a child of this order, with the parent's time in force; at most ``MAX_REROUTES`` times,
        and not while risk halts trading for the order. A venue whose size cap (``Router.size_cap``) is
        below ``quantity`` gets its cap, and the rest the venue preferred after it (all of it there
        when there is none)."""
        if quantity <= 0:
            return
        if parent.reroutes >= MAX_REROUTES:
            if not parent.text:
                parent.text = f"{quantity} left unplaced after {MAX_REROUTES} placements again"
            return
        halted = self._risk.halted(parent.session, parent.account, parent.symbol)
        route = self._router.route(self._rest_of(parent, quantity, now), parent.refused_venues)
        if halted is not None or route.reason is not None:
            parent.text = halted or route.reason or ""
            return
        parent.reroutes += 1
        places = [(route, quantity)]
        cap = self._router.size_cap(route.venue, parent.symbol)
        if cap is not None and cap < quantity:
            rest = self._router.route(self._rest_of(parent, quantity - cap, now), parent.refused_venues | {route.venue})
            if rest.reason is None:
                places = [(route, cap), (rest, quantity - cap)]
        for where, size in places:
            changes.effects.append(self._new_child(changes.records, parent, where.venue, size, parent.time_in_force,
                                                   f'"reroute","route":{where.decision}', now, now))

    def _end_parent(self, changes: _Changes, parent: Order, last: Order | None, now: int) -> None:
        """No child works and none was placed again: the parent ends. DONE_FOR_DAY while a child is
        only done for the day (it may come back); EXPIRED when the last child expired; REJECTED when
        every child was refused and nothing filled; else CANCELED. Its Text says why (each venue's
        refusal)."""
        if parent.status.is_terminal:
            return
        status: OrderStatus
        if any(not c.status.is_terminal for c in parent.children):
            status = OrderStatus.DONE_FOR_DAY
        elif last is not None and last.status is OrderStatus.EXPIRED:
            status = OrderStatus.EXPIRED
        elif (parent.cum_qty == 0 and parent.may_become(OrderStatus.REJECTED)
              and all(c.status is OrderStatus.REJECTED for c in parent.children)):
            status = OrderStatus.REJECTED
            self.counters.rejected += 1
        else:
            status = OrderStatus.CANCELED
        why = [f"{venue}: {text}" for venue, text in parent.refused]
        if parent.text and parent.text not in why:
            why.append(parent.text)
        if not why and last is not None and last.text:
            why.append(f"{last.venue}: {last.text}")
        parent.text = "; ".join(why)
        if status is not parent.status:
            parent.become(status)
        parent.updated_ns = now
        changes.touched[parent.order_id] = parent
        self._parent_report(changes, parent, ExecKind(status.value), now)
        if parent.status.is_terminal:
            self._parent_ended(changes, parent)

    def _parent_ended(self, changes: _Changes, parent: Order) -> None:
        """A parent ended: a request it did not answer is answered too late."""
        for request in parent.settle_requests():
            changes.owe(self._cancel_reject(
                parent.session, parent, request.cl_ord_id, request.orig_cl_ord_id, request.kind,
                CancelRejectReason.TOO_LATE, f"order {parent.order_id} is already {parent.status}"))

    def _parent_report(self, changes: _Changes, parent: Order, kind: ExecKind, now: int,
                       cl_ord_id: str | None = None, orig_cl_ord_id: str | None = None) -> None:
        """The parent's report of ``kind`` (an id of the gateway's), recorded and owed."""
        report = parent.client_report(self._exec_id(parent, kind.value, now), kind, cl_ord_id=cl_ord_id,
                                      orig_cl_ord_id=orig_cl_ord_id)
        changes.records += (self._execution(parent, report, GATEWAY, report.exec_id, now), parent.record())
        changes.owe(report)

    # -- THE HAND-OFF --------------------------------------------------------------------------------

    def _hand_off(self, changes: _Changes) -> list[Effect]:
        """What a call changed leaves the OMS, under the lock: risk sees each touched order as it is
        now, the book sink gets the records and the client messages owed in one piece. A child's
        messages are its parent's to make (``_roll_up``)."""
        if self._has_children:
            changes = self._roll_up(changes)
        for order in changes.touched.values():
            self._show_risk(order)
        if changes.records or changes.owed:
            self._sink(changes.records, changes.owed)
        return changes.effects

    def _show_risk(self, order: Order) -> None:
        """Risk's view of the order's working quantity follows every change (0 once it is done); a
        child's is its parent's, counted once."""
        if order.parent_id is not None:
            return
        self._risk.order_changed(order.order_id, order.symbol, order.ord_type, order.leaves_qty, order.price,
                                 order.replacing)

    # -- REQUESTS ------------------------------------------------------------------------------------

    def _index(self, order: Order, venue_cl_ord_id: str, cl_ord_id: str) -> None:
        self._by_venue_id[(order.venue, venue_cl_ord_id)] = order
        self._by_client_id[(order.session, cl_ord_id)] = order

    def _changeable(
        self, session: str, cl_ord_id: str, orig_cl_ord_id: str, kind: RequestKind
    ) -> tuple[Order | None, ClientCancelReject | None]:
        order = self._by_client_id.get((session, orig_cl_ord_id))
        if order is None:
            return None, self._cancel_reject(
                session, None, cl_ord_id, orig_cl_ord_id, kind, CancelRejectReason.UNKNOWN_ORDER,
                f"unknown order OrigClOrdID {orig_cl_ord_id}",
            )
        if order.status.is_terminal:
            return None, self._cancel_reject(
                session, order, cl_ord_id, orig_cl_ord_id, kind, CancelRejectReason.TOO_LATE,
                f"order {order.order_id} is already {order.status}",
            )
        if order.pending is not None:
            return None, self._cancel_reject(
                session, order, cl_ord_id, orig_cl_ord_id, kind, CancelRejectReason.ALREADY_PENDING,
                f"order {order.order_id} already has a {order.pending.kind.lower()} pending",
            )
        clash = self._by_client_id.get((session, cl_ord_id))
        if clash is not None and clash is not order and not clash.status.is_terminal:
            return None, self._cancel_reject(
                session, order, cl_ord_id, orig_cl_ord_id, kind, CancelRejectReason.OTHER,
                f"duplicate ClOrdID {cl_ord_id}: order {clash.order_id} is live",
            )
        return order, None

    def _start_change(self, changes: _Changes, order: Order, kind: RequestKind, cl_ord_id: str, now: int,
                      quantity: Decimal | None = None, price: Decimal | None = None) -> None:
        pending = order.ask(kind, cl_ord_id, self._request_id(order), quantity, price)
        order.updated_ns = now
        self._index(order, pending.venue_cl_ord_id, cl_ord_id)
        changes.touched[order.order_id] = order  # a replace counts the worse of old and new until answered
        self._acknowledge(
            changes, order, pending, order.venue_cl_ord_id, order.quantity if quantity is None else quantity,
            order.price if kind is RequestKind.CANCEL else price, now,
        )

    def _sweep_cancel(self, changes: _Changes, order: Order, now: int) -> bool:
        """A cancel nobody's request names (a sweep or an operator's); False when a cancel of the order
        is already on its way. One of an order whose replace is pending is chained after the replace,
        sent now rather than after the venue answers it (no venue thread has to remember to send it
        later). FIX chains requests: OrigClOrdID is the last ClOrdID not rejected, the replace's;
        OrderID (37) goes too when known, so a venue that finds orders by it cancels whichever way the
        replace went. A venue that takes one request at a time refuses it (CxlRejReason 3):
        ``apply_cancel_reject`` tells the client."""
        pending = order.pending
        if pending is None:
            self._start_change(changes, order, RequestKind.CANCEL, order.cl_ord_id, now)
            return True
        if pending.kind is RequestKind.CANCEL or order.chained is not None:
            return False
        chained = order.chain_cancel(self._request_id(order))
        order.updated_ns = now
        self._by_venue_id[(order.venue, chained.venue_cl_ord_id)] = order
        self._acknowledge(
            changes, order, chained, pending.venue_cl_ord_id,
            order.quantity if pending.quantity is None else pending.quantity, pending.price, now,
        )
        return True

    def _request_id(self, order: Order) -> str:
        """A new venue ClOrdID for a cancel or replace of ``order``."""
        return f"FG{order.order_id}R{next(self._request_seq)}"

    def _acknowledge(self, changes: _Changes, order: Order, request: PendingChange, orig_venue_cl_ord_id: str,
                     quantity: Decimal, price: Decimal | None, now: int) -> None:
        """The client's Pending report of ``request`` (recorded and owed), then the message for the venue."""
        ack_kind = ExecKind.PENDING_CANCEL if request.kind is RequestKind.CANCEL else ExecKind.PENDING_REPLACE
        ack = order.client_report(
            self._exec_id(order, ack_kind.value, now), ack_kind,
            cl_ord_id=request.cl_ord_id, orig_cl_ord_id=request.orig_cl_ord_id,
        )
        changes.records += (self._execution(order, ack, GATEWAY, ack.exec_id, now), order.record())
        changes.owe(ack)
        changes.effects.append(VenueChange(
            request.kind, order.order_id, order.venue, request.venue_cl_ord_id, orig_venue_cl_ord_id,
            order.venue_order_id, order.account, order.symbol, order.side, order.ord_type, order.time_in_force,
            quantity, price,
        ))

    def _end_change(self, changes: _Changes, order: Order, reason: CancelRejectReason, text: str, now: int
                    ) -> ClientCancelReject:
        """The request pending failed: the order is back as it was (``Order.end_request``); the
        client's reject of it."""
        pending = order.end_request()
        order.updated_ns = now
        changes.touched[order.order_id] = order  # a refused replace: back to the old order's exposure
        changes.records.append(order.record())
        return self._cancel_reject(
            order.session, order, pending.cl_ord_id, pending.orig_cl_ord_id, pending.kind, reason, text
        )

    def _end_chained(self, changes: _Changes, order: Order, reason: CancelRejectReason, text: str, now: int
                     ) -> ClientCancelReject:
        """The cancel chained on a replace failed: the order is back to its replace pending."""
        order.end_chained()
        order.updated_ns = now
        changes.records.append(order.record())
        return self._cancel_reject(
            order.session, order, order.cl_ord_id, order.cl_ord_id, RequestKind.CANCEL, reason, text
        )

    def _end_lost_requests(self, changes: _Changes, order: Order, report: VenueReport) -> list[ClientCancelReject]:
        """A status answer after a reconnect shows the order working under the ClOrdID it had before
        its outstanding requests: the venue never got them (a request lost with the connection is
        not resent: ``toApp`` drops stale order messages). End them, so later cancels are not
        refused as already pending; the client's cancel reject of each."""
        pending = order.pending
        if (
            pending is None
            or not pending.status_asked
            or report.status not in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)
            or report.venue_cl_ord_id != order.venue_cl_ord_id
        ):
            return []
        self.counters.reconciled += 1
        now = self._clock_ns()
        why = f"venue {report.venue} never got the request (lost in a disconnect); the order is {report.status}"
        log.warning("order %d: %s %s", order.order_id, pending.kind.lower(), why)
        rejects = []
        chained = order.chained
        if chained is not None and chained.status_asked:  # one sent since may still arrive: it stays
            rejects.append(self._end_chained(changes, order, CancelRejectReason.OTHER, f"cancel: {why}", now))
        rejects.append(self._end_change(changes, order, CancelRejectReason.OTHER, f"{pending.kind.lower()}: {why}",
                                        now))
        return rejects

    def _cancel_reject(
        self,
        session: str,
        order: Order | None,
        cl_ord_id: str,
        orig_cl_ord_id: str,
        kind: RequestKind,
        reason: CancelRejectReason,
        text: str,
    ) -> ClientCancelReject:
        self.counters.cancel_rejects += 1
        return ClientCancelReject(
            session=session,
            order_id=None if order is None else order.order_id,
            cl_ord_id=cl_ord_id,
            orig_cl_ord_id=orig_cl_ord_id,
            status=OrderStatus.REJECTED if order is None else order.status,
            response_to=kind,
            reason=reason,
            text=text,
        )

    # -- REPORTS -------------------------------------------------------------------------------------

    def _reject(self, changes: _Changes, order: Order, reason: str, now: int) -> None:
        self.counters.rejected += 1
        order.become(OrderStatus.REJECTED)
        order.text = reason
        order.updated_ns = now
        exec_id = f"{GATEWAY}-{order.order_id}-REJ"
        report = order.client_report(exec_id, ExecKind.REJECTED)
        changes.touched[order.order_id] = order
        changes.records += (order.record(), self._execution(order, report, GATEWAY, exec_id, now))
        changes.owe(report)

    @staticmethod
    def _exec_id(order: Order, what: str, now: int) -> str:
        return f"{GATEWAY}-{order.order_id}-{what}-{now}"

    @staticmethod
    def _execution(
        order: Order, client: ClientReport, venue: str, venue_exec_id: str, received_ns: int
    ) -> ExecutionRecord:
        # The commission is the venue's fee of a fill (its client report carries it); None for the rest.
        return ExecutionRecord(
            client.exec_id, order.order_id, venue, venue_exec_id, client.kind, order.status, client.last_qty,
            client.last_px, client.cum_qty, client.leaves_qty, client.avg_px, client.text, received_ns,
            client.commission,
        )

    def _as_answer_to_cancel(self, order: Order, report: VenueReport) -> VenueReport:
        """A venue that acknowledges a cancel under one of the order's own ClOrdIDs, without
        OrigClOrdID (41), answers the cancel outstanding: the report is taken as if it named the
        request's ClOrdID, so the client gets its Canceled under its cancel's ids and no "too late"
        reject besides. (A venue's own cancel, such as an IOC remainder, that meets a cancel on its way
        ends the order as the client asked; the venue's refusal of the request that may follow is
        expected and dropped.) The order keeps the venue's id for it."""
        if (report.kind is not ExecKind.CANCELED
                or self._by_venue_id.get((report.venue, report.venue_cl_ord_id)) is not order):
            return report
        requests = [r for r in (order.pending, order.chained) if r is not None]
        if any(r.venue_cl_ord_id == report.venue_cl_ord_id for r in requests):
            return report  # it names the request it answers
        for request in requests:
            if request.kind is RequestKind.CANCEL:
                # The venue may still refuse the request itself (an IOC remainder or an expiry met it):
                # that refusal is expected, and dropped (``apply_cancel_reject``).
                self._ended_requests.add((order.venue, request.venue_cl_ord_id))
                return replace(report, venue_cl_ord_id=request.venue_cl_ord_id,
                               orig_venue_cl_ord_id=report.orig_venue_cl_ord_id or report.venue_cl_ord_id)
        return report

    @staticmethod
    def _is_repeat(order: Order, report: VenueReport, seen: list[AppliedReport]) -> bool:
        """Whether a report whose ExecID was applied before repeats one of those reports: the same
        order, ExecType, LastQty and LastPx. A fill that says more is filled than the book has is not a
        repeat, however alike: the book never counted it."""
        if not any(a.order_id == order.order_id and a.kind is report.kind and a.last_qty == report.last_qty
                   and a.last_px == report.last_px for a in seen):
            return False
        return report.kind is not ExecKind.TRADE or report.cum_qty <= order.cum_qty

    def _adopt_replace(self, order: Order, report: VenueReport) -> PendingChange:
        """The request a venue's Replaced answers, rebuilt from the report (the client's new ClOrdID
        is not known: the order keeps its id); its venue ClOrdID is indexed for the fills to come."""
        log.warning("order %d: venue %s replaced it as %s without a request in the book (asked before a"
                    " restart?): taken from the report", order.order_id, report.venue, report.venue_cl_ord_id)
        self._by_venue_id[(report.venue, report.venue_cl_ord_id)] = order
        return PendingChange(
            kind=RequestKind.REPLACE, cl_ord_id=order.cl_ord_id, orig_cl_ord_id=order.cl_ord_id,
            venue_cl_ord_id=report.venue_cl_ord_id, prior_status=order.status,
            quantity=report.cum_qty + report.leaves_qty,
            price=order.price if report.price is None else report.price,
        )

    def _reconcile(self, order: Order, report: VenueReport) -> VenueReport | None:
        """A venue's status report (asked for after a reconnect) against the book: what the book
        must apply to agree, as an ordinary report, or ``None`` when they agree or only fills differ."""
        venue_status = report.status
        if venue_status is order.status or (order.status.is_terminal and venue_status.is_terminal):
            return None
        if venue_status is OrderStatus.REJECTED and report.venue_order_id in ("", "NONE"):
            return self._reconcile_unknown(order, report)
        if report.cum_qty != order.cum_qty:
            # Fills are applied only from their own reports; a resend brings them. Say so loudly.
            self.counters.reconcile_mismatches += 1
            log.error("order %d: venue %s reports CumQty %s, the book has %s", order.order_id, report.venue,
                      report.cum_qty, order.cum_qty)
            return None
        if order.pending is not None and venue_status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
            # A request still on its way (``_end_lost_requests`` ended the lost ones) is answered by
            # a report of its own: until then the order is pending, not what the venue saw before it.
            return None
        kind = _KIND_OF_STATUS.get(venue_status)
        if kind is None:
            return None
        self.counters.reconciled += 1
        log.warning("order %d: %s -> %s to agree with venue %s", order.order_id, order.status, venue_status,
                    report.venue)
        text = report.text or f"reconciled with venue {report.venue}"
        # An id of its own: the venue's ExecID of a status answer need not be unique.
        exec_id = f"{report.exec_id}-RECON-{order.order_id}-{self._clock_ns()}"
        return replace(report, kind=kind, status=venue_status, last_qty=ZERO, last_px=ZERO, text=text,
                       exec_id=exec_id)

    def _reconcile_unknown(self, order: Order, report: VenueReport) -> VenueReport:
        """The venue does not know the order: it never arrived, or the venue forgot it (restarted with
        empty books). It will not trade there, so it ends: REJECTED if it never arrived, else CANCELED
        with the fills it had (the venue keeps no CumQty to compare: the book's fills stand). A cancel
        pending is answered by it; any other request is answered too late (``apply``)."""
        arrived = (order.status is not OrderStatus.PENDING_NEW or order.cum_qty > 0
                   or order.venue_order_id is not None)
        status = OrderStatus.CANCELED if arrived else OrderStatus.REJECTED
        self.counters.reconciled += 1
        text = (f"venue {report.venue} does not know the order ({report.text or 'unknown order'}):"
                f" {status.lower()} with {order.cum_qty} of {order.quantity} filled")
        log.warning("order %d: %s -> %s: %s", order.order_id, order.status, status, text)
        pending = order.pending
        venue_cl_ord_id = report.venue_cl_ord_id
        if arrived and pending is not None and pending.kind is RequestKind.CANCEL:
            venue_cl_ord_id = pending.venue_cl_ord_id
        return replace(
            report, venue_cl_ord_id=venue_cl_ord_id, venue_order_id=order.venue_order_id or "", status=status,
            kind=ExecKind.CANCELED if arrived else ExecKind.REJECTED,
            last_qty=ZERO, last_px=ZERO, cum_qty=order.cum_qty, leaves_qty=ZERO, text=text,
            exec_id=f"{report.exec_id}-RECON-{order.order_id}-{self._clock_ns()}",
        )
