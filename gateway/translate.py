"""FIX <-> domain translation at the edge, for FIX 4.2, 4.4 and 5.0 SP2 (over FIXT.1.1). Integer tags
only (hot path).

A message is built once whatever the version: the session writes its BeginString (FIXT.1.1 for 5.0
SP2) and leaves out ApplVerID (1128), which the counterparty takes from the Logon's DefaultApplVerID.
Where the versions differ it is said here: ExecTransType (20) exists in 4.2 only, 5.0 SP2 wants a
MassActionReportID (1369) in an OrderMassCancelReport, and makes OrigClOrdID (41) of a cancel or
replace and ClOrdID (11) of a status request optional, which fixgate needs all the same."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Context, Decimal, DecimalException, Inexact, InvalidOperation, Overflow

import quickfix as fix

from domain.model import (
    CancelOrder,
    CancelRejectReason,
    ClientCancelReject,
    ClientReport,
    ExecKind,
    NewOrder,
    OrderRecord,
    OrdType,
    ReplaceOrder,
    RequestKind,
    Routed,
    TimeInForce,
    VenueCancelReject,
    VenueChange,
    VenueReport,
)
from gateway import fixspec as t

log = logging.getLogger(__name__)

_ZERO = Decimal(0)

MAX_TEXT_LENGTH = 64
"""The longest ClOrdID, OrigClOrdID, Account, Symbol (any client string fixgate stores or echoes)."""

_TEXT_FIELD_NAMES = {
    t.ACCOUNT: "Account",
    t.CL_ORD_ID: "ClOrdID",
    t.ORIG_CL_ORD_ID: "OrigClOrdID",
    t.SYMBOL: "Symbol",
    t.ORD_STATUS_REQ_ID: "OrdStatusReqID",
    t.EX_DESTINATION: "ExDestination",
}


@dataclass(frozen=True, slots=True)
class Invalid:
    """A message that parsed as FIX but cannot be taken as the command it claims to be."""

    tag: int
    text: str
    business_reason: str = t.BRR_OTHER


def fmt(value: Decimal) -> str:
    """A Decimal as FIX wants it: plain notation, no exponent, no trailing zeros."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


@functools.lru_cache(maxsize=4)
def _second_text(seconds: int) -> str:
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(seconds))


def utc_timestamp(ns: int | None = None) -> str:
    """FIX UTCTimestamp with milliseconds (the seconds formatted once per second, not per message)."""
    ns = time.time_ns() if ns is None else ns
    seconds, rest = divmod(ns, 1_000_000_000)
    return f"{_second_text(seconds)}.{rest // 1_000_000:03d}"


def _message(msg_type: str, body: str) -> fix.Message:
    """A message from its body text (``tag=value<SOH>`` fields after MsgType): one parse instead of
    a SWIG call per ``setField``. The session fills in the header (BeginString, CompIDs, MsgSeqNum,
    SendingTime) and BodyLength and CheckSum when it sends. Every value comes from a FIX field or
    from fixgate itself, so none holds an SOH."""
    return fix.Message(f"8=FIX.4.4\x019=0\x0135={msg_type}\x01{body}10=000\x01", False)


def _decimal(msg: fix.Message, tag: int, name: str) -> Decimal | Invalid:
    raw = msg.getField(tag)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return Invalid(tag, f"{name} ({tag}) '{raw}' is not a number")
    if not value.is_finite():
        return Invalid(tag, f"{name} ({tag}) '{raw}' is not a finite number")
    if value.adjusted() >= MAX_INTEGER_DIGITS or -value.as_tuple().exponent > MAX_DECIMAL_PLACES:  # type: ignore[operator]
        return Invalid(tag, f"{name} ({tag}) {raw} is out of range: at most {MAX_INTEGER_DIGITS} digits before"
                            f" the decimal point and {MAX_DECIMAL_PLACES} after")
    return value


# A client's quantity or price is kept to what every sum and remainder of risk and the OMS computes
# exactly in Decimal's 28 digits (a 29-digit price made ``price % tick`` raise), and far above any real one.
MAX_INTEGER_DIGITS = 12
MAX_DECIMAL_PLACES = 8


