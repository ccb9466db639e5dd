"""How long the full pre-trade check of one order takes, with every check on, against a loaded view.

    .venv/bin/python -m bench.risk_check [--accounts 1000] [--open-orders 10000] [--checks 200000]

Builds a ``PreTradeRisk`` with every limit set (per order, collar, tick/lot, max position, gross,
net, credit, daily loss, order rate, duplicates) for ``--accounts`` accounts over the shipped
instruments, opens ``--open-orders`` working orders and a position per account and symbol, then times
``check`` on a stream of varied orders with ``perf_counter_ns`` (one call per sample; the timer's own
cost, measured and printed, is included). Two passes over the same orders: with the garbage collector
off (the check's own cost) and on, as in the gateway (its pauses land on whichever check is running).
Prints p50/p90/p99/p99.9 in microseconds of each and writes them under bench/results/.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time
from decimal import Decimal
from pathlib import Path

from domain.model import NewOrder, OrdType, Side, TimeInForce
from fixgate.config import DEFAULT_CONFIG_DIR, load_instruments
from risk import PreTradeRisk, risk_config_from_mapping

RESULTS = Path(__file__).resolve().parent / "results"


def build(accounts: int, open_orders: int, seed: int) -> tuple[PreTradeRisk, list[NewOrder]]:
    """A risk engine with every check on and a loaded view; and the orders to check."""
    instruments = load_instruments(DEFAULT_CONFIG_DIR / "instruments.toml")
    symbols = sorted(instruments)
    names = [f"ACC{i:04d}" for i in range(accounts)]
    account_limits = {
        name: {"max_gross_notional": "50000000", "max_net_notional": "25000000", "credit_limit": "25000000",
               "max_daily_loss": "500000", "max_order_qty": "10000"}
        for name in names
    }
    config = risk_config_from_mapping({
        "firm": {"max_order_qty": "10000", "max_order_notional": "5000000", "allow_market_orders": True,
                 "check_tick_lot": True, "price_collar_pct": "10", "max_gross_notional": "1000000000000",
                 "max_net_notional": "1000000000000", "max_daily_loss": "100000000"},
        "flow": {"max_orders_per_second": 1_000_000},
        "duplicate_window_ms": 1,
        "restricted_symbols": ["GME"],
        "instruments": {s: {"max_order_qty": "5000", "max_position": "1000000", "price_collar_ticks": 10000}
                        for s in symbols},
        "accounts": account_limits,
    })
    risk = PreTradeRisk(instruments, config)
    rng = random.Random(seed)
    for name in names:
        for symbol in symbols:
            ref = instruments[symbol].reference_price
            quantity = Decimal(rng.randint(-500, 500))
            risk.position_changed(name, symbol, quantity, quantity * ref, Decimal(0), ref)
    orders: list[NewOrder] = []
    for n in range(open_orders + 20_000):
        symbol = rng.choice(symbols)
        ref = instruments[symbol].reference_price
        price = ref + Decimal(rng.randint(-50, 50)) * instruments[symbol].tick_size
        orders.append(NewOrder(
            f"FIX.4.4:FIXGATE->CLIENT{n % 7}", f"c{n}", rng.choice(names), symbol,
            rng.choice((Side.BUY, Side.SELL)), OrdType.LIMIT, Decimal(rng.randint(1, 500)), price,
            TimeInForce.DAY, 0,
        ))
    for order_id, order in enumerate(orders[:open_orders]):
        risk.order_opened(order_id, order)
    return risk, orders[open_orders:]


def percentile(sorted_ns: list[int], p: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(len(sorted_ns) * p / 100))] / 1000


def _percentiles(sorted_ns: list[int]) -> dict[str, float]:
    return {
        "p50_us": percentile(sorted_ns, 50),
        "p90_us": percentile(sorted_ns, 90),
        "p99_us": percentile(sorted_ns, 99),
        "p99_9_us": percentile(sorted_ns, 99.9),
        "max_us": sorted_ns[-1] / 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--open-orders", type=int, default=10_000)
    parser.add_argument("--checks", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    risk, orders = build(args.accounts, args.open_orders, args.seed)
    assert len(risk.view.working) == args.open_orders
    check = risk.check
    clock = time.perf_counter_ns
    overhead = min(-clock() + clock() for _ in range(10_000))

    def measure(collect: bool) -> tuple[list[int], int]:
        samples: list[int] = []
        passed = 0
        gc.collect()
        if not collect:
            gc.disable()
        try:
            for i in range(args.checks):
                order = orders[i % len(orders)]
                start = clock()
                reason = check(order)
                samples.append(clock() - start)
                passed += reason is None
        finally:
            gc.enable()
        samples.sort()
        return samples, passed

    samples, passed = measure(collect=False)
    rejections = dict(risk.rejections)  # of the first pass; the second checks the same orders again
    with_gc, _ = measure(collect=True)
    result = {
        "accounts": args.accounts,
        "open_orders": args.open_orders,
        "checks": args.checks,
        "passed": passed,
        "rejections": rejections,
        "timer_overhead_ns": overhead,
        **_percentiles(samples),
        "with_gc": _percentiles(with_gc),
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"risk-check-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"pre-trade check, all checks on, {args.accounts} accounts, {args.open_orders} open orders, "
          f"{args.checks} checks ({passed} passed; timer overhead {overhead} ns included)")
    for label, r in (("gc off", result), ("gc on ", result["with_gc"])):
        print(f"  {label}: p50 {r['p50_us']:.2f} us   p90 {r['p90_us']:.2f} us   p99 {r['p99_us']:.2f} us"
              f"   p99.9 {r['p99_9_us']:.2f} us   max {r['max_us']:.1f} us")
    print(f"  rejections by check: {rejections}")
    print(f"  written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
