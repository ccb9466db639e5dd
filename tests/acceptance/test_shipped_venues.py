"""The shipped config as it is, both sides: ``config/simulator.toml`` runs SIM and SIM2 (``--port N``:
SIM on N, SIM2 on N+1) and a gateway on ``config/`` (its SIM2 session on the SIM port + 1 by default)
logs on to both, reports both up, and routes each order to the venue with the better price after
fees. (The other acceptance tests run a gateway on a one-venue copy against SIM alone.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import httpx
import pytest

from domain.model import NewOrder, OrdType, Side, TimeInForce
from fixgate.app import Fixgate
from fixgate.config import Settings
from fixgate.fixclient import FixClient
from simulator.config import load_config
from simulator.venue import Simulator
from tests.acceptance.conftest import API_TOKEN, REPO
from tests.support import eventually, free_port, free_ports_in_a_row, order_fields


@pytest.fixture
def shipped(tmp_path: Path, database_url: str) -> Iterator[tuple[Fixgate, Simulator]]:
    port = free_ports_in_a_row(2)
    simulator = Simulator(load_config(REPO / "config" / "simulator.toml"), tmp_path / "sim", port=port)
    simulator.start()
    app = Fixgate(Settings(data_dir=tmp_path / "gw", client_port=free_port(), sim_port=port, rest_port=free_port(),
                           database_url=database_url, api_token=API_TOKEN))
    try:
        app.start()
        assert app.wait_for_venues({"SIM", "SIM2"}), "the shipped config's venue sessions did not both log on"
        yield app, simulator
    finally:
        app.stop()
        simulator.stop(force=True)


def test_the_shipped_config_logs_on_to_both_venues_and_routes_between_them(
    shipped: tuple[Fixgate, Simulator]
) -> None:
    app, simulator = shipped
    assert {name: venue.port for name, venue in simulator.venues.items()} == {
        "SIM": app.settings.sim_port, "SIM2": app.settings.sim_port + 1}
    assert app.rest is not None and app.router is not None
    with httpx.Client(base_url=app.rest.url, timeout=10, headers={"Authorization": f"Bearer {API_TOKEN}"}) as rest:
        health = eventually(lambda: rest.get("/health").json(), lambda h: h["venues"] == "ok", timeout=30)
        assert health["venues"] == "ok"
        venues = {s["target_comp_id"]: s["logged_on"] for s in rest.get("/sessions").json() if s["role"] == "venue"}
        assert venues == {"SIM": True, "SIM2": True}

        # Both venues' market data in: a sell then goes to SIM2's higher bid (190.00 less 0.002 a share
        # beats SIM's 189.99), a buy to SIM's lower offer (190.01 against 190.02 and the fee).
        router = app.router
        probe = NewOrder("probe", "p", "P", "AAPL", Side.SELL, OrdType.MARKET, D(1), None, TimeInForce.DAY, 0)
        eventually(lambda: router.route(probe).venue, lambda venue: venue == "SIM2")
        client = FixClient.connect("127.0.0.1", app.settings.client_port, sender_comp_id="CLIENT1",
                                   target_comp_id="FIXGATE")
        client.logon()
        try:
            client.send("D", order_fields("sv-1", 50, "190.05"))
            bought = client.expect("8", where={11: "sv-1", 39: "2"})
            assert (bought.decimal(31), bought[30]) == (D("190.01"), "SIM")
            client.send("D", order_fields("sv-2", 50, "189.00", side="2"))
            sold = client.expect("8", where={11: "sv-2", 39: "2"})
            assert (sold.decimal(31), sold[30]) == (D("190.00"), "SIM2")
        finally:
            client.logout(timeout=2)
        booked = eventually(lambda: rest.get(f"/orders/{sold[37]}").json(), lambda o: o.get("status") == "FILLED")
        assert booked["venue"] == "SIM2"
        assert json.loads(booked["route"])["policy"] == "best_price"
    # SIM2 charged its fee, 0.002 a share, as instruments.toml says it does.
    assert [(f["side"], D(f["quantity"])) for f in simulator.venue("SIM2").journal.fills("FIXGATE")] == [("SELL", D(50))]
    assert [(f["side"], D(f["quantity"])) for f in simulator.venue("SIM").journal.fills("FIXGATE")] == [("BUY", D(50))]