def text_field(msg: fix.Message, tag: int) -> str | Invalid:
    """The value of string field ``tag`` if it is 1 to 64 printable ASCII characters (0x20-0x7E),
    else an ``Invalid`` that names the tag; ``FieldNotFound`` if absent.

    Every client string that fixgate stores, forwards or echoes passes here first, so whatever the
    OMS accepts the book can store and a FIX message can carry back: QuickFIX hands a byte that is
    not UTF-8 over as a lone surrogate (0xFF as U+DCFF), which PostgreSQL would refuse after the
    venue had the order. The bound keeps ids to what any venue and report can carry."""
    value: str = msg.getField(tag)
    name = _TEXT_FIELD_NAMES.get(tag, "field")
    if not (value.isascii() and value.isprintable()):
        return Invalid(tag, f"{name} ({tag}) must be printable ASCII (0x20-0x7E)")
    if len(value) > MAX_TEXT_LENGTH:
        return Invalid(tag, f"{name} ({tag}) is {len(value)} characters long: at most {MAX_TEXT_LENGTH}")
    return value


def invalid_text(msg: fix.Message, tags: tuple[int, ...]) -> Invalid | None:
    """The first of ``tags`` present in ``msg`` that ``text_field`` refuses, as an ``Invalid``."""
    for tag in tags:
        if msg.isSetField(tag):
            value = text_field(msg, tag)
            if isinstance(value, Invalid):
                return value
    return None


def parse_new_order(msg: fix.Message, session: str, default_account: str, now_ns: int) -> NewOrder | Invalid:
    """A NewOrderSingle as a ``NewOrder``. Required tags were checked by the data dictionary;
    this checks values and the tags that are required only in some cases."""
    cl_ord_id = text_field(msg, t.CL_ORD_ID)
    if isinstance(cl_ord_id, Invalid):
        return cl_ord_id
    symbol = text_field(msg, t.SYMBOL)
    if isinstance(symbol, Invalid):
        return symbol
    account = text_field(msg, t.ACCOUNT) if msg.isSetField(t.ACCOUNT) else default_account
    if isinstance(account, Invalid):
        return account
    side = t.SIDE_FROM_FIX.get(msg.getField(t.SIDE))
    if side is None:
        return Invalid(t.SIDE, f"Side (54) '{msg.getField(t.SIDE)}' not supported: use 1 (buy) or 2 (sell)")
    ord_type = t.ORD_TYPE_FROM_FIX.get(msg.getField(t.ORD_TYPE))
    if ord_type is None:
        return Invalid(
            t.ORD_TYPE, f"OrdType (40) '{msg.getField(t.ORD_TYPE)}' not supported: use 1 (market) or 2 (limit)"
        )
    if not msg.isSetField(t.ORDER_QTY):
        return Invalid(t.ORDER_QTY, "OrderQty (38) is required", t.BRR_CONDITIONALLY_REQUIRED_FIELD_MISSING)
    quantity = _decimal(msg, t.ORDER_QTY, "OrderQty")
    if isinstance(quantity, Invalid):
        return quantity
    if quantity <= 0:
        return Invalid(t.ORDER_QTY, f"OrderQty (38) {fmt(quantity)} must be positive")
    price: Decimal | None = None
    if ord_type is OrdType.LIMIT:
        if not msg.isSetField(t.PRICE):
            return Invalid(
                t.PRICE, "Price (44) is required for a limit order", t.BRR_CONDITIONALLY_REQUIRED_FIELD_MISSING
            )
        parsed = _decimal(msg, t.PRICE, "Price")
        if isinstance(parsed, Invalid):
            return parsed
        if parsed <= 0:
            return Invalid(t.PRICE, f"Price (44) {fmt(parsed)} must be positive")
        price = parsed
    tif = TimeInForce.DAY
    if msg.isSetField(t.TIME_IN_FORCE):
        code = msg.getField(t.TIME_IN_FORCE)
        found = t.TIF_FROM_FIX.get(code)
        if found is None:
            return Invalid(t.TIME_IN_FORCE, f"TimeInForce (59) '{code}' not supported: use 0, 1, 3 or 4")
        tif = found
    ex_destination: str | None = None
    if msg.isSetField(t.EX_DESTINATION):  # a venue's name: routed there unchanged (``oms.router``)
        destination = text_field(msg, t.EX_DESTINATION)
        if isinstance(destination, Invalid):
            return destination
        ex_destination = destination
    possible_resend = header_flag(msg, t.POSS_DUP_FLAG) or header_flag(msg, t.POSS_RESEND)
    return NewOrder(
        session=session,
        cl_ord_id=cl_ord_id,
        account=account,
        symbol=symbol,
        side=side,
        ord_type=ord_type,
        quantity=quantity,
        price=price,
        time_in_force=tif,
        received_ns=now_ns,
        possible_resend=possible_resend,
        sent_ns=sending_time_ns(msg),
        ex_destination=ex_destination,
    )


