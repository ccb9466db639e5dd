"""Market data from the venue moves fixgate's marks: unrealized P&L and risk's reference price follow
trades the gateway took no part in."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import httpx

from fixgate.app import Fixgate
from fixgate.fixclient import FixClient
from simulator.venue import Simulator
from tests.support import eventually
from tests.support import order_fields as new_order

Connect = Callable[..., FixClient]


def _position(rest: httpx.Client) -> dict[str, Any]:
    (position,) = rest.get("/positions", params={"account": "CLIENT1", "symbol": "AAPL"}).json()
    return dict(position)


def test_a_trade_elsewhere_on_the_venue_moves_the_mark_and_unrealized_pnl(
    connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    client = connect()
    client.send("D", new_order("md-1", 100, "190.01"))  # takes the seeded ask
    fill = client.expect("8", where={11: "md-1", 39: "2"})
    assert fill.decimal(31) == D("190.01")
    position = eventually(lambda: _position_or_none(rest), lambda p: p is not None and p["mark_price"] == "190.01")
    assert D(position["unrealized_pnl"]) == 0

    # Another member of the venue sells into the seeded bid: fixgate is not part of the trade, but
    # the venue's market data reports it, and the last trade is fixgate's mark.
    with FixClient.connect("127.0.0.1", simulator.port, sender_comp_id="CLIENT2", target_comp_id="SIM") as other:
        other.logon()
        other.send("D", new_order("elsewhere-1", 10, "189.99", side="2"))
        other.expect("8", where={11: "elsewhere-1", 39: "2"})

    position = eventually(lambda: _position(rest), lambda p: p["mark_price"] == "189.99")
    assert D(position["unrealized_pnl"]) == D(100) * (D("189.99") - D("190.01"))  # -2.00


def test_the_price_collar_is_centred_on_the_market_not_the_configured_reference(
    connect: Connect, gateway: Fixgate, simulator: Simulator
) -> None:
    # A trade on the venue far from the configured reference (190.00) becomes the reference.
    with FixClient.connect("127.0.0.1", simulator.port, sender_comp_id="CLIENT2", target_comp_id="SIM") as other:
        other.logon()
        other.send("D", new_order("elsewhere-2", 600, "189.50", side="2"))  # sweeps the bids down to 189.50
        other.expect("8", where={11: "elsewhere-2"})
    assert gateway.controls is not None
    risk = gateway.controls.risk
    reference = eventually(lambda: risk.reference_price("AAPL"), lambda price: price != D("190.00"))
    assert reference is not None and D("189.50") < reference < D("190.00")  # the last bid level it hit


def _position_or_none(rest: httpx.Client) -> dict[str, Any] | None:
    body = rest.get("/positions", params={"account": "CLIENT1", "symbol": "AAPL"}).json()
    return dict(body[0]) if body else None
