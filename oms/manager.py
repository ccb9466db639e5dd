"""The order manager: assigns order ids, maps client ids to venue ids, applies venue reports.

Called from QuickFIX callback threads (one per client and venue connection). All state changes
happen under one lock and are O(1); every change is handed to the book-of-record sink while the
lock is held, so the sink sees the changes of each row in the order they happened.
Sending FIX messages is the caller's business, after the lock is released.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal

from oms.ids import OrderIds
from oms.lifecycle import IllegalTransition, check_transition
from domain.model import (
    AppliedReport,
    BookRecord,
    Breach,
    CancelOrder,
    CancelRejectReason,
    ClientCancelReject,
    ClientMessage,
    ClientReport,
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
    Side,
    TimeInForce,
    VenueCancelReject,
    VenueOrderRefusal,
    VenueReport,
)
from domain.positions import PRICE_QUANTUM, ZERO, Position
from oms.router import Router
from risk.checks import PreTradeRisk

log = logging.getLogger(__name__)

GATEWAY = "FIXGATE"  # the "venue" of reports the gateway makes itself (risk rejects)

# Where every change goes, under the OMS lock: the book records (with a daily loss breach a fill or
# mark caused: a ``risk_events`` row, so a restart keeps the state it set), and the report owed to the
# client if the change makes one (the journal keeps both, so a restart can send a report never sent).
BookSink = Callable[[Sequence[BookRecord | Breach], ClientMessage | None], None]


@dataclass(slots=True)
class Order:
    """One order's live state inside the OMS."""

    order_id: int
    session: str
    cl_ord_id: str
    account: str
    symbol: str
    side: Side
    ord_type: OrdType
    time_in_force: TimeInForce
    quantity: Decimal
    price: Decimal | None
    venue: str
    venue_cl_ord_id: str
    status: OrderStatus
    created_ns: int
    updated_ns: int
    venue_order_id: str | None = None
    cum_qty: Decimal = ZERO
    notional: Decimal = ZERO  # sum of last_qty * last_px over the fills: exact
    text: str = ""
    pending: PendingChange | None = None  # the cancel or replace waiting for the venue
    # A sweep's cancel (kill switch, mass cancel, cancel on disconnect, operator) sent while a
    # replace was pending; it becomes ``pending`` once the replace is answered.
    chained: PendingChange | None = None
    # A kill switch swept the order before the venue had acknowledged it: its cancel is made at the
    # venue's first report (sent before, it could overtake the order itself on the wire).
    cancel_on_ack: bool = False

    @property
    def working_status(self) -> OrderStatus:
        """What the order is when nothing is pending: by its fills."""
        if self.cum_qty >= self.quantity:
            return OrderStatus.FILLED
        return OrderStatus.PARTIALLY_FILLED if self.cum_qty > 0 else OrderStatus.NEW

    @property
    def avg_px(self) -> Decimal:
        if self.cum_qty == 0:
            return ZERO
        return (self.notional / self.cum_qty).quantize(PRICE_QUANTUM, ROUND_HALF_EVEN)

    @property
    def leaves_qty(self) -> Decimal:
        return ZERO if self.status.is_terminal else self.quantity - self.cum_qty

    def record(self) -> OrderRecord:
        return OrderRecord(
            order_id=self.order_id,
            session=self.session,
            cl_ord_id=self.cl_ord_id,
            account=self.account,
            symbol=self.symbol,
            side=self.side,
            ord_type=self.ord_type,
            time_in_force=self.time_in_force,
            quantity=self.quantity,
            price=self.price,
            venue=self.venue,
            venue_cl_ord_id=self.venue_cl_ord_id,
            venue_order_id=self.venue_order_id,
            status=self.status,
            cum_qty=self.cum_qty,
            leaves_qty=self.leaves_qty,
            avg_px=self.avg_px,
            text=self.text,
            created_ns=self.created_ns,
            updated_ns=self.updated_ns,
            pending=None if self.pending is None else self.pending.encode(),
            chained=None if self.chained is None else self.chained.encode(),
        )

    def client_report(
        self,
        exec_id: str,
        kind: ExecKind,
        last_qty: Decimal = ZERO,
        last_px: Decimal = ZERO,
        cl_ord_id: str | None = None,
        orig_cl_ord_id: str | None = None,
    ) -> ClientReport:
        return ClientReport(
            session=self.session,
            order_id=self.order_id,
            cl_ord_id=self.cl_ord_id if cl_ord_id is None else cl_ord_id,
            account=self.account,
            symbol=self.symbol,
            side=self.side,
            ord_type=self.ord_type,
            quantity=self.quantity,
            price=self.price,
            exec_id=exec_id,
            kind=kind,
            status=self.status,
            last_qty=last_qty,
            last_px=last_px,
            cum_qty=self.cum_qty,
            leaves_qty=self.leaves_qty,
            avg_px=self.avg_px,
            text=self.text,
            orig_cl_ord_id=orig_cl_ord_id,
        )

    @classmethod
    def from_record(cls, r: OrderRecord) -> Order:
        order = cls(
            order_id=r.order_id,
            session=r.session,
            cl_ord_id=r.cl_ord_id,
            account=r.account,
            symbol=r.symbol,
            side=r.side,
            ord_type=r.ord_type,
            time_in_force=r.time_in_force,
            quantity=r.quantity,
            price=r.price,
            venue=r.venue,
            venue_cl_ord_id=r.venue_cl_ord_id,
            status=r.status,
            created_ns=r.created_ns,
            updated_ns=r.updated_ns,
            venue_order_id=r.venue_order_id,
            cum_qty=r.cum_qty,
            text=r.text,
            pending=PendingChange.decode(r.pending),
            chained=PendingChange.decode(r.chained),
        )
        order.notional = r.avg_px * r.cum_qty
        return order