def _request_ids(msg: fix.Message) -> tuple[str, str] | Invalid:
    """ClOrdID and OrigClOrdID of a cancel or replace (both dictionary-required in 4.2 and 4.4; FIX 5.0
    SP2 makes OrigClOrdID optional, for a request naming the order by OrderID, which fixgate does not take)."""
    cl_ord_id = text_field(msg, t.CL_ORD_ID)
    if isinstance(cl_ord_id, Invalid):
        return cl_ord_id
    if not msg.isSetField(t.ORIG_CL_ORD_ID):
        return Invalid(t.ORIG_CL_ORD_ID, "OrigClOrdID (41) is required: fixgate finds the order by it",
                       t.BRR_CONDITIONALLY_REQUIRED_FIELD_MISSING)
    orig = text_field(msg, t.ORIG_CL_ORD_ID)
    if isinstance(orig, Invalid):
        return orig
    return cl_ord_id, orig


def parse_cancel(msg: fix.Message, session: str, now_ns: int) -> CancelOrder | Invalid:
    """An OrderCancelRequest as a ``CancelOrder``."""
    ids = _request_ids(msg)
    if isinstance(ids, Invalid):
        return ids
    return CancelOrder(session, ids[0], ids[1], now_ns)


def parse_replace(msg: fix.Message, session: str, now_ns: int) -> ReplaceOrder | Invalid:
    """An OrderCancelReplaceRequest as a ``ReplaceOrder``: the new quantity and price."""
    ids = _request_ids(msg)
    if isinstance(ids, Invalid):
        return ids
    if not msg.isSetField(t.ORDER_QTY):
        return Invalid(t.ORDER_QTY, "OrderQty (38) is required", t.BRR_CONDITIONALLY_REQUIRED_FIELD_MISSING)
    quantity = _decimal(msg, t.ORDER_QTY, "OrderQty")
    if isinstance(quantity, Invalid):
        return quantity
    if quantity <= 0:
        return Invalid(t.ORDER_QTY, f"OrderQty (38) {fmt(quantity)} must be positive")
    price: Decimal | None = None
    if msg.isSetField(t.PRICE):
        parsed = _decimal(msg, t.PRICE, "Price")
        if isinstance(parsed, Invalid):
            return parsed
        if parsed <= 0:
            return Invalid(t.PRICE, f"Price (44) {fmt(parsed)} must be positive")
        price = parsed
    return ReplaceOrder(session, ids[0], ids[1], quantity, price, now_ns)


def venue_change(change: VenueChange, now_ns: int) -> fix.Message:
    """The OrderCancelRequest or OrderCancelReplaceRequest fixgate sends to a venue."""
    replace = change.kind is RequestKind.REPLACE
    parts = [f"11={change.venue_cl_ord_id}\x0141={change.orig_venue_cl_ord_id}\x01"]
    if change.venue_order_id:
        parts.append(f"37={change.venue_order_id}\x01")
    parts.append(
        f"1={change.account}\x0155={change.symbol}\x0154={t.SIDE_TO_FIX[change.side]}\x01"
        f"60={utc_timestamp(now_ns)}\x0138={fmt(change.quantity)}\x01"
    )
    if replace:
        parts.append(f"21=1\x0140={t.ORD_TYPE_TO_FIX[change.ord_type]}\x01")
        if change.price is not None:
            parts.append(f"44={fmt(change.price)}\x01")
        parts.append(f"59={t.TIF_TO_FIX[change.time_in_force]}\x01")
    msg_type = t.MSG_ORDER_CANCEL_REPLACE_REQUEST if replace else t.MSG_ORDER_CANCEL_REQUEST
    return _message(msg_type, "".join(parts))


def venue_new_order(routed: Routed, now_ns: int) -> fix.Message:
    """The NewOrderSingle fixgate sends to a venue (valid in FIX 4.2 and 4.4)."""
    order = routed.order
    price = "" if order.price is None else f"44={fmt(order.price)}\x01"
    return _message(
        t.MSG_NEW_ORDER_SINGLE,
        f"11={routed.venue_cl_ord_id}\x011={order.account}\x0121=1\x0155={order.symbol}\x01"
        f"54={t.SIDE_TO_FIX[order.side]}\x0160={utc_timestamp(now_ns)}\x0138={fmt(order.quantity)}\x01"
        f"40={t.ORD_TYPE_TO_FIX[order.ord_type]}\x01{price}59={t.TIF_TO_FIX[order.time_in_force]}\x01",
    )


