"""Domain values of fixgate: commands from clients, reports from venues, and book records.

Nothing here knows FIX. The gateway translates FIX messages into these values at the edge and back.
Money and quantities are ``Decimal``; timestamps are integer nanoseconds since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from uuid import uuid4


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrdType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"


class TimeInForce(StrEnum):
    DAY = "DAY"
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderStatus(StrEnum):
    """FIX OrdStatus, by name."""

    PENDING_NEW = "PENDING_NEW"
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    CANCELED = "CANCELED"
    PENDING_REPLACE = "PENDING_REPLACE"
    REPLACED = "REPLACED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    DONE_FOR_DAY = "DONE_FOR_DAY"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED, OrderStatus.REPLACED}
)


class ExecKind(StrEnum):
    """FIX ExecType, by name. A fill is TRADE whatever the FIX version says on the wire."""

    PENDING_NEW = "PENDING_NEW"
    NEW = "NEW"
    TRADE = "TRADE"
    PENDING_CANCEL = "PENDING_CANCEL"
    CANCELED = "CANCELED"
    PENDING_REPLACE = "PENDING_REPLACE"
    REPLACED = "REPLACED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    DONE_FOR_DAY = "DONE_FOR_DAY"
    ORDER_STATUS = "ORDER_STATUS"


class TradingState(StrEnum):
    """What an account, or the firm, may do."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"  # only orders that shrink a position pass
    HALTED = "HALTED"  # no new orders; cancels still pass


_BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class Listing:
    """One venue an instrument trades on, and what that venue charges a taker per fill: ``per_share``
    x quantity + ``bps`` of the notional (``config/instruments.toml``)."""

    venue: str
    fee_per_share: Decimal = Decimal(0)
    fee_bps: Decimal = Decimal(0)

    def fee_per_unit(self, price: Decimal) -> Decimal:
        """The fee of one unit bought or sold at ``price``: what a fee-adjusted price adds (a buy) or
        takes off (a sell)."""
        return self.fee_per_share + price * self.fee_bps / _BPS


@dataclass(frozen=True, slots=True)
class Instrument:
    """Reference data of one tradable symbol and the venues it trades on: ``venue`` is the first
    (the only one of an instrument with one venue), ``listings`` all of them in the order configured
    (the router's last tie-break)."""

    symbol: str
    venue: str
    tick_size: Decimal
    lot_size: Decimal
    reference_price: Decimal
    listings: tuple[Listing, ...] = ()

    def __post_init__(self) -> None:
        if not self.listings:
            object.__setattr__(self, "listings", (Listing(self.venue),))

    @property
    def venues(self) -> tuple[str, ...]:
        return tuple(listing.venue for listing in self.listings)

    def listing(self, venue: str) -> Listing | None:
        return next((listing for listing in self.listings if listing.venue == venue), None)


# -- COMMANDS ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A client's NewOrderSingle, translated."""

    session: str  # the client session it came from (QuickFIX SessionID string)
    cl_ord_id: str
    account: str
    symbol: str
    side: Side
    ord_type: OrdType
    quantity: Decimal
    price: Decimal | None
    time_in_force: TimeInForce
    received_ns: int
    possible_resend: bool = False  # PossDupFlag or PossResend: the client may have sent it before
    sent_ns: int = 0  # the client's SendingTime (52), epoch ns; 0 when not known
    ex_destination: str | None = None  # ExDestination (100): the venue the client chose, routed unchanged


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """A client's OrderCancelRequest: cancel the order now known as ``orig_cl_ord_id``."""

    session: str
    cl_ord_id: str
    orig_cl_ord_id: str
    received_ns: int


@dataclass(frozen=True, slots=True)
class ReplaceOrder:
    """A client's OrderCancelReplaceRequest: new quantity and price for ``orig_cl_ord_id``."""

    session: str
    cl_ord_id: str
    orig_cl_ord_id: str
    quantity: Decimal
    price: Decimal | None
    received_ns: int


class RequestKind(StrEnum):
    CANCEL = "CANCEL"
    REPLACE = "REPLACE"


