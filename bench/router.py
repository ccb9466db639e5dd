"""How long the router takes to decide where one order goes, by policy.

    .venv/bin/python -m bench.router [--venues 3] [--routes 200000]

Builds a ``Router`` over the shipped instruments listed on ``--venues`` venues (each with fees), every
venue up with a quote of 100 displayed and TCA scores that count, and times ``plan`` (what the OMS
calls for each order) with ``perf_counter_ns`` (one call per sample; the timer's own cost, measured and
printed, is included), garbage collector off, for: ``best_price`` (orders of 100 alternating sides and
symbols, quotes moving between calls as market data would: the best venue shows enough, the order
goes whole), ``split`` (the same orders for 250: swept across the venues and the rest posted),
``ex_destination``, ``only_venue`` (an instrument on one venue: what every order paid before
routing had a choice), and with TCA's scores by size band as well: ``sized`` (the ``best_price``
orders, every venue scored in three size bands that cost alike: no cap) and ``capped`` (the first
venue's 100-999 band costs 1 bps more than its 1-99: its children are capped at 99, so each order of
100 splits 99 there and 1 at the next venue). Prints p50/p90/p99/p99.9 in microseconds of each and writes them under
bench/results/.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from bench.risk_check import RESULTS, _percentiles
from domain.model import Instrument, Listing, NewOrder, OrdType, Side, TimeInForce
from fixgate.config import DEFAULT_CONFIG_DIR, load_instruments
from oms.router import MIN_OBSERVATIONS, Router, VenueCost

DISPLAYED = Decimal(100)  # the size every venue shows at its touch


Quote = tuple[str, str, Decimal, Decimal, Decimal, Decimal]


def build(venues: int, seed: int, sizes: str = "none") -> tuple[Router, list[NewOrder], list[Quote]]:
    """A router with every shipped symbol on ``venues`` venues plus ONE, a symbol on one venue; the
    orders to route and the quote updates to apply between them. ``sizes``: the venues' scores by size
    band: ``none``, ``bands`` (three bands costing alike) or ``capped`` (the first venue's second band
    costing 1 bps more)."""
    shipped = load_instruments(DEFAULT_CONFIG_DIR / "instruments.toml")
    names = [f"V{i}" for i in range(venues)]
    instruments: dict[str, Instrument] = {
        symbol: replace(i, venue=names[0], listings=tuple(
            Listing(name, Decimal("0.001") * n, Decimal("0.1") * n) for n, name in enumerate(names)))
        for symbol, i in shipped.items()
    }
    instruments["ONE"] = Instrument("ONE", names[0], Decimal("0.01"), Decimal(1), Decimal(50))
    router = Router(instruments)
    rng = random.Random(seed)
    for name in names:
        router.set_venue_up(name, True)
    scores = {(name, symbol): VenueCost(
        Decimal(rng.randint(50, 150)) / 100, MIN_OBSERVATIONS + n, Decimal(rng.randint(0, 300)) / 100,
        MIN_OBSERVATIONS + n, Decimal(rng.randint(0, 5)) / 100, MIN_OBSERVATIONS + 2 * n)
        for n, name in enumerate(names) for symbol in shipped}
    if sizes != "none":
        for (name, symbol), cost in scores.items():
            step = Decimal(1) if sizes == "capped" and name == names[0] else Decimal(0)
            bands = tuple((floor, replace(cost, slippage_bps=(cost.slippage_bps or Decimal(0)) + (step if floor else 0)))
                          for floor in (Decimal(0), Decimal(100), Decimal(1000)))
            scores[(name, symbol)] = replace(cost, sizes=bands)
    router.set_scores(scores)
    quotes = []
    for _ in range(1000):
        symbol = rng.choice(sorted(shipped))
        mid = shipped[symbol].reference_price + Decimal(rng.randint(-20, 20)) / 100
        quotes.append((rng.choice(names), symbol, mid - Decimal("0.01"), mid + Decimal("0.01"), DISPLAYED, DISPLAYED))
    for quote in quotes:
        router.quoted(*quote)
    orders = [NewOrder("FIX.4.4:FIXGATE->CLIENT1", f"c{n}", "ACC", rng.choice(sorted(shipped)),
                       rng.choice((Side.BUY, Side.SELL)), OrdType.MARKET, Decimal(100), None,
                       TimeInForce.DAY, 0) for n in range(10_000)]
    return router, orders, quotes


def measure(route: Callable[[NewOrder], object], orders: list[NewOrder], count: int,
            between: Callable[[int], None] | None = None) -> list[int]:
    clock = time.perf_counter_ns
    samples: list[int] = []
    gc.collect()
    gc.disable()
    try:
        for i in range(count):
            if between is not None:
                between(i)
            order = orders[i % len(orders)]
            start = clock()
            route(order)
            samples.append(clock() - start)
    finally:
        gc.enable()
    samples.sort()
    return samples


def main(argv: list[str] | None = None, results: Path = RESULTS) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venues", type=int, default=3)
    parser.add_argument("--routes", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    router, orders, quotes = build(args.venues, args.seed)
    clock = time.perf_counter_ns
    overhead = min(-clock() + clock() for _ in range(10_000))

    def requoting(r: Router) -> Callable[[int], None]:
        """Between two routes: the next quote update into ``r``, as market data would bring it."""
        return lambda i: r.quoted(*quotes[i % len(quotes)])

    requote = requoting(router)

    destination = [replace(o, ex_destination=f"V{args.venues - 1}") for o in orders]
    single = [replace(o, symbol="ONE") for o in orders]
    bigger = [replace(o, quantity=Decimal(250)) for o in orders]
    assert router.plan(bigger[0]).legs and not router.plan(orders[0]).legs
    sized = build(args.venues, args.seed, "bands")[0]
    capped = build(args.venues, args.seed, "capped")[0]
    assert not sized.plan(orders[0]).legs and capped.plan(orders[0]).legs[0].quantity == 99
    result = {
        "venues": args.venues,
        "routes": args.routes,
        "timer_overhead_ns": overhead,
        "best_price": _percentiles(measure(router.plan, orders, args.routes, requote)),
        "split": _percentiles(measure(router.plan, bigger, args.routes, requote)),
        "ex_destination": _percentiles(measure(router.plan, destination, args.routes)),
        "only_venue": _percentiles(measure(router.plan, single, args.routes)),
        "sized": _percentiles(measure(sized.plan, orders, args.routes, requoting(sized))),
        "capped": _percentiles(measure(capped.plan, orders, args.routes, requoting(capped))),
    }
    results.mkdir(exist_ok=True)
    out = results / f"router-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"router, {args.venues} venues per symbol, {args.routes} routes per policy, gc off"
          f" (timer overhead {overhead} ns included)")
    for policy in ("best_price", "split", "ex_destination", "only_venue", "sized", "capped"):
        r = result[policy]
        assert isinstance(r, dict)
        print(f"  {policy:14}: p50 {r['p50_us']:.2f} us   p90 {r['p90_us']:.2f} us   p99 {r['p99_us']:.2f} us"
              f"   p99.9 {r['p99_9_us']:.2f} us   max {r['max_us']:.1f} us")
    print(f"  written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