def venue_text(value: str) -> str:
    """A venue's string as the book can store it and a client report can carry it: itself if it is
    printable ASCII, else every byte outside 0x20-0x7E written as ``\\xNN``. A venue's report is a
    fact to book, not a message to refuse, so its ids and Text are escaped rather than rejected; the
    escape is the same every time, so a repeated report is still known as one. One rule for every
    string a venue sends that fixgate stores, logs as a fact or hands to a client: each venue parser
    reads its strings through ``venue_field``."""
    if value.isascii() and value.isprintable():
        return value
    raw = value.encode("utf-8", "surrogateescape")  # QuickFIX's lone surrogates back to the wire bytes
    return "".join(chr(b) if 0x20 <= b <= 0x7E else f"\\x{b:02x}" for b in raw)


def venue_field(msg: fix.FieldMap, tag: int) -> str | None:
    """A venue's string field through ``venue_text``; ``None`` when the field is absent."""
    return venue_text(msg.getField(tag)) if msg.isSetField(tag) else None


def _optional_decimal(msg: fix.Message, tag: int) -> Decimal:
    return Decimal(msg.getField(tag)) if msg.isSetField(tag) else _ZERO


# Wide enough for a bounded Commission (12) times any LastQty and LastPx a venue really sends; Inexact
# trapped, so a fee is exact or not taken, never rounded.
_COMMISSION_CONTEXT = Context(prec=100, traps=[InvalidOperation, Inexact, Overflow])


def commission(msg: fix.Message, venue: str, last_qty: Decimal, last_px: Decimal) -> Decimal | None:
    """A fill's fee in money from Commission (12) and CommType (13); ``None`` when the venue gave none.

    CommType 3 (absolute) is taken as it is, 1 (per unit) times LastQty, 2 (percent) as that percent
    of LastQty x LastPx, all exact. Without CommType the amount is taken as absolute: FIX leaves the
    default to the counterparties, and venues that leave it out state money. A negative amount (a
    rebate) is kept. A value that is not a number, not finite or out of range (a client's price's
    bounds: ``MAX_INTEGER_DIGITS``, ``MAX_DECIMAL_PLACES``), or a CommType fixgate cannot turn into
    money (4-6), is logged as an ERROR naming the venue and the value, and the fill goes on without a
    fee: a venue's report is a fact to book, never refused (``venue_text``)."""
    if not msg.isSetField(t.COMMISSION):
        return None
    raw = msg.getField(t.COMMISSION)
    comm_type = msg.getField(t.COMM_TYPE) if msg.isSetField(t.COMM_TYPE) else t.COMM_TYPE_ABSOLUTE
    amount = _commission_amount(raw, comm_type, last_qty, last_px)
    if isinstance(amount, Decimal):
        return amount
    log.error("venue %s: Commission (12) '%s' with CommType (13) '%s' on ExecID %s: %s; the fill is applied"
              " without a commission", venue, venue_text(raw), venue_text(comm_type),
              venue_field(msg, t.EXEC_ID), amount)
    return None


def _commission_amount(raw: str, comm_type: str, last_qty: Decimal, last_px: Decimal) -> Decimal | str:
    """The fee in money, or why there is none."""
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return "not a number"
    if not value.is_finite():
        return "not a finite number"
    if value.is_zero():
        return _ZERO  # however many zeros it was written with
    if value.adjusted() >= MAX_INTEGER_DIGITS or -value.as_tuple().exponent > MAX_DECIMAL_PLACES:  # type: ignore[operator]
        return (f"out of range: at most {MAX_INTEGER_DIGITS} digits before the decimal point and"
                f" {MAX_DECIMAL_PLACES} after")
    exact = _COMMISSION_CONTEXT
    try:
        if comm_type == t.COMM_TYPE_ABSOLUTE:
            amount = value
        elif comm_type == t.COMM_TYPE_PER_UNIT:
            amount = exact.multiply(value, last_qty)
        elif comm_type == t.COMM_TYPE_PERCENT:
            amount = exact.divide(exact.multiply(exact.multiply(last_qty, last_px), value), 100)
        else:
            return "a CommType fixgate does not turn into money"
    except DecimalException:
        return f"no exact amount with LastQty (32) {last_qty} and LastPx (31) {last_px}"
    if not amount.is_finite():  # a NaN or infinite LastQty or LastPx
        return f"no finite amount with LastQty (32) {last_qty} and LastPx (31) {last_px}"
    return amount