class CancelRejectReason(StrEnum):
    """FIX CxlRejReason (102), by name."""

    TOO_LATE = "TOO_LATE"  # 0
    UNKNOWN_ORDER = "UNKNOWN_ORDER"  # 1
    ALREADY_PENDING = "ALREADY_PENDING"  # 3
    OTHER = "OTHER"  # 99 (2 in FIX 4.2: broker option)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request about an order was not carried out (an operator's cancel, say)."""

    reason: CancelRejectReason
    text: str


# -- TO VENUES -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Routed:
    """The order passed every check: send ``order`` to ``venue`` as ``venue_cl_ord_id``."""

    order_id: int
    venue: str
    venue_cl_ord_id: str
    order: NewOrder
    parent_id: int | None = None  # a child's: the client's order it is one leg of


@dataclass(frozen=True, slots=True)
class VenueChange:
    """Send an OrderCancelRequest or OrderCancelReplaceRequest to the order's venue (the client's
    PendingCancel or PendingReplace report comes before it in the same effects)."""

    kind: RequestKind
    order_id: int
    venue: str
    venue_cl_ord_id: str
    orig_venue_cl_ord_id: str
    venue_order_id: str | None
    account: str
    symbol: str
    side: Side
    ord_type: OrdType
    time_in_force: TimeInForce
    quantity: Decimal
    price: Decimal | None


@dataclass(frozen=True, slots=True)
class StatusRequest:
    """Ask the order's venue for its status (an OrderStatusRequest): at a venue's logon, and when a
    venue answers a cancel "unknown order"."""

    order: OrderRecord


# -- EVENTS ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VenueReport:
    """A venue's ExecutionReport, translated. ``venue_cl_ord_id`` is the id fixgate gave the venue."""

    venue: str
    venue_cl_ord_id: str
    orig_venue_cl_ord_id: str | None
    venue_order_id: str
    exec_id: str
    kind: ExecKind
    status: OrderStatus
    last_qty: Decimal
    last_px: Decimal
    cum_qty: Decimal
    leaves_qty: Decimal
    text: str
    received_ns: int
    price: Decimal | None = None  # Price (44), read for a Replaced only: the order's price from then on
    # The fee of a fill in money (Commission 12 made absolute by its CommType 13:
    # ``gateway.translate.commission``); None when the venue reported none, or one fixgate could not read.
    commission: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ClientReport:
    """An ExecutionReport owed to a client: what the gateway sends back on the client's session."""

    session: str
    order_id: int
    cl_ord_id: str
    account: str
    symbol: str
    side: Side
    ord_type: OrdType
    quantity: Decimal
    price: Decimal | None
    exec_id: str
    kind: ExecKind
    status: OrderStatus
    last_qty: Decimal
    last_px: Decimal
    cum_qty: Decimal
    leaves_qty: Decimal
    avg_px: Decimal
    text: str
    orig_cl_ord_id: str | None = None
    last_mkt: str | None = None  # LastMkt (30) of a fill: the venue that filled it
    # A fill's fee as the venue reported it, in money: sent as Commission (12) with CommType (13) 3.
    # Journaled with the report (an owed one decoded from an older journal has None).
    commission: Decimal | None = None


@dataclass(frozen=True, slots=True)
class VenueCancelReject:
    """A venue's OrderCancelReject (35=9), translated."""

    venue: str
    venue_cl_ord_id: str
    orig_venue_cl_ord_id: str
    text: str
    received_ns: int
    # CxlRejReason (102) when the venue gave one: UNKNOWN_ORDER from a venue that may have forgotten it.
    reason: CancelRejectReason | None = None


@dataclass(frozen=True, slots=True)
class VenueOrderRefusal:
    """A venue refused a NewOrderSingle outside an ExecutionReport (a session-level Reject 35=3 or a
    BusinessMessageReject 35=j), translated: ``venue_cl_ord_id`` is the refused order's ClOrdID,
    ``text`` says why in the venue's words (tag and reason included)."""

    venue: str
    venue_cl_ord_id: str
    text: str
    received_ns: int


