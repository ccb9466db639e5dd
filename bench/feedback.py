"""The loop closed, measured: the same flow through a router that weighs TCA's venue scores and through
one that routes on price and fees only, in one run.

    .venv/bin/python -m bench.feedback [--scenario toxic|size] [--orders 400] [--gap-ms 40] [--last-look-ticks 2]

Two simulated venues quote the same prices (deep books that nothing moves). SIM, the venue configured
first, has last look: it fills ``--last-look-ticks`` worse than it quoted.

- ``toxic`` (the default): on every order, and both venues charge the same fees, so a price-only
  router's tie-break picks SIM. Alternating buys and sells of 10 AAPL.
- ``size``: only on orders of 100 shares or more (SIM's cost grows with the size it is sent), and
  SIM2 charges 0.002 a share that SIM does not, so SIM is the cheaper venue for small orders.
  Alternating buys and sells of 50 and of 300 AAPL: the scored router should keep SIM's children
  under 100, the rest going to SIM2.

Each order is IOC with 10 ticks of room, sent after the last one ended, ``--gap-ms`` apart, through a
fresh ``fixgate`` (its TCA process on its embedded NATS, as ``fixgate serve`` runs it) and a fresh
simulator for each router. Prints each router's share of the flow per venue over time (of the shares
filled, per 10% of the orders), the mean slippage of the fills against the mid (per share), and the
mean implementation shortfall TCA measured (``tca_orders``), and writes them under bench/results/.
Database: a fresh one on ``DATABASE_URL``'s server for each run, else an embedded server.
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


@dataclass(frozen=True)
class Scenario:
    """What SIM does and what the flow is (see the module)."""

    quantities: tuple[int, ...]  # the orders' sizes, in turn
    last_look_min_qty: int = 0  # SIM's last look from this size on (0: every order)
    sim2_fee_per_share: str = "0"  # SIM2's fee, as it charges it and as the router is told


SCENARIOS = {
    "toxic": Scenario(quantities=(10,)),
    "size": Scenario(quantities=(50, 50, 300, 300), last_look_min_qty=100, sim2_fee_per_share="0.002"),
}


@dataclass
class Flow:
    """One router's run: each order's fills, (venue, quantity, price) in the order they came."""

    fills: list[list[tuple[str, Decimal, Decimal]]] = field(default_factory=list)
    sides: list[int] = field(default_factory=list)  # +1 a buy, -1 a sell
    last_route: dict[str, Any] = field(default_factory=dict)  # the last order's decision
    shortfall_bps: Decimal | None = None  # TCA's mean implementation shortfall over the orders

    def share(self, venue: str, orders: slice = slice(None)) -> float:
        """``venue``'s share of the quantity filled in ``orders``."""
        chosen = [f for fills in self.fills[orders] for f in fills]
        total = sum((q for _, q, _ in chosen), Decimal(0))
        return float(sum((q for v, q, _ in chosen if v == venue), Decimal(0)) / total)

    @property
    def venues(self) -> list[str]:
        """Each order's venues, ``+``-joined in name order (``SIM+SIM2``: split; the venues' reports
        come in any order)."""
        return ["+".join(sorted({v for v, _, _ in fills})) for fills in self.fills]

    def at(self, venue: str) -> list[Decimal]:
        """What each order filled at ``venue``."""
        return [sum((q for v, q, _ in fills if v == venue), Decimal(0)) for fills in self.fills]

    @property
    def slippage_bps(self) -> list[Decimal]:
        """Each order's slippage against the mid, in bps, positive a cost (its fills' mean price)."""
        result = []
        for sign, fills in zip(self.sides, self.fills, strict=True):
            quantity = sum((q for _, q, _ in fills), Decimal(0))
            notional = sum((q * p for _, q, p in fills), Decimal(0))
            result.append(sign * (notional / quantity - MID) / MID * 10_000)
        return result

    @property
    def mean_slippage_bps(self) -> Decimal:
        """The flow's slippage per share filled, in bps."""
        quantity = sum((q for fills in self.fills for _, q, _ in fills), Decimal(0))
        cost = sum((sign * q * (p - MID) for sign, fills in zip(self.sides, self.fills, strict=True)
                    for _, q, p in fills), Decimal(0))
        return cost / quantity / MID * 10_000