def parse_venue_report(msg: fix.Message, venue: str, begin_string: str, now_ns: int) -> VenueReport | Invalid:
    """A venue's ExecutionReport as a ``VenueReport``; a fill's fee from Commission (12) and CommType
    (13) (``commission``), read on fills only."""
    exec_type = msg.getField(t.EXEC_TYPE)
    kind = t.EXEC_TYPE_FROM_FIX.get(exec_type)
    if begin_string == t.FIX42 and msg.isSetField(t.EXEC_TRANS_TYPE) and msg.getField(t.EXEC_TRANS_TYPE) == "3":
        kind = ExecKind.ORDER_STATUS
    if kind is None:
        return Invalid(t.EXEC_TYPE, f"ExecType (150) '{venue_text(exec_type)}' not supported")
    status = t.ORD_STATUS_FROM_FIX.get(msg.getField(t.ORD_STATUS))
    if status is None:
        return Invalid(t.ORD_STATUS, f"OrdStatus (39) '{venue_text(msg.getField(t.ORD_STATUS))}' not supported")
    try:
        last_qty = _optional_decimal(msg, t.LAST_QTY)
        last_px = _optional_decimal(msg, t.LAST_PX)
        return VenueReport(
            venue=venue,
            # fixgate's own ClOrdIDs are printable ASCII and read as sent; one fixgate never sent (a
            # Replaced the book has no request for, ``OrderManager._adopt_replace``) is stored.
            venue_cl_ord_id=venue_text(msg.getField(t.CL_ORD_ID)),
            orig_venue_cl_ord_id=venue_field(msg, t.ORIG_CL_ORD_ID),
            venue_order_id=venue_text(msg.getField(t.ORDER_ID)),
            exec_id=venue_text(msg.getField(t.EXEC_ID)),
            kind=kind,
            status=status,
            last_qty=last_qty,
            last_px=last_px,
            cum_qty=Decimal(msg.getField(t.CUM_QTY)),
            leaves_qty=Decimal(msg.getField(t.LEAVES_QTY)),
            text=venue_field(msg, t.TEXT) or "",
            received_ns=now_ns,
            price=Decimal(msg.getField(t.PRICE))
            if kind is ExecKind.REPLACED and msg.isSetField(t.PRICE) else None,
            commission=commission(msg, venue, last_qty, last_px) if kind is ExecKind.TRADE else None,
        )
    except InvalidOperation:
        return Invalid(t.CUM_QTY, "a quantity or price field is not a number")


def client_execution_report(report: ClientReport, begin_string: str, now_ns: int) -> fix.Message:
    """The ExecutionReport a client is sent, in its session's FIX version."""
    parts = [f"37={report.order_id}\x0111={report.cl_ord_id}\x01"]
    if report.orig_cl_ord_id is not None:
        parts.append(f"41={report.orig_cl_ord_id}\x01")
    parts.append(f"17={report.exec_id}\x01")
    if begin_string == t.FIX42:
        parts.append("20=3\x01" if report.kind is ExecKind.ORDER_STATUS else "20=0\x01")
    parts.append(
        f"150={t.exec_type_to_fix(report.kind, report.status, begin_string)}\x01"
        f"39={t.ORD_STATUS_TO_FIX[report.status]}\x011={report.account}\x0155={report.symbol}\x01"
        f"54={t.SIDE_TO_FIX[report.side]}\x0138={fmt(report.quantity)}\x01"
        f"40={t.ORD_TYPE_TO_FIX[report.ord_type]}\x01"
    )
    if report.price is not None:
        parts.append(f"44={fmt(report.price)}\x01")
    if report.kind is ExecKind.TRADE:
        parts.append(f"32={fmt(report.last_qty)}\x0131={fmt(report.last_px)}\x01")
        if report.last_mkt:
            parts.append(f"30={report.last_mkt}\x01")
        if report.commission is not None:  # the venue's fee, as money whatever CommType it used
            parts.append(f"12={fmt(report.commission)}\x0113={t.COMM_TYPE_ABSOLUTE}\x01")
    parts.append(
        f"14={fmt(report.cum_qty)}\x01151={fmt(report.leaves_qty)}\x016={fmt(report.avg_px)}\x01"
        f"60={utc_timestamp(now_ns)}\x01"
    )
    if report.text:
        parts.append(f"58={report.text}\x01")
    return _message(t.MSG_EXECUTION_REPORT, "".join(parts))


