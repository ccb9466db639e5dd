"""The simulated exchange on the wire: a QuickFIX acceptor in front of the matching engine.

``_VenueApplication`` is the only code here that touches FIX messages. It copies what it needs out of
each inbound message into a request of ``simulator.matching``, runs the engine, and turns the events
the engine returns into ExecutionReports / OrderCancelRejects on the sessions that own the orders.

Threading: ``ThreadedSocketAcceptor`` runs one thread per connection, so callbacks of different
sessions run concurrently. One lock per venue serialises the engine *and* the sending of the reports
an engine call produced, so every session sees its reports in the order the engine made them. Holding
it while sending to another session cannot deadlock: QuickFIX takes a session's mutex only in
``sendRaw``/``disconnect``/resend paths, whose callbacks (``toApp``, ``toAdmin``, ``onLogout``) never
take the venue lock, and the SWIG wrapper releases the GIL inside ``sendToTarget``.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Self

import quickfix as fix

from simulator.config import SimulatorConfig, VenueConfig
from simulator.journal import VenueJournal, client_comp_id, is_client
from simulator.marketdata import (
    BookLevels,
    EntryType,
    MarketDataHub,
    MarketDataUpdate,
    RejectReason,
    Subscription,
    UpdateAction,
)
from simulator.matching import (
    SEED_OWNER,
    CancelRejected,
    CancelRejectReason,
    CancelRequest,
    ExecutionEvent,
    Fill,
    MatchingEngine,
    NewOrderRequest,
    OrderAccepted,
    OrderCanceled,
    OrderDoneForDay,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderReplaced,
    OrderStatus,
    OrderView,
    OrdType,
    ReplaceRequest,
    RequestKind,
    Side,
    TimeInForce,
    event_owner,
)
from simulator.participants import MAKER_OWNER, TAKER_OWNER, LivingMarket
from simulator.record_http import RecordServer

__all__ = [
    "DayEnd",
    "Simulator",
    "SimulatorError",
    "SimulatorRecord",
    "Venue",
    "data_dictionary_path",
    "market_data_message",
    "market_data_reject",
    "render_settings",
]

log = logging.getLogger(__name__)

# The peer address of a client on this machine that connects to 127.0.0.1 (QuickFIX is IPv4 only).
LOOPBACK = "127.0.0.1"


class SimulatorError(RuntimeError):
    """The simulator could not do what was asked (start twice, port in use, bad override)."""


# -- RECORD -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayEnd:
    """What one end of day did at a venue: Day orders expired, client GTC orders told DoneForDay."""

    expired: int
    done_for_day: int


@dataclass(frozen=True, slots=True)
class SimulatorRecord:
    """A snapshot of everything one venue did: every order it saw (rejected ones too) and every fill.

    Orders owned by ``SEED_OWNER`` are the liquidity the venue seeded; the others are owned by the
    session string (``"FIX.4.4:SIM->CLIENT1"``) they came from.
    """

    orders: tuple[OrderView, ...]
    fills: tuple[Fill, ...]

    @property
    def client_orders(self) -> tuple[OrderView, ...]:
        """Orders that came over FIX, i.e. not the seeded liquidity nor the background participants."""
        return tuple(o for o in self.orders if is_client(o.owner))

    @property
    def client_fills(self) -> tuple[Fill, ...]:
        """Fills of orders that came over FIX."""
        return tuple(f for f in self.fills if is_client(f.owner))

    def order(self, cl_ord_id: str, target_comp_id: str | None = None) -> OrderView | None:
        """The latest order that has carried ``cl_ord_id`` (optionally from that client), else None."""
        for order in reversed(self.orders):
            if cl_ord_id in order.cl_ord_ids and (
                target_comp_id is None or _owner_comp_id(order.owner) == target_comp_id
            ):
                return order
        return None

    def saw(self, cl_ord_id: str) -> bool:
        """Whether any order ever carried ``cl_ord_id`` here."""
        return self.order(cl_ord_id) is not None

    def orders_from(self, target_comp_id: str) -> tuple[OrderView, ...]:
        """Orders sent by the client with that CompID, over any FIX version."""
        return tuple(o for o in self.orders if _owner_comp_id(o.owner) == target_comp_id)

    def fills_for(self, order_id: str) -> tuple[Fill, ...]:
        """The fills of one venue order, oldest first."""
        return tuple(f for f in self.fills if f.order_id == order_id)


def _owner_comp_id(owner: str) -> str:
    # Owners are QuickFIX session strings "FIX.4.4:SIM->CLIENT1"; the client is after the arrow.
    return client_comp_id(owner)


# -- QUICKFIX SETTINGS --------------------------------------------------------------------------------


FIXT11 = "FIXT.1.1"
FIX50SP2 = "FIX.5.0SP2"  # the application version of the simulator's FIXT.1.1 sessions


def data_dictionary_path(begin_string: str) -> Path:
    """The data dictionary QuickFIX installed for ``begin_string`` (``FIX.4.4`` -> ``FIX44.xml``,
    ``FIXT.1.1`` -> ``FIXT11.xml``, ``FIX.5.0SP2`` -> ``FIX50SP2.xml``)."""
    path = Path(sys.prefix) / "share" / "quickfix" / f"{begin_string.replace('.', '')}.xml"
    if not path.is_file():
        raise SimulatorError(f"no QuickFIX data dictionary for {begin_string} at {path}")
    return path


def render_settings(config: VenueConfig, data_dir: Path) -> str:
    """The QuickFIX settings file of one venue: one acceptor session per (FIX version, client)."""
    # ResetOn*=N and a FileStore keep sequence numbers (and sent messages, for resends) across a
    # simulator restart. NonStopSession: no clock ends a session (no logout, no sequence reset at a
    # day boundary, as on the gateway's side); a client starts afresh with ResetSeqNumFlag=Y.
    lines = [
        "[DEFAULT]",
        "ConnectionType=acceptor",
        f"SenderCompID={config.name}",
        f"SocketAcceptPort={config.port}",
        "SocketReuseAddress=Y",
        "SocketNodelay=Y",
        "NonStopSession=Y",
        f"FileStorePath={data_dir / 'store'}",
        f"FileLogPath={data_dir / 'log'}",
        "PersistMessages=Y",
        "ResetOnLogon=N",
        "ResetOnLogout=N",
        "ResetOnDisconnect=N",
        "UseDataDictionary=Y",
        # Clients (and the gateway) may add fields of their own; that is no reason to refuse an order.
        "ValidateUserDefinedFields=N",
        "AllowUnknownMsgFields=Y",
    ]
    if config.local_only:
        # QuickFIX 1.16 has no SocketAcceptHost: the port is open on every interface. This makes
        # QuickFIX drop a connection from any other peer address at its Logon, unprocessed.
        lines.append(f"AllowedRemoteAddresses={LOOPBACK}")
    lines.append("")
    for begin_string in config.begin_strings:
        if begin_string == FIXT11:
            # FIX 5.0 SP2: the session layer's dictionary and the application's are two (a FIX50SP2.xml
            # transport dictionary breaks the Logon), and QuickFIX needs the default application version.
            dictionaries = [f"TransportDataDictionary={data_dictionary_path(FIXT11)}",
                            f"AppDataDictionary={data_dictionary_path(FIX50SP2)}",
                            f"DefaultApplVerID={FIX50SP2}"]
        else:
            dictionaries = [f"DataDictionary={data_dictionary_path(begin_string)}"]
        for target in config.target_comp_ids:
            lines += [
                "[SESSION]",
                f"BeginString={begin_string}",
                f"TargetCompID={target}",
                *dictionaries,
                "",
            ]
    return "\n".join(lines)


# -- FIX <-> DOMAIN -----------------------------------------------------------------------------------

_FIX_SIDE = {"1": Side.BUY, "2": Side.SELL}
_SIDE_FIX = {Side.BUY: "1", Side.SELL: "2"}
_FIX_ORD_TYPE = {"1": OrdType.MARKET, "2": OrdType.LIMIT}
_ORD_TYPE_FIX = {OrdType.MARKET: "1", OrdType.LIMIT: "2"}
_FIX_TIF = {"0": TimeInForce.DAY, "1": TimeInForce.GTC, "3": TimeInForce.IOC, "4": TimeInForce.FOK}
_TIF_FIX = {v: k for k, v in _FIX_TIF.items()}
_ORD_STATUS_FIX = {
    OrderStatus.NEW: "0",
    OrderStatus.PARTIALLY_FILLED: "1",
    OrderStatus.FILLED: "2",
    OrderStatus.CANCELED: "4",
    OrderStatus.REJECTED: "8",
    OrderStatus.EXPIRED: "C",
    OrderStatus.DONE_FOR_DAY: "3",
}
_CXL_REJ_REASON = {
    # FIX 4.2 has no DuplicateClOrdID or Other; 2 (broker option) is its catch-all.
    "FIX.4.2": {
        CancelRejectReason.TOO_LATE: "0",
        CancelRejectReason.UNKNOWN_ORDER: "1",
        CancelRejectReason.DUPLICATE_CL_ORD_ID: "2",
        CancelRejectReason.OTHER: "2",
    },
    "FIX.4.4": {
        CancelRejectReason.TOO_LATE: "0",
        CancelRejectReason.UNKNOWN_ORDER: "1",
        CancelRejectReason.DUPLICATE_CL_ORD_ID: "6",
        CancelRejectReason.OTHER: "99",
    },
}
_CXL_REJ_REASON[FIXT11] = _CXL_REJ_REASON["FIX.4.4"]  # FIX 5.0 SP2 has the same codes

_MD_ENTRY_FIX = {EntryType.BID: "0", EntryType.OFFER: "1", EntryType.TRADE: "2"}
_FIX_MD_ENTRY = {v: k for k, v in _MD_ENTRY_FIX.items()}
_MD_ACTION_FIX = {UpdateAction.NEW: "0", UpdateAction.CHANGE: "1", UpdateAction.DELETE: "2"}
_MD_REJECT_FIX = {
    RejectReason.UNKNOWN_SYMBOL: "0",
    RejectReason.DUPLICATE_MD_REQ_ID: "1",
    RejectReason.UNSUPPORTED_SUBSCRIPTION_REQUEST_TYPE: "4",
    RejectReason.UNSUPPORTED_MARKET_DEPTH: "5",
    RejectReason.UNSUPPORTED_MD_UPDATE_TYPE: "6",
    RejectReason.UNSUPPORTED_MD_ENTRY_TYPE: "8",
}
# Market data is stale by the time a client asks for a resend: gap-fill it instead (see toApp).
_MARKET_DATA_MSG_TYPES = frozenset({"W", "X", "Y"})

# The only exceptions QuickFIX lets out of a callback; anything else kills the process (Py_Exit).
_FIX_EXCEPTIONS: tuple[type[BaseException], ...] = (
    fix.FieldNotFound,
    fix.IncorrectTagValue,
    fix.IncorrectDataFormat,
    fix.UnsupportedMessageType,
    fix.RejectLogon,
    fix.DoNotSend,
)


def _fmt(value: Decimal) -> str:
    """A FIX float: plain notation, no exponent, no trailing zeros."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _utc_timestamp(ns: int) -> str:
    """FIX UTCTimestamp with milliseconds (the finest FIX 4.2 allows)."""
    seconds, rest = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y%m%d-%H:%M:%S")
    return f"{stamp}.{rest // 1_000_000:03d}"


