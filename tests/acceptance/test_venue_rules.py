"""A venue whose rules are stricter than fixgate's own config: what only the venue refuses reaches the
client as the venue said it, with the client's ids, in FIX 4.2 and 4.4.

The simulator here trades AAPL on a tick of 0.05 and a lot of 10, while fixgate's
``config/instruments.toml`` (and so its risk check) allows 0.01 and 1: an order or replace at 189.01
or for 15 passes the gateway and is refused by the venue alone. Real sockets, a real PostgreSQL.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from decimal import Decimal as D
from pathlib import Path

import httpx
import pytest

from fixgate.fixclient import FixClient
from simulator.config import SimulatorConfig, load_config
from simulator.venue import Simulator
from tests.acceptance.conftest import REPO
from tests.acceptance.test_lifecycle import book_order, cancel, replace, rest_a_buy
from tests.support import eventually, free_port, order_fields

Connect = Callable[..., FixClient]
VERSIONS = ["FIX.4.4", "FIX.4.2"]
VENUE_TICK, VENUE_LOT = D("0.05"), D(10)


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[Simulator]:
    """The shipped simulator config with AAPL's tick and lot made stricter than the gateway's."""
    (venue,) = load_config(REPO / "config" / "simulator.toml").only("SIM").venues
    instruments = tuple(
        dataclasses.replace(i, tick_size=VENUE_TICK, lot_size=VENUE_LOT) if i.symbol == "AAPL" else i
        for i in venue.instruments
    )
    config = SimulatorConfig((dataclasses.replace(venue, instruments=instruments),))
    sim = Simulator(config, tmp_path / "sim", port=free_port())
    sim.start()
    yield sim
    sim.stop(force=True)


@pytest.mark.parametrize("begin_string", VERSIONS)
@pytest.mark.parametrize(
    ("qty", "price", "text"),
    [
        (15, "189.00", "order qty 15 is not a multiple of lot size 10 for AAPL"),
        (10, "189.01", "price 189.01 is not a multiple of tick size 0.05 for AAPL"),
    ],
)
def test_an_order_only_the_venue_refuses_is_rejected_to_the_client_with_the_venues_text(
    begin_string: str, qty: int, price: str, text: str, connect: Connect, rest: httpx.Client,
    simulator: Simulator,
) -> None:
    client = connect("CLIENT1", begin_string)
    client.send("D", order_fields("v-1", qty, price))
    reject = client.expect("8", where={11: "v-1"})
    # The first report the client gets is the venue's reject: fixgate let the order through.
    assert (reject[150], reject[39], reject[58]) == ("8", "8", text)
    assert (reject.decimal(14), reject.decimal(151)) == (D(0), D(0))
    order = book_order(rest, reject[37], "REJECTED")
    assert (order["cl_ord_id"], order["text"]) == ("v-1", text)
    assert [e["kind"] for e in order["executions"]] == ["REJECTED"]
    assert order["executions"][0]["venue"] == "SIM"  # the venue's reject, not a risk reject
    [venue_order] = simulator.record.orders_from("FIXGATE")
    assert (venue_order.status, venue_order.text) == ("REJECTED", text)


@pytest.mark.parametrize("begin_string", VERSIONS)
@pytest.mark.parametrize(
    ("qty", "price", "text"),
    [
        (100, "189.01", "price 189.01 is not a multiple of tick size 0.05 for AAPL"),
        (105, "189.00", "order qty 105 is not a multiple of lot size 10 for AAPL"),
    ],
)
def test_a_replace_only_the_venue_refuses_reaches_the_client_as_its_cancel_reject(
    begin_string: str, qty: int, price: str, text: str, connect: Connect, rest: httpx.Client,
    simulator: Simulator,
) -> None:
    client = connect("CLIENT1", begin_string)
    new = rest_a_buy(client, "vr-1")
    replace(client, "vr-2", "vr-1", qty, price)
    client.expect("8", where={11: "vr-2", 39: "E"})  # fixgate passed it on to the venue
    refused = client.expect("9", where={11: "vr-2"})
    # The client's own ids, fixgate's OrderID, the order back to what it was, the venue's reason.
    assert (refused[41], refused[37], refused[39], refused[434]) == ("vr-1", new[37], "0", "2")
    assert refused[102] == ("99" if begin_string == "FIX.4.4" else "2")  # Other / broker option
    assert refused[58] == f"venue SIM: {text}"
    order = book_order(rest, new[37], "NEW")
    assert (order["cl_ord_id"], D(order["quantity"]), D(order["price"])) == ("vr-1", D(100), D("189.00"))
    [venue_order] = simulator.record.orders_from("FIXGATE")
    assert (venue_order.quantity, venue_order.price, venue_order.status) == (D(100), D("189.00"), "NEW")
    assert not simulator.record.saw("vr-2")  # the venue knows fixgate's ids, never the client's
    # The order works on under its old id: a cancel by it goes through.
    cancel(client, "vr-3", "vr-1")
    done = client.expect("8", where={11: "vr-3", 39: "4"})
    assert done[41] == "vr-1"
    eventually(lambda: simulator.record.orders_from("FIXGATE")[0].status, lambda s: s == "CANCELED")
