"""The gateway's events on its embedded bus: a fill traded over FIX arrives as an event; the bus
killed under trading shows on /health, trading goes on, and the stream catches up with every event
once, in journal order."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from bus.events import EventId
from fixgate.app import Fixgate
from fixgate.fixclient import FixClient
from tests.support import bus_events, eventually, order_fields

pytestmark = pytest.mark.timeout(180)


def trade(client: FixClient, prefix: str, count: int) -> None:
    """Pairs that cross each other at the simulator: each order fills."""
    for n in range(count):
        client.send("D", order_fields(f"{prefix}-s{n}", 5, "190.00", side="2"))
        client.send("D", order_fields(f"{prefix}-b{n}", 5, "190.00", side="1"))
        client.expect("8", where={11: f"{prefix}-b{n}", 39: "2"})


def fills(url: str) -> list[str]:
    return [e["data"]["exec_id"] for _, _, e in bus_events(url, "fixgate") if e["kind"] == "fills"]


def health(app: Fixgate) -> dict[str, str]:
    assert app.rest is not None
    body: dict[str, str] = httpx.get(f"{app.rest.url}/health", timeout=10).json()
    return body


def test_fills_reach_the_bus_and_survive_a_killed_bus(gateway: Fixgate, tmp_path: Path) -> None:
    # ``gateway`` (conftest): fixgate as `serve` runs it, its embedded bus included.
    assert gateway.bus_url is not None and gateway.supervisor is not None
    assert (tmp_path / "gw" / "nats" / "url").read_text().strip() == gateway.bus_url
    client = FixClient.connect("127.0.0.1", gateway.settings.client_port, sender_comp_id="CLIENT1",
                               target_comp_id="FIXGATE")
    client.logon()
    trade(client, "a", 3)
    assert gateway.writer is not None and gateway.writer.flush()
    booked = eventually(lambda: fills(gateway.bus_url or ""), lambda f: len(f) == 6, timeout=30)
    assert eventually(lambda: health(gateway), lambda h: h.get("bus") == "ok")["book_writer"] == "ok"

    # The bus dies under trading: trading goes on, /health says so, and the supervisor starts it again.
    nats = gateway.supervisor.children["nats"]
    assert nats.process is not None
    nats.process.send_signal(signal.SIGKILL)
    down = eventually(lambda: health(gateway), lambda h: h.get("bus") != "ok", timeout=15)
    assert down["status"] == "degraded" and down["database"] == "ok"
    trade(client, "b", 3)
    client.logout()

    events = eventually(lambda: bus_events(gateway.bus_url or "", "fixgate"),
                        lambda e: sum(x["kind"] == "fills" for _, _, x in e) == 12, timeout=60)
    ids = [EventId.parse(msg_id) for _, msg_id, _ in events]
    assert [i.position() for i in ids] == sorted({i.position() for i in ids})  # once each, in order
    assert [x["id"] for _, _, x in events] == [str(i) for i in ids]
    assert fills(gateway.bus_url or "")[:6] == booked
    assert nats.starts == 2
    assert eventually(lambda: health(gateway), lambda h: h.get("bus") == "ok")["status"] == "ok"