@dataclass(frozen=True, slots=True)
class ClientCancelReject:
    """An OrderCancelReject owed to a client."""

    session: str
    order_id: int | None
    cl_ord_id: str
    orig_cl_ord_id: str
    status: OrderStatus
    response_to: RequestKind
    reason: CancelRejectReason
    text: str
    # This reject's own identity, for its ClientSent mark: the ClOrdID it answers is not unique (a
    # sweep's reject answers the order's own ClOrdID; a client may reuse a refused cancel's ClOrdID).
    # Journaled with it, so a carried-over copy keeps it. "" in one decoded from a journal written
    # before it existed: such a reject is marked by its ClOrdID, as it was then. Not compared: two
    # rejects saying the same are equal whatever their identities.
    reject_id: str = field(default_factory=lambda: uuid4().hex, compare=False)


# What the OMS may owe a client across a crash (journaled, sent at its next logon if never sent).
ClientMessage = ClientReport | ClientCancelReject


@dataclass(frozen=True, slots=True)
class ClientSent:
    """That a client message went out on the wire (QuickFIX took it while the client's session was
    logged on; ``ClientApplication._deliver``), journaled right after: fixgate's own record of what a
    client has had. One QuickFIX only stored, the client away, gets none. QuickFIX's store of the session
    cannot tell, since a logon with ResetSeqNumFlag (141=Y) empties it. At start, a journaled
    message without one is owed again, marked PossResend (``ClientApplication.owe``)."""

    session: str
    ref: str  # "8:" and a report's ExecID, or "9#" and a cancel reject's reject_id

    @staticmethod
    def of(message: ClientMessage | ClientCopy) -> ClientSent:
        """The mark of ``message``: a report by its ExecID; a cancel reject, which has none on the wire,
        by its ``reject_id`` (one journaled before rejects had it: "9:" and its ClOrdID, as then). A
        drop copy's mark is its drop copy session's, with the ref of the message it copies."""
        if isinstance(message, ClientCopy):
            return ClientSent(message.session, ClientSent.of(message.of).ref)
        if isinstance(message, ClientReport):
            return ClientSent(message.session, f"8:{message.exec_id}")
        if message.reject_id:
            return ClientSent(message.session, f"9#{message.reject_id}")
        return ClientSent(message.session, f"9:{message.cl_ord_id}")


@dataclass(frozen=True, slots=True)
class ClientCopy:
    """A copy of a client's report or cancel reject owed to a drop copy session (``session``). Never
    journaled itself: the journal holds the message it copies (``of``) and, once the copy is on the
    wire, the drop copy session's ``ClientSent`` mark of it; a restart owes the copy to every drop copy
    session covering the client that has no mark (``ClientApplication.owe``)."""

    session: str  # the drop copy session's key
    of: ClientMessage


# -- RISK ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Halt:
    """A kill switch in force: who pulled it, when, and why."""

    scope: str
    value: str
    by: str
    at_ns: int
    reason: str


@dataclass(frozen=True, slots=True)
class Breach:
    """The daily loss limit moved an account (``account=None``: the firm) to ``state``.

    Returned to the OMS, which hands it to the book with the fill or mark that caused it (a BREACH
    row in ``risk_events``, through the journal like every other change), so that a restart keeps
    the account REDUCING or HALTED until an operator resumes it."""

    account: str | None
    state: TradingState
    daily_loss: Decimal
    limit: Decimal
    reason: str  # what every order the state refuses is told: ``daily loss 5012.50 > max 5000``
    at_ns: int


@dataclass(frozen=True, slots=True)
class Control:
    """An operator's kill switch or resume, as it took effect: journaled for the event stream (the
    REST handler writes its ``risk_events`` row, the audit trail, itself)."""

    action: str  # KILL or RESUME
    scope: str  # firm, account, session, symbol
    value: str
    by: str
    at_ns: int
    reason: str = ""


# -- BOOK RECORDS ------------------------------------------------------------------------------------
# What the OMS hands to the book-of-record writer. Each is the full new state of one row, so the
# writer can upsert them in any batch size and the last one for a key wins.
# Each dataclass is the one definition of its fields: table columns, rows, journal frames and the API's
# schemas are derived from it (``book.fields``). A field added later takes a default (or an upgrade in
# ``book.journal._UPGRADES``), so a journal written before it still replays; and a migration.


