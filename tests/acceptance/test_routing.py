"""Several venues per instrument, over real sockets: the router sends each order to the venue with the
best price after fees (from both venues' market data), a client's ExDestination (100) to the venue it
names, and passes over a venue that is down; a destination that cannot be used is refused with a
Text that says why. The book records where each order went and why, the client's fills name the
venue (LastMkt 30), and cancel and replace reach the venue the order went to."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import httpx
import pytest

from bench.procs import routed_config
from domain.model import NewOrder, OrdType, Side, TimeInForce
from fixgate.app import Fixgate
from fixgate.config import Settings
from fixgate.fixclient import FixClient
from simulator import SimulatorConfig, VenueConfig
from simulator.config import SimInstrument, VenueDialect
from simulator.venue import Simulator
from tests.acceptance.conftest import API_TOKEN
from tests.support import eventually, free_port, order_fields

Connect = Callable[..., FixClient]

# SIM quotes AAPL 189.99 / 190.01; SIM2 (0.003 a share) 189.94 / 189.96: a buy is cheaper at SIM2
# (189.963), a sell fetches more at SIM (189.99).
SIM2_INSTRUMENTS = (SimInstrument("AAPL", D("0.01"), D(1), D("189.95")),
                    SimInstrument("MSFT", D("0.01"), D(1), D("420.00")))


@pytest.fixture
def simulator(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Simulator]:
    """Two venues in one simulator: SIM as shipped and SIM2, AAPL 5 cents lower (with the dialect a
    test gives as its ``simulator`` parameter)."""
    dialect = getattr(request, "param", VenueDialect())
    config = SimulatorConfig((VenueConfig(name="SIM", port=free_port()),
                              VenueConfig(name="SIM2", port=free_port(), instruments=SIM2_INSTRUMENTS,
                                          dialect=dialect)))
    sim = Simulator(config, tmp_path / "sim")
    sim.start()
    yield sim
    sim.stop(force=True)


@pytest.fixture
def gateway(tmp_path: Path, database_url: str, simulator: Simulator) -> Iterator[Fixgate]:
    config = routed_config(tmp_path / "config", {"SIM": None, "SIM2": simulator.venue("SIM2").config.port},
                           {"SIM2": ("0.003", "0")})
    app = Fixgate(Settings(
        config_dir=config, data_dir=tmp_path / "gw", client_port=free_port(),
        sim_port=simulator.venue("SIM").config.port, rest_port=free_port(), database_url=database_url,
        api_token=API_TOKEN,
    ))
    app.start()
    try:
        assert app.wait_for_venues({"SIM", "SIM2"}), "the gateway's venue sessions did not log on"
        assert app.router is not None
        router = app.router
        probe = NewOrder("probe", "p", "P", "AAPL", Side.BUY, OrdType.MARKET, D(1), None, TimeInForce.DAY, 0)
        # Both venues' market data in: a buy is then routed to SIM2's lower offer.
        eventually(lambda: router.route(probe).venue, lambda venue: venue == "SIM2")
        yield app
    finally:
        app.stop()


def book_order(rest: httpx.Client, order_id: str, status: str) -> dict:  # type: ignore[type-arg]
    return eventually(lambda: rest.get(f"/orders/{order_id}").json(),  # type: ignore[no-any-return]
                      lambda o: o.get("status") == status)


def test_a_buy_goes_to_the_lower_offer_after_fees_and_a_sell_to_the_higher_bid(
    connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    client = connect("CLIENT1")
    client.send("D", order_fields("b-1", 50, "190.05"))
    fill = client.expect("8", where={11: "b-1", 39: "2"})
    assert (fill.decimal(31), fill[30]) == (D("189.96"), "SIM2")
    booked = book_order(rest, fill[37], "FILLED")
    assert booked["venue"] == "SIM2"
    route = json.loads(booked["route"])
    assert (route["policy"], route["venue"]) == ("best_price", "SIM2")
    considered = {v["venue"]: v for v in route["venues"]}
    assert (D(considered["SIM"]["touch"]), D(considered["SIM2"]["touch"])) == (D("190.01"), D("189.96"))
    assert D(considered["SIM2"]["expected"]) == D("189.963")

    client.send("D", order_fields("s-1", 50, "189.00", side="2"))
    sold = client.expect("8", where={11: "s-1", 39: "2"})
    assert (sold.decimal(31), sold[30]) == (D("189.99"), "SIM")
    assert book_order(rest, sold[37], "FILLED")["venue"] == "SIM"
    assert [(f["side"], D(f["quantity"])) for f in simulator.venue("SIM2").journal.fills("FIXGATE")] == [("BUY", D(50))]
    assert [(f["side"], D(f["quantity"])) for f in simulator.venue("SIM").journal.fills("FIXGATE")] == [("SELL", D(50))]


def test_ex_destination_routes_to_the_venue_named_whatever_the_prices(
    connect: Connect, rest: httpx.Client
) -> None:
    client = connect("CLIENT1")
    client.send("D", {**order_fields("x-1", 50, "190.05"), 100: "SIM"})
    fill = client.expect("8", where={11: "x-1", 39: "2"})
    assert (fill.decimal(31), fill[30]) == (D("190.01"), "SIM")
    booked = book_order(rest, fill[37], "FILLED")
    assert (booked["venue"], json.loads(booked["route"])) == ("SIM", {"policy": "ex_destination", "venue": "SIM"})


@pytest.mark.parametrize(("destination", "text"), [
    ("NYSE", "ExDestination (100) NYSE is not a venue of AAPL (SIM, SIM2)"),
    ("sim2", "ExDestination (100) sim2 is not a venue of AAPL (SIM, SIM2)"),
])
def test_an_ex_destination_that_names_no_venue_of_the_symbol_is_rejected_with_the_reason(
    destination: str, text: str, connect: Connect, rest: httpx.Client
) -> None:
    client = connect("CLIENT1")
    client.send("D", {**order_fields("x-2", 50, "190.05"), 100: destination})
    rejected = client.expect("8", where={11: "x-2", 39: "8"})
    assert rejected[58] == text
    assert book_order(rest, rejected[37], "REJECTED")["text"] == text


def test_an_ex_destination_too_long_is_a_business_reject_naming_the_tag(connect: Connect) -> None:
    client = connect("CLIENT1")
    client.send("D", {**order_fields("x-3", 50, "190.05"), 100: "V" * 65})
    refused = client.expect("j")
    assert refused[58] == "ExDestination (100) is 65 characters long: at most 64"
    client.send("D", order_fields("x-4", 10, "190.05"))  # the session goes on
    client.expect("8", where={11: "x-4", 39: "2"})


def test_a_venue_that_is_down_is_passed_over_and_one_named_is_refused(
    gateway: Fixgate, connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    simulator.venue("SIM2").stop(force=True)
    assert gateway.router is not None
    router = gateway.router
    eventually(lambda: router.venues_up, lambda up: "SIM2" not in up)
    client = connect("CLIENT1")
    client.send("D", order_fields("d-1", 50, "190.05"))
    fill = client.expect("8", where={11: "d-1", 39: "2"})
    assert (fill.decimal(31), fill[30]) == (D("190.01"), "SIM")
    route = json.loads(book_order(rest, fill[37], "FILLED")["route"])
    assert {"venue": "SIM2", "up": False} in route["venues"]
    client.send("D", {**order_fields("d-2", 50, "190.05"), 100: "SIM2"})
    assert client.expect("8", where={11: "d-2", 39: "8"})[58] == "venue SIM2 for AAPL is not connected"


def test_replace_and_cancel_reach_the_venue_the_order_went_to(
    connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    client = connect("CLIENT1")
    client.send("D", order_fields("r-1", 100, "189.50"))  # below both offers: it rests at SIM2
    new = client.expect("8", where={11: "r-1", 39: "0"})
    client.send("G", {41: "r-1", 11: "r-2", 21: "1", 55: "AAPL", 54: "1", 38: 200, 40: "2", 44: "189.60",
                      60: order_fields("t", 1, None)[60]})
    replaced = client.expect("8", where={11: "r-2", 150: "5"})
    assert (replaced.decimal(38), replaced.decimal(44), replaced[37]) == (D(200), D("189.6"), new[37])
    client.send("F", {41: "r-2", 11: "r-3", 55: "AAPL", 54: "1", 38: 200, 60: order_fields("t", 1, None)[60]})
    client.expect("8", where={11: "r-3", 39: "4"})
    booked = book_order(rest, new[37], "CANCELED")
    assert booked["venue"] == "SIM2"
    at_sim2 = eventually(lambda: simulator.venue("SIM2").journal.orders("FIXGATE"), lambda orders: orders)
    assert [(o["status"], D(o["quantity"]), D(o["price"])) for o in at_sim2] == [("CANCELED", D(200), D("189.6"))]
    assert simulator.venue("SIM").journal.orders("FIXGATE") == []


# -- SPLIT ORDERS ------------------------------------------------------------------------------------------


def until_done(client: FixClient, cl_ord_id: str, done: tuple[str, ...] = ("2", "4", "8")) -> list:  # type: ignore[type-arg]
    """Every ExecutionReport for ``cl_ord_id`` up to the one whose OrdStatus is in ``done``."""
    got = []
    while True:
        report = client.expect("8", where={11: cl_ord_id})
        got.append(report)
        if report[39] in done:
            return got


def filled_at_venues(simulator: Simulator) -> D:
    """The quantity both venues filled for fixgate, by their own records."""
    return sum((D(f["quantity"]) for v in ("SIM", "SIM2") for f in simulator.venue(v).journal.fills("FIXGATE")), D(0))


def splits(gateway: Fixgate, quantity: int, price: str | None = None) -> None:
    """Wait until both venues' market data shows less at the best touch than ``quantity``: the router
    then splits such an order (its plan has legs)."""
    assert gateway.router is not None
    router = gateway.router
    order = NewOrder("probe", "p", "P", "AAPL", Side.BUY, OrdType.MARKET if price is None else OrdType.LIMIT,
                     D(quantity), None if price is None else D(price), TimeInForce.DAY, 0)
    eventually(lambda: router.plan(order).legs, lambda legs: len({leg.venue for leg in legs}) == 2)


def test_a_market_order_bigger_than_the_best_offer_sweeps_both_venues_as_one_order(
    gateway: Fixgate, connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    splits(gateway, 250)
    client = connect("CLIENT1")
    client.send("D", order_fields("sw-1", 250, None))
    got = until_done(client, "sw-1")
    fills = [r for r in got if r[150] == "F"]
    assert got[-1][39] == "2" and got[-1].decimal(14) == D(250)
    assert {r[37] for r in got} == {got[0][37]}  # one order, one OrderID
    assert {f[30] for f in fills} == {"SIM", "SIM2"}  # LastMkt: each child's venue
    assert sum(f.decimal(32) for f in fills) == D(250)
    notional = sum(f.decimal(32) * f.decimal(31) for f in fills)
    assert abs(got[-1].decimal(6) - notional / 250) < D("0.00000001")

    parent = book_order(rest, got[0][37], "FILLED")
    assert parent["venue"] == "" and parent["parent_id"] is None
    assert [leg["tif"] for leg in json.loads(parent["route"])["legs"]][:2] == ["IOC", "IOC"]
    children = parent["children"]
    assert {c["venue"] for c in children} == {"SIM", "SIM2"}
    assert all(c["parent_id"] == parent["order_id"] for c in children)
    assert sum(D(c["cum_qty"]) for c in children) == D(250)
    assert filled_at_venues(simulator) == D(250)  # what the venues did, once
    eventually(lambda: rest.get("/positions", params={"account": "CLIENT1"}).json(),
               lambda p: len(p) == 1 and D(p[0]["quantity"]) == D(250))  # each fill once
    listed = rest.get("/executions", params={"account": "CLIENT1"}).json()
    assert {e["order_id"] for e in listed} == {parent["order_id"]}  # the client's order, not its children


def test_cancel_and_replace_of_an_order_working_at_two_venues(
    gateway: Fixgate, connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    splits(gateway, 900, "190.01")
    client = connect("CLIENT1")
    client.send("D", order_fields("cr-1", 900, "190.01"))
    # Both sweeps fill; what the post at SIM2 does not find there rests at 190.01.
    first = client.expect("8", where={11: "cr-1", 39: "0"})
    parent_id = first[37]
    parent = eventually(lambda: rest.get(f"/orders/{parent_id}").json(),
                        lambda o: D(o["cum_qty"]) > 0 and any(c["status"] == "NEW" or c["status"] == "PARTIALLY_FILLED"
                                                              for c in o["children"]))
    assert {c["venue"] for c in parent["children"]} == {"SIM", "SIM2"}
    client.send("G", {41: "cr-1", 11: "cr-2", 21: "1", 55: "AAPL", 54: "1", 38: 950, 40: "2", 44: "190.00",
                      60: order_fields("t", 1, None)[60]})
    replaced = client.expect("8", where={11: "cr-2", 150: "5"})
    assert (replaced.decimal(38), replaced.decimal(44), replaced[37], replaced[41]) == (D(950), D(190), parent_id, "cr-1")
    client.send("F", {41: "cr-2", 11: "cr-3", 55: "AAPL", 54: "1", 38: 950, 60: order_fields("t", 1, None)[60]})
    canceled = client.expect("8", where={11: "cr-3", 39: "4"})
    assert (canceled[41], canceled[37]) == ("cr-2", parent_id)
    booked = book_order(rest, parent_id, "CANCELED")
    assert all(c["status"] in ("CANCELED", "FILLED") for c in booked["children"])
    assert D(booked["cum_qty"]) == sum(D(c["cum_qty"]) for c in booked["children"]) == canceled.decimal(14)
    assert filled_at_venues(simulator) == canceled.decimal(14)


@pytest.mark.parametrize("simulator", [VenueDialect(session_reject_ord_types=("1",))], indirect=True)
def test_children_a_venue_refuses_go_to_the_other_venue_and_the_order_fills_there(
    gateway: Fixgate, connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    # SIM2, the cheaper venue, refuses market orders at the session level (35=3 naming tag 40), as some
    # venues do: its sweep and its post are refused, and each goes to SIM instead, never back to SIM2.
    splits(gateway, 250)
    client = connect("CLIENT1")
    client.send("D", order_fields("rj-1", 250, None))
    got = until_done(client, "rj-1")
    assert got[-1][39] == "2" and got[-1].decimal(14) == D(250)
    assert {r[30] for r in got if r[150] == "F"} == {"SIM"}
    assert not [r for r in got if r[39] == "8"]  # the client never saw a child's refusal
    parent = book_order(rest, got[0][37], "FILLED")
    refused = [c for c in parent["children"] if c["status"] == "REJECTED"]
    assert {c["venue"] for c in refused} == {"SIM2"} and len(refused) == 2
    assert all("40" in c["text"] for c in refused), [c["text"] for c in refused]
    rerouted = [json.loads(c["route"]) for c in parent["children"] if json.loads(c["route"])["leg"] == "reroute"]
    assert [r["route"]["venue"] for r in rerouted] == ["SIM", "SIM"]
    assert sum(D(f["quantity"]) for f in simulator.venue("SIM").journal.fills("FIXGATE")) == D(250)
    assert simulator.venue("SIM2").journal.fills("FIXGATE") == []
    # TCA scores the children where they went: SIM2 rejected both of its own, SIM filled each of its.
    children = {c["venue"]: 0 for c in parent["children"]}
    for child in parent["children"]:
        children[child["venue"]] += 1

    def rates(venue: str) -> tuple[str | None, int, str | None, int]:
        found = rest.get("/tca/venues", params={"venue": venue, "symbol": "*"}).json()
        if not found:
            return (None, 0, None, 0)
        (score,) = found
        return (score["reject_rate"], score["reject_rate_count"], score["fill_rate"], score["fill_rate_count"])

    assert eventually(lambda: rates("SIM2"), lambda r: r[1] == 2, timeout=30) == ("1", 2, None, 0)
    assert eventually(lambda: rates("SIM"), lambda r: r[1] == children["SIM"], timeout=30) == (
        "0", children["SIM"], "1", children["SIM"])


def working_split(gateway: Fixgate, client: FixClient, rest: httpx.Client, cl_ord_id: str) -> dict:  # type: ignore[type-arg]
    """A buy of 900 at 190.01 split across both venues, once its sweeps have ended and the rest works
    at a venue: its book row, with its children."""
    splits(gateway, 900, "190.01")
    client.send("D", order_fields(cl_ord_id, 900, "190.01"))
    parent_id = client.expect("8", where={11: cl_ord_id, 39: "0"})[37]

    def settled(o: dict) -> bool:  # type: ignore[type-arg]
        children = o.get("children", [])
        return (len({c["venue"] for c in children}) == 2 and all(
            c["status"] in ("FILLED", "CANCELED") for c in children if c["time_in_force"] == "IOC")
            and any(c["status"] in ("NEW", "PARTIALLY_FILLED") for c in children)
            and D(o["cum_qty"]) == sum(D(c["cum_qty"]) for c in children))
    return eventually(lambda: rest.get(f"/orders/{parent_id}").json(), settled)  # type: ignore[no-any-return]


def test_a_split_order_working_across_a_restart_is_cancelled_as_one(
    gateway: Fixgate, connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    client = connect("CLIENT1")
    parent = working_split(gateway, client, rest, "rs-1")
    client.logout(timeout=2)
    gateway.stop()
    app = Fixgate(replace(gateway.settings, client_port=free_port(), rest_port=free_port()))
    app.start()
    try:
        assert app.wait_for_venues({"SIM", "SIM2"})
        again = FixClient.connect("127.0.0.1", app.settings.client_port, sender_comp_id="CLIENT1",
                                  target_comp_id="FIXGATE")
        try:
            again.logon(reset_seq_num=True)
            again.send("F", {41: "rs-1", 11: "rs-2", 55: "AAPL", 54: "1", 38: 900,
                             60: order_fields("t", 1, None)[60]})
            canceled = again.expect("8", where={11: "rs-2", 39: "4"})
        finally:
            again.logout(timeout=2)
        assert (canceled[37], canceled[41]) == (str(parent["order_id"]), "rs-1")
        assert canceled.decimal(14) == D(parent["cum_qty"])  # no fill lost or doubled by the restart
        with rest_of(app) as http:
            booked = book_order(http, parent["order_id"], "CANCELED")
        assert all(c["status"] in ("CANCELED", "FILLED") for c in booked["children"])
        assert filled_at_venues(simulator) == D(booked["cum_qty"])
    finally:
        app.stop()


def rest_of(app: Fixgate) -> httpx.Client:
    assert app.rest is not None
    return httpx.Client(base_url=app.rest.url, timeout=10, headers={"Authorization": f"Bearer {API_TOKEN}"})


def test_a_split_order_of_a_session_that_disconnects_is_cancelled_at_every_venue(
    gateway: Fixgate, connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    client = connect("CLIENT2")  # CancelOnDisconnect=Y
    parent = working_split(gateway, client, rest, "cd-1")
    client.close()
    booked = book_order(rest, parent["order_id"], "CANCELED")
    assert all(c["status"] in ("CANCELED", "FILLED") for c in booked["children"])
    assert filled_at_venues(simulator) == D(booked["cum_qty"])
