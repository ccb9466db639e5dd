"""Orders from a FIX client through fixgate to the simulator and back into the book."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D

import httpx
import pytest

from fixgate.app import Fixgate
from fixgate.fixclient import FixClient
from simulator.venue import Simulator
from tests.support import eventually
from tests.support import order_fields as new_order

Connect = Callable[..., FixClient]


@pytest.mark.parametrize("begin_string", ["FIX.4.4", "FIX.4.2", "FIXT.1.1"])
def test_crossing_buy_fills_and_reaches_the_book(
    begin_string: str, connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    client = connect("CLIENT1", begin_string)
    # The simulator rests 100 at each tick from 190.01 up: 150 at 190.02 takes 100 @ .01 and 50 @ .02.
    client.send("D", new_order("buy-1", 150, "190.02"))
    new = client.expect("8", where={150: "0"})
    assert (new[11], new[39], new[1]) == ("buy-1", "0", "CLIENT1")
    # FIX 4.4 and 5.0 SP2 report every fill as ExecType F (Trade); FIX 4.2 has no F: a fill that leaves
    # the order open is ExecType 1 (Partial fill), the one that completes it ExecType 2 (Fill).
    partial_type, full_type = ("1", "2") if begin_string == "FIX.4.2" else ("F", "F")
    partial = client.expect("8", where={39: "1"})
    assert (partial[11], partial[150]) == ("buy-1", partial_type)
    assert (partial.decimal(32), partial.decimal(14), partial.decimal(151)) == (D(100), D(100), D(50))
    fill = client.expect("8", where={39: "2"})
    assert (fill[11], fill[150]) == ("buy-1", full_type)
    assert (fill.decimal(14), fill.decimal(151)) == (D(150), D(0))
    assert fill.decimal(6) == D("190.01333333")  # (100 * 190.01 + 50 * 190.02) / 150
    order_id = fill[37]

    # The book writes each fill's position as it comes: wait for the last one's.
    positions = eventually(lambda: rest.get("/positions", params={"account": "CLIENT1"}).json(),
                           lambda body: len(body) == 1 and D(body[0]["quantity"]) != D(100))
    assert positions[0]["symbol"] == "AAPL" and D(positions[0]["quantity"]) == D(150)
    assert D(positions[0]["avg_price"]) == D("190.01333333")
    order = eventually(lambda: rest.get(f"/orders/{order_id}").json(),
                       lambda body: body.get("status") == "FILLED")
    assert order["cl_ord_id"] == "buy-1" and D(order["cum_qty"]) == D(150)
    # The venue got fixgate's own ClOrdID for it (never the client's), which the book maps back.
    [at_venue] = simulator.record.orders_from("FIXGATE")
    assert at_venue.cl_ord_id == order["venue_cl_ord_id"] != "buy-1"
    assert (at_venue.quantity, at_venue.cum_qty) == (D(150), D(150))
    fills = [e for e in order["executions"] if e["kind"] == "TRADE"]
    assert sorted(D(e["last_px"]) for e in fills) == [D("190.01"), D("190.02")]


def test_order_over_max_quantity_is_rejected_and_never_reaches_the_venue(
    connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    client = connect()
    client.send("D", new_order("big-1", 5001, "190.00"))
    reject = client.expect("8", where={11: "big-1"})
    assert (reject[150], reject[39]) == ("8", "8")
    assert reject[58] == "order qty 5001 > max 5000 for AAPL"
    assert simulator.record.orders_from("FIXGATE") == ()
    orders = eventually(lambda: rest.get("/orders", params={"status": "REJECTED"}).json(),
                        lambda body: len(body) == 1)
    assert orders[0]["cl_ord_id"] == "big-1" and orders[0]["text"] == reject[58]


def test_unknown_symbol_is_rejected_with_its_name(connect: Connect) -> None:
    client = connect()
    client.send("D", new_order("zz-1", 10, "1.00", symbol="ZZZZ"))
    reject = client.expect("8", where={11: "zz-1"})
    assert (reject[39], reject[58]) == ("8", "unknown symbol ZZZZ")


def test_missing_required_tag_gets_a_reject_and_the_session_stays_up(connect: Connect) -> None:
    client = connect()
    bad = new_order("bad-1", 10, "190.05")
    del bad[54]  # Side: required by the FIX 4.4 dictionary, so the session layer rejects it
    client.send("D", bad)
    reject = client.expect("3")
    assert (reject[371], reject[373], reject[45]) == ("54", "1", str(client.next_seq_out - 1))
    client.send("D", new_order("good-1", 10, "190.05"))
    assert client.expect("8", where={11: "good-1", 39: "2"}).decimal(14) == D(10)


def test_missing_symbol_gets_a_business_reject_naming_the_tag(connect: Connect, simulator: Simulator) -> None:
    client = connect()
    bad = new_order("bad-2", 10, "190.05")
    del bad[55]  # FIX 4.4 makes Symbol optional inside the Instrument block; fixgate needs it
    client.send("D", bad)
    reject = client.expect("j")
    assert (reject[380], reject[372]) == ("5", "D")
    assert "(55)" in reject[58]
    assert simulator.record.orders_from("FIXGATE") == ()
    client.send("D", new_order("good-2", 10, "190.05"))
    assert client.expect("8", where={11: "good-2", 39: "2"}).decimal(14) == D(10)


def test_limit_order_without_price_gets_a_business_reject_naming_the_tag(connect: Connect) -> None:
    client = connect()
    fields = new_order("np-1", 10, None)
    fields[40] = "2"
    client.send("D", fields)
    reject = client.expect("j")
    assert reject[380] == "5" and reject[372] == "D" and reject[379] == "np-1"
    assert reject[58] == "Price (44) is required for a limit order"


def test_partial_fill_leaves_the_order_partially_filled(
    connect: Connect, rest: httpx.Client
) -> None:
    client = connect("CLIENT2")
    # Only 100 rests at 190.01: the rest of a 1000 lot stays on the book.
    client.send("D", new_order("part-1", 1000, "190.01"))
    partial = client.expect("8", where={11: "part-1", 39: "1"})
    assert (partial.decimal(32), partial.decimal(31)) == (D(100), D("190.01"))
    assert (partial.decimal(14), partial.decimal(151), partial.decimal(6)) == (D(100), D(900), D("190.01"))
    order = eventually(lambda: rest.get(f"/orders/{partial[37]}").json(),
                       lambda body: body.get("status") == "PARTIALLY_FILLED")
    assert (D(order["cum_qty"]), D(order["leaves_qty"]), D(order["avg_px"])) == (D(100), D(900), D("190.01"))


def test_unknown_comp_id_is_refused_at_logon(gateway: Fixgate) -> None:
    client = FixClient.connect("127.0.0.1", gateway.settings.client_port,
                               sender_comp_id="STRANGER", target_comp_id="FIXGATE")
    try:
        with pytest.raises(ConnectionError):
            client.logon(timeout=3)
        assert client.wait_closed(3)
    finally:
        client.close()


def test_order_for_a_venue_that_is_down_is_rejected(
    connect: Connect, gateway: Fixgate, simulator: Simulator
) -> None:
    client = connect()
    simulator.stop(force=True)
    assert gateway.router is not None
    eventually(lambda: gateway.router.venue_is_up("SIM"), lambda up: not up)  # type: ignore[union-attr]
    client.send("D", new_order("down-1", 10, "190.05"))
    reject = client.expect("8", where={11: "down-1"})
    assert reject[39] == "8" and reject[58] == "venue SIM for AAPL is not connected"
