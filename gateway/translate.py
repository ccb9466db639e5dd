"""FIX <-> domain translation at the edge, for FIX 4.2 and 4.4. Integer tags only (hot path)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import quickfix as fix

from gateway import fixspec as t
from oms.manager import Routed, VenueChange
from oms.model import (
    CancelOrder,
    ClientCancelReject,
    ClientReport,
    ExecKind,
    NewOrder,
    OrderRecord,
    OrdType,
    ReplaceOrder,
    RequestKind,
    TimeInForce,
    VenueCancelReject,
    VenueReport,
)

_ZERO = Decimal(0)


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


def utc_timestamp(ns: int | None = None) -> str:
    """FIX UTCTimestamp with milliseconds."""
    ns = time.time_ns() if ns is None else ns
    seconds, rest = divmod(ns, 1_000_000_000)
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(seconds)) + f".{rest // 1_000_000:03d}"


def _decimal(msg: fix.Message, tag: int, name: str) -> Decimal | Invalid:
    raw = msg.getField(tag)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return Invalid(tag, f"{name} ({tag}) '{raw}' is not a number")
    if not value.is_finite():
        return Invalid(tag, f"{name} ({tag}) '{raw}' is not a finite number")
    return value


def parse_new_order(msg: fix.Message, session: str, default_account: str, now_ns: int) -> NewOrder | Invalid:
    """A NewOrderSingle as a ``NewOrder``. Required tags were checked by the data dictionary;
    this checks values and the tags that are required only in some cases."""
    cl_ord_id = msg.getField(t.CL_ORD_ID)
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
    account = msg.getField(t.ACCOUNT) if msg.isSetField(t.ACCOUNT) else default_account
    header = msg.getHeader()
    possible_resend = (header.isSetField(t.POSS_DUP_FLAG) and header.getField(t.POSS_DUP_FLAG) == "Y") or (
        header.isSetField(t.POSS_RESEND) and header.getField(t.POSS_RESEND) == "Y"
    )
    return NewOrder(
        session=session,
        cl_ord_id=cl_ord_id,
        account=account,
        symbol=msg.getField(t.SYMBOL),
        side=side,
        ord_type=ord_type,
        quantity=quantity,
        price=price,
        time_in_force=tif,
        received_ns=now_ns,
        possible_resend=possible_resend,
    )


def parse_cancel(msg: fix.Message, session: str, now_ns: int) -> CancelOrder:
    """An OrderCancelRequest as a ``CancelOrder`` (ClOrdID and OrigClOrdID are dictionary-required)."""
    return CancelOrder(session, msg.getField(t.CL_ORD_ID), msg.getField(t.ORIG_CL_ORD_ID), now_ns)


def parse_replace(msg: fix.Message, session: str, now_ns: int) -> ReplaceOrder | Invalid:
    """An OrderCancelReplaceRequest as a ``ReplaceOrder``: the new quantity and price."""
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
    return ReplaceOrder(
        session, msg.getField(t.CL_ORD_ID), msg.getField(t.ORIG_CL_ORD_ID), quantity, price, now_ns
    )


def venue_change(change: VenueChange, now_ns: int) -> fix.Message:
    """The OrderCancelRequest or OrderCancelReplaceRequest fixgate sends to a venue."""
    msg = fix.Message()
    replace = change.kind is RequestKind.REPLACE
    msg.getHeader().setField(
        t.MSG_TYPE, t.MSG_ORDER_CANCEL_REPLACE_REQUEST if replace else t.MSG_ORDER_CANCEL_REQUEST
    )
    msg.setField(t.CL_ORD_ID, change.venue_cl_ord_id)
    msg.setField(t.ORIG_CL_ORD_ID, change.orig_venue_cl_ord_id)
    if change.venue_order_id:
        msg.setField(t.ORDER_ID, change.venue_order_id)
    msg.setField(t.ACCOUNT, change.account)
    msg.setField(t.SYMBOL, change.symbol)
    msg.setField(t.SIDE, t.SIDE_TO_FIX[change.side])
    msg.setField(t.TRANSACT_TIME, utc_timestamp(now_ns))
    msg.setField(t.ORDER_QTY, fmt(change.quantity))
    if replace:
        msg.setField(t.HANDL_INST, "1")
        msg.setField(t.ORD_TYPE, t.ORD_TYPE_TO_FIX[change.ord_type])
        if change.price is not None:
            msg.setField(t.PRICE, fmt(change.price))
        msg.setField(t.TIME_IN_FORCE, t.TIF_TO_FIX[change.time_in_force])
    return msg


def venue_new_order(routed: Routed, now_ns: int) -> fix.Message:
    """The NewOrderSingle fixgate sends to a venue (valid in FIX 4.2 and 4.4)."""
    order = routed.order
    msg = fix.Message()
    msg.getHeader().setField(t.MSG_TYPE, t.MSG_NEW_ORDER_SINGLE)
    msg.setField(t.CL_ORD_ID, routed.venue_cl_ord_id)
    msg.setField(t.ACCOUNT, order.account)
    msg.setField(t.HANDL_INST, "1")
    msg.setField(t.SYMBOL, order.symbol)
    msg.setField(t.SIDE, t.SIDE_TO_FIX[order.side])
    msg.setField(t.TRANSACT_TIME, utc_timestamp(now_ns))
    msg.setField(t.ORDER_QTY, fmt(order.quantity))
    msg.setField(t.ORD_TYPE, t.ORD_TYPE_TO_FIX[order.ord_type])
    if order.price is not None:
        msg.setField(t.PRICE, fmt(order.price))
    msg.setField(t.TIME_IN_FORCE, t.TIF_TO_FIX[order.time_in_force])
    return msg


def _optional_decimal(msg: fix.Message, tag: int) -> Decimal:
    return Decimal(msg.getField(tag)) if msg.isSetField(tag) else _ZERO


def parse_venue_report(msg: fix.Message, venue: str, begin_string: str, now_ns: int) -> VenueReport | Invalid:
    """A venue's ExecutionReport as a ``VenueReport``."""
    exec_type = msg.getField(t.EXEC_TYPE)
    kind = t.EXEC_TYPE_FROM_FIX.get(exec_type)
    if begin_string == t.FIX42 and msg.isSetField(t.EXEC_TRANS_TYPE) and msg.getField(t.EXEC_TRANS_TYPE) == "3":
        kind = ExecKind.ORDER_STATUS
    if kind is None:
        return Invalid(t.EXEC_TYPE, f"ExecType (150) '{exec_type}' not supported")
    status = t.ORD_STATUS_FROM_FIX.get(msg.getField(t.ORD_STATUS))
    if status is None:
        return Invalid(t.ORD_STATUS, f"OrdStatus (39) '{msg.getField(t.ORD_STATUS)}' not supported")
    try:
        return VenueReport(
            venue=venue,
            venue_cl_ord_id=msg.getField(t.CL_ORD_ID),
            orig_venue_cl_ord_id=msg.getField(t.ORIG_CL_ORD_ID) if msg.isSetField(t.ORIG_CL_ORD_ID) else None,
            venue_order_id=msg.getField(t.ORDER_ID),
            exec_id=msg.getField(t.EXEC_ID),
            kind=kind,
            status=status,
            last_qty=_optional_decimal(msg, t.LAST_QTY),
            last_px=_optional_decimal(msg, t.LAST_PX),
            cum_qty=Decimal(msg.getField(t.CUM_QTY)),
            leaves_qty=Decimal(msg.getField(t.LEAVES_QTY)),
            text=msg.getField(t.TEXT) if msg.isSetField(t.TEXT) else "",
            received_ns=now_ns,
        )
    except InvalidOperation:
        return Invalid(t.CUM_QTY, "a quantity or price field is not a number")


