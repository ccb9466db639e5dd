"""The order manager: assigns order ids, maps client ids to venue ids, applies venue reports.

Called from QuickFIX callback threads (one per client and venue connection). All state changes
happen under one lock and are O(1); every change is handed to the book-of-record sink while the
lock is held, so the sink sees the changes of each row in the order they happened.
Sending FIX messages is the caller's business, after the lock is released.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from oms.lifecycle import IllegalTransition, check_transition
from oms.model import (
    BookRecord,
    ClientReport,
    ExecKind,
    ExecutionRecord,
    Instrument,
    NewOrder,
    OrderRecord,
    OrderStatus,
    OrdType,
    PositionRecord,
    Side,
    TimeInForce,
    VenueReport,
)
from oms.positions import PRICE_QUANTUM, ZERO, Position
from oms.router import Router
from risk.checks import PreTradeRisk

log = logging.getLogger(__name__)

GATEWAY = "FIXGATE"  # the "venue" of reports the gateway makes itself (risk rejects)

BookSink = Callable[[Sequence[BookRecord]], None]


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
        )

    def client_report(
        self, exec_id: str, kind: ExecKind, last_qty: Decimal = ZERO, last_px: Decimal = ZERO
    ) -> ClientReport:
        return ClientReport(
            session=self.session,
            order_id=self.order_id,
            cl_ord_id=self.cl_ord_id,
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
        )
        order.notional = r.avg_px * r.cum_qty
        return order


@dataclass(frozen=True, slots=True)
class Routed:
    """The order passed every check: send ``order`` to ``venue`` as ``venue_cl_ord_id``."""

    order_id: int
    venue: str
    venue_cl_ord_id: str
    order: NewOrder


@dataclass(frozen=True, slots=True)
class Rejected:
    """The order was refused before reaching any venue; ``report`` goes back to the client."""

    report: ClientReport


@dataclass(slots=True)
class OmsCounters:
    orders: int = 0
    rejected: int = 0
    reports_applied: int = 0
    duplicate_reports: int = 0
    unknown_reports: int = 0
    illegal_transitions: int = 0


class OrderManager:
    """Owns every live order and position; the one place their state changes."""

    def __init__(
        self,
        *,
        instruments: dict[str, Instrument],
        risk: PreTradeRisk,
        router: Router,
        sink: BookSink,
        clock_ns: Callable[[], int] = time.time_ns,
        next_order_id: int = 1,
    ) -> None:
        self._instruments = instruments
        self._risk = risk
        self._router = router
        self._sink = sink
        self._clock_ns = clock_ns
        self._next_order_id = next_order_id
        self._lock = threading.Lock()
        self._orders: dict[int, Order] = {}
        self._by_venue_id: dict[tuple[str, str], Order] = {}
        self._live_cl_ord_ids: dict[tuple[str, str], Order] = {}
        self._positions: dict[tuple[str, str], Position] = {}
        self._applied: set[tuple[str, str]] = set()  # (venue, venue ExecID) of every report applied
        self.counters = OmsCounters()

    def restore(
        self,
        orders: Iterable[OrderRecord],
        positions: Iterable[PositionRecord],
        applied_exec_ids: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Rebuild the in-memory state from the book (at start, before any session is up)."""
        with self._lock:
            for r in orders:
                order = Order.from_record(r)
                self._index(order)
                self._next_order_id = max(self._next_order_id, order.order_id + 1)
            for p in positions:
                self._positions[(p.account, p.symbol)] = Position(
                    p.account, p.symbol, p.quantity, p.avg_price, p.realized_pnl
                )
            self._applied.update(applied_exec_ids)

    # -- COMMANDS ------------------------------------------------------------------------------------

    def submit(self, cmd: NewOrder) -> Routed | Rejected:
        """Check a new order and either route it (state PENDING_NEW) or reject it (REJECTED)."""
        with self._lock:
            now = self._clock_ns()
            order_id = self._next_order_id
            self._next_order_id += 1
            live = self._live_cl_ord_ids.get((cmd.session, cmd.cl_ord_id))
            if live is not None:
                reason: str | None = f"duplicate ClOrdID {cmd.cl_ord_id}: order {live.order_id} is live"
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
                return Rejected(self._reject(order, reason, now))
            self._index(order)
            self._sink((order.record(),))
            return Routed(order_id, venue, order.venue_cl_ord_id, cmd)

    def venue_send_failed(self, order_id: int, reason: str) -> ClientReport:
        """The routed order could not be handed to its venue session: reject it to the client."""
        with self._lock:
            order = self._orders[order_id]
            return self._reject(order, reason, self._clock_ns())

    # -- EVENTS --------------------------------------------------------------------------------------

    def apply(self, report: VenueReport) -> ClientReport | None:
        """Apply a venue's execution report once; return what the client is owed, if anything."""
        with self._lock:
            order = self._by_venue_id.get((report.venue, report.venue_cl_ord_id))
            if order is None:
                self.counters.unknown_reports += 1
                log.warning(
                    "report %s from %s for unknown ClOrdID %s ignored",
                    report.exec_id, report.venue, report.venue_cl_ord_id,
                )
                return None
            applied_key = (report.venue, report.exec_id)
            if applied_key in self._applied:
                self.counters.duplicate_reports += 1
                return None
            if report.kind is ExecKind.ORDER_STATUS:
                return None
            try:
                check_transition(order.order_id, order.status, report.status)
                legal = True
            except IllegalTransition as exc:
                self.counters.illegal_transitions += 1
                log.error("%s (venue %s exec %s)", exc, report.venue, report.exec_id)
                legal = False
                if report.kind is not ExecKind.TRADE:
                    return None  # not applied; a fill is a fact and is applied below regardless

            now = self._clock_ns()
            self._applied.add(applied_key)
            order.updated_ns = now
            if report.venue_order_id:
                order.venue_order_id = report.venue_order_id
            if report.text:
                order.text = report.text
            records: list[BookRecord] = []
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
                records.append(position.record(now))
            if legal:
                order.status = report.status
            if order.status.is_terminal:
                self._live_cl_ord_ids.pop((order.session, order.cl_ord_id), None)

            self.counters.reports_applied += 1
            client = order.client_report(
                f"{report.venue}-{report.exec_id}", report.kind, report.last_qty, report.last_px
            )
            records.append(self._execution(order, client, report.venue, report.exec_id, report.received_ns))
            records.append(order.record())
            self._sink(records)
            return client

    # -- QUERIES -------------------------------------------------------------------------------------

    def order(self, order_id: int) -> OrderRecord | None:
        with self._lock:
            order = self._orders.get(order_id)
            return None if order is None else order.record()

    def positions(self) -> list[PositionRecord]:
        with self._lock:
            now = self._clock_ns()
            return [p.record(now) for p in self._positions.values()]

    # -- INTERNALS -----------------------------------------------------------------------------------

    def _index(self, order: Order) -> None:
        self._orders[order.order_id] = order
        self._by_venue_id[(order.venue, order.venue_cl_ord_id)] = order
        if not order.status.is_terminal:
            self._live_cl_ord_ids[(order.session, order.cl_ord_id)] = order

    def _position(self, account: str, symbol: str) -> Position:
        key = (account, symbol)
        position = self._positions.get(key)
        if position is None:
            position = self._positions[key] = Position(account, symbol)
        return position

    def _reject(self, order: Order, reason: str, now: int) -> ClientReport:
        self.counters.rejected += 1
        order.status = OrderStatus.REJECTED
        order.text = reason
        order.updated_ns = now
        self._live_cl_ord_ids.pop((order.session, order.cl_ord_id), None)
        exec_id = f"{GATEWAY}-{order.order_id}-REJ"
        report = order.client_report(exec_id, ExecKind.REJECTED)
        self._sink((order.record(), self._execution(order, report, GATEWAY, exec_id, now)))
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