# The report kind a venue's status implies, when reconciling the book with it.
_KIND_OF_STATUS = {
    OrderStatus.NEW: ExecKind.NEW,
    OrderStatus.PARTIALLY_FILLED: ExecKind.NEW,
    OrderStatus.CANCELED: ExecKind.CANCELED,
    OrderStatus.EXPIRED: ExecKind.EXPIRED,
    OrderStatus.DONE_FOR_DAY: ExecKind.DONE_FOR_DAY,
    OrderStatus.REJECTED: ExecKind.REJECTED,
}


@dataclass(frozen=True, slots=True)
class Rejected:
    """The order was refused before reaching any venue; ``report`` goes back to the client."""

    report: ClientReport


@dataclass(frozen=True, slots=True)
class Answered:
    """A possible resend of an order already taken: not routed again; ``report`` is its status."""

    report: ClientReport


@dataclass(frozen=True, slots=True)
class PendingChange:
    """A cancel or replace sent to the venue and not yet answered."""

    kind: RequestKind
    cl_ord_id: str  # the id the order takes when the venue accepts (the client's new ClOrdID)
    orig_cl_ord_id: str  # the order's client id when the request was made
    venue_cl_ord_id: str  # the id fixgate gave the venue for this request
    prior_status: OrderStatus  # what the order is if the request fails and nothing filled meanwhile
    quantity: Decimal | None = None
    price: Decimal | None = None
    # The venue was asked for the order's status (a logon) while this was outstanding: an answer
    # that shows the order working under its old ClOrdID means the venue never got the request.
    # Not kept across a restart: the next logon asks again.
    status_asked: bool = False

    def encode(self) -> str:
        """The request as the text the book and the journal keep (``OrderRecord.pending``)."""
        return json.dumps([
            self.kind.value, self.cl_ord_id, self.orig_cl_ord_id, self.venue_cl_ord_id, self.prior_status.value,
            None if self.quantity is None else str(self.quantity), None if self.price is None else str(self.price),
        ])

    @classmethod
    def decode(cls, text: str | None) -> PendingChange | None:
        """The request ``encode`` wrote (``None`` for none)."""
        if text is None:
            return None
        kind, cl_ord_id, orig_cl_ord_id, venue_cl_ord_id, prior_status, quantity, price = json.loads(text)
        return cls(
            kind=RequestKind(kind), cl_ord_id=cl_ord_id, orig_cl_ord_id=orig_cl_ord_id,
            venue_cl_ord_id=venue_cl_ord_id, prior_status=OrderStatus(prior_status),
            quantity=None if quantity is None else Decimal(quantity), price=None if price is None else Decimal(price),
        )


@dataclass(frozen=True, slots=True)
class Sweep:
    """What a sweep (``cancel_orders``) does: the cancels to send now, and how many orders will get
    theirs at the venue's first report (``defer_unacknowledged``)."""

    changes: list[VenueChange]
    deferred: int = 0


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


