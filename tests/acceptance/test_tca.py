"""Transaction cost analysis on real parts: orders over FIX through fixgate to the venue simulator, its
events on the embedded NATS, the TCA process (a child of fixgate, as `serve` runs it) writing
PostgreSQL, read over REST. Every expected number is worked out by hand from the shipped book:
AAPL asks 190.01, 190.02, ... and bids 189.99, 189.98, ..., 100 each: mid 190.00."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from bus.server import servers
from fixgate.app import Fixgate
from fixgate.fixclient import FixClient
from fixgate.supervisor import Child
from simulator.config import SimulatorConfig, load_config
from simulator.venue import Simulator
from tca.service import score_stream, score_subject
from tests.support import book_rows, eventually, free_port, order_fields

pytestmark = pytest.mark.timeout(240)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def simulator(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Simulator]:
    """The shipped venue, toxic by ``toxic_markout_ticks`` ticks when the test asks (indirect)."""
    ticks = getattr(request, "param", 0)
    shipped = load_config(REPO / "config" / "simulator.toml")
    venue = shipped.venues[0]
    config = SimulatorConfig((dataclasses.replace(venue, dialect=dataclasses.replace(
        venue.dialect, toxic_markout_ticks=ticks)),))
    sim = Simulator(config, tmp_path / "sim", port=free_port())
    sim.start()
    yield sim
    sim.stop(force=True)


def _client(gateway: Fixgate) -> FixClient:
    client = FixClient.connect("127.0.0.1", gateway.settings.client_port, sender_comp_id="CLIENT1",
                               target_comp_id="FIXGATE")
    client.logon()
    return client


def _buy(client: FixClient, cl_ord_id: str, qty: int, price: str) -> int:
    """An IOC buy; its fixgate order id, once it is done."""
    client.send("D", order_fields(cl_ord_id, qty, price, t59="3"))
    done = client.expect("8", where={11: cl_ord_id, 39: "2"})
    return int(done[37])


def _measured(rest: httpx.Client, order_id: int, horizons: int) -> dict[str, Any]:
    """The order's TCA once its fills have their first ``horizons`` markouts settled."""
    def fetch() -> dict[str, Any] | None:
        response = rest.get(f"/tca/orders/{order_id}")
        return response.json() if response.status_code == 200 else None

    def ready(body: dict[str, Any] | None) -> bool:
        return body is not None and body["shortfall"] is not None and bool(body["fills"]) and all(
            m["settled"] for f in body["fills"] for m in f["markouts"][:horizons])

    body: dict[str, Any] = eventually(fetch, ready, timeout=60)
    return body


def _scores(rest: httpx.Client, **params: str) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = rest.get("/tca/venues", params=params).json()
    return body