def _optional(message: fix.Message, tag: int) -> str | None:
    return message.getField(tag) if message.isSetField(tag) else None


def _decimal(message: fix.Message, tag: int) -> Decimal | None:
    raw = _optional(message, tag)
    if raw is None:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise fix.IncorrectDataFormat(tag) from None
    if not value.is_finite():
        raise fix.IncorrectDataFormat(tag)
    return value


def _side(message: fix.Message) -> Side:
    raw = message.getField(54)
    side = _FIX_SIDE.get(raw)
    if side is None:
        # Sell short and the like: a value FIX knows but this venue does not trade.
        raise fix.IncorrectTagValue(54)
    return side


def _group_count(message: fix.Message, count_tag: int) -> int:
    raw = _optional(message, count_tag)
    return int(raw) if raw is not None and raw.isdigit() else 0


def _group_field(message: fix.Message, count_tag: int, delimiter: int, index: int, tag: int) -> str:
    group = fix.Group(count_tag, delimiter)
    message.getGroup(index, group)
    return str(group.getField(tag))


def _new_message(msg_type: str) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(35, msg_type)
    return message


def execution_report(
    event: ExecutionEvent, begin_string: str, commission: Decimal | None = None
) -> fix.Message:
    """The ExecutionReport (or OrderCancelReject) that reports ``event`` in ``begin_string``.

    ``commission``, if given, is the fee of a fill: Commission (12) with CommType (13) 3 = absolute.
    """
    if isinstance(event, CancelRejected):
        return cancel_reject(event, begin_string)
    fix42 = begin_string == "FIX.4.2"
    order = event.order
    text: str | None = None
    orig_cl_ord_id: str | None = None
    fill: Fill | None = None
    if isinstance(event, OrderAccepted):
        exec_type = "0"
    elif isinstance(event, OrderRejected):
        exec_type, text = "8", event.reason
    elif isinstance(event, OrderFilled):
        fill = event.fill
        if fix42:
            exec_type = "2" if order.status is OrderStatus.FILLED else "1"
        else:
            exec_type = "F"
    elif isinstance(event, OrderCanceled):
        exec_type, text, orig_cl_ord_id = "4", event.reason, order.orig_cl_ord_id
    elif isinstance(event, OrderReplaced):
        exec_type, orig_cl_ord_id = "5", order.orig_cl_ord_id
    elif isinstance(event, OrderExpired):
        exec_type, text = "C", order.text
    elif isinstance(event, OrderDoneForDay):
        exec_type, text = "3", order.text  # ExecType and OrdStatus 3 (DoneForDay) in 4.2 and 4.4
    else:  # pragma: no cover - the union is exhaustive
        raise TypeError(f"unknown event {event!r}")
    message = _order_report(order, exec_type, event.exec_id, begin_string, text=text)
    if fix42:
        message.setField(20, "0")  # ExecTransType New: every report here is a new one
    if orig_cl_ord_id is not None:
        message.setField(41, orig_cl_ord_id)
    if fill is not None:
        message.setField(32, _fmt(fill.quantity))
        message.setField(31, _fmt(fill.price))
        if commission is not None:
            message.setField(12, _fmt(commission))
            message.setField(13, "3")
        if not fix42:
            message.setField(851, "2" if fill.aggressor else "1")  # LastLiquidityInd removed / added
    return message


