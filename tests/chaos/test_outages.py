"""Outages around a running gateway: the database goes away, the venue session drops, the venue restarts.

Policy for a database outage (docs/ARCHITECTURE.md): fixgate keeps trading. Every change is in the
local journal before an order can reach a venue and before a report is acknowledged, the book
writer retries its batch until PostgreSQL is back, and the book then catches up; nothing is lost.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from decimal import Decimal as D
from pathlib import Path

import httpx
import quickfix as fix

from book.database import create_database, start_embedded, upgrade
from fixgate.app import Fixgate
from fixgate.config import Settings
from fixgate.fixclient import FixClient, utc_timestamp
from simulator.config import load_config
from simulator.venue import Simulator
from tests.support import eventually, free_port, one_venue_config_dir, order_fields

REPO = Path(__file__).resolve().parents[2]
TOKEN = "outage-token"


def start_gateway(data_dir: Path, database_url: str, sim_port: int) -> Fixgate:
    gateway = Fixgate(Settings(config_dir=one_venue_config_dir(), data_dir=data_dir, client_port=free_port(), sim_port=sim_port,
                               rest_port=free_port(), database_url=database_url, api_token=TOKEN))
    gateway.start()
    assert gateway.wait_for_venues({"SIM"})
    return gateway


def client_of(gateway: Fixgate, comp_id: str = "CLIENT1") -> FixClient:
    client = FixClient.connect("127.0.0.1", gateway.settings.client_port, sender_comp_id=comp_id,
                               target_comp_id="FIXGATE")
    client.logon()
    return client


def test_trading_goes_on_through_a_database_outage_and_the_book_catches_up(
    tmp_path: Path, simulator: Simulator
) -> None:
    # A server of its own, to stop and start (not under pytest's tmp: see book.database).
    root = Path(tempfile.mkdtemp(prefix="fixgate-outage-pg-"))
    pg = start_embedded(root / "pgdata")
    gateway: Fixgate | None = None
    try:
        url = create_database(pg.url, "outage")
        upgrade(url)
        gateway = start_gateway(tmp_path / "gw", url, simulator.port)
        assert gateway.writer is not None and gateway.rest is not None
        client = client_of(gateway)

        def trade(prefix: str) -> None:
            for n in range(10):  # sell 5 then buy 5 at one price: each pair trades with itself
                client.send("D", order_fields(f"{prefix}-s{n}", 5, "190.00", side="2"))
                client.send("D", order_fields(f"{prefix}-b{n}", 5, "190.00", side="1"))
                client.expect("8", where={11: f"{prefix}-b{n}", 39: "2"})

        trade("before")
        assert gateway.writer.flush()
        pg.stop()  # the database goes away

        trade("during")  # every order still answered and filled: trading goes on
        with httpx.Client(base_url=gateway.rest.url, timeout=10) as rest:
            assert rest.get("/health").status_code == 503
            assert not gateway.writer.flush(timeout=1.0)  # the book is behind, and knows it
            assert gateway.writer.pending > 0
            # Once nothing has been written for a while, /health names the book writer too.
            health = eventually(lambda: rest.get("/health").json(),
                                lambda h: h.get("book_writer", "").startswith("behind"), timeout=15)
            assert health["status"] == "down" and health["database"].startswith("unavailable")

        pg = start_embedded(root / "pgdata")  # back
        assert gateway.writer.flush(timeout=60.0)
        with httpx.Client(base_url=gateway.rest.url, timeout=10,
                          headers={"Authorization": f"Bearer {TOKEN}"}) as rest:
            assert rest.get("/health").status_code == 200
            orders = rest.get("/orders", params={"limit": 1000}).json()
            executions = rest.get("/executions", params={"limit": 1000}).json()
        assert len(orders) == 40 and {o["status"] for o in orders} == {"FILLED"}
        venue_fills = {f.exec_id for f in simulator.record.fills if f.owner.endswith("->FIXGATE")}
        assert {e["venue_exec_id"] for e in executions if e["kind"] == "TRADE"} == venue_fills
        client.logout()
    finally:
        if gateway is not None:
            gateway.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_fills_made_while_the_venue_session_was_down_arrive_after_it_reconnects(
    tmp_path: Path, database_url: str, simulator: Simulator
) -> None:
    gateway = start_gateway(tmp_path / "gw", database_url, simulator.port)
    try:
        assert gateway.router is not None
        client = client_of(gateway)
        client.send("D", order_fields("rest-1", 100, "189.50"))
        new = client.expect("8", where={11: "rest-1", 39: "0"})

        # The venue drops fixgate's session; while it is down, another member hits the order.
        # fixgate's side is held down until the fill is made (it reconnects every second by itself).
        fix.Session.lookupSession(fix.SessionID("FIX.4.4", "SIM", "FIXGATE")).disconnect()
        ours = fix.Session.lookupSession(fix.SessionID("FIX.4.4", "FIXGATE", "SIM"))
        ours.logout()
        eventually(lambda: gateway.router.venue_is_up("SIM"), lambda up: not up)  # type: ignore[union-attr]
        with FixClient.connect("127.0.0.1", simulator.port, sender_comp_id="CLIENT2",
                               target_comp_id="SIM") as other:
            other.logon()
            # 500 rest on the seeded bids above 189.50; the last 100 meet fixgate's order.
            other.send("D", order_fields("hit-1", 600, "189.50", side="2"))
            other.expect("8", where={11: "hit-1", 39: "2"})
        assert not gateway.router.venue_is_up("SIM")  # the fill happened while the session was down

        # The session comes back; the gap is resent and the fill applied once.
        ours.logon()
        fill = client.expect("8", where={11: "rest-1", 39: "2"}, timeout=15)
        assert (fill.decimal(32), fill.decimal(31), fill.decimal(14)) == (D(100), D("189.50"), D(100))
        with httpx.Client(base_url=gateway.rest.url if gateway.rest else "", timeout=10,
                          headers={"Authorization": f"Bearer {TOKEN}"}) as rest:
            order = eventually(lambda: rest.get(f"/orders/{new[37]}").json(),
                               lambda o: o.get("status") == "FILLED")
        assert [e["kind"] for e in order["executions"]] == ["NEW", "TRADE"]
        client.logout()
    finally:
        gateway.stop()


def test_orders_a_restarted_venue_has_forgotten_are_not_left_working(
    tmp_path: Path, database_url: str, simulator: Simulator
) -> None:
    gateway = start_gateway(tmp_path / "gw", database_url, simulator.port)
    restarted: Simulator | None = None
    try:
        client = client_of(gateway)
        client.send("D", order_fields("lost-1", 100, "189.50"))
        new = client.expect("8", where={11: "lost-1", 39: "0"})
        # The simulator keeps its sessions and record across a restart but not its books.
        simulator.stop(force=True)
        restarted = Simulator(simulator.config, simulator.data_dir)
        restarted.start()
        # After the logon fixgate asks for the status of its working orders and applies the answer.
        canceled = client.expect("8", where={11: "lost-1", 39: "4"}, timeout=15)
        assert canceled[37] == new[37] and "unknown order" in canceled[58]
        assert gateway.oms is not None and gateway.oms.counters.reconciled == 1
        client.logout()
    finally:
        gateway.stop()
        if restarted is not None:
            restarted.stop(force=True)


def test_a_cancel_pending_when_the_gateway_stops_is_answered_by_the_clients_ids_after_the_restart(
    tmp_path: Path, database_url: str
) -> None:
    # A slow venue: the gateway is gone before the venue has answered the cancel (its stop drains the
    # book writer process too: seconds on a loaded machine).
    config = load_config(REPO / "config" / "simulator.toml")
    slow = dataclasses.replace(config, venues=(dataclasses.replace(config.venues[0], response_delay_ms=4000),))
    simulator = Simulator(slow, tmp_path / "sim", port=free_port())
    simulator.start()
    gateway = start_gateway(tmp_path / "gw", database_url, simulator.port)
    restarted: Fixgate | None = None
    try:
        client = client_of(gateway)
        client.send("D", order_fields("slow-1", 100, "189.50"))
        new = client.expect("8", where={11: "slow-1", 39: "0"}, timeout=15)
        client.send("F", {41: "slow-1", 11: "slow-cxl", 55: "AAPL", 54: "1", 38: 100, 60: utc_timestamp()})
        client.expect("8", where={11: "slow-cxl", 39: "6"})  # PendingCancel, from fixgate itself
        client.close()  # the client goes first: its Logout would hold the gateway's stop for seconds
        gateway.stop()
        [at_venue] = simulator.record.orders_from("FIXGATE")
        assert at_venue.status == "NEW"  # the venue answers the cancel only after the gateway is gone

        # The same data folder and book; the client continues its FIX session.
        restarted = start_gateway(tmp_path / "gw", database_url, simulator.port)
        client = FixClient.connect("127.0.0.1", restarted.settings.client_port, sender_comp_id="CLIENT1",
                                   target_comp_id="FIXGATE", next_seq_out=client.next_seq_out,
                                   next_seq_in=client.next_seq_in)
        client.logon()
        done = client.expect("8", where={11: "slow-cxl", 39: "4"}, timeout=20)
        assert (done[41], done[37], done[150]) == ("slow-1", new[37], "4")
        with httpx.Client(base_url=restarted.rest.url if restarted.rest else "", timeout=10,
                          headers={"Authorization": f"Bearer {TOKEN}"}) as rest:
            order = eventually(lambda: rest.get(f"/orders/{new[37]}").json(),
                               lambda o: o.get("status") == "CANCELED")
        assert order["cl_ord_id"] == "slow-cxl"
        assert restarted.oms is not None and restarted.oms.counters.unknown_reports == 0
        client.logout()
    finally:
        gateway.stop()
        if restarted is not None:
            restarted.stop()
        simulator.stop(force=True)