def test_a_sweep_of_two_levels_measured_by_hand(
    gateway: Fixgate, rest: httpx.Client, database_url: str, tmp_path: Path
) -> None:
    client = _client(gateway)
    # Buy 150 up to 190.02: 100 @ 190.01 and 50 @ 190.02; the book is then 189.99 / 190.02: mid 190.005.
    order_id = _buy(client, "sweep-1", 150, "190.02")
    tca = _measured(rest, order_id, horizons=2)
    assert (tca["arrival_mid"], tca["filled_qty"], tca["venues"], tca["status"]) == ("190", "150", ["SIM"], "FILLED")
    first, second = tca["fills"]
    assert (first["quantity"], first["price"], second["quantity"], second["price"]) == ("100", "190.01", "50", "190.02")
    assert first["slippage_bps"] == "0.5263"  # 0.01 / 190 x 10,000 = 0.52631...
    assert second["slippage_bps"] == "1.0526"  # 0.02 / 190
    # The mid at each fill is still 190.00 (the venue's market data follows its execution reports):
    # effective spread 2 x 0.01 and 2 x 0.02.
    assert (first["mid_at_fill"], first["effective_spread"], first["effective_spread_bps"]) == ("190", "0.02", "1.0526")
    assert (second["effective_spread"], second["effective_spread_bps"]) == ("0.04", "2.1053")
    assert first["fee"] is None  # the shipped venue charges nothing (and reports no Commission)
    # 1 s and 5 s later the mid is 190.005 (nothing moved): 0.005 / 190.01 and 0.015 / 190.02.
    for fill, expected in ((first, "0.2631"), (second, "0.7894")):
        one, five = fill["markouts"][:2]
        assert (one["horizon_s"], one["mid"], one["markout_bps"]) == (1, "190.005", expected)
        assert (five["horizon_s"], five["mid"], five["markout_bps"]) == (5, "190.005", expected)
    # Shortfall: 100 x 0.01 + 50 x 0.02 = 2.00 on a paper notional of 150 x 190 = 28,500: 0.7018 bps.
    assert (tca["execution_cost"], tca["opportunity_cost"], tca["shortfall"], tca["shortfall_bps"]) == (
        "2", "0", "2", "0.7018")
    assert tca["fill_rate"] == "1" and tca["time_to_complete_ns"] > 0

    (overall,) = _scores(rest, venue="SIM", symbol="*")
    assert overall["instance"] == gateway.settings.instance
    assert _scores(rest, instance="another") == []
    # Two fills: slippage (0.5263 + 1.0526 x 0.5 ** (1/50)) / (1 + 0.5 ** (1/50)): between the two.
    assert D("0.5263") < D(overall["slippage_bps"]) < D("1.0526") and overall["slippage_bps_count"] == 2
    assert (overall["reject_rate"], overall["fill_rate"], overall["markout_bps_count"]) == ("0", "1", 2)
    (bucket,) = _scores(rest, venue="SIM", size_bucket="100-999")
    assert bucket["symbol"] == "AAPL" and bucket["slippage_bps"] == overall["slippage_bps"]

    summary = rest.get("/tca/summary", params={"symbol": "AAPL"}).json()
    (sim,) = summary["venues"]
    # Quantity-weighted: (100 x 0.5263 + 50 x 1.0526) / 150 = 0.7017(3...)
    assert (sim["venue"], sim["fills"], sim["quantity"], sim["orders"]) == ("SIM", 2, "150", 1)
    assert D(sim["slippage_bps"]).quantize(D("0.0001")) == D("0.7017")
    assert (sim["shortfall"], sim["fill_rate"]) == ("2", "1")
    assert rest.get("/tca/summary", params={"venue": "ELSEWHERE"}).json()["venues"] == []

    # Bad input: a 4xx naming the parameter, never a 500.
    for path, params, says in (
        ("/tca/orders/0", {}, "order_id"),
        ("/tca/summary", {"from": "yesterday"}, "from='yesterday' is not an ISO-8601 timestamp"),
        ("/tca/summary", {"from": "2030-01-01T00:00:00Z", "to": "2020-01-01T00:00:00Z"}, "is after to="),
        ("/tca/summary", {"symbol": "AA\x00PL"}, "symbol"),
        ("/tca/venues", {"size_bucket": "huge"}, "size_bucket='huge'"),
    ):
        refused = rest.get(path, params=params)
        assert refused.status_code == 422 and says in refused.text, (path, params, refused.text)
    unknown = rest.get(f"/tca/orders/{order_id + 1000}")
    assert unknown.status_code == 404 and f"order {order_id + 1000} has no transaction cost" in unknown.text
    assert httpx.get(f"{rest.base_url}/tca/venues").status_code == 401  # no token

    # The score events are on the bus, in their own stream.
    events = _score_events(gateway.bus_url or "", gateway.settings.instance)
    assert {(e["kind"], e["type"]) for e in events} == {("tca", "VenueScore")}
    assert {(e["data"]["venue"], e["data"]["symbol"], e["data"]["size_bucket"]) for e in events} == {
        ("SIM", "*", "*"), ("SIM", "AAPL", "*"), ("SIM", "AAPL", "100-999")}
    client.logout()

    # The report over a window holding the order: three plots, and the venue's numbers exact.
    page = tmp_path / "tca.html"
    window = ["--from", "2020-01-01T00:00:00Z", "--to", "2200-01-01T00:00:00Z"]
    made = _cli(database_url, "tca", "report", *window, "--out", str(page))
    assert made.returncode == 0, made.stderr
    text = page.read_text()
    assert text.count("<svg") == 3 and "<script" not in text and " src=" not in text
    # notional 19,001 + 9,501; slippage (100 x 0.5263 + 50 x 1.0526) / 150; effective spread likewise
    assert "<td>SIM</td><td>2</td><td>150</td><td>28502.0000</td><td>0.7017</td><td>1.4035</td>" in text
    assert "<td>2.0000</td><td>0.7018</td>" in text  # the shortfall, money and bps
    backwards = _cli(database_url, "tca", "report", "--from", "2030-01-01T00:00:00Z", "--to", "2020-01-01T00:00:00Z")
    assert backwards.returncode != 0 and "--from 2030-01-01T00:00:00Z is not before --to" in backwards.stderr
    naive = _cli(database_url, "tca", "report", "--from", "2020-01-01T00:00:00", "--to", "2030-01-01T00:00:00Z")
    assert naive.returncode != 0 and "--from='2020-01-01T00:00:00' has no UTC offset" in naive.stderr