@dataclass(slots=True)
class OrderFields:
    """The fields an order's book row (``OrderRecord``) and the OMS's live order (``oms.order.Order``)
    share, declared once. Not frozen: the live order changes them (through its own methods only)."""

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
    venue_order_id: str | None
    status: OrderStatus
    cum_qty: Decimal
    text: str
    created_ns: int
    updated_ns: int
    # Why the order went to its venue, with the router's inputs (``oms.router.Route.decision``, JSON):
    # the policy, and per venue considered its quote, fee, score and rank. "" for an order never routed
    # (or booked before routing was recorded).
    route: str = ""
    # A child order (one leg of a client's order that the router split across venues): the client's
    # order it works for. None for an order a client sent (a parent, or an order routed whole).
    parent_id: int | None = None


@dataclass(slots=True)
class OrderRecord(OrderFields):
    """An order as the book holds it: its fields, and what the live order works out from them. A value
    once made: nothing changes one (it is not frozen only because ``OrderFields`` is shared with the
    live order)."""

    leaves_qty: Decimal = field(kw_only=True)
    avg_px: Decimal = field(kw_only=True)
    # The cancel or replace outstanding at the venue, and a sweep's cancel chained behind a pending
    # replace, each encoded by the OMS (``PendingChange.encode``): a restart keeps the client's ids
    # of the request, so the venue's answer reaches the client as an answer to that request.
    pending: str | None = field(default=None, kw_only=True)
    chained: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    """One execution report applied to an order (unique per venue, venue exec id and content: see
    ``AppliedReport``)."""

    exec_id: str
    order_id: int
    venue: str
    venue_exec_id: str
    kind: ExecKind
    status: OrderStatus
    last_qty: Decimal
    last_px: Decimal
    cum_qty: Decimal
    leaves_qty: Decimal
    avg_px: Decimal
    text: str
    received_ns: int
    # A venue fill's fee in money (``VenueReport.commission``); None for any other execution, a fill
    # whose venue reported none, and every record journaled before it existed (migration 0013).
    commission: Decimal | None = None


@dataclass(frozen=True, slots=True)
class AppliedReport:
    """What a venue report the OMS applied said, beside its ExecID: a repeat of it says the same. A venue
    that restarts its ExecIDs reuses one for a different report, which the ExecID alone would drop."""

    venue: str
    venue_exec_id: str
    order_id: int
    kind: ExecKind
    last_qty: Decimal
    last_px: Decimal
    cum_qty: Decimal  # the order's after it: two fills alike but for it are two reports


@dataclass(frozen=True, slots=True)
class PositionRecord:
    """A position as the book holds it: ``cost`` is the exact open cost (signed sum of qty x price of
    the open quantity, ``domain.positions``); ``avg_price`` is cost / quantity rounded, for display."""

    account: str
    symbol: str
    quantity: Decimal
    avg_price: Decimal
    realized_pnl: Decimal
    updated_ns: int
    cost: Decimal  # last: a journal frame of the earlier 6-field layout decodes as a prefix


@dataclass(frozen=True, slots=True)
class MarkRecord:
    """The price a symbol's open positions are marked at: the last fill seen, or a venue's market data
    (its last trade, else its mid). A mark from market data also names its venue and that venue's best
    bid and offer then (``None`` for a fill's mark or a side the venue's book lacks): what transaction
    cost analysis takes its mids from (``tca``)."""

    symbol: str
    price: Decimal
    updated_ns: int
    venue: str | None = None  # fields from here on: 0011; an older journal's marks decode without them
    bid: Decimal | None = None
    offer: Decimal | None = None


BookRecord = OrderRecord | ExecutionRecord | PositionRecord | MarkRecord


# What an OMS call asks the edge to do, in order: orders and requests for venues, reports and cancel
# rejects for clients (``gateway.dispatch`` carries them out).
Effect = Routed | VenueChange | StatusRequest | ClientReport | ClientCancelReject


@dataclass(frozen=True, slots=True)
class Carried:
    """What carrying out effects did: venue messages handed to their sessions (``sent``), why the others
    were not (``failed``), when the last order went to its venue and the first client report to its
    client (for the hop timings)."""

    sent: int = 0
    failed: tuple[str, ...] = ()
    order_sent_ns: int = 0
    report_sent_ns: int = 0  # when the first client report was handed to QuickFIX (0 if none)