def run_flow(work: Path, database_url: str, *, feedback: bool, orders: int, gap_s: float,
             last_look_ticks: int = 2, scenario: Scenario = SCENARIOS["toxic"], shortfall: bool = False) -> Flow:
    """``orders`` alternating buys and sells through a fresh gateway and simulator (see the module);
    ``shortfall``: wait for TCA to measure every order and read its mean shortfall."""
    from fixgate.app import Fixgate
    from fixgate.config import Settings
    from fixgate.fixclient import FixClient, utc_timestamp
    from simulator import SimulatorConfig, VenueConfig
    from simulator.config import FeeSchedule, LiquidityConfig, VenueDialect
    from simulator.venue import Simulator

    deep = LiquidityConfig(levels=5, level_qty=Decimal(1_000_000))
    fee = scenario.sim2_fee_per_share
    sim = Simulator(SimulatorConfig((
        VenueConfig(name="SIM", port=free_port(), liquidity=deep, log_messages=False,
                    dialect=VenueDialect(last_look_ticks=last_look_ticks,
                                         last_look_min_qty=scenario.last_look_min_qty)),
        VenueConfig(name="SIM2", port=free_port(), liquidity=deep, log_messages=False,
                    fees=FeeSchedule(per_share=Decimal(fee))),
    )), work / "sim")
    sim.start()
    app = Fixgate(Settings(
        config_dir=routed_config(work / "config", {"SIM": None, "SIM2": sim.venue("SIM2").config.port},
                                 fees={"SIM2": (fee, "0")}),
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
            quantity = scenario.quantities[n % len(scenario.quantities)]
            client.send("D", {11: cl_ord_id, 21: "1", 55: "AAPL", 54: "1" if buy else "2", 38: quantity, 40: "2",
                              44: "190.11" if buy else "189.89", 59: "3", 60: utc_timestamp()})
            fills, reports = [], []
            while True:
                report = client.expect("8", where={11: cl_ord_id})
                reports.append(report)
                if report[150] == "F":
                    fills.append((report[30], report.decimal(32), report.decimal(31)))
                if report[39] in ("2", "4", "8"):  # filled; or canceled, rejected: an IOC's rest
                    break
            if report[39] != "2" or sum(q for _, q, _ in fills) != quantity:
                raise RuntimeError(f"order {cl_ord_id} of {quantity}: " + " | ".join(map(str, reports)))
            order_id = report[37]
            flow.fills.append(fills)
            flow.sides.append(1 if buy else -1)
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
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="toxic")
    parser.add_argument("--orders", type=int, default=400)
    parser.add_argument("--gap-ms", type=float, default=40)
    parser.add_argument("--last-look-ticks", type=int, default=2)
    args = parser.parse_args(argv)
    scenario = SCENARIOS[args.scenario]

    flows: dict[str, Flow] = {}
    with tempfile.TemporaryDirectory(prefix="fixgate-bench-feedback-") as tmp:
        for name, feedback in (("with feedback", True), ("price only", False)):
            work = Path(tmp) / name.replace(" ", "-")
            db = BenchDatabase.create(work)
            try:
                print(f"{name}: {args.orders} orders, {args.gap_ms:g} ms apart (database {db.source})...", flush=True)
                flows[name] = run_flow(work, db.url, feedback=feedback, orders=args.orders, gap_s=args.gap_ms / 1000,
                                       last_look_ticks=args.last_look_ticks, scenario=scenario, shortfall=True)
            finally:
                db.close()
    tenth = max(1, args.orders // 10)
    result: dict[str, Any] = {"scenario": args.scenario, "orders": args.orders, "gap_ms": args.gap_ms,
                              "last_look_ticks": args.last_look_ticks, "quantities": scenario.quantities,
                              "last_look_min_qty": scenario.last_look_min_qty,
                              "sim2_fee_per_share": scenario.sim2_fee_per_share}
    fading = f"from {scenario.last_look_min_qty} shares" if scenario.last_look_min_qty else "on every order"
    print(f"\nSIM (last look {fading}, {args.last_look_ticks} ticks) vs SIM2 (honest, fee"
          f" {scenario.sim2_fee_per_share}/share), same quotes; SIM's share of the shares filled in each tenth of the flow:")
    for name, flow in flows.items():
        shares = [round(flow.share("SIM", slice(i, i + tenth)), 2) for i in range(0, args.orders, tenth)]
        largest = [int(max(flow.at("SIM")[i:i + tenth])) for i in range(0, args.orders, tenth)]
        result[name] = {"sim_share_by_tenth": shares, "sim_share": round(flow.share("SIM"), 3),
                        "largest_at_sim_by_tenth": largest,
                        "mean_slippage_bps": str(round(flow.mean_slippage_bps, 4)),
                        "mean_shortfall_bps": None if flow.shortfall_bps is None else str(round(flow.shortfall_bps, 4))}
        print(f"  {name:14} {' '.join(f'{s:.2f}' for s in shares)}   overall {flow.share('SIM'):.2f}")
        print(f"  {'':14} most one order filled at SIM, by tenth: {' '.join(map(str, largest))}")
    for name, flow in flows.items():
        shortfall = "-" if flow.shortfall_bps is None else f"{flow.shortfall_bps:.4f}"
        print(f"  {name:14} mean slippage {flow.mean_slippage_bps:.4f} bps, TCA mean shortfall {shortfall} bps")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"feedback-{args.scenario}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"  written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
