"""A venue's fee on each fill, end to end on real parts: the simulator charging per share and in bps
reports Commission (12) with CommType (13) 3 on its fills; fixgate books it on the execution (PostgreSQL),
tells the client, publishes it on the fill event, serves it over REST, and TCA counts it as the fill's fee
and in the order's shortfall. Every amount is worked out by hand from the shipped book: AAPL asks
190.01, 190.02, ... 100 each, bids 189.99, ...: mid 190.00."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import pytest

from fixgate.app import Fixgate
from fixgate.fixclient import FixClient
from simulator.config import FeeSchedule, SimulatorConfig, load_config
from simulator.venue import Simulator
from tests.support import book_rows, bus_events, eventually, free_port, order_fields

pytestmark = pytest.mark.timeout(240)
REPO = Path(__file__).resolve().parents[2]

PER_SHARE, BPS = D("0.0035"), D("0.25")


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[Simulator]:
    """The shipped venue with fees (``[venues.fees] per_share = "0.0035"``, ``bps = "0.25"``)."""
    shipped = load_config(REPO / "config" / "simulator.toml")
    venue = dataclasses.replace(shipped.venues[0], fees=FeeSchedule(per_share=PER_SHARE, bps=BPS))
    sim = Simulator(SimulatorConfig((venue,)), tmp_path / "sim", port=free_port())
    sim.start()
    yield sim
    sim.stop(force=True)


def test_a_venues_fees_reach_the_book_the_client_the_bus_and_tca(
    gateway: Fixgate, rest: httpx.Client, database_url: str
) -> None:
    client = FixClient.connect("127.0.0.1", gateway.settings.client_port, sender_comp_id="CLIENT1",
                               target_comp_id="FIXGATE")
    client.logon()
    # Buy 150 up to 190.02, IOC: 100 @ 190.01 and 50 @ 190.02. Each fill's fee is qty x 0.0035 plus
    # qty x price x 0.25 / 10,000:
    #   100: 0.35  + 19,001 x 0.000025 = 0.35  + 0.475025 = 0.825025
    #    50: 0.175 +  9,501 x 0.000025 = 0.175 + 0.237525 = 0.412525
    first_fee, second_fee = D("0.825025"), D("0.412525")
    client.send("D", order_fields("fees-1", 150, "190.02", t59="3"))
    partial = client.expect("8", where={11: "fees-1", 39: "1"})
    filled = client.expect("8", where={11: "fees-1", 39: "2"})
    order_id = int(filled[37])
    # The client is told each fill's fee, as money (CommType 3).
    assert (partial[32], partial[31], D(partial[12]), partial[13]) == ("100", "190.01", first_fee, "3")
    assert (filled[32], filled[31], D(filled[12]), filled[13]) == ("50", "190.02", second_fee, "3")
    client.logout()

    # The book: each fill's execution row holds its fee, exactly; the venue's acknowledgement none.
    rows = eventually(
        lambda: book_rows(database_url, f"SELECT kind, last_qty, commission FROM executions"
                                        f" WHERE order_id = {order_id} ORDER BY seq"),
        lambda rows: [r["kind"] for r in rows] == ["NEW", "TRADE", "TRADE"])
    assert [(r["last_qty"], r["commission"]) for r in rows] == [(0, None), (100, first_fee), (50, second_fee)]

    # REST: GET /executions shows it as decimal text.
    executions = rest.get("/executions", params={"order_id": order_id}).json()
    assert [e["commission"] for e in executions] == [None, "0.825025", "0.412525"]

    # The bus: each fill event carries it as decimal text, as TCA reads it.
    url, instance = gateway.bus_url or "", gateway.settings.instance

    def fill_events() -> list[dict[str, Any]]:
        return [e["data"] for _, _, e in bus_events(url, instance)
                if e["kind"] == "fills" and e["order_id"] == order_id]

    fills = eventually(fill_events, lambda found: len(found) == 2)
    assert [f["commission"] for f in fills] == ["0.825025", "0.412525"]

    # TCA: the fills' fees, their sum the order's fees, and the shortfall counts them: 100 x 0.01 +
    # 50 x 0.02 = 2.00 of execution cost plus 1.23755 of fees on 150 x 190 = 28,500 paper notional:
    # 3.23755 / 28,500 x 10,000 = 1.13598... bps.
    def measured() -> dict[str, Any] | None:
        response = rest.get(f"/tca/orders/{order_id}")
        return response.json() if response.status_code == 200 else None

    tca = eventually(measured, lambda body: body is not None and body["shortfall"] is not None
                     and len(body["fills"]) == 2, timeout=60)
    assert [D(f["fee"]) for f in tca["fills"]] == [first_fee, second_fee]
    assert D(tca["fees"]) == first_fee + second_fee == D("1.23755")
    assert (tca["execution_cost"], tca["opportunity_cost"]) == ("2", "0")
    assert D(tca["shortfall"]) == D("3.23755") and tca["shortfall_bps"] == "1.136"
