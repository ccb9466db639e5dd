"""The loop closed, over real parts: two simulated venues quote the same prices with the same fees, but
one of them (SIM, the venue configured first: the one a price-only router's tie-break prefers) has last
look: it fills 2 ticks worse than it quoted. The same flow goes through two gateways, one whose router
weighs TCA's live venue scores and one that routes on price and fees only. With the scores, the
router moves the flow to the honest venue once both venues' fills are scored, and the flow's slippage
falls against the router without them. Each gateway runs its TCA process on its embedded NATS, as
``fixgate serve`` does."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path

import httpx
import pytest

from bench.procs import routed_config
from book.database import create_database, drop_database, upgrade
from fixgate.app import Fixgate
from fixgate.config import Settings
from fixgate.fixclient import FixClient
from simulator import SimulatorConfig, VenueConfig
from simulator.config import LiquidityConfig, VenueDialect
from simulator.venue import Simulator
from tests.acceptance.conftest import API_TOKEN
from tests.support import eventually, free_port, order_fields

pytestmark = pytest.mark.timeout(300)

ORDERS = 160
GAP_S = 0.04  # about 25 orders a second: the scores (TCA, then the router's read each second) lag ~1-2 s
MID = D("190.00")  # both venues quote 189.99 / 190.01 throughout (deep levels, nothing moves them)
DEEP = LiquidityConfig(levels=5, level_qty=D(1_000_000))


@dataclass
class Flow:
    venues: list[str]  # LastMkt (30) of each order's fill, in order
    slippage_bps: list[D]  # of each fill against the mid, positive a cost
    last_route: dict  # type: ignore[type-arg]

    def share(self, venue: str, orders: slice) -> float:
        chosen = self.venues[orders]
        return chosen.count(venue) / len(chosen)

    @property
    def mean_slippage_bps(self) -> D:
        return sum(self.slippage_bps, D(0)) / len(self.slippage_bps)


@pytest.fixture
def database(pg_admin_url: str) -> Iterator[str]:
    """A second database, for the second gateway."""
    name = f"fixgate_test_{uuid.uuid4().hex[:16]}"
    url = create_database(pg_admin_url, name)
    try:
        upgrade(url)
        yield url
    finally:
        drop_database(pg_admin_url, name)


def run_flow(work: Path, database_url: str, *, feedback: bool) -> Flow:
    """ORDERS alternate buys and sells of 10 AAPL (IOC, 10 ticks of room) through a fresh gateway
    and simulator: which venue filled each, and at what slippage."""
    sim = Simulator(SimulatorConfig((
        VenueConfig(name="SIM", port=free_port(), liquidity=DEEP, dialect=VenueDialect(last_look_ticks=2)),
        VenueConfig(name="SIM2", port=free_port(), liquidity=DEEP),
    )), work / "sim")
    sim.start()
    app = Fixgate(Settings(
        config_dir=routed_config(work / "config", {"SIM": None, "SIM2": sim.venue("SIM2").config.port}),
        data_dir=work / "gw", client_port=free_port(), sim_port=sim.venue("SIM").config.port,
        rest_port=free_port(), database_url=database_url, api_token=API_TOKEN, route_feedback=feedback,
    ))
    app.start()
    try:
        assert app.wait_for_venues({"SIM", "SIM2"})
        client = FixClient.connect("127.0.0.1", app.settings.client_port, sender_comp_id="CLIENT1",
                                   target_comp_id="FIXGATE")
        client.logon()
        flow = Flow([], [], {})
        for n in range(ORDERS):
            buy = n % 2 == 0
            cl_ord_id = f"f-{n}"
            client.send("D", order_fields(cl_ord_id, 10, "190.11" if buy else "189.89", side="1" if buy else "2",
                                          t59="3"))
            fill = client.expect("8", where={11: cl_ord_id, 39: "2"})
            flow.venues.append(fill[30])
            price = fill.decimal(31)
            flow.slippage_bps.append(((price - MID) if buy else (MID - price)) / MID * 10_000)
            time.sleep(GAP_S)
        assert app.rest is not None
        with httpx.Client(base_url=app.rest.url, headers={"Authorization": f"Bearer {API_TOKEN}"}) as rest:
            last = eventually(lambda: rest.get(f"/orders/{fill[37]}").json(), lambda o: o.get("route"))
        flow.last_route = json.loads(last["route"])
        client.logout(timeout=2)
        return flow
    finally:
        app.stop()
        sim.stop(force=True)


def test_the_router_learns_to_avoid_a_venue_that_fills_worse_than_it_quotes(
    tmp_path: Path, database_url: str, database: str
) -> None:
    learned = run_flow(tmp_path / "feedback", database_url, feedback=True)
    price_only = run_flow(tmp_path / "price-only", database, feedback=False)

    # Without scores the tie-break keeps the flow at the venue configured first: all of it at SIM.
    assert price_only.share("SIM", slice(None)) == 1.0
    assert price_only.last_route["venue"] == "SIM"
    # With them, the last 60 orders went to the honest venue; SIM had the flow only while unscored.
    assert learned.share("SIM", slice(-60, None)) == 0.0, learned.venues
    assert learned.share("SIM", slice(None)) < 0.75, learned.venues
    considered = {v["venue"]: v for v in learned.last_route["venues"]}
    assert learned.last_route["venue"] == "SIM2"
    assert D(considered["SIM"]["penalty_bps"]) > D("0.5")  # it fades 2 ticks: 1.05 bps
    assert D(considered["SIM"]["touch"]) == D(considered["SIM2"]["touch"])  # the same offer or bid...
    assert D(considered["SIM"]["expected"]) != D(considered["SIM2"]["expected"])  # ...but not the same cost

    # SIM's fills cost 3 ticks from the mid (1.58 bps), SIM2's 1 tick (0.53 bps): the learning flow's
    # mean slippage is below the price-only flow's.
    assert {s for s, v in zip(price_only.slippage_bps, price_only.venues, strict=True) if v == "SIM"} == {
        D("0.03") / MID * 10_000}
    assert learned.mean_slippage_bps < price_only.mean_slippage_bps - D("0.3")