def status_report(
    order: OrderView | None,
    exec_id: str,
    begin_string: str,
    *,
    cl_ord_id: str,
    symbol: str,
    side: str,
    ord_status_req_id: str | None,
) -> fix.Message:
    """The answer to an OrderStatusRequest: the order's current state, or a reject for an unknown one."""
    fix42 = begin_string == "FIX.4.2"
    if order is None:
        message = _new_message("8")
        message.setField(37, "NONE")
        message.setField(11, cl_ord_id)
        message.setField(17, exec_id)
        # FIX 4.2 has no ExecType I (order status): a status report carries ExecTransType 3 instead
        # and ExecType repeats the status.
        message.setField(150, "8" if fix42 else "I")
        message.setField(39, "8")
        message.setField(55, symbol)
        message.setField(54, side)
        message.setField(151, "0")
        message.setField(14, "0")
        message.setField(6, "0")
        message.setField(58, f"unknown order {cl_ord_id}")
    else:
        exec_type = _ORD_STATUS_FIX[order.status] if fix42 else "I"
        message = _order_report(order, exec_type, exec_id, begin_string, text=order.text)
    if fix42:
        message.setField(20, "3")
    elif ord_status_req_id is not None:
        message.setField(790, ord_status_req_id)
    message.setField(60, _utc_timestamp(time.time_ns()))
    return message


def _order_report(
    order: OrderView, exec_type: str, exec_id: str, begin_string: str, *, text: str | None
) -> fix.Message:
    message = _new_message("8")
    message.setField(37, order.order_id)
    message.setField(11, order.cl_ord_id)
    message.setField(17, exec_id)
    message.setField(150, exec_type)
    message.setField(39, _ORD_STATUS_FIX[order.status])
    message.setField(55, order.symbol)
    message.setField(54, _SIDE_FIX[order.side])
    message.setField(38, _fmt(order.quantity))
    if order.ord_type is not None:
        message.setField(40, _ORD_TYPE_FIX[order.ord_type])
    if order.price is not None:
        message.setField(44, _fmt(order.price))
    if order.time_in_force is not None:
        message.setField(59, _TIF_FIX[order.time_in_force])
    message.setField(14, _fmt(order.cum_qty))
    message.setField(151, _fmt(order.leaves_qty))
    message.setField(6, _fmt(order.avg_px))
    message.setField(60, _utc_timestamp(order.updated_ns))
    if text:
        message.setField(58, text)
    return message


def cancel_reject(event: CancelRejected, begin_string: str) -> fix.Message:
    """OrderCancelReject (35=9) for a refused cancel or replace."""
    message = _new_message("9")
    message.setField(37, event.order_id or "NONE")
    message.setField(11, event.cl_ord_id)
    message.setField(41, event.orig_cl_ord_id)
    # OrdStatus is required; for an order the venue does not know, Rejected is the convention.
    message.setField(39, "8" if event.status is None else _ORD_STATUS_FIX[event.status])
    message.setField(434, "1" if event.response_to is RequestKind.CANCEL else "2")
    message.setField(102, _CXL_REJ_REASON[begin_string][event.reason_code])
    message.setField(58, event.reason)
    return message


def market_data_message(update: MarketDataUpdate, begin_string: str = "FIX.4.4") -> fix.Message:
    """MarketDataSnapshotFullRefresh (35=W) or MarketDataIncrementalRefresh (35=X) of one update.

    The same layout is valid in FIX 4.2, 4.4 and 5.0 SP2: W names its symbol once (Symbol 55 at the
    top, the Instrument component in 4.4 and 5.0 SP2) and its entries are MDEntryType/Px/Size; each X
    entry starts with MDUpdateAction and names its symbol, so one X can carry several books. FIX 5.0
    SP2 alone requires LastUpdateTime (779) on a W.
    """
    subscription = update.subscription
    if update.snapshot_symbol is not None:
        message = _new_message("W")
        message.setField(262, subscription.req_id)
        message.setField(55, update.snapshot_symbol)
        if begin_string == FIXT11:
            message.setField(779, _utc_timestamp(time.time_ns()))
        for entry in update.entries:
            group = fix.Group(268, 269)
            group.setField(269, _MD_ENTRY_FIX[entry.entry_type])
            group.setField(270, _fmt(entry.price))
            if entry.size is not None:
                group.setField(271, _fmt(entry.size))
            message.addGroup(group)
        if not update.entries:
            message.setField(268, "0")  # an empty book is still a snapshot
        return message
    message = _new_message("X")
    message.setField(262, subscription.req_id)
    for entry in update.entries:
        assert entry.action is not None
        group = fix.Group(268, 279)
        group.setField(279, _MD_ACTION_FIX[entry.action])
        group.setField(269, _MD_ENTRY_FIX[entry.entry_type])
        group.setField(55, entry.symbol)
        group.setField(270, _fmt(entry.price))
        if entry.size is not None and entry.action is not UpdateAction.DELETE:
            group.setField(271, _fmt(entry.size))
        message.addGroup(group)
    return message