def venue_status_request(order: OrderRecord) -> fix.Message:
    """An OrderStatusRequest for one of fixgate's orders at its venue (reconciliation)."""
    msg = fix.Message()
    msg.getHeader().setField(t.MSG_TYPE, t.MSG_ORDER_STATUS_REQUEST)
    msg.setField(t.CL_ORD_ID, order.venue_cl_ord_id)
    if order.venue_order_id:
        msg.setField(t.ORDER_ID, order.venue_order_id)
    msg.setField(t.SYMBOL, order.symbol)
    msg.setField(t.SIDE, t.SIDE_TO_FIX[order.side])
    return msg


def parse_venue_cancel_reject(msg: fix.Message, venue: str, now_ns: int) -> VenueCancelReject:
    """A venue's OrderCancelReject as a ``VenueCancelReject``."""
    return VenueCancelReject(
        venue=venue,
        venue_cl_ord_id=venue_text(msg.getField(t.CL_ORD_ID)),
        orig_venue_cl_ord_id=venue_text(msg.getField(t.ORIG_CL_ORD_ID)),
        text=venue_field(msg, t.TEXT) or "",
        received_ns=now_ns,
        # Only "unknown order" changes what fixgate does (it asks the venue for the order's status).
        reason=(CancelRejectReason.UNKNOWN_ORDER
                if msg.isSetField(t.CXL_REJ_REASON) and msg.getField(t.CXL_REJ_REASON) == "1" else None),
    )


@dataclass(frozen=True, slots=True)
class VenueRejection:
    """A venue's session-level Reject (35=3) or BusinessMessageReject (35=j) of a message fixgate
    sent, as read: what it names the refused message by, and why in words (``reason``)."""

    session_level: bool
    ref_seq_num: int | None  # RefSeqNum (45): the refused message's MsgSeqNum
    ref_msg_type: str | None  # RefMsgType (372)
    ref_id: str | None  # BusinessRejectRefID (379): the request's ClOrdID, or MDReqID
    reason: str


def parse_venue_rejection(msg: fix.Message) -> VenueRejection:
    """A venue's 35=3 or 35=j: its reason as ``tag 40 value is incorrect ...: <Text>`` (session level)
    or its Text, else the named BusinessRejectReason (business level)."""
    session_level = msg.getHeader().getField(t.MSG_TYPE) == t.MSG_REJECT
    text = venue_field(msg, t.TEXT) or ""
    if session_level:
        parts = []
        if msg.isSetField(t.REF_TAG_ID):
            parts.append(f"tag {venue_text(msg.getField(t.REF_TAG_ID))}")
        if msg.isSetField(t.SESSION_REJECT_REASON):
            code = venue_text(msg.getField(t.SESSION_REJECT_REASON))
            parts.append(t.SESSION_REJECT_REASONS.get(code, f"SessionRejectReason {code}"))
        reason = ": ".join(part for part in (" ".join(parts), text) if part) or "session-level reject"
    else:
        code = venue_field(msg, t.BUSINESS_REJECT_REASON) or ""
        reason = text or t.BUSINESS_REJECT_REASONS.get(code, f"BusinessRejectReason {code or 'missing'}")
    raw_seq = msg.getField(t.REF_SEQ_NUM) if msg.isSetField(t.REF_SEQ_NUM) else ""
    return VenueRejection(
        session_level=session_level,
        ref_seq_num=int(raw_seq) if raw_seq.isascii() and raw_seq.isdigit() else None,
        ref_msg_type=venue_field(msg, t.REF_MSG_TYPE),
        ref_id=venue_field(msg, t.BUSINESS_REJECT_REF_ID),
        reason=reason,
    )


