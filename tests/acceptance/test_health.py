"""``/health`` of a real gateway: each part named; the venue gone is a 503 (nothing can be traded),
and back is 200 again. What else can be wrong and how it answers is in ``Fixgate.health_parts``."""

from __future__ import annotations

from typing import Any

import httpx

from api.schemas import PartHealth
from fixgate.app import Fixgate
from simulator.venue import Simulator
from tests.support import eventually


def health(app: Fixgate) -> httpx.Response:
    assert app.rest is not None
    return httpx.get(f"{app.rest.url}/health", timeout=10)


def body(app: Fixgate) -> tuple[int, dict[str, Any]]:
    response = health(app)
    return response.status_code, response.json()


def test_every_part_is_named_and_the_venue_gone_is_a_503(gateway: Fixgate, simulator: Simulator) -> None:
    # The bus may still be publishing an earlier test's segments, and the writer not yet have reported.
    code, ok = eventually(lambda: body(gateway), lambda r: r[1].get("status") == "ok", timeout=30)
    assert (code, ok) == (200, {"status": "ok", "database": "ok", "venues": "ok", "book_writer": "ok", "bus": "ok"})

    simulator.stop(force=True)
    code, down = eventually(lambda: body(gateway), lambda r: r[1]["venues"] != "ok")
    assert code == 503
    assert down["status"] == "down"
    assert down["venues"] == "down: SIM (no venue logged on: every order is rejected)"
    assert down["database"] == "ok"

    restarted = Simulator(simulator.config, simulator.data_dir)
    restarted.start()
    try:
        code, back = eventually(lambda: body(gateway), lambda r: r[0] == 200, timeout=20)
        assert back["venues"] == "ok" and back["status"] == "ok"
    finally:
        restarted.stop(force=True)


def test_only_every_venue_down_stops_trading() -> None:
    # (Fixgate's own rule, on names: the shipped config has one venue.)
    assert Fixgate._venues_health(["A", "B"], []) == PartHealth("ok")
    some = Fixgate._venues_health(["A", "B"], ["B"])
    assert some.state.startswith("down: B (") and not some.stops
    assert Fixgate._venues_health(["A", "B"], ["A", "B"]).stops
    assert Fixgate._venues_health([], []).stops
