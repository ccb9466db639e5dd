"""The loop closed, measured: the same flow through a router that weighs TCA's venue scores and through
one that routes on price and fees only, in one run.

    .venv/bin/python -m bench.feedback [--orders 400] [--gap-ms 40] [--last-look-ticks 2]

Two simulated venues quote the same prices with the same fees (deep books that nothing moves); SIM,
the venue configured first (the one a price-only router's tie-break picks), has last look: it fills
``--last-look-ticks`` worse than it quoted. ``--orders`` alternating buys and sells of 10 AAPL (IOC,
10 ticks of room) go out one after another, ``--gap-ms`` apart, through a fresh ``fixgate`` (its TCA
process on its embedded NATS, as ``fixgate serve`` runs it) and a fresh simulator for each router.
Prints each router's flow share per venue over time (per 10% of the orders), the mean slippage of
the fills against the mid, and the mean implementation shortfall TCA measured (``tca_orders``), and
writes them under bench/results/. Database: a fresh one on ``DATABASE_URL``'s server for each run,
else an embedded server.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bench.bookcheck import BenchDatabase
from bench.procs import free_port, routed_config
from bench.risk_check import RESULTS

MID = Decimal("190.00")  # both venues quote 189.99 / 190.01 throughout
TOKEN = "bench-feedback-token-0123456789"


@dataclass
class Flow:
    """One router's run: the venue of each order's fill (LastMkt), in order, and its slippage."""

    venues: list[str] = field(default_factory=list)
    slippage_bps: list[Decimal] = field(default_factory=list)  # against the mid, positive a cost
    last_route: dict[str, Any] = field(default_factory=dict)  # the last order's decision
    shortfall_bps: Decimal | None = None  # TCA's mean implementation shortfall over the orders

    def share(self, venue: str, orders: slice = slice(None)) -> float:
        chosen = self.venues[orders]
        return chosen.count(venue) / len(chosen)

    @property
    def mean_slippage_bps(self) -> Decimal:
        return sum(self.slippage_bps, Decimal(0)) / len(self.slippage_bps)


def run_flow(work: Path, database_url: str, *, feedback: bool, orders: int, gap_s: float,
             last_look_ticks: int = 2, shortfall: bool = False) -> Flow:
    """``orders`` alternating buys and sells through a fresh gateway and simulator (see the module);
    ``shortfall``: wait for TCA to measure every order and read its mean shortfall."""
    from fixgate.app import Fixgate
    from fixgate.config import Settings
    from fixgate.fixclient import FixClient, utc_timestamp
    from simulator import SimulatorConfig, VenueConfig
    from simulator.config import LiquidityConfig, VenueDialect
    from simulator.venue import Simulator

    deep = LiquidityConfig(levels=5, level_qty=Decimal(1_000_000))
    sim = Simulator(SimulatorConfig((
        VenueConfig(name="SIM", port=free_port(), liquidity=deep, log_messages=False,
                    dialect=VenueDialect(last_look_ticks=last_look_ticks)),
        VenueConfig(name="SIM2", port=free_port(), liquidity=deep, log_messages=False),
    )), work / "sim")
    sim.start()
    app = Fixgate(Settings(
        config_dir=routed_config(work / "config", {"SIM": None, "SIM2": sim.venue("SIM2").config.port}),
        data_dir=work / "gw", client_port=free_port(), sim_port=sim.venue("SIM").config.port,
        rest_port=free_port(), database_url=database_url, api_token=TOKEN, route_feedback=feedback,
        fix_message_log=False,
    ))
    app.start()
    try:
        if not app.wait_for_venues({"SIM", "SIM2"}):
            raise RuntimeError("the gateway's venue sessions did not log on")
        assert app.rest is not None
        rest = httpx.Client(base_url=app.rest.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        client = FixClient.connect("127.0.0.1", app.settings.client_port, sender_comp_id="CLIENT1",
                                   target_comp_id="FIXGATE")
        client.logon()
        flow = Flow()
        order_id = ""
        for n in range(orders):
            buy = n % 2 == 0
            cl_ord_id = f"f-{n}"
            client.send("D", {11: cl_ord_id, 21: "1", 55: "AAPL", 54: "1" if buy else "2", 38: 10, 40: "2",
                              44: "190.11" if buy else "189.89", 59: "3", 60: utc_timestamp()})
            fill = client.expect("8", where={11: cl_ord_id, 39: "2"})
            order_id = fill[37]
            flow.venues.append(fill[30])
            price = fill.decimal(31)
            flow.slippage_bps.append(((price - MID) if buy else (MID - price)) / MID * 10_000)
            time.sleep(gap_s)
        flow.last_route = json.loads(_until(lambda: rest.get(f"/orders/{order_id}").json().get("route"), 30))
        if shortfall:
            summary = _until(lambda: _measured(rest, orders), 120)
            flow.shortfall_bps = Decimal(summary)
        client.logout(timeout=2)
        rest.close()
        return flow
    finally:
        app.stop()
        sim.stop(force=True)


def _measured(rest: httpx.Client, orders: int) -> str | None:
    """TCA's mean shortfall (bps) over the venues once it has measured ``orders`` orders, else None
    (each venue's is weighted by paper notional; every order here has the same, so by orders)."""
    venues = [v for v in rest.get("/tca/summary", params={"symbol": "AAPL"}).json()["venues"]
              if v["shortfall_bps"] is not None]
    measured = sum(v["orders"] for v in venues)
    if measured < orders:
        return None
    return str(sum(Decimal(v["shortfall_bps"]) * v["orders"] for v in venues) / measured)


def _until(fetch: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing after {timeout} s")
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=400)
    parser.add_argument("--gap-ms", type=float, default=40)
    parser.add_argument("--last-look-ticks", type=int, default=2)
    args = parser.parse_args(argv)

    flows: dict[str, Flow] = {}
    with tempfile.TemporaryDirectory(prefix="fixgate-bench-feedback-") as tmp:
        for name, feedback in (("with feedback", True), ("price only", False)):
            work = Path(tmp) / name.replace(" ", "-")
            db = BenchDatabase.create(work)
            try:
                print(f"{name}: {args.orders} orders, {args.gap_ms:g} ms apart (database {db.source})...", flush=True)
                flows[name] = run_flow(work, db.url, feedback=feedback, orders=args.orders, gap_s=args.gap_ms / 1000,
                                       last_look_ticks=args.last_look_ticks, shortfall=True)
            finally:
                db.close()
    tenth = max(1, args.orders // 10)
    result: dict[str, Any] = {"orders": args.orders, "gap_ms": args.gap_ms, "last_look_ticks": args.last_look_ticks}
    print(f"\nSIM (last look, {args.last_look_ticks} ticks) vs SIM2 (honest), same quotes and fees;"
          f" SIM's share of each tenth of the flow:")
    for name, flow in flows.items():
        shares = [round(flow.share("SIM", slice(i, i + tenth)), 2) for i in range(0, args.orders, tenth)]
        result[name] = {"sim_share_by_tenth": shares, "sim_share": round(flow.share("SIM"), 3),
                        "mean_slippage_bps": str(round(flow.mean_slippage_bps, 4)),
                        "mean_shortfall_bps": str(flow.shortfall_bps)}
        print(f"  {name:14} {' '.join(f'{s:.2f}' for s in shares)}   overall {flow.share('SIM'):.2f}")
    for name, flow in flows.items():
        print(f"  {name:14} mean slippage {flow.mean_slippage_bps:.4f} bps, TCA mean shortfall"
              f" {flow.shortfall_bps} bps")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"feedback-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"  written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