def client_execution_report(report: ClientReport, begin_string: str, now_ns: int) -> fix.Message:
    """The ExecutionReport a client is sent, in its session's FIX version."""
    msg = fix.Message()
    msg.getHeader().setField(t.MSG_TYPE, t.MSG_EXECUTION_REPORT)
    msg.setField(t.ORDER_ID, str(report.order_id))
    msg.setField(t.CL_ORD_ID, report.cl_ord_id)
    if report.orig_cl_ord_id is not None:
        msg.setField(t.ORIG_CL_ORD_ID, report.orig_cl_ord_id)
    msg.setField(t.EXEC_ID, report.exec_id)
    if begin_string == t.FIX42:
        msg.setField(t.EXEC_TRANS_TYPE, "3" if report.kind is ExecKind.ORDER_STATUS else "0")
    msg.setField(t.EXEC_TYPE, t.exec_type_to_fix(report.kind, report.status, begin_string))
    msg.setField(t.ORD_STATUS, t.ORD_STATUS_TO_FIX[report.status])
    msg.setField(t.ACCOUNT, report.account)
    msg.setField(t.SYMBOL, report.symbol)
    msg.setField(t.SIDE, t.SIDE_TO_FIX[report.side])
    msg.setField(t.ORDER_QTY, fmt(report.quantity))
    msg.setField(t.ORD_TYPE, t.ORD_TYPE_TO_FIX[report.ord_type])
    if report.price is not None:
        msg.setField(t.PRICE, fmt(report.price))
    if report.kind is ExecKind.TRADE:
        msg.setField(t.LAST_QTY, fmt(report.last_qty))
        msg.setField(t.LAST_PX, fmt(report.last_px))
    msg.setField(t.CUM_QTY, fmt(report.cum_qty))
    msg.setField(t.LEAVES_QTY, fmt(report.leaves_qty))
    msg.setField(t.AVG_PX, fmt(report.avg_px))
    msg.setField(t.TRANSACT_TIME, utc_timestamp(now_ns))
    if report.text:
        msg.setField(t.TEXT, report.text)
    return msg


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
        venue_cl_ord_id=msg.getField(t.CL_ORD_ID),
        orig_venue_cl_ord_id=msg.getField(t.ORIG_CL_ORD_ID),
        text=msg.getField(t.TEXT) if msg.isSetField(t.TEXT) else "",
        received_ns=now_ns,
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


