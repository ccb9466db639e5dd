"""A venue's OrderCancelReject translated: its CxlRejReason "unknown order" reaches the OMS."""

import quickfix as fix

from gateway.translate import parse_venue_cancel_reject
from oms.model import CancelRejectReason


def cancel_reject(reason: str | None) -> fix.Message:
    msg = fix.Message()
    msg.getHeader().setField(35, "9")
    for tag, value in ((37, "NONE"), (11, "FG1R5"), (41, "FG1"), (39, "8"), (434, "1"), (58, "unknown order FG1")):
        msg.setField(tag, value)
    if reason is not None:
        msg.setField(102, reason)
    return msg


def test_unknown_order_is_read_from_cxl_rej_reason() -> None:
    reject = parse_venue_cancel_reject(cancel_reject("1"), "SIM", 7)
    assert (reject.venue_cl_ord_id, reject.orig_venue_cl_ord_id, reject.reason) == (
        "FG1R5", "FG1", CancelRejectReason.UNKNOWN_ORDER)


def test_other_or_no_reason_is_none() -> None:
    assert parse_venue_cancel_reject(cancel_reject("0"), "SIM", 7).reason is None
    assert parse_venue_cancel_reject(cancel_reject(None), "SIM", 7).reason is None