class OrderManager:
    """Owns every live order and position; the one place their state changes."""

    def __init__(
        self,
        *,
        instruments: dict[str, Instrument],
        risk: PreTradeRisk,
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
        self._positions: dict[tuple[str, str], Position] = {}
        # (venue, venue ExecID) of every report applied -> what each report under it said: a venue that
        # restarts its ExecIDs reuses them for other reports (``_is_repeat``).
        self._applied: dict[tuple[str, str], list[AppliedReport]] = {}
        # Orders a venue answered a cancel of as unknown: a status request for each (``take_status_checks``).
        self._owed_status_checks: list[OrderRecord] = []
        # Cancel rejects owed to clients after a report (requests a venue never got, requests whose
        # order ended first), until taken; journaled as owed too (``_owe_cancel_reject``).
        self._owed_cancel_rejects: list[ClientCancelReject] = []
        # Cancels of swept orders their venue has now acknowledged (``Order.cancel_on_ack``), until taken.
        self._owed_cancels: list[VenueChange] = []
        # (venue, venue ClOrdID) of requests answered too late when their order ended first: the
        # venue's OrderCancelReject of one is expected, not an unknown report.
        self._ended_requests: set[tuple[str, str]] = set()
        self.counters = OmsCounters()

    def restore(
        self,
        orders: Iterable[OrderRecord],
        positions: Iterable[PositionRecord],
        applied: Iterable[AppliedReport] = (),
        notionals: Mapping[int, Decimal] | None = None,
    ) -> None:
        """Rebuild the in-memory state from the book (at start, before any session is up).
        ``notionals``: per order, the exact sum of its fills' qty x price (else AvgPx x CumQty, which
        the row holds rounded)."""
        with self._lock:
            for r in orders:
                order = Order.from_record(r)
                if notionals is not None and r.order_id in notionals:
                    order.notional = notionals[r.order_id]
                if order.pending is None and order.status in (OrderStatus.PENDING_CANCEL,
                                                              OrderStatus.PENDING_REPLACE):
                    # A row that does not hold its request (written before requests were kept): the
                    # order is what its fills say until the venue tells otherwise.
                    order.status = order.working_status
                self._orders[order.order_id] = order
                self._index(order, order.venue_cl_ord_id, order.cl_ord_id)
                # The request's ids, as ``_start_change`` and ``_chain_cancel`` indexed them: the
                # venue answers under the request's ClOrdID, the client may name it by its own.
                if order.pending is not None:
                    self._index(order, order.pending.venue_cl_ord_id, order.pending.cl_ord_id)
                if order.chained is not None:
                    self._by_venue_id[(order.venue, order.chained.venue_cl_ord_id)] = order
                self._order_ids.above(order.order_id)
                if order.venue and not order.status.is_terminal:
                    self._risk.view.open_order(
                        order.order_id, order.account, order.symbol, order.side, ZERO, ZERO
                    )
                    self._sync_risk(order)
            for p in positions:
                self._positions[(p.account, p.symbol)] = Position.from_record(p)
                self._risk.restore_position(p.account, p.symbol, p.quantity, p.cost, p.realized_pnl,
                                            p.updated_ns)
            for a in applied:
                self._applied.setdefault((a.venue, a.venue_exec_id), []).append(a)

    # -- COMMANDS ------------------------------------------------------------------------------------

    def submit(self, cmd: NewOrder) -> Routed | Rejected | Answered:
        """Check a new order and either route it (state PENDING_NEW) or reject it (REJECTED)."""
        with self._lock:
            now = self._clock_ns()
            known = self._by_client_id.get((cmd.session, cmd.cl_ord_id))
            if known is not None and cmd.possible_resend:
                return Answered(known.client_report(self._exec_id(known, "STATUS", now), ExecKind.ORDER_STATUS,
                                                    cl_ord_id=cmd.cl_ord_id))
            order_id = self._order_ids.take()
            if known is not None and not known.status.is_terminal:
                reason: str | None = f"duplicate ClOrdID {cmd.cl_ord_id}: order {known.order_id} is live"
            else:
                reason = self._risk.check(cmd)
            venue = ""
            if reason is None:
                venue, reason = self._router.route(cmd.symbol)
            order = Order(
                order_id=order_id,
                session=cmd.session,
                cl_ord_id=cmd.cl_ord_id,
                account=cmd.account,
                symbol=cmd.symbol,
                side=cmd.side,
                ord_type=cmd.ord_type,
                time_in_force=cmd.time_in_force,
                quantity=cmd.quantity,
                price=cmd.price,
                venue=venue,
                venue_cl_ord_id=f"FG{order_id}",
                status=OrderStatus.PENDING_NEW,
                created_ns=now,
                updated_ns=now,
            )
            self._orders[order_id] = order
            self.counters.orders += 1
            if reason is not None:
                if known is None or known.status.is_terminal:
                    self._by_client_id[(cmd.session, cmd.cl_ord_id)] = order  # a resend is answered
                return Rejected(self._reject(order, reason, now))
            self._index(order, order.venue_cl_ord_id, order.cl_ord_id)
            self._risk.order_opened(order_id, cmd)
            self._sink((order.record(),), None)
            return Routed(order_id, venue, order.venue_cl_ord_id, cmd)

    def venue_send_failed(self, order_id: int, reason: str) -> ClientReport:
        """The routed order could not be handed to its venue session: reject it to the client."""
        with self._lock:
            order = self._orders[order_id]
            return self._reject(order, reason, self._clock_ns())

    def request_cancel(self, cmd: CancelOrder) -> VenueChange | ClientCancelReject:
        """A client's cancel: PendingCancel and a request for the venue, or a cancel reject."""
        with self._lock:
            order, refusal = self._changeable(cmd.session, cmd.cl_ord_id, cmd.orig_cl_ord_id, RequestKind.CANCEL)
            if refusal is not None:
                return refusal
            assert order is not None
            return self._start_change(order, RequestKind.CANCEL, cmd.cl_ord_id, self._clock_ns())

    def request_replace(self, cmd: ReplaceOrder) -> VenueChange | ClientCancelReject:
        """A client's cancel/replace: checked by risk again when it adds exposure."""
        with self._lock:
            order, refusal = self._changeable(
                cmd.session, cmd.cl_ord_id, cmd.orig_cl_ord_id, RequestKind.REPLACE
            )
            if refusal is not None:
                return refusal
            assert order is not None
            if cmd.quantity <= order.cum_qty:
                return self._cancel_reject(
                    cmd.session, order, cmd.cl_ord_id, cmd.orig_cl_ord_id, RequestKind.REPLACE,
                    CancelRejectReason.OTHER,
                    f"new quantity {cmd.quantity} is not above the {order.cum_qty} already filled",
                )
            if order.ord_type is OrdType.LIMIT and cmd.price is None:
                return self._cancel_reject(
                    cmd.session, order, cmd.cl_ord_id, cmd.orig_cl_ord_id, RequestKind.REPLACE,
                    CancelRejectReason.OTHER, "Price (44) is required to replace a limit order",
                )
            if cmd.quantity > order.quantity or cmd.price != order.price:
                reason = self._risk.check_replace(
                    order.order_id, order.session, order.account, order.symbol, order.side, order.ord_type,
                    cmd.quantity, cmd.price, order.cum_qty,
                )
                if reason is not None:
                    return self._cancel_reject(
                        cmd.session, order, cmd.cl_ord_id, cmd.orig_cl_ord_id, RequestKind.REPLACE,
                        CancelRejectReason.OTHER, reason,
                    )
            return self._start_change(
                order, RequestKind.REPLACE, cmd.cl_ord_id, self._clock_ns(), cmd.quantity, cmd.price
            )

    def cancel_orders(
        self, *, session: str | None = None, account: str | None = None, symbol: str | None = None,
        comp_id: str | None = None, defer_unacknowledged: bool = False,
    ) -> Sweep:
        """Cancel every working order in a scope (mass cancel, cancel on disconnect, operators);
        ``comp_id`` matches the client's sessions of every FIX version (``FIX.x.y:FIXGATE-><comp_id>``).
        An order with a cancel already on its way is left to it; one with a replace pending gets a
        cancel chained after the replace (``_chain_cancel``).

        ``defer_unacknowledged`` (the kill switch, on another thread than the orders' own): an order
        still PENDING_NEW may not be on the wire yet, and a cancel sent now could reach the venue
        first, be refused as unknown, and leave the order working once it arrives. Its cancel is made
        at the venue's first report instead (``take_cancels``); a reject or a full fill needs none."""
        with self._lock:
            now = self._clock_ns()
            changes = []
            deferred = 0
            for order in self._orders.values():
                if (
                    order.status.is_terminal
                    or not order.venue
                    or (session is not None and order.session != session)
                    or (comp_id is not None and order.session.rpartition(">")[2] != comp_id)
                    or (account is not None and order.account != account)
                    or (symbol is not None and order.symbol != symbol)
                ):
                    continue
                if defer_unacknowledged and order.status is OrderStatus.PENDING_NEW:
                    order.cancel_on_ack = True
                    deferred += 1
                    continue
                change = self._sweep_cancel(order, now)
                if change is not None:
                    changes.append(change)
            return Sweep(changes, deferred)

    def cancel_order(self, order_id: int) -> VenueChange | Refusal:
        """An operator's cancel of one order: the request for the venue, or why there is none."""
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                return Refusal(CancelRejectReason.UNKNOWN_ORDER, f"order {order_id} not found")
            if order.status.is_terminal:
                return Refusal(CancelRejectReason.TOO_LATE, f"order {order_id} is {order.status}: nothing to cancel")
            change = self._sweep_cancel(order, self._clock_ns())
            if change is None:
                return Refusal(CancelRejectReason.ALREADY_PENDING, f"order {order_id} already has a cancel pending")
            return change

    def change_send_failed(self, change: VenueChange, reason: str) -> ClientCancelReject | None:
        """A cancel or replace could not be handed to the venue session: undo it, tell the client."""
        with self._lock:
            order = self._orders[change.order_id]
            chained = order.chained
            if chained is not None and chained.venue_cl_ord_id == change.venue_cl_ord_id:
                return self._end_chained(order, chained, CancelRejectReason.OTHER, reason, self._clock_ns())
            pending = order.pending
            if pending is None or pending.venue_cl_ord_id != change.venue_cl_ord_id:
                return None
            return self._end_change(order, pending, CancelRejectReason.OTHER, reason, self._clock_ns())

    # -- EVENTS --------------------------------------------------------------------------------------

    def apply(self, report: VenueReport) -> ClientReport | None:
        """Apply a venue's execution report once; return what the client is owed, if anything."""
        with self._lock:
            order = self._by_venue_id.get((report.venue, report.venue_cl_ord_id))
            if order is None and report.orig_venue_cl_ord_id:
                order = self._by_venue_id.get((report.venue, report.orig_venue_cl_ord_id))
            if order is None:
                self.counters.unknown_reports += 1
                log.warning(
                    "report %s from %s for unknown ClOrdID %s ignored",
                    report.exec_id, report.venue, report.venue_cl_ord_id,
                )
                return None
            applied_key = (report.venue, report.exec_id)
            repeat = ""  # a suffix when the venue reused this order's ExecID (another report under it)
            seen = None if report.kind is ExecKind.ORDER_STATUS else self._applied.get(applied_key)
            if report.kind is ExecKind.ORDER_STATUS:
                # Not de-duplicated by ExecID: venues reuse it on status answers (FIX 4.4 even says 0),
                # and an answer changes nothing when the book already agrees with it.
                self._end_lost_requests(order, report)
                reconciled = self._reconcile(order, report)
                if reconciled is None:
                    return None
                report = reconciled
                applied_key = (report.venue, report.exec_id)
            elif seen is not None:
                if self._is_repeat(order, report, seen):
                    self.counters.duplicate_reports += 1
                    return None
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
            pending = order.pending
            chained = order.chained
            answers_pending = pending is not None and report.venue_cl_ord_id == pending.venue_cl_ord_id
            status = report.status
            if report.kind is ExecKind.REPLACED:
                if (pending is None and chained is None
                        and report.orig_venue_cl_ord_id == order.venue_cl_ord_id):
                    # A replace of the order's current id that the book has no request for: asked
                    # before a restart (requests live in memory only). The venue did it, and its
                    # fills will name the new id: take it, with quantity and price from the report.
                    pending = self._adopt_replace(order, report)
                    answers_pending = True
                if not answers_pending or pending is None or pending.kind is not RequestKind.REPLACE:
                    self.counters.illegal_transitions += 1
                    log.error("order %d: venue reports a replace nobody asked for (exec %s)",
                              order.order_id, report.exec_id)
                    return None
                order.quantity = pending.quantity if pending.quantity is not None else order.quantity
                order.price = pending.price
                status = order.working_status  # FIX 4.2 venues say 39=5; the order works on
            try:
                check_transition(order.order_id, order.status, status)
                legal = True
            except IllegalTransition as exc:
                self.counters.illegal_transitions += 1
                log.error("%s (venue %s exec %s)", exc, report.venue, report.exec_id)
                legal = False
                if report.kind is not ExecKind.TRADE:
                    return None  # not applied; a fill is a fact and is applied below regardless

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
            records: list[BookRecord | Breach] = []
            if report.kind is ExecKind.TRADE:
                order.cum_qty += report.last_qty
                order.notional += report.last_qty * report.last_px
                if order.cum_qty != report.cum_qty:
                    log.error(
                        "order %d: venue says CumQty %s, fills add up to %s",
                        order.order_id, report.cum_qty, order.cum_qty,
                    )
                position = self._position(order.account, order.symbol)
                position.apply_fill(order.side, report.last_qty, report.last_px)
                breaches = self._risk.position_changed(order.account, order.symbol, position.quantity,
                                                       position.cost, position.realized_pnl, report.last_px)
                records.append(position.record(now))
                records.append(MarkRecord(order.symbol, report.last_px, now))
                records.extend(breaches)
            if legal:
                order.status = status
            cl_ord_id = orig_cl_ord_id = None
            too_late: list[ClientCancelReject] = []
            if answers_pending and pending is not None and report.kind in (ExecKind.CANCELED, ExecKind.REPLACED):
                cl_ord_id, orig_cl_ord_id = pending.cl_ord_id, pending.orig_cl_ord_id
                order.cl_ord_id = pending.cl_ord_id
                # (A Canceled under the order's own id answers the request but leaves the venue
                # knowing the order by that id: the request's never took.)
                order.venue_cl_ord_id = pending.venue_cl_ord_id if venue_id == report.venue_cl_ord_id else venue_id
                order.pending = None
            elif (chained is not None and report.kind is ExecKind.CANCELED
                  and report.venue_cl_ord_id == chained.venue_cl_ord_id):
                # The sweep's cancel names the order by its own client id, whichever way the replace
                # before it went (the venue may not even have answered that one).
                cl_ord_id = orig_cl_ord_id = order.cl_ord_id
                order.venue_cl_ord_id = chained.venue_cl_ord_id if venue_id == report.venue_cl_ord_id else venue_id
                order.chained = None  # answered
            if order.status.is_terminal:
                # An end (the cancel, a fill, an IOC remainder, an expiry) ends every request too. One
                # it does not answer is answered now, too late: the venue's own OrderCancelReject may
                # follow (it is then dropped) or never come (a venue that forgets the request).
                for request in (order.pending, order.chained):
                    if request is not None and request.venue_cl_ord_id != order.venue_cl_ord_id:
                        self._ended_requests.add((order.venue, request.venue_cl_ord_id))
                        too_late.append(self._cancel_reject(
                            order.session, order, request.cl_ord_id, request.orig_cl_ord_id, request.kind,
                            CancelRejectReason.TOO_LATE, f"order {order.order_id} is already {order.status}",
                        ))
                order.pending = order.chained = None
            elif order.pending is None and order.chained is not None:
                self._promote_chained(order)

            self._sync_risk(order)
            self.counters.reports_applied += 1
            client = order.client_report(
                client_exec_id, report.kind, report.last_qty, report.last_px, cl_ord_id, orig_cl_ord_id,
            )
            records.append(self._execution(order, client, report.venue, report.exec_id, report.received_ns))
            records.append(order.record())
            self._sink(records, client)
            for reject in too_late:
                self._owe_cancel_reject(reject)
            if order.cancel_on_ack and order.status is not OrderStatus.PENDING_NEW:
                order.cancel_on_ack = False
                change = None if order.status.is_terminal else self._sweep_cancel(order, now)
                if change is not None:
                    self._owed_cancels.append(change)
            return client

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

    def apply_order_refusal(self, refusal: VenueOrderRefusal) -> ClientReport | None:
        """A venue refused an order it never acknowledged, at the session level or with a business
        reject: the order ends REJECTED as if the venue had reported so (risk releases it, a request
        on its way is answered too late), with the venue's reason as Text. ``None``, logged at ERROR,
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
                return None
            report = VenueReport(
                venue=refusal.venue, venue_cl_ord_id=refusal.venue_cl_ord_id, orig_venue_cl_ord_id=None,
                venue_order_id="", exec_id=f"REFUSED-{order.order_id}-{refusal.received_ns}",
                kind=ExecKind.REJECTED, status=OrderStatus.REJECTED, last_qty=ZERO, last_px=ZERO,
                cum_qty=ZERO, leaves_qty=ZERO, text=refusal.text, received_ns=refusal.received_ns,
            )
        # Applied as the venue's report would be (the lock is not reentrant; the venue's thread is the
        # only one that applies its reports, so nothing of the venue's comes in between).
        return self.apply(report)

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

    def market_marks(self, marks: Sequence[tuple[str, Decimal]]) -> None:
        """Marks from a venue's market data (last trade, else mid): risk's reference prices and the
        book's unrealized P&L follow the market, not only fixgate's own fills. Under the lock because
        risk re-checks the daily loss of the accounts holding a symbol whose mark moved, and a breach
        goes to the book in order with the rest."""
        if not marks:
            return
        with self._lock:
            now = self._clock_ns()
            breaches = self._risk.marks_changed(marks)
            records = [MarkRecord(symbol, price, now) for symbol, price in marks]
            if breaches or self._marks_sink is None:
                # A breach is a fact: journaled, with the marks that caused it.
                self._sink([*records, *breaches], None)
            else:
                self._marks_sink(records)

    def apply_cancel_reject(self, reject: VenueCancelReject) -> ClientCancelReject | None:
        """The venue refused a cancel or replace: the order works on as it was; tell the client."""
        with self._lock:
            order = self._by_venue_id.get((reject.venue, reject.venue_cl_ord_id))
            chained = None if order is None else order.chained
            if order is not None and chained is not None and chained.venue_cl_ord_id == reject.venue_cl_ord_id:
                # A venue that takes one request at a time refuses a cancel chained on a replace
                # (CxlRejReason 3): the order keeps its replace; the next sweep cancels it.
                return self._end_chained(order, chained, CancelRejectReason.OTHER,
                                         f"venue {reject.venue}: {reject.text}", reject.received_ns)
            pending = None if order is None else order.pending
            if order is None or pending is None or pending.venue_cl_ord_id != reject.venue_cl_ord_id:
                if (reject.venue, reject.venue_cl_ord_id) in self._ended_requests:
                    self._ended_requests.discard((reject.venue, reject.venue_cl_ord_id))
                    return None  # its order ended first, and the client was told then
                self.counters.unknown_reports += 1
                log.warning("cancel reject from %s for %s matches no pending request",
                            reject.venue, reject.venue_cl_ord_id)
                return None
            reason = CancelRejectReason.TOO_LATE if order.status.is_terminal else CancelRejectReason.OTHER
            answer = self._end_change(order, pending, reason, f"venue {reject.venue}: {reject.text}",
                                      reject.received_ns)
            if reject.reason is CancelRejectReason.UNKNOWN_ORDER and order.status in (
                    OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
                # The venue does not know an order it acknowledged: it may have forgotten it (restarted
                # with empty books). Ask it for the order's status; an "unknown" answer ends the order
                # (``_reconcile_unknown``), any other leaves it as its fills say. (One not acknowledged
                # yet may still be on its way: it is left alone.)
                log.warning("order %d: venue %s does not know it (%s): asking for its status",
                            order.order_id, reject.venue, reject.text)
                self._owed_status_checks.append(order.record())
            return answer

    @property
    def status_checks_owed(self) -> bool:
        """Whether ``take_status_checks`` has any: read without the lock (a hint, as ``cancels_owed``)."""
        return bool(self._owed_status_checks)

    def take_status_checks(self, venue: str) -> list[OrderRecord]:
        """Orders at ``venue`` whose cancel it answered "unknown order": that venue's thread asks for their
        status. Per venue: each venue's thread sends on its own session, and another venue's checks
        wait for its thread (which takes them after the cancel reject that owed them)."""
        with self._lock:
            owed = [order for order in self._owed_status_checks if order.venue == venue]
            if owed:
                self._owed_status_checks = [o for o in self._owed_status_checks if o.venue != venue]
            return owed

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

    def working_at(self, venue: str) -> list[OrderRecord]:
        """The orders the book has working (or pending) at ``venue``: what to ask it about (at every
        venue logon). Their requests outstanding now are marked as asked about: they were sent before
        the venue's answers, so an answer that does not know of one means it was lost."""
        with self._lock:
            working = [o for o in self._orders.values() if o.venue == venue and not o.status.is_terminal]
            for order in working:
                if order.pending is not None:
                    order.pending = replace(order.pending, status_asked=True)
                if order.chained is not None:
                    order.chained = replace(order.chained, status_asked=True)
            return [o.record() for o in working]

    @property
    def cancels_owed(self) -> bool:
        """Whether ``take_cancels`` has any: read without the lock (a hint the venue thread checks after
        every report, as ``cancel_rejects_owed``)."""
        return bool(self._owed_cancels)

    def take_cancels(self) -> list[VenueChange]:
        """Cancels of orders a kill switch swept before their venue acknowledged them, made at the
        venue's first report (``cancel_orders(defer_unacknowledged=True)``); the venue thread sends them."""
        with self._lock:
            owed, self._owed_cancels = self._owed_cancels, []
            return owed

    @property
    def cancel_rejects_owed(self) -> bool:
        """Whether ``take_cancel_rejects`` has any: read without the lock (a hint the venue thread
        checks after every report, so the common case costs no lock)."""
        return bool(self._owed_cancel_rejects)

    def take_cancel_rejects(self) -> list[ClientCancelReject]:
        """Cancel rejects owed to clients since the last call: requests reconciliation found their
        venue never got (``apply`` of a status answer), and requests whose order ended first (too
        late). The venue thread sends them after ``apply``."""
        with self._lock:
            owed, self._owed_cancel_rejects = self._owed_cancel_rejects, []
            return owed

    def positions(self) -> list[PositionRecord]:
        with self._lock:
            now = self._clock_ns()
            return [p.record(now) for p in self._positions.values()]

    # -- INTERNALS -----------------------------------------------------------------------------------

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

    def _start_change(
        self,
        order: Order,
        kind: RequestKind,
        cl_ord_id: str,
        now: int,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
    ) -> VenueChange:
        pending = PendingChange(
            kind=kind,
            cl_ord_id=cl_ord_id,
            orig_cl_ord_id=order.cl_ord_id,
            venue_cl_ord_id=self._request_id(order),
            prior_status=order.status,
            quantity=quantity,
            price=price,
        )
        order.pending = pending
        order.status = OrderStatus.PENDING_CANCEL if kind is RequestKind.CANCEL else OrderStatus.PENDING_REPLACE
        order.updated_ns = now
        self._index(order, pending.venue_cl_ord_id, cl_ord_id)
        self._sync_risk(order)  # a replace counts the worse of old and new from now until answered
        return self._acknowledge(
            order, pending, order.venue_cl_ord_id, order.quantity if quantity is None else quantity,
            order.price if kind is RequestKind.CANCEL else price, now,
        )

    def _end_change(
        self, order: Order, pending: PendingChange, reason: CancelRejectReason, text: str, now: int
    ) -> ClientCancelReject:
        order.pending = None
        if order.status in (OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_REPLACE):
            # Fills may have come in meanwhile: the order is what its fills say, or what it was.
            order.status = pending.prior_status if order.cum_qty == 0 else order.working_status
        if order.chained is not None and not order.status.is_terminal:
            self._promote_chained(order)
        order.updated_ns = now
        self._sync_risk(order)  # a refused replace: back to the old order's exposure
        self._sink((order.record(),), None)
        return self._cancel_reject(
            order.session, order, pending.cl_ord_id, pending.orig_cl_ord_id, pending.kind, reason, text
        )

    def _end_chained(
        self, order: Order, chained: PendingChange, reason: CancelRejectReason, text: str, now: int
    ) -> ClientCancelReject:
        """The cancel chained on a replace failed: the order is back to its replace pending."""
        order.chained = None
        if order.status is OrderStatus.PENDING_CANCEL and order.pending is not None:
            order.status = OrderStatus.PENDING_REPLACE
        order.updated_ns = now
        self._sink((order.record(),), None)
        return self._cancel_reject(
            order.session, order, order.cl_ord_id, order.cl_ord_id, RequestKind.CANCEL, reason, text
        )

    def _promote_chained(self, order: Order) -> None:
        """The replace is answered (either way): the chained cancel is the request outstanding now,
        for the order's client id as the answer left it."""
        chained = order.chained
        assert chained is not None
        order.pending = replace(chained, cl_ord_id=order.cl_ord_id, orig_cl_ord_id=order.cl_ord_id,
                                prior_status=order.status)
        order.chained = None
        order.status = OrderStatus.PENDING_CANCEL

    def _sweep_cancel(self, order: Order, now: int) -> VenueChange | None:
        """A cancel nobody's request names (a sweep or an operator's), or ``None`` when a cancel of
        the order is already on its way."""
        pending = order.pending
        if pending is None:
            return self._start_change(order, RequestKind.CANCEL, order.cl_ord_id, now)
        if pending.kind is RequestKind.CANCEL or order.chained is not None:
            return None
        return self._chain_cancel(order, pending, now)

    def _chain_cancel(self, order: Order, pending: PendingChange, now: int) -> VenueChange:
        """Cancel an order whose replace is pending, now rather than after the venue answers it (no
        venue thread has to remember to send it later). FIX chains requests: OrigClOrdID is the last
        ClOrdID not rejected, the replace's; OrderID (37) goes too when known, so a venue that finds
        orders by it cancels whichever way the replace went. A venue that takes one request at a
        time refuses it (CxlRejReason 3): ``apply_cancel_reject`` tells the client."""
        chained = PendingChange(
            kind=RequestKind.CANCEL,
            cl_ord_id=order.cl_ord_id,
            orig_cl_ord_id=order.cl_ord_id,
            venue_cl_ord_id=self._request_id(order),
            prior_status=order.status,
        )
        order.chained = chained
        order.status = OrderStatus.PENDING_CANCEL
        order.updated_ns = now
        self._by_venue_id[(order.venue, chained.venue_cl_ord_id)] = order
        return self._acknowledge(
            order, chained, pending.venue_cl_ord_id,
            order.quantity if pending.quantity is None else pending.quantity, pending.price, now,
        )

    def _request_id(self, order: Order) -> str:
        """A new venue ClOrdID for a cancel or replace of ``order``."""
        return f"FG{order.order_id}R{next(self._request_seq)}"

    def _acknowledge(
        self, order: Order, request: PendingChange, orig_venue_cl_ord_id: str, quantity: Decimal,
        price: Decimal | None, now: int,
    ) -> VenueChange:
        """Record and owe the client the Pending report of ``request``; the message for the venue."""
        ack_kind = ExecKind.PENDING_CANCEL if request.kind is RequestKind.CANCEL else ExecKind.PENDING_REPLACE
        ack = order.client_report(
            self._exec_id(order, ack_kind.value, now), ack_kind,
            cl_ord_id=request.cl_ord_id, orig_cl_ord_id=request.orig_cl_ord_id,
        )
        self._sink((self._execution(order, ack, GATEWAY, ack.exec_id, now), order.record()), ack)
        return VenueChange(
            kind=request.kind,
            order_id=order.order_id,
            venue=order.venue,
            venue_cl_ord_id=request.venue_cl_ord_id,
            orig_venue_cl_ord_id=orig_venue_cl_ord_id,
            venue_order_id=order.venue_order_id,
            account=order.account,
            symbol=order.symbol,
            side=order.side,
            ord_type=order.ord_type,
            time_in_force=order.time_in_force,
            quantity=quantity,
            price=price,
            ack=ack,
        )

    def _end_lost_requests(self, order: Order, report: VenueReport) -> None:
        """A status answer after a reconnect shows the order working under the ClOrdID it had before
        its outstanding requests: the venue never got them (a request lost with the connection is
        not resent: ``toApp`` drops stale order messages). End them, so later cancels are not
        refused as already pending, and owe the client a cancel reject for each."""
        pending = order.pending
        if (
            pending is None
            or not pending.status_asked
            or report.status not in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)
            or report.venue_cl_ord_id != order.venue_cl_ord_id
        ):
            return
        self.counters.reconciled += 1
        now = self._clock_ns()
        why = f"venue {report.venue} never got the request (lost in a disconnect); the order is {report.status}"
        log.warning("order %d: %s %s", order.order_id, pending.kind.lower(), why)
        chained = order.chained
        if chained is not None and chained.status_asked:  # one sent since may still arrive: it stays
            self._owe_cancel_reject(
                self._end_chained(order, chained, CancelRejectReason.OTHER, f"cancel: {why}", now))
        self._owe_cancel_reject(
            self._end_change(order, pending, CancelRejectReason.OTHER, f"{pending.kind.lower()}: {why}", now))

    def _owe_cancel_reject(self, reject: ClientCancelReject) -> None:
        """A cancel reject the venue thread sends after the report it follows (``take_cancel_rejects``),
        journaled first as owed: a crash before QuickFIX has it sends it at the client's next logon."""
        self._sink((), reject)
        self._owed_cancel_rejects.append(reject)

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

    def _position(self, account: str, symbol: str) -> Position:
        key = (account, symbol)
        position = self._positions.get(key)
        if position is None:
            position = self._positions[key] = Position(account, symbol)
        return position

    @staticmethod
    def _exec_id(order: Order, what: str, now: int) -> str:
        return f"{GATEWAY}-{order.order_id}-{what}-{now}"

    def _sync_risk(self, order: Order) -> None:
        """Risk's view of the order's working quantity follows every change (0 once it is done);
        with a replace pending, the worse of the old and the new order."""
        pending = order.pending
        if pending is not None and pending.kind is RequestKind.REPLACE and not order.status.is_terminal:
            new_qty = order.quantity if pending.quantity is None else pending.quantity
            self._risk.order_replacing(order.order_id, order.leaves_qty, max(new_qty - order.cum_qty, ZERO),
                                       order.symbol, order.ord_type, order.price, pending.price)
        else:
            self._risk.order_working(order.order_id, order.leaves_qty, order.symbol, order.ord_type, order.price)

    def _reject(self, order: Order, reason: str, now: int) -> ClientReport:
        self.counters.rejected += 1
        order.status = OrderStatus.REJECTED
        self._sync_risk(order)
        order.text = reason
        order.updated_ns = now
        exec_id = f"{GATEWAY}-{order.order_id}-REJ"
        report = order.client_report(exec_id, ExecKind.REJECTED)
        self._sink((order.record(), self._execution(order, report, GATEWAY, exec_id, now)), report)
        return report

    @staticmethod
    def _execution(
        order: Order, client: ClientReport, venue: str, venue_exec_id: str, received_ns: int
    ) -> ExecutionRecord:
        return ExecutionRecord(
            exec_id=client.exec_id,
            order_id=order.order_id,
            venue=venue,
            venue_exec_id=venue_exec_id,
            kind=client.kind,
            status=order.status,
            last_qty=client.last_qty,
            last_px=client.last_px,
            cum_qty=client.cum_qty,
            leaves_qty=client.leaves_qty,
            avg_px=client.avg_px,
            text=client.text,
            received_ns=received_ns,
        )
