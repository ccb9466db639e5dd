"""The dashboard's feed over a real socket when the database is unreachable, and an open feed when its
server stops (the page and its actions end to end: ``tests/acceptance/test_dashboard.py``)."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import orjson

from api import create_app
from fixgate.rest import RestServer
from tests.support import free_port

TOKEN = "dashboard-feed-operator-token-0123456789"


def test_a_feed_shows_what_it_can_without_the_database_and_ends_when_its_server_stops() -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/fixgate"  # nothing listens there
    server = RestServer(create_app(nowhere, api_token=TOKEN), "127.0.0.1", free_port())
    server.start()
    stopper = threading.Thread(target=server.stop)
    events: list[tuple[str, Any]] = []
    try:
        with httpx.Client(timeout=15) as client, client.stream(
                "GET", f"{server.url}/dashboard/feed", headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            kind = ""
            for line in response.iter_lines():  # ends only when the server ends the response
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    events.append((kind, orjson.loads(line[6:])))
                    if len(events) == 2:
                        stopper.start()
                    # uvicorn waits for open responses before it stops: a feed must end by itself.
                    assert len(events) < 6, "the feed went on after its server was asked to stop"
    finally:
        if stopper.ident is None:  # failed before it was started
            server.stop()
        else:
            stopper.join()

    assert [kind for kind, _ in events[:2]] == ["hello", "snapshot"]
    snapshot = events[1][1]
    # Each section the database feeds is named as missing; the rest is there.
    assert [t.split(":")[0] for t in snapshot["trouble"]] == ["orders, fills and positions", "audit trail"]
    assert "orders" not in snapshot and "audit" not in snapshot
    assert snapshot["health"]["status"] == "down"
    assert snapshot["health"]["database"].startswith("unavailable")
    # No gateway behind this API: no sessions, risk, counters or latency, and none of that is trouble.
    assert (snapshot["sessions"], snapshot["risk"], snapshot["counters"], snapshot["latency"]) == (
        None, None, None, None)
