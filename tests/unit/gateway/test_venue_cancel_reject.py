"""A venue's OrderCancelReject translated: its CxlRejReason "unknown order" reaches the OMS, and the
status request it owes goes to that venue's session alone."""

from decimal import Decimal as D

import quickfix as fix

from domain.model import (
    CancelOrder,
    CancelRejectReason,
    ClientCancelReject,
    ClientReport,
    ExecKind,
    Instrument,
    NewOrder,
    OrderStatus,
    OrdType,
    Routed,
    Side,
    StatusRequest,
    TimeInForce,
    VenueCancelReject,
    VenueChange,
    VenueReport,
)
from gateway.dispatch import Dispatcher
from gateway.translate import parse_venue_cancel_reject
from gateway.venues import VenueApplication
from oms.manager import OrderManager
from oms.router import Router
from risk import PreTradeRisk, risk_config_from_mapping
from tests.support import only


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


# -- "unknown order": the status check goes to the order's venue ------------------------------------

INSTRUMENTS = {"AAPL": Instrument("AAPL", "SIM", D("0.01"), D(1), D(190)),
               "MSFT": Instrument("MSFT", "OTHER", D("0.01"), D(1), D(400))}
SESSION = "FIX.4.4:FIXGATE->CLIENT1"


class RecordingVenues(VenueApplication):
    """The venue application over a real OMS and the real dispatcher, with what it hands to venue
    sessions kept (no session is up in a unit test; client messages are dropped)."""

    def __init__(self, oms: OrderManager, router: Router) -> None:
        dispatcher = Dispatcher(oms)
        super().__init__(oms, router, dispatcher.carry_out)
        dispatcher.bind(self, self)  # type: ignore[arg-type]
        self.sent: list[tuple[str, str, str]] = []
        for venue in ("SIM", "OTHER"):  # sessions made, so that what is sent reaches _send_new
            self.onCreate(fix.SessionID("FIX.4.4", "FIXGATE", venue))

    def send_report(self, report: ClientReport) -> None:
        pass

    def send_cancel_reject(self, reject: ClientCancelReject) -> None:
        pass

    def _send_new(self, venue: str, session_id: fix.SessionID, msg: fix.Message, msg_type: str,
                  ref_id: str) -> bool:
        self.sent.append((venue, msg_type, ref_id))
        return True


def acknowledged(oms: OrderManager, cl_ord_id: str, symbol: str) -> tuple[Routed, VenueChange]:
    """An order its venue acknowledged, with a cancel of it on its way."""
    price = INSTRUMENTS[symbol].reference_price
    [routed] = oms.submit(NewOrder(SESSION, cl_ord_id, "ACC", symbol, Side.BUY, OrdType.LIMIT, D(10), price,
                                 TimeInForce.DAY, 1))
    assert isinstance(routed, Routed)
    oms.apply(VenueReport(routed.venue, routed.venue_cl_ord_id, None, "V" + cl_ord_id, "e" + cl_ord_id,
                          ExecKind.NEW, OrderStatus.NEW, D(0), D(0), D(0), D(10), "", 2))
    _, change = oms.request_cancel(CancelOrder(SESSION, cl_ord_id + "-x", cl_ord_id, 3))
    assert isinstance(change, VenueChange)
    return routed, change


def test_a_status_check_owed_to_one_venue_is_never_sent_to_another() -> None:
    router = Router(INSTRUMENTS)
    router.set_venue_up("SIM", True)
    router.set_venue_up("OTHER", True)
    oms = OrderManager(instruments=INSTRUMENTS, risk=PreTradeRisk(INSTRUMENTS, risk_config_from_mapping({})),
                       router=router, sink=lambda records, owed=(): None)
    app = RecordingVenues(oms, router)
    at_sim, sim_cancel = acknowledged(oms, "c1", "AAPL")
    _, other_cancel = acknowledged(oms, "c2", "MSFT")
    # SIM's thread has applied its "unknown order" cancel reject and not yet sent the check it owes...
    effects = oms.apply_cancel_reject(VenueCancelReject("SIM", sim_cancel.venue_cl_ord_id, at_sim.venue_cl_ord_id,
                                              "unknown order", 4, CancelRejectReason.UNKNOWN_ORDER))
    # ... when OTHER's thread applies a cancel reject of its own.
    refused = fix.Message()
    refused.getHeader().setField(35, "9")
    for tag, value in ((37, "Vc2"), (11, other_cancel.venue_cl_ord_id), (41, other_cancel.orig_venue_cl_ord_id),
                       (39, "0"), (434, "1"), (102, "0"), (58, "too late")):
        refused.setField(tag, value)
    app.fromApp(refused, fix.SessionID("FIX.4.4", "FIXGATE", "OTHER"))
    assert [s for s in app.sent if s[1] == "H"] == []  # SIM's order was never asked about at OTHER
    owed = only(effects, StatusRequest).order  # still owed, to SIM
    assert (owed.order_id, owed.venue) == (at_sim.order_id, "SIM")
    app._dispatch(effects)  # SIM's thread carries it out: to SIM
    assert [s for s in app.sent if s[1] == "H"] == [("SIM", "H", at_sim.venue_cl_ord_id)]
