"""One order's live state, and the only code that changes it.

An :class:`Order` moves its status through the lifecycle table (``oms.lifecycle``) in one checked
function, :meth:`Order.become`, and owns the requests outstanding at its venue: the cancel or replace
``pending``, a sweep's cancel ``chained`` behind a pending replace, and the status each one falls back
to. The manager (``oms.manager``) keeps the indexes, the lock and the hand-off of what changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from decimal import ROUND_HALF_EVEN, Decimal
from operator import attrgetter

from domain.model import (
    ClientReport,
    ExecKind,
    OrderFields,
    OrderRecord,
    OrderStatus,
    RequestKind,
)
from domain.positions import PRICE_QUANTUM, ZERO
from oms.lifecycle import allowed, check_transition

_PENDING = (OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_REPLACE)


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


# The fields an order shares with its book record, read off either in declaration order.
_FIELDS = attrgetter(*(f.name for f in fields(OrderFields)))


@dataclass(slots=True)
class Order(OrderFields):
    """One order's live state inside the OMS: the fields of its book record (``OrderFields``), its
    requests decoded, and the exact ``notional`` its fills add up to."""

    notional: Decimal = ZERO  # sum of last_qty * last_px over the fills: exact
    pending: PendingChange | None = None  # the cancel or replace waiting for the venue
    # A sweep's cancel (kill switch, mass cancel, cancel on disconnect, operator) sent while a
    # replace was pending; it becomes ``pending`` once the replace is answered.
    chained: PendingChange | None = None
    # A kill switch swept the order before the venue had acknowledged it: its cancel is made at the
    # venue's first report (sent before, it could overtake the order itself on the wire).
    cancel_on_ack: bool = False
    # A parent (a client's order the router split across venues): its child orders, oldest first, and
    # the venues that refused one of them, with their reasons (not tried again for this order).
    children: tuple[Order, ...] = ()
    refused: tuple[tuple[str, str], ...] = ()
    reroutes: int = 0  # children placed again for what an ended child left (bounded: ``MAX_REROUTES``)

    # -- STATE -----------------------------------------------------------------------------------------

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

    @property
    def is_parent(self) -> bool:
        return bool(self.children)

    @property
    def refused_venues(self) -> frozenset[str]:
        return frozenset(venue for venue, _ in self.refused)

    @property
    def working_child(self) -> bool:
        """Whether a child of this parent works: not ended, or done for the day with a request still
        outstanding (its answer is still to come)."""
        return any(not c.status.is_terminal and (c.status is not OrderStatus.DONE_FOR_DAY or c.pending is not None
                                                 or c.chained is not None) for c in self.children)

    def refuse(self, venue: str, text: str) -> None:
        """A venue refused a child: not tried again for this order; its reason, once, for the Text."""
        if (venue, text) not in self.refused:
            self.refused = (*self.refused, (venue, text))

    @property
    def unallocated(self) -> Decimal:
        """A parent's quantity that no live child works and no fill took: what is left to place."""
        working = sum((c.leaves_qty for c in self.children if not c.status.is_terminal), ZERO)
        return max(self.quantity - self.cum_qty - working, ZERO)

    @property
    def replacing(self) -> tuple[Decimal, Decimal | None] | None:
        """The open quantity and price the order will have if the replace pending succeeds; ``None``
        without one (what risk counts besides the order as it is: ``RiskGate.order_changed``)."""
        pending = self.pending
        if pending is None or pending.kind is not RequestKind.REPLACE or self.status.is_terminal:
            return None
        new_qty = self.quantity if pending.quantity is None else pending.quantity
        return max(new_qty - self.cum_qty, ZERO), pending.price

    def may_become(self, status: OrderStatus) -> bool:
        """Whether a venue's report may move the order to ``status``."""
        return allowed(self.status, status)

    def become(self, status: OrderStatus, *, request: bool = False) -> None:
        """The one place an order's status changes: raises ``IllegalTransition`` unless the lifecycle
        allows it (``request``: one of the moves a request's own bookkeeping makes)."""
        check_transition(self.order_id, self.status, status, request=request)
        self.status = status

    def fill(self, qty: Decimal, price: Decimal) -> None:
        self.cum_qty += qty
        self.notional += qty * price

    # -- REQUESTS --------------------------------------------------------------------------------------

    def ask(self, kind: RequestKind, cl_ord_id: str, venue_cl_ord_id: str, quantity: Decimal | None = None,
            price: Decimal | None = None) -> PendingChange:
        """A cancel or replace is sent: it is the request pending, the order PENDING_CANCEL or _REPLACE."""
        pending = PendingChange(kind=kind, cl_ord_id=cl_ord_id, orig_cl_ord_id=self.cl_ord_id,
                                venue_cl_ord_id=venue_cl_ord_id, prior_status=self.status,
                                quantity=quantity, price=price)
        self.pending = pending
        self.become(OrderStatus.PENDING_CANCEL if kind is RequestKind.CANCEL else OrderStatus.PENDING_REPLACE,
                    request=True)
        return pending

    def chain_cancel(self, venue_cl_ord_id: str) -> PendingChange:
        """A sweep's cancel while a replace is pending: sent now, chained after the replace (FIX
        chains requests: its OrigClOrdID is the replace's ClOrdID)."""
        chained = PendingChange(kind=RequestKind.CANCEL, cl_ord_id=self.cl_ord_id, orig_cl_ord_id=self.cl_ord_id,
                                venue_cl_ord_id=venue_cl_ord_id, prior_status=self.status)
        self.chained = chained
        self.become(OrderStatus.PENDING_CANCEL, request=True)
        return chained

    def end_request(self) -> PendingChange:
        """The request pending failed (refused, never sent, lost): the order is what its fills say,
        or what it was; a cancel chained behind it is the request now."""
        pending = self.pending
        assert pending is not None
        self.pending = None
        if self.status in _PENDING:
            self.become(pending.prior_status if self.cum_qty == 0 else self.working_status, request=True)
        if self.chained is not None and not self.status.is_terminal:
            self.promote_chained()
        return pending

    def fail_requests(self) -> list[PendingChange]:
        """Every request outstanding failed (a parent's, when a child's cancel is refused): the order
        is what its fills say, or what it was; returns them, oldest first."""
        failed = [r for r in (self.pending, self.chained) if r is not None]
        self.chained = None
        if self.pending is not None:
            self.end_request()
        return failed

    def answer_parent_request(self) -> PendingChange:
        """A parent's request is done (none of its children works): it takes the request's ClOrdID and,
        for a replace, its quantity and price, and works on as its fills say."""
        pending = self.pending
        assert pending is not None
        self.pending = None
        self.cl_ord_id = pending.cl_ord_id
        if pending.kind is RequestKind.REPLACE:
            self.quantity = self.quantity if pending.quantity is None else pending.quantity
            self.price = pending.price
            self.become(self.working_status, request=True)
        return pending

    def end_chained(self) -> PendingChange:
        """The cancel chained on a replace failed: the order is back to its replace pending."""
        chained = self.chained
        assert chained is not None
        self.chained = None
        if self.status is OrderStatus.PENDING_CANCEL and self.pending is not None:
            self.become(OrderStatus.PENDING_REPLACE, request=True)
        return chained

    def promote_chained(self) -> None:
        """The replace is answered (either way): the chained cancel is the request outstanding now,
        for the order's client id as the answer left it."""
        chained = self.chained
        assert chained is not None
        self.pending = replace(chained, cl_ord_id=self.cl_ord_id, orig_cl_ord_id=self.cl_ord_id,
                               prior_status=self.status)
        self.chained = None
        self.become(OrderStatus.PENDING_CANCEL, request=True)

    def answer(self, kind: ExecKind, answered: str, venue_id: str) -> tuple[str | None, str | None]:
        """A report of ``kind`` under the venue ClOrdID ``answered`` (as the OMS read it) applied: the
        request it answers is done, and the order takes its ids; ``venue_id`` is the id the venue named.
        Returns the client's (ClOrdID, OrigClOrdID) of the answer, ``(None, None)`` if it answers none."""
        pending = self.pending
        chained = self.chained
        if (pending is not None and answered == pending.venue_cl_ord_id
                and kind in (ExecKind.CANCELED, ExecKind.REPLACED)):
            self.cl_ord_id = pending.cl_ord_id
            # (A Canceled under the order's own id answers the request but leaves the venue knowing
            # the order by that id: the request's never took.)
            self.venue_cl_ord_id = pending.venue_cl_ord_id if venue_id == answered else venue_id
            self.pending = None
            return pending.cl_ord_id, pending.orig_cl_ord_id
        if chained is not None and kind is ExecKind.CANCELED and answered == chained.venue_cl_ord_id:
            # The sweep's cancel names the order by its own client id, whichever way the replace
            # before it went (the venue may not even have answered that one).
            self.venue_cl_ord_id = chained.venue_cl_ord_id if venue_id == answered else venue_id
            self.chained = None
            return self.cl_ord_id, self.cl_ord_id
        return None, None

    def settle_requests(self) -> list[PendingChange]:
        """After a report: an order that ended ends its requests too, and returns those the end did
        not answer (answered too late); one whose replace was answered promotes its chained cancel."""
        if self.status.is_terminal:
            unanswered = [r for r in (self.pending, self.chained)
                          if r is not None and r.venue_cl_ord_id != self.venue_cl_ord_id]
            self.pending = self.chained = None
            return unanswered
        if self.pending is None and self.chained is not None:
            self.promote_chained()
        return []

    def mark_status_asked(self) -> None:
        """The venue is asked for the order's status: an answer that does not know of a request
        outstanding now means the request was lost."""
        if self.pending is not None:
            self.pending = replace(self.pending, status_asked=True)
        if self.chained is not None:
            self.chained = replace(self.chained, status_asked=True)

    # -- RECORDS -----------------------------------------------------------------------------------------

    def record(self) -> OrderRecord:
        return OrderRecord(
            *_FIELDS(self), leaves_qty=self.leaves_qty, avg_px=self.avg_px,
            pending=None if self.pending is None else self.pending.encode(),
            chained=None if self.chained is None else self.chained.encode(),
        )

    @classmethod
    def from_record(cls, r: OrderRecord, notional: Decimal | None = None) -> Order:
        """The order a book row holds (at start). ``notional``: the exact sum of its fills' qty x price
        (else AvgPx x CumQty, which the row holds rounded). A row in PENDING_CANCEL or _REPLACE that
        does not hold its request (written before requests were kept) is what its fills say."""
        order = cls(*_FIELDS(r))
        order.notional = r.avg_px * r.cum_qty if notional is None else notional
        order.pending = PendingChange.decode(r.pending)
        order.chained = PendingChange.decode(r.chained)
        if order.pending is None and order.status in _PENDING:
            order.status = order.working_status
        return order

    def client_report(
        self,
        exec_id: str,
        kind: ExecKind,
        last_qty: Decimal = ZERO,
        last_px: Decimal = ZERO,
        cl_ord_id: str | None = None,
        orig_cl_ord_id: str | None = None,
        commission: Decimal | None = None,
    ) -> ClientReport:
        return ClientReport(
            self.session, self.order_id, self.cl_ord_id if cl_ord_id is None else cl_ord_id, self.account,
            self.symbol, self.side, self.ord_type, self.quantity, self.price, exec_id, kind, self.status,
            last_qty, last_px, self.cum_qty, self.leaves_qty, self.avg_px, self.text, orig_cl_ord_id,
            self.venue if kind is ExecKind.TRADE else None, commission,
        )
