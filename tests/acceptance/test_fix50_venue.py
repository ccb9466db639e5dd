"""A venue that speaks FIX 5.0 SP2 over FIXT.1.1 is traded exactly as a FIX 4.4 one: a gateway whose
venue session to the simulator is FIXT.1.1 (``bench.procs.fix50_venue_config``, as README "FIX
versions" configures it) fills, replaces, cancels, takes the venue's market data, and after a restart
gets the fills the venue made while it was down, resent by the venue, to a client that was away."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import httpx
import pytest

from bench.procs import fix50_venue_config
from fixgate.app import Fixgate
from fixgate.config import Settings
from fixgate.fixclient import FixClient
from simulator.venue import Simulator
from tests.acceptance.conftest import API_TOKEN
from tests.support import eventually, free_port, order_fields

Connect = Callable[..., FixClient]


@pytest.fixture
def gateway(tmp_path: Path, database_url: str, simulator: Simulator) -> Iterator[Fixgate]:
    """fixgate with its venue session to the simulator in FIXT.1.1 (this module's ``connect`` and
    ``rest`` fixtures use it)."""
    app = Fixgate(Settings(
        config_dir=fix50_venue_config(tmp_path / "config"), data_dir=tmp_path / "gw", client_port=free_port(),
        sim_port=simulator.port, rest_port=free_port(), database_url=database_url, api_token=API_TOKEN,
    ))
    app.start()
    try:
        assert app.wait_for_venues({"SIM"}), "the gateway's FIXT.1.1 SIM session did not log on"
        yield app
    finally:
        app.stop()


def refused_by_the_gateway(sim_dir: Path) -> list[str]:
    """Session Rejects (35=3) and BusinessMessageRejects (35=j) fixgate sent the venue, from the
    venue's FIX message log: a report fixgate's FIX 5.0 SP2 dictionary refused would be one."""
    logged = "".join(p.read_text(errors="replace") for p in sim_dir.glob("**/*messages*.log"))
    assert "35=8\x01" in logged, f"no FIX message log under {sim_dir}"
    return [line for line in logged.splitlines()
            if "\x0149=FIXGATE\x01" in line and ("\x0135=3\x01" in line or "\x0135=j\x01" in line)]


def book_order(rest: httpx.Client, order_id: str, status: str) -> dict:  # type: ignore[type-arg]
    return eventually(lambda: rest.get(f"/orders/{order_id}").json(), lambda o: o.get("status") == status)  # type: ignore[no-any-return]


@pytest.mark.parametrize("begin_string", ["FIX.4.4", "FIXT.1.1"])
def test_a_fix50_venue_fills_replaces_and_cancels_as_a_fix44_one(
    begin_string: str, connect: Connect, rest: httpx.Client, simulator: Simulator, tmp_path: Path
) -> None:
    assert "FIXT.1.1:SIM->FIXGATE" in simulator.venue().logged_on()
    client = connect("CLIENT1", begin_string)
    # 150 at 190.02 takes the 100 resting at 190.01 and 50 at 190.02.
    client.send("D", order_fields("x-1", 150, "190.02"))
    partial = client.expect("8", where={11: "x-1", 39: "1"})
    assert (partial[150], partial.decimal(32), partial.decimal(31)) == ("F", D(100), D("190.01"))
    fill = client.expect("8", where={11: "x-1", 39: "2"})
    assert (fill.decimal(14), fill.decimal(151), fill.decimal(6)) == (D(150), D(0), D("190.01333333"))
    filled = book_order(rest, fill[37], "FILLED")
    assert sorted(D(e["last_px"]) for e in filled["executions"] if e["kind"] == "TRADE") == [D("190.01"), D("190.02")]

    client.send("D", order_fields("x-2", 100, "189.00"))
    new = client.expect("8", where={11: "x-2", 39: "0"})
    client.send("G", {41: "x-2", 11: "x-3", 21: "1", 55: "AAPL", 54: "1", 38: 200, 40: "2", 44: "189.50",
                      60: order_fields("t", 1, None)[60]})
    replaced = client.expect("8", where={11: "x-3", 150: "5"})
    assert (replaced.decimal(38), replaced.decimal(44), replaced[37]) == (D(200), D("189.5"), new[37])
    client.send("H", {11: "x-3", 55: "AAPL", 54: "1"})
    assert client.expect("8", where={11: "x-3", 150: "I"})[39] == "0"
    client.send("F", {41: "x-3", 11: "x-4", 55: "AAPL", 54: "1", 38: 200, 60: order_fields("t", 1, None)[60]})
    client.expect("8", where={11: "x-4", 39: "4"})
    order = book_order(rest, new[37], "CANCELED")
    assert [e["kind"] for e in order["executions"]] == ["NEW", "PENDING_REPLACE", "REPLACED", "PENDING_CANCEL",
                                                          "CANCELED"]
    # The venue had both orders over its FIXT.1.1 session, as the book has them.
    at_venue = simulator.record.orders_from("FIXGATE")
    assert {o.owner for o in at_venue} == {"FIXT.1.1:SIM->FIXGATE"}
    assert [(o.status, o.cum_qty) for o in at_venue] == [("FILLED", D(150)), ("CANCELED", D(0))]
    assert (at_venue[1].quantity, at_venue[1].price) == (D(200), D("189.50"))
    assert refused_by_the_gateway(tmp_path / "sim") == []


def test_market_data_from_a_fix50_venue_moves_the_reference_price(
    gateway: Fixgate, simulator: Simulator, tmp_path: Path
) -> None:
    # A trade on the venue between others: its FIX 5.0 SP2 market data (35=W, then 35=X) reaches risk.
    with FixClient.connect("127.0.0.1", simulator.port, sender_comp_id="CLIENT2", target_comp_id="SIM") as other:
        other.logon()
        other.send("D", order_fields("elsewhere", 600, "189.50", side="2"))  # sweeps the bids to 189.50
        other.expect("8", where={11: "elsewhere"})
    assert gateway.controls is not None
    risk = gateway.controls.risk
    reference = eventually(lambda: risk.reference_price("AAPL"), lambda price: price != D("190.00"))
    assert reference is not None and D("189.50") < reference < D("190.00")
    assert refused_by_the_gateway(tmp_path / "sim") == []  # the snapshots carry 5.0 SP2's LastUpdateTime


def test_a_fill_made_while_the_gateway_was_down_reaches_the_fix50_client_after_a_restart(
    gateway: Fixgate, simulator: Simulator
) -> None:
    settings = gateway.settings
    client = FixClient.connect("127.0.0.1", settings.client_port, sender_comp_id="CLIENT1",
                               target_comp_id="FIXGATE", begin_string="FIXT.1.1")
    client.logon()
    client.send("D", order_fields("away-1", 100, "189.00"))
    new = client.expect("8", where={11: "away-1", 39: "0"})
    client.logout()
    gateway.stop()
    # While fixgate is down someone sells through the seeded bids (500) into its buy: the venue keeps
    # the fill for fixgate's FIXT.1.1 session, to resend when it asks.
    with FixClient.connect("127.0.0.1", simulator.port, sender_comp_id="CLIENT2", target_comp_id="SIM") as seller:
        seller.logon()
        seller.send("D", order_fields("sell-1", 600, "189.00", side="2"))
        seller.expect("8", where={11: "sell-1", 39: "2"})
    again = Fixgate(replace(settings, client_port=free_port(), rest_port=free_port()))
    again.start()
    try:
        assert again.wait_for_venues({"SIM"}), "the restarted gateway's FIXT.1.1 SIM session did not log on"
        # The client comes back keeping its sequence numbers: what it missed comes as a resend.
        back = FixClient.connect("127.0.0.1", again.settings.client_port, sender_comp_id="CLIENT1",
                                 target_comp_id="FIXGATE", begin_string="FIXT.1.1",
                                 next_seq_out=client.next_seq_out, next_seq_in=client.next_seq_in)
        back.logon()
        filled = back.expect("8", where={11: "away-1", 39: "2"}, timeout=20)
        assert (filled[37], filled[150], filled.decimal(32), filled.decimal(31)) == (new[37], "F", D(100), D("189.00"))
        back.logout()
        assert again.rest is not None
        with httpx.Client(base_url=again.rest.url, headers={"Authorization": f"Bearer {API_TOKEN}"}) as rest:
            order = book_order(rest, new[37], "FILLED")
        assert [e["kind"] for e in order["executions"]] == ["NEW", "TRADE"]
    finally:
        again.stop()