def market_data_reject(req_id: str, reason: RejectReason | None, text: str) -> fix.Message:
    """MarketDataRequestReject (35=Y)."""
    message = _new_message("Y")
    message.setField(262, req_id)
    if reason is not None:
        message.setField(281, _MD_REJECT_FIX[reason])
    message.setField(58, text[:200])
    return message


# -- APPLICATION --------------------------------------------------------------------------------------


class _VenueApplication(fix.Application):  # type: ignore[misc]
    """QuickFIX callbacks of one venue. Every body is wrapped: see ``_FIX_EXCEPTIONS``."""

    def __init__(self, venue: Venue) -> None:
        super().__init__()
        self._venue = venue

    def onCreate(self, sessionID: fix.SessionID) -> None:
        try:
            self._venue._session_created(sessionID)
        except Exception:
            log.exception("onCreate failed for %s", sessionID)

    def onLogon(self, sessionID: fix.SessionID) -> None:
        try:
            self._venue._set_logged_on(sessionID.toString(), True)
        except Exception:
            log.exception("onLogon failed")

    def onLogout(self, sessionID: fix.SessionID) -> None:
        try:
            self._venue._set_logged_on(sessionID.toString(), False)
            self._venue._drop_market_data(sessionID.toString())
        except Exception:
            log.exception("onLogout failed")

    def toAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        pass

    def fromAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        pass

    def toApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        # On a resend QuickFIX hands every stored message back with PossDupFlag set; DoNotSend makes
        # it gap-fill instead. Executions are resent for real; old market data is not worth it.
        header = message.getHeader()
        if (
            header.isSetField(43)
            and header.getField(43) == "Y"
            and header.getField(35) in _MARKET_DATA_MSG_TYPES
        ):
            raise fix.DoNotSend()

    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        try:
            delay = self._venue.config.response_delay_ms
            if delay:
                # Only this connection's thread waits (ThreadedSocketAcceptor): other sessions and the
                # background participants go on, as they would at a slow venue.
                time.sleep(delay / 1000)
            self._venue._on_message(message, sessionID.toString())
        except _FIX_EXCEPTIONS:
            raise  # QuickFIX answers these with a session-level Reject / BusinessMessageReject
        except Exception as exc:
            log.exception("venue %s failed on a message from %s", self._venue.name, sessionID)
            try:
                self._venue._business_reject(message, sessionID.toString(), f"venue error: {exc}")
            except Exception:
                log.exception("could not even send a BusinessMessageReject")


# -- VENUE --------------------------------------------------------------------------------------------