def client_cancel_reject(reject: ClientCancelReject, begin_string: str) -> fix.Message:
    """The OrderCancelReject (35=9) a client is sent, with its own ids."""
    msg = fix.Message()
    msg.getHeader().setField(t.MSG_TYPE, t.MSG_ORDER_CANCEL_REJECT)
    msg.setField(t.ORDER_ID, "NONE" if reject.order_id is None else str(reject.order_id))
    msg.setField(t.CL_ORD_ID, reject.cl_ord_id)
    msg.setField(t.ORIG_CL_ORD_ID, reject.orig_cl_ord_id)
    msg.setField(t.ORD_STATUS, t.ORD_STATUS_TO_FIX[reject.status])
    msg.setField(t.CXL_REJ_RESPONSE_TO, t.CXL_REJ_RESPONSE_TO_FIX[reject.response_to])
    msg.setField(t.CXL_REJ_REASON, t.cxl_rej_reason_to_fix(reject.reason, begin_string))
    msg.setField(t.TEXT, reject.text)
    return msg


def refused_order_report(order: NewOrder, begin_string: str, text: str, now_ns: int) -> fix.Message:
    """The ExecutionReport (39=8, 150=8) refusing a NewOrderSingle at the edge, before the OMS saw it
    (an account the session is not entitled to): no order id (37=NONE), the reason in Text."""
    price = "" if order.price is None else f"44={fmt(order.price)}\x01"
    trans_type = "20=0\x01" if begin_string == t.FIX42 else ""
    return _message(
        t.MSG_EXECUTION_REPORT,
        f"37=NONE\x0111={order.cl_ord_id}\x0117=FIXGATE-REFUSED-{now_ns}\x01{trans_type}150=8\x0139=8\x01"
        f"1={order.account}\x0155={order.symbol}\x0154={t.SIDE_TO_FIX[order.side]}\x01"
        f"38={fmt(order.quantity)}\x0140={t.ORD_TYPE_TO_FIX[order.ord_type]}\x01{price}"
        f"14=0\x01151=0\x016=0\x01"
        f"60={utc_timestamp(now_ns)}\x0158={text}\x01",
    )


def unknown_order_status(
    request: fix.Message, begin_string: str, now_ns: int, text: str | None = None
) -> fix.Message:
    """The answer to an OrderStatusRequest for a ClOrdID fixgate does not know (or will not tell:
    ``text`` says why)."""
    cl_ord_id = request.getField(t.CL_ORD_ID)
    msg = fix.Message()
    msg.getHeader().setField(t.MSG_TYPE, t.MSG_EXECUTION_REPORT)
    msg.setField(t.ORDER_ID, "NONE")
    msg.setField(t.CL_ORD_ID, cl_ord_id)
    msg.setField(t.EXEC_ID, f"FIXGATE-STATUS-{now_ns}")
    if begin_string == t.FIX42:
        msg.setField(t.EXEC_TRANS_TYPE, "3")
        msg.setField(t.EXEC_TYPE, "8")
    else:
        msg.setField(t.EXEC_TYPE, "I")
    msg.setField(t.ORD_STATUS, "8")
    if request.isSetField(t.SYMBOL):
        msg.setField(t.SYMBOL, request.getField(t.SYMBOL))
    msg.setField(t.SIDE, request.getField(t.SIDE))
    msg.setField(t.LEAVES_QTY, "0")
    msg.setField(t.CUM_QTY, "0")
    msg.setField(t.AVG_PX, "0")
    msg.setField(t.TRANSACT_TIME, utc_timestamp(now_ns))
    msg.setField(t.TEXT, f"unknown order ClOrdID {cl_ord_id}" if text is None else text)
    return msg


def mass_cancel_report(
    request: fix.Message, begin_string: str, response: str, affected: int, text: str,
    reject_reason: str | None = None,
) -> fix.Message:
    """The OrderMassCancelReport (35=r) answering an OrderMassCancelRequest."""
    msg = fix.Message()
    msg.getHeader().setField(t.MSG_TYPE, t.MSG_ORDER_MASS_CANCEL_REPORT)
    msg.setField(t.CL_ORD_ID, request.getField(t.CL_ORD_ID))
    report_id = f"MC-{request.getField(t.CL_ORD_ID)}"
    msg.setField(t.ORDER_ID, report_id)
    if begin_string == t.FIXT11:
        msg.setField(t.MASS_ACTION_REPORT_ID, report_id)  # required in 5.0 SP2, unknown to 4.4
    msg.setField(t.MASS_CANCEL_REQUEST_TYPE, request.getField(t.MASS_CANCEL_REQUEST_TYPE))
    msg.setField(t.MASS_CANCEL_RESPONSE, response)
    if reject_reason is not None:
        msg.setField(t.MASS_CANCEL_REJECT_REASON, reject_reason)
    msg.setField(t.TOTAL_AFFECTED_ORDERS, str(affected))
    if request.isSetField(t.SYMBOL):
        msg.setField(t.SYMBOL, request.getField(t.SYMBOL))
    msg.setField(t.TEXT, text)
    return msg