def _cli(database_url: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fixgate.cli", *argv], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DATABASE_URL": database_url}, check=False)


@pytest.mark.parametrize("simulator", [3], indirect=True)
def test_a_toxic_venue_shows_in_its_markouts(gateway: Fixgate, rest: httpx.Client) -> None:
    client = _client(gateway)
    # Buy 100 @ 190.01; the venue's quotes then fall 3 ticks: bids from 189.96, asks from 189.99:
    # mid 189.975. Markout: (190.01 - 189.975) / 190.01 = 1.8420 bps (against 0.2631 at a fair venue).
    order_id = _buy(client, "toxic-1", 100, "190.01")
    tca = _measured(rest, order_id, horizons=2)
    (fill,) = tca["fills"]
    assert (fill["slippage_bps"], fill["mid_at_fill"]) == ("0.5263", "190")
    assert [(m["mid"], m["markout_bps"]) for m in fill["markouts"][:2]] == [("189.975", "1.842"), ("189.975", "1.842")]
    (score,) = _scores(rest, venue="SIM", symbol="*")
    assert score["markout_bps"] == "1.842"
    # The next buy arrives at the moved mid (189.975) and pays the moved ask (189.99): 0.8423 bps.
    second = _measured(rest, _buy(client, "toxic-2", 10, "189.99"), horizons=1)
    assert (second["arrival_mid"], second["fills"][0]["slippage_bps"]) == ("189.975", "0.7896")
    client.logout()


def test_a_restarted_tca_process_counts_every_event_once(
    gateway: Fixgate, rest: httpx.Client, database_url: str
) -> None:
    client = _client(gateway)
    first = _buy(client, "once-1", 100, "190.01")
    _measured(rest, first, horizons=1)
    supervisor = gateway.supervisor
    assert supervisor is not None
    tca = supervisor.children["tca"]
    # Stop it, and make its next start read the stream from the first event again (as if its consumer
    # had been lost): the events applied before must be known by their ids.
    supervisor.stop_child("tca")
    assert book_rows(database_url, "UPDATE tca_progress SET stream_seq = 0 RETURNING consumer") != []
    supervisor.add(Child(tca.name, tca.argv, tca.log_path, env=tca.env, stop_grace_s=tca.stop_grace_s))
    second = _buy(client, "once-2", 50, "190.02")
    _measured(rest, second, horizons=1)
    # A kill mid-run: the supervisor starts it again and it goes on from its last commit.
    restarted = supervisor.children["tca"]
    assert restarted.process is not None
    restarted.process.kill()
    third = _buy(client, "once-3", 10, "190.03")
    _measured(rest, third, horizons=1)
    assert restarted.starts >= 2

    fills = book_rows(database_url, "SELECT exec_id FROM tca_fills")
    assert len(fills) == 3
    (overall,) = _scores(rest, venue="SIM", symbol="*")
    assert (overall["slippage_bps_count"], overall["fill_rate_count"], overall["reject_rate_count"]) == (3, 3, 3)
    assert overall["markout_bps_count"] <= 3
    # The new consumer had the first order's events again, and the process knew them.
    assert "events delivered again were applied before: skipped" in tca.log_path.read_text()
    client.logout()


def _score_events(url: str, instance: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        import json
        nc = await nats.connect(servers(url))
        try:
            js = nc.jetstream()
            sub = await js.subscribe(score_subject(instance), stream=score_stream(instance), ordered_consumer=True)
            info = await js.stream_info(score_stream(instance))
            events = []
            for _ in range(info.state.messages):
                msg = await sub.next_msg(timeout=5)
                events.append(json.loads(msg.data))
            return events
        finally:
            await nc.close()

    return asyncio.run(read())