class Venue:
    """One simulated exchange: its matching engine, seeded liquidity and QuickFIX acceptor.

    ``data_dir`` holds the rendered QuickFIX settings (``quickfix.cfg``), the FIX sequence-number
    stores (``store/``), the record of client orders and fills (``record.jsonl``, see
    ``simulator.journal``) and, if ``config.log_messages``, the FIX message logs (``log/``).
    Books live in memory only: a new process of the venue keeps its sequence numbers, its sent
    messages (for resends) and its record, but starts with fresh books. A venue stopped and started
    again in one process keeps its books, unless its dialect says ``forget_orders_on_restart``.
    """

    def __init__(
        self, config: VenueConfig, data_dir: Path, *, clock: Callable[[], int] = time.time_ns
    ) -> None:
        self.config = config
        self.data_dir = Path(data_dir)
        self._clock = clock
        self.engine = self._new_engine()
        self.journal = VenueJournal(self.data_dir / "record.jsonl", self.run_id)
        self.market_data = MarketDataHub(i.symbol for i in config.instruments)
        self._symbols = frozenset(i.symbol for i in config.instruments)
        self.market: LivingMarket | None = (
            LivingMarket(config.instruments, config.participants) if config.participants.enabled else None
        )
        self._started_before = False
        self._market_thread: threading.Thread | None = None
        self._market_stop = threading.Event()
        self._lock = threading.Lock()  # engine + report sending; see the module docstring
        self._sessions: dict[str, fix.SessionID] = {}
        self._logged_on: set[str] = set()
        self._logon_changed = threading.Condition()  # never held together with self._lock
        self._application = _VenueApplication(self)
        self._acceptor: fix.ThreadedSocketAcceptor | None = None
        # QuickFIX holds raw pointers to these; Python must keep them alive while the acceptor runs.
        self._keepalive: tuple[object, ...] = ()

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def port(self) -> int:
        return self.config.port

    @property
    def running(self) -> bool:
        return self._acceptor is not None

    # -- LIFECYCLE ------------------------------------------------------------------------------------

    def _new_engine(self) -> MatchingEngine:
        """Fresh books with the venue's seeded liquidity, for a new run (``run_id``)."""
        # Start time in the id prefix: ExecIDs/OrderIDs never repeat across restarts of the venue,
        # unless the dialect numbers ExecIDs from 1 in each run, as some venues do.
        self.run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")[:-3]
        prefix = f"{self.config.name}-{self.run_id}"
        engine = MatchingEngine(
            self.config.instruments, id_prefix=prefix, clock=self._clock,
            exec_id_prefix=self.config.name if self.config.dialect.restart_exec_ids else None,
        )
        engine.seed_liquidity(SEED_OWNER, self.config.liquidity.levels, self.config.liquidity.level_qty)
        return engine

    def _restart(self) -> None:
        """What a restart in this process forgets, by the venue's dialect (a new process forgets all)."""
        dialect = self.config.dialect
        if dialect.forget_orders_on_restart:
            with self._lock:
                self.engine = self._new_engine()  # empty books, no order known: ExecIDs from 1 too
                self.journal.run = self.run_id
                if self.market is not None:
                    self.market = LivingMarket(self.config.instruments, self.config.participants)
            log.info("venue %s restarted with empty books: earlier orders are unknown", self.name)
        elif dialect.restart_exec_ids:
            with self._lock:
                self.engine.renumber_exec_ids()

    def start(self) -> None:
        """Listen for FIX sessions. Raises ``SimulatorError`` if the port cannot be bound."""
        if self._acceptor is not None:
            raise SimulatorError(f"venue {self.name} is already running")
        if self._started_before:
            self._restart()
        self._started_before = True
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.journal.open()
        settings_path = self.data_dir / "quickfix.cfg"
        settings_path.write_text(render_settings(self.config, self.data_dir))
        settings = fix.SessionSettings(str(settings_path))
        store_factory = fix.FileStoreFactory(settings)
        if self.config.log_messages:
            log_factory = fix.FileLogFactory(settings)
            acceptor = fix.ThreadedSocketAcceptor(self._application, store_factory, settings, log_factory)
            self._keepalive = (settings, store_factory, log_factory)
        else:
            acceptor = fix.ThreadedSocketAcceptor(self._application, store_factory, settings)
            self._keepalive = (settings, store_factory)
        try:
            # Binds the port synchronously (ThreadedSocketAcceptor::onInitialize) before returning.
            acceptor.start()
        except (fix.RuntimeError, fix.ConfigError) as exc:
            del acceptor  # destroy its sessions while the factories they use still exist
            self._keepalive = ()
            raise SimulatorError(f"venue {self.name} cannot start on port {self.port}: {exc}") from exc
        self._acceptor = acceptor
        if self.market is not None:
            self._start_market(self.market)
        log.info(
            "venue %s listening on port %d (%s; clients %s)",
            self.name,
            self.port,
            ", ".join(self.config.begin_strings),
            ", ".join(self.config.target_comp_ids),
        )

    def stop(self, force: bool = False) -> None:
        """Log sessions out and close the port; ``force`` skips waiting for logout answers."""
        acceptor, self._acceptor = self._acceptor, None
        if acceptor is None:
            return
        self._stop_market()
        # QuickFIX waits up to the logout timeout (10 s) for clients that do not answer a Logout.
        acceptor.stop(force)
        # The acceptor's sessions call back into the store and log factories when destroyed, so the
        # acceptor must go first: drop our last reference to it before the factories.
        del acceptor
        self._keepalive = ()
        with self._lock:
            self.journal.close()
        with self._logon_changed:
            self._logged_on.clear()
            self._logon_changed.notify_all()

    # -- READING --------------------------------------------------------------------------------------

    @property
    def record(self) -> SimulatorRecord:
        """A snapshot of every order and fill so far."""
        with self._lock:
            return SimulatorRecord(tuple(self.engine.orders()), tuple(self.engine.fills()))

    def depth(self, symbol: str) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """(bids, asks) of one book as (price, quantity) per level, best first."""
        with self._lock:
            return self.engine.depth(symbol)

    def logged_on(self) -> set[str]:
        """Session strings (``FIX.4.4:SIM->CLIENT1``) currently logged on."""
        with self._logon_changed:
            return set(self._logged_on)

    def wait_for_logon(
        self, target_comp_id: str, begin_string: str | None = None, timeout: float = 5.0
    ) -> bool:
        """Wait until a session of that client (and FIX version) is logged on; False on timeout."""

        def matches() -> bool:
            return any(
                _owner_comp_id(s) == target_comp_id
                and (begin_string is None or s.startswith(begin_string + ":"))
                for s in self._logged_on
            )

        with self._logon_changed:
            return self._logon_changed.wait_for(matches, timeout)

    def book(self, symbol: str) -> BookLevels:
        """The full depth of one book, best first per side."""
        bids, asks = self.depth(symbol)
        return BookLevels(tuple(bids), tuple(asks))

    # -- ADMIN ----------------------------------------------------------------------------------------

    def end_of_day(self) -> DayEnd:
        """End the trading day and report it: live DAY orders expire (ExecType C); live GTC orders
        of clients are told DoneForDay (ExecType 3, OrdStatus 3) and stay on the book for the next
        day, which begins at once. The venue's own resting orders are marked too but told nothing."""
        with self._lock:
            events = self.engine.expire_day_orders()
            self._report(events)
        expired = sum(isinstance(e, OrderExpired) for e in events)
        done = sum(isinstance(e, OrderDoneForDay) and is_client(e.order.owner) for e in events)
        log.info("venue %s: end of day: %d Day order(s) expired, %d GTC order(s) done for day",
                 self.name, expired, done)
        return DayEnd(expired=expired, done_for_day=done)

    def expire_day_orders(self) -> int:
        """End the trading day (``end_of_day``); returns how many Day orders expired."""
        return self.end_of_day().expired

    def market_step(self, steps: int = 1) -> None:
        """Let the background participants act ``steps`` times now (for tests; the thread does it too)."""
        if self.market is None:
            raise SimulatorError(f"venue {self.name} has no background participants (participants.enabled)")
        with self._lock:
            for _ in range(steps):
                self._report(self.market.step(self.engine))

    # -- BACKGROUND PARTICIPANTS ----------------------------------------------------------------------

    def _start_market(self, market: LivingMarket) -> None:
        with self._lock:
            self._report(market.start(self.engine))
        self._market_stop.clear()
        self._market_thread = threading.Thread(
            target=self._run_market, args=(market,), name=f"sim-market-{self.name}", daemon=True
        )
        self._market_thread.start()

    def _stop_market(self) -> None:
        thread, self._market_thread = self._market_thread, None
        if thread is None:
            return
        self._market_stop.set()
        thread.join(timeout=5.0)

    def _run_market(self, market: LivingMarket) -> None:
        interval = 1.0 / market.config.actions_per_second
        steps = 0
        # wait() both paces the participants (at most actions_per_second) and wakes up on stop.
        while not self._market_stop.wait(interval):
            try:
                with self._lock:
                    self._report(market.step(self.engine))
                    steps += 1
                    if steps % 1000 == 0:
                        self.engine.forget_done((MAKER_OWNER, TAKER_OWNER))
            except Exception:
                log.exception("venue %s: background participants failed; they stop", self.name)
                return

    # -- CALLBACK SIDE (QuickFIX threads) -------------------------------------------------------------

    def _session_created(self, session_id: fix.SessionID) -> None:
        # The SessionID passed to a callback belongs to QuickFIX; keep our own copy for sending later.
        copy = fix.SessionID(
            session_id.getBeginString().getValue(),
            session_id.getSenderCompID().getValue(),
            session_id.getTargetCompID().getValue(),
        )
        self._sessions[copy.toString()] = copy

    def _set_logged_on(self, session: str, on: bool) -> None:
        with self._logon_changed:
            if on:
                self._logged_on.add(session)
            else:
                self._logged_on.discard(session)
            self._logon_changed.notify_all()
        log.info("venue %s: %s %s", self.name, session, "logged on" if on else "logged out")

    def _on_message(self, message: fix.Message, owner: str) -> None:
        msg_type = message.getHeader().getField(35)
        if self._dialect_refuses(message, msg_type, owner):
            return
        if msg_type == "D":
            self._on_new_order(message, owner)
        elif msg_type == "F":
            self._on_cancel(message, owner)
        elif msg_type == "G":
            self._on_replace(message, owner)
        elif msg_type == "H":
            self._on_status(message, owner)
        elif msg_type == "V":
            self._on_market_data_request(message, owner)
        else:
            raise fix.UnsupportedMessageType()

    def _on_new_order(self, message: fix.Message, owner: str) -> None:
        cl_ord_id = message.getField(11)
        symbol = message.getField(55)
        side = _side(message)
        quantity = _decimal(message, 38)
        price = _decimal(message, 44)
        raw_ord_type = message.getField(40)
        raw_tif = _optional(message, 59) or "0"
        ord_type = _FIX_ORD_TYPE.get(raw_ord_type)
        tif = _FIX_TIF.get(raw_tif)
        poss_dup = _optional(message.getHeader(), 43) == "Y"
        with self._lock:
            if poss_dup and self.engine.find(owner, cl_ord_id) is not None:
                # A resent order we already have: its reports went out (and are resent) already.
                log.info("venue %s: ignoring PossDup resend of %s from %s", self.name, cl_ord_id, owner)
                return
            if quantity is None or ord_type is None or tif is None:
                if quantity is None:
                    reason = "missing OrderQty (38)"
                elif ord_type is None:
                    reason = f"unsupported OrdType {raw_ord_type}"
                else:
                    reason = f"unsupported TimeInForce {raw_tif}"
                events = self.engine.reject_new(
                    owner=owner,
                    cl_ord_id=cl_ord_id,
                    symbol=symbol,
                    side=side,
                    quantity=quantity if quantity is not None else Decimal(0),
                    price=price,
                    ord_type=ord_type,
                    time_in_force=tif,
                    reason=reason,
                )
            else:
                request = NewOrderRequest(
                    owner=owner,
                    cl_ord_id=cl_ord_id,
                    symbol=symbol,
                    side=side,
                    quantity=quantity,
                    ord_type=ord_type,
                    price=price,
                    time_in_force=tif,
                )
                fade = self._last_look(request)
                events = self.engine.submit(request)
                if fade:
                    self.engine.shift_quotes(symbol, (SEED_OWNER, MAKER_OWNER), -fade)
            self._report(events)
            self._react(events)

    def _last_look(self, order: NewOrderRequest) -> int:
        """A venue with last look (``VenueDialect.last_look_ticks``) moves its own quotes against a
        client's taking order (market, IOC or FOK: one that never rests, so nothing of it stands in
        the way of the quotes moving back) before matching it; returns the ticks moved, for the caller
        to move them back after the match (caller holds ``self._lock``). With ``last_look_min_qty``
        only orders of that size or more are faded."""
        dialect = self.config.dialect
        ticks = dialect.last_look_ticks
        if (not ticks or not is_client(order.owner) or order.symbol not in self._symbols
                or order.quantity < dialect.last_look_min_qty
                or not (order.ord_type is OrdType.MARKET or order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK))):
            return 0
        fade = ticks if order.side is Side.BUY else -ticks
        self.engine.shift_quotes(order.symbol, (SEED_OWNER, MAKER_OWNER), fade)
        return fade

    def _react(self, events: Iterable[ExecutionEvent]) -> None:
        """A toxic venue (``VenueDialect.toxic_markout_ticks``): after a client's order (new or replaced) took liquidity,
        the venue's quotes move against it, and market data says so (caller holds ``self._lock``)."""
        ticks = self.config.dialect.toxic_markout_ticks
        if not ticks:
            return
        moves: dict[str, int] = {}
        for event in events:
            if isinstance(event, OrderFilled) and event.fill.aggressor and is_client(event.order.owner):
                moves[event.order.symbol] = -ticks if event.fill.side is Side.BUY else ticks
        for symbol, move in moves.items():
            self.engine.shift_quotes(symbol, (SEED_OWNER, MAKER_OWNER), move)
            if self.market is not None:
                self.market.shift(symbol, move)
        if moves:
            self._send_market_data(self.market_data.on_change(set(moves), [], self._book_levels))

    def _on_cancel(self, message: fix.Message, owner: str) -> None:
        request = CancelRequest(
            owner=owner,
            cl_ord_id=message.getField(11),
            orig_cl_ord_id=message.getField(41),
            order_id=_optional(message, 37),
            symbol=_optional(message, 55),
            side=_side(message),
        )
        with self._lock:
            events = self.engine.cancel(request)
            if self.config.dialect.cancel_ack_original_id:
                events = _acked_under_original_id(events)
            self._report(events)

    def _on_replace(self, message: fix.Message, owner: str) -> None:
        cl_ord_id = message.getField(11)
        orig_cl_ord_id = message.getField(41)
        quantity = _decimal(message, 38)
        raw_ord_type = message.getField(40)
        raw_tif = _optional(message, 59)
        ord_type = _FIX_ORD_TYPE.get(raw_ord_type)
        tif = None if raw_tif is None else _FIX_TIF.get(raw_tif)
        reason: str | None = None
        if quantity is None:
            reason = "missing OrderQty (38)"
        elif ord_type is None:
            reason = f"unsupported OrdType {raw_ord_type}"
        elif raw_tif is not None and tif is None:
            reason = f"unsupported TimeInForce {raw_tif}"
        with self._lock:
            if reason is not None or quantity is None or ord_type is None:
                found = self.engine.find(owner, orig_cl_ord_id, _optional(message, 37))
                events: list[ExecutionEvent] = [
                    CancelRejected(
                        owner=owner,
                        cl_ord_id=cl_ord_id,
                        orig_cl_ord_id=orig_cl_ord_id,
                        response_to=RequestKind.REPLACE,
                        reason_code=CancelRejectReason.OTHER,
                        reason=reason or "invalid replace",
                        order_id=None if found is None else found.order_id,
                        status=None if found is None else found.status,
                    )
                ]
            else:
                request = ReplaceRequest(
                    owner=owner,
                    cl_ord_id=cl_ord_id,
                    orig_cl_ord_id=orig_cl_ord_id,
                    quantity=quantity,
                    price=_decimal(message, 44),
                    order_id=_optional(message, 37),
                    symbol=_optional(message, 55),
                    side=_side(message),
                    ord_type=ord_type,
                    time_in_force=tif,
                )
                events = self.engine.replace(request)
            self._report(events)
            self._react(events)

    def _on_status(self, message: fix.Message, owner: str) -> None:
        cl_ord_id = message.getField(11)
        order_id = _optional(message, 37)
        symbol = _optional(message, 55) or ""
        side = message.getField(54)
        req_id = _optional(message, 790)
        with self._lock:
            order = self.engine.find(owner, cl_ord_id, order_id)
            session = self._sessions[owner]
            reply = status_report(
                order,
                self.engine.next_exec_id(),
                session.getBeginString().getValue(),
                cl_ord_id=cl_ord_id,
                symbol=symbol,
                side=side,
                ord_status_req_id=req_id,
            )
            fix.Session.sendToTarget(reply, session)

    def _report(self, events: Iterable[ExecutionEvent]) -> None:
        """Record, report and publish what one engine call did (caller holds ``self._lock``).

        The record is written first, then each event goes to the session that owns its order, then
        market data goes to the subscribers of the books it touched.
        """
        events = list(events)
        if not events:
            return
        fees = self.config.fees
        touched: set[str] = set()
        trades: list[Fill] = []
        # Trades with a client on one side: the venue's own side of these goes in the record too (it
        # is the client's counterparty). Its trades among its own participants stay out: the living
        # market would grow the record, in memory and on disk, without bound.
        client_matches = {
            e.fill.match_id for e in events if isinstance(e, OrderFilled) and is_client(e.order.owner)
        }
        for event in events:
            if isinstance(event, CancelRejected):
                continue
            touched.add(event.order.symbol)
            fill = event.fill if isinstance(event, OrderFilled) else None
            if fill is not None and fill.aggressor:
                trades.append(fill)  # one per trade: the aggressor's side
            if is_client(event.order.owner):
                self.journal.order(event.order)
                if fill is not None:
                    self.journal.fill(fill, fees.commission(fill.quantity, fill.price))
            elif fill is not None and fill.match_id in client_matches:
                self.journal.order(event.order)
                self.journal.fill(fill, None)  # the venue charges itself nothing
        self.journal.flush()
        for event in events:
            session = self._sessions.get(event_owner(event))
            if session is None:
                continue  # the venue's own participants (or a session that does not exist) get nothing
            commission = None
            if isinstance(event, OrderFilled) and fees.charges:
                commission = fees.commission(event.fill.quantity, event.fill.price)
            # To a session that is not logged on, QuickFIX stores the report under its sequence
            # number without sending; the client gets it by resend request when it logs on again.
            report = execution_report(event, session.getBeginString().getValue(), commission)
            fix.Session.sendToTarget(report, session)
        if touched:
            self._send_market_data(self.market_data.on_change(touched, trades, self._book_levels))

    # -- MARKET DATA ----------------------------------------------------------------------------------

    def _book_levels(self, symbol: str, limit: int | None = None) -> BookLevels:
        bids, asks = self.engine.depth(symbol, limit)  # caller holds self._lock
        return BookLevels(tuple(bids), tuple(asks))

    def _send_market_data(self, updates: Iterable[MarketDataUpdate]) -> None:
        for update in updates:
            session = self._sessions.get(update.subscription.session)
            if session is not None:
                fix.Session.sendToTarget(market_data_message(update, session.getBeginString().getValue()), session)

    def _drop_market_data(self, owner: str) -> None:
        # Not under self._lock: see MarketDataHub (this runs while QuickFIX holds the session's mutex).
        self.market_data.drop_session(owner)

    def _on_market_data_request(self, message: fix.Message, owner: str) -> None:
        req_id = message.getField(262)
        request_type = message.getField(263)
        symbols = [_group_field(message, 146, 55, i, 55) for i in range(1, _group_count(message, 146) + 1)]
        raw_types = [
            _group_field(message, 267, 269, i, 269) for i in range(1, _group_count(message, 267) + 1)
        ]
        session = self._sessions[owner]
        with self._lock:
            if request_type == "2":
                if not self.market_data.unsubscribe(owner, req_id):
                    reply = market_data_reject(req_id, None, f"no subscription with MDReqID {req_id}")
                    fix.Session.sendToTarget(reply, session)
                return
            refusal = self._check_market_data_request(
                message, owner, req_id, request_type, symbols, raw_types
            )
            if refusal is not None:
                fix.Session.sendToTarget(market_data_reject(req_id, *refusal), session)
                return
            subscription = Subscription(
                session=owner,
                req_id=req_id,
                symbols=tuple(dict.fromkeys(symbols)),
                depth=int(message.getField(264)),
                entry_types=frozenset(_FIX_MD_ENTRY[t] for t in raw_types),
                incremental=_optional(message, 265) != "0",
            )
            snapshots = self.market_data.snapshot(subscription, self._book_levels)
            if request_type == "1":
                self.market_data.subscribe(subscription)
            self._send_market_data(snapshots)

    def _check_market_data_request(
        self,
        message: fix.Message,
        owner: str,
        req_id: str,
        request_type: str,
        symbols: list[str],
        raw_types: list[str],
    ) -> tuple[RejectReason, str] | None:
        if request_type not in ("0", "1"):
            return (
                RejectReason.UNSUPPORTED_SUBSCRIPTION_REQUEST_TYPE,
                f"unsupported SubscriptionRequestType {request_type}",
            )
        raw_depth = message.getField(264)
        if not raw_depth.isdigit():
            return RejectReason.UNSUPPORTED_MARKET_DEPTH, f"unsupported MarketDepth {raw_depth}"
        update_type = _optional(message, 265)
        if update_type not in (None, "0", "1"):
            return RejectReason.UNSUPPORTED_MD_UPDATE_TYPE, f"unsupported MDUpdateType {update_type}"
        unsupported = [t for t in raw_types if t not in _FIX_MD_ENTRY]
        if unsupported or not raw_types:
            return (
                RejectReason.UNSUPPORTED_MD_ENTRY_TYPE,
                (
                    f"unsupported MDEntryType {', '.join(unsupported) or '(none)'}; this venue publishes "
                    "0 (bid), 1 (offer), 2 (trade)"
                ),
            )
        return self.market_data.check(owner, req_id, symbols, subscribe=request_type == "1")

    def _business_reject(self, message: fix.Message, owner: str, text: str) -> None:
        session = self._sessions.get(owner)
        if session is None:
            return
        reject = _new_message("j")
        header = message.getHeader()
        if header.isSetField(34):
            reject.setField(45, header.getField(34))
        reject.setField(372, header.getField(35) if header.isSetField(35) else "?")
        reject.setField(380, "0")  # BusinessRejectReason Other
        reject.setField(58, text[:200])
        fix.Session.sendToTarget(reject, session)


    # -- DIALECT: REFUSALS (session_reject_ord_types, business_reject) ------------------------------------

    def _dialect_refuses(self, message: fix.Message, msg_type: str, owner: str) -> bool:
        """Refuse a message the way the venue's dialect says (``VenueDialect``), before the engine sees
        it; True when refused. Both answers name the refused message by its MsgSeqNum (RefSeqNum 45),
        as real venues do."""
        dialect = self.config.dialect
        if msg_type == "D" and dialect.session_reject_ord_types:
            ord_type = _optional(message, 40)
            if ord_type in dialect.session_reject_ord_types:
                self._send_session_reject(message, owner, ord_type)
                return True
        if msg_type in dialect.business_reject:
            self._send_unsupported(message, owner, msg_type)
            return True
        return False

    def _send_session_reject(self, message: fix.Message, owner: str, ord_type: str) -> None:
        """A session-level Reject (35=3) of a NewOrderSingle: RefTagID 40, SessionRejectReason 5 (value
        is incorrect for this tag). The order never reaches the book or the record."""
        reject = _new_message("3")
        reject.setField(45, message.getHeader().getField(34))
        reject.setField(371, "40")
        reject.setField(372, "D")
        reject.setField(373, "5")
        reject.setField(58, f"OrdType (40) {ord_type} is not accepted by venue {self.name}")
        log.info("venue %s: session-level reject of %s from %s (OrdType %s)", self.name,
                 _optional(message, 11), owner, ord_type)
        fix.Session.sendToTarget(reject, self._sessions[owner])

    def _send_unsupported(self, message: fix.Message, owner: str, msg_type: str) -> None:
        """A BusinessMessageReject (35=j) with BusinessRejectReason 3 (unsupported message type), naming
        the request by its ClOrdID (11), or MDReqID (262) for market data, in BusinessRejectRefID."""
        reject = _new_message("j")
        reject.setField(45, message.getHeader().getField(34))
        reject.setField(372, msg_type)
        ref_id = _optional(message, 262 if msg_type == "V" else 11)
        if ref_id is not None:
            reject.setField(379, ref_id)
        reject.setField(380, "3")
        reject.setField(58, f"MsgType {msg_type} is not supported by venue {self.name}")
        log.info("venue %s: business reject of MsgType %s %s from %s", self.name, msg_type, ref_id, owner)
        fix.Session.sendToTarget(reject, self._sessions[owner])