def unknown_order_status(request: fix.Message, begin_string: str, now_ns: int) -> fix.Message:
    """The answer to an OrderStatusRequest for a ClOrdID fixgate does not know."""
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
    msg.setField(t.TEXT, f"unknown order ClOrdID {cl_ord_id}")
    return msg


def mass_cancel_report(
    request: fix.Message, response: str, affected: int, text: str, reject_reason: str | None = None
) -> fix.Message:
    """The OrderMassCancelReport (35=r) answering an OrderMassCancelRequest."""
    msg = fix.Message()
    msg.getHeader().setField(t.MSG_TYPE, t.MSG_ORDER_MASS_CANCEL_REPORT)
    msg.setField(t.CL_ORD_ID, request.getField(t.CL_ORD_ID))
    msg.setField(t.ORDER_ID, f"MC-{request.getField(t.CL_ORD_ID)}")
    msg.setField(t.MASS_CANCEL_REQUEST_TYPE, request.getField(t.MASS_CANCEL_REQUEST_TYPE))
    msg.setField(t.MASS_CANCEL_RESPONSE, response)
    if reject_reason is not None:
        msg.setField(t.MASS_CANCEL_REJECT_REASON, reject_reason)
    msg.setField(t.TOTAL_AFFECTED_ORDERS, str(affected))
    if request.isSetField(t.SYMBOL):
        msg.setField(t.SYMBOL, request.getField(t.SYMBOL))
    msg.setField(t.TEXT, text)
    return msg


def business_reject(ref_msg: fix.Message, invalid: Invalid, ref_id_tag: int) -> fix.Message:
    """A BusinessMessageReject (35=j) answering ``ref_msg``: names the tag and says why."""
    msg = fix.Message()
    header = ref_msg.getHeader()
    msg.getHeader().setField(t.MSG_TYPE, t.MSG_BUSINESS_MESSAGE_REJECT)
    msg.setField(t.REF_SEQ_NUM, header.getField(t.MSG_SEQ_NUM))
    msg.setField(t.REF_MSG_TYPE, header.getField(t.MSG_TYPE))
    if ref_msg.isSetField(ref_id_tag):
        msg.setField(t.BUSINESS_REJECT_REF_ID, ref_msg.getField(ref_id_tag))
    msg.setField(t.BUSINESS_REJECT_REASON, invalid.business_reason)
    msg.setField(t.TEXT, invalid.text)
    return msg