def foreign_appl_ver_id(message: fix.Message) -> Invalid | None:
    """Why a FIXT.1.1 client message that names an application version (ApplVerID 1128) other than FIX
    5.0 SP2 is refused, else ``None``. QuickFIX validates such a message against the dictionary of
    the version it names, and with none configured for it (fixgate configures FIX50SP2.xml only),
    against nothing at all: it must not go further. (A FIX 4.x dictionary has no tag 1128, so there
    QuickFIX refuses it first.)"""
    header = message.getHeader()
    if not header.isSetField(t.APPL_VER_ID):
        return None
    value = header.getField(t.APPL_VER_ID)
    if value == t.APPL_VER_FIX50SP2:
        return None
    shown = value if value.isascii() and value.isprintable() and len(value) <= 8 else "given"
    return Invalid(t.APPL_VER_ID, f"ApplVerID (1128) {shown} not supported: this session speaks"
                                  f" {t.APPL_VER_FIX50SP2} ({t.FIX50SP2})")


def session_reject(ref_msg: fix.Message, invalid: Invalid, reason: str) -> fix.Message:
    """A session-level Reject (35=3) of ``ref_msg``: RefTagID (371) the tag, SessionRejectReason
    (373) ``reason``, Text why."""
    msg = fix.Message()
    header = ref_msg.getHeader()
    msg.getHeader().setField(t.MSG_TYPE, t.MSG_REJECT)
    msg.setField(t.REF_SEQ_NUM, header.getField(t.MSG_SEQ_NUM))
    msg.setField(t.REF_TAG_ID, str(invalid.tag))
    msg.setField(t.REF_MSG_TYPE, header.getField(t.MSG_TYPE))
    msg.setField(t.SESSION_REJECT_REASON, reason)
    msg.setField(t.TEXT, invalid.text)
    return msg


def business_reject(ref_msg: fix.Message, invalid: Invalid, ref_id_tag: int) -> fix.Message:
    """A BusinessMessageReject (35=j) answering ``ref_msg``: names the tag and says why."""
    msg = fix.Message()
    header = ref_msg.getHeader()
    msg.getHeader().setField(t.MSG_TYPE, t.MSG_BUSINESS_MESSAGE_REJECT)
    msg.setField(t.REF_SEQ_NUM, header.getField(t.MSG_SEQ_NUM))
    msg.setField(t.REF_MSG_TYPE, header.getField(t.MSG_TYPE))
    if ref_msg.isSetField(ref_id_tag):
        ref_id = text_field(ref_msg, ref_id_tag)
        if not isinstance(ref_id, Invalid):  # a bad id is not echoed: the Text names its tag instead
            msg.setField(t.BUSINESS_REJECT_REF_ID, ref_id)
    msg.setField(t.BUSINESS_REJECT_REASON, invalid.business_reason)
    msg.setField(t.TEXT, invalid.text)
    return msg


_DAY_NS: dict[str, int] = {}  # "YYYYMMDD" -> its UTC midnight in epoch ns; a day or two at a time


def sending_time_ns(message: fix.Message) -> int:
    """SendingTime (52) as epoch nanoseconds, 0 when it is not a UTCTimestamp (QuickFIX has checked
    it against the dictionary already). About a microsecond: the day is parsed once."""
    header = message.getHeader()
    if not header.isSetField(t.SENDING_TIME):
        return 0
    text = header.getField(t.SENDING_TIME)
    day = _DAY_NS.get(text[:8])
    try:
        if day is None:
            day = int(datetime.strptime(text[:8], "%Y%m%d").replace(tzinfo=UTC).timestamp()) * 1_000_000_000
            if len(_DAY_NS) > 3:
                _DAY_NS.clear()
            _DAY_NS[text[:8]] = day
        seconds = int(text[9:11]) * 3600 + int(text[12:14]) * 60 + int(text[15:17])
        fraction = text[18:27]
        return day + seconds * 1_000_000_000 + (int(fraction.ljust(9, "0")) if fraction else 0)
    except ValueError:
        return 0


def header_flag(message: fix.Message, tag: int) -> bool:
    """Whether a Boolean header field (PossDupFlag 43, PossResend 97) is set to Y."""
    header = message.getHeader()
    return bool(header.isSetField(tag) and header.getField(tag) == "Y")