def _acked_under_original_id(events: list[ExecutionEvent]) -> list[ExecutionEvent]:
    """The dialect ``cancel_ack_original_id``: a cancel's Canceled report names the order by the
    ClOrdID it had before the cancel (the cancel's OrigClOrdID), and carries no OrigClOrdID (41)."""
    acked: list[ExecutionEvent] = []
    for event in events:
        if isinstance(event, OrderCanceled) and event.order.orig_cl_ord_id is not None:
            view = dataclasses.replace(event.order, cl_ord_id=event.order.orig_cl_ord_id, orig_cl_ord_id=None)
            event = dataclasses.replace(event, order=view)
        acked.append(event)
    return acked


# -- SIMULATOR ----------------------------------------------------------------------------------------


class Simulator:
    """Every venue of a ``SimulatorConfig``, started and stopped together.

    ``port`` moves the venues: the first listens on ``port``, the next on ``port + 1``, and so on
    (``SimulatorConfig.from_port``; tests pass a free port to a one-venue config). Each venue keeps
    its files under ``data_dir / <venue name>``. ``record_port`` (0 = any free port) also serves the
    record over HTTP on 127.0.0.1 (``simulator.record_http``); see ``record_url``.
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        data_dir: Path | str = Path(".fixgate/simulator"),
        *,
        port: int | None = None,
        record_port: int | None = None,
    ) -> None:
        config = config or SimulatorConfig()
        if port is not None:
            config = config.from_port(port)
        self.config = config
        self.data_dir = Path(data_dir)
        self.venues: dict[str, Venue] = {v.name: Venue(v, self.data_dir / v.name) for v in config.venues}
        self._record_port = record_port
        self.record_server: RecordServer | None = None

    def start(self) -> None:
        """Start every venue; if one cannot start, the ones already started are stopped again."""
        started: list[Venue] = []
        try:
            for venue in self.venues.values():
                venue.start()
                started.append(venue)
            if self._record_port is not None:
                self.serve_record(self._record_port)
        except BaseException:
            for venue in started:
                venue.stop(force=True)
            raise

    def serve_record(self, port: int = 0) -> str:
        """Serve the record over HTTP on 127.0.0.1:``port`` (0 = any free port); returns its base URL.

        Raises ``SimulatorError`` if it already runs or the port cannot be bound.
        """
        if self.record_server is not None:
            raise SimulatorError(f"the record endpoint already runs on {self.record_server.url}")
        try:
            server = RecordServer(self.venues, "127.0.0.1", port)
        except OSError as exc:
            raise SimulatorError(f"record endpoint cannot listen on port {port}: {exc}") from exc
        server.start()
        self.record_server = server
        return server.url

    def end_of_day(self) -> dict[str, DayEnd]:
        """End the trading day on every venue (see ``Venue.end_of_day``): what it did, per venue."""
        return {name: venue.end_of_day() for name, venue in self.venues.items()}

    def expire_day_orders(self) -> dict[str, int]:
        """End the trading day on every venue (see ``Venue.end_of_day``): expired count per venue."""
        return {name: day.expired for name, day in self.end_of_day().items()}

    def stop(self, force: bool = False) -> None:
        """Stop every venue (see ``Venue.stop``) and the record endpoint."""
        server, self.record_server = self.record_server, None
        if server is not None:
            server.stop()
        for venue in self.venues.values():
            venue.stop(force)

    @property
    def record_url(self) -> str:
        """Base URL of the record endpoint (``record_port`` must have been given)."""
        if self.record_server is None:
            raise SimulatorError("the record endpoint is not running (pass record_port)")
        return self.record_server.url

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def venue(self, name: str | None = None) -> Venue:
        """The venue named ``name``, or the only venue when ``name`` is None."""
        if name is None:
            if len(self.venues) != 1:
                raise SimulatorError(f"simulator runs {len(self.venues)} venues; name one")
            return next(iter(self.venues.values()))
        return self.venues[name]

    @property
    def record(self) -> SimulatorRecord:
        """The record of the only venue (see ``Venue.record``; name the venue when there are several)."""
        return self.venue().record

    @property
    def port(self) -> int:
        """The port of the only venue."""
        return self.venue().port
