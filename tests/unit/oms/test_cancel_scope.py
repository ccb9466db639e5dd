"""``cancel_orders`` by client CompID: the client's sessions of every FIX version, nobody else's."""

from __future__ import annotations

from decimal import Decimal as D

from domain.model import Instrument, NewOrder, OrdType, RequestKind, Routed, Side, TimeInForce, VenueChange
from oms.manager import OrderManager
from oms.router import Router
from risk import PreTradeRisk, RiskConfig
from tests.support import of

INSTRUMENTS = {"AAPL": Instrument("AAPL", "SIM", D("0.01"), D(1), D(190))}


def test_cancel_orders_of_a_comp_id_matches_its_sessions_of_both_versions_only() -> None:
    router = Router(INSTRUMENTS)
    router.set_venue_up("SIM", True)
    oms = OrderManager(instruments=INSTRUMENTS, risk=PreTradeRisk(INSTRUMENTS, RiskConfig()), router=router,
                       sink=lambda records, owed=(): None, clock_ns=lambda: 42)
    ids = {}
    for n, session in enumerate(("FIX.4.4:FIXGATE->CLIENT1", "FIX.4.2:FIXGATE->CLIENT1",
                                 "FIX.4.4:FIXGATE->CLIENT10", "FIX.4.4:FIXGATE->CLIENT2")):
        [routed] = oms.submit(NewOrder(session, f"c{n}", "ACC", "AAPL", Side.BUY, OrdType.LIMIT, D(10),
                                     D(189), TimeInForce.DAY, 1))
        assert isinstance(routed, Routed)
        ids[session] = routed.order_id

    changes = of(oms.cancel_orders(comp_id="CLIENT1"), VenueChange)
    assert sorted(c.order_id for c in changes) == sorted(
        [ids["FIX.4.4:FIXGATE->CLIENT1"], ids["FIX.4.2:FIXGATE->CLIENT1"]]
    )
    assert all(c.kind is RequestKind.CANCEL for c in changes)
    # Their cancels are pending now: a second sweep leaves them to it, and other clients are untouched.
    assert oms.cancel_orders(comp_id="CLIENT1") == []
    assert [c.order_id for c in of(oms.cancel_orders(comp_id="CLIENT2"), VenueChange)] == [ids["FIX.4.4:FIXGATE->CLIENT2"]]
