"""``python -m bench.oms_path``: the OMS's own cost per order, without FIX, sockets or a database.

One ``OrderManager`` with the shipped instruments and risk limits, a sink that drops what it is
handed; each round is one order's life as a venue plays it: submit, the venue's NEW, a partial fill,
the full fill; a fifth of the orders are cancelled after their NEW instead (the client's cancel, the
venue's Canceled). Reports the CPU time per round (``time.process_time``) over several repeats.
See bench/README.md for before/after pairs.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from decimal import Decimal

from domain.model import (
    CancelOrder,
    ExecKind,
    NewOrder,
    OrderStatus,
    OrdType,
    Routed,
    Side,
    TimeInForce,
    VenueChange,
    VenueReport,
)
from fixgate.config import DEFAULT_CONFIG_DIR, load_instruments
from oms.manager import OrderManager
from oms.router import Router
from risk import PreTradeRisk, load_risk_config

ZERO = Decimal(0)


def _report(venue_id: str, exec_id: str, kind: ExecKind, status: OrderStatus, last: Decimal, cum: Decimal,
            leaves: Decimal, price: Decimal) -> VenueReport:
    return VenueReport("SIM", venue_id, None, f"V{venue_id}", exec_id, kind, status, last, price if last else ZERO,
                       cum, leaves, "", time.time_ns())


def rounds(n: int) -> float:
    """CPU seconds for ``n`` order lives through one fresh OMS."""
    instruments = load_instruments(DEFAULT_CONFIG_DIR / "instruments.toml")
    risk = PreTradeRisk(instruments, load_risk_config(DEFAULT_CONFIG_DIR / "risk.toml"))
    router = Router(instruments)
    for venue in sorted({v for i in instruments.values() for v in i.venues}):  # the shipped SIM and SIM2
        router.set_venue_up(venue, True)
    oms = OrderManager(instruments=instruments, risk=risk, router=router, sink=lambda *_: None)
    session = "FIX.4.4:FIXGATE->BENCH"
    price = Decimal("190.00")
    qty, half = Decimal(100), Decimal(50)
    started = time.process_time()
    for i in range(n):
        side = Side.BUY if i % 2 else Side.SELL  # flat on average: no position limit is reached
        [routed] = oms.submit(NewOrder(session, f"c{i}", "BENCH", "AAPL", side, OrdType.LIMIT, qty, price,
                                       TimeInForce.DAY, time.time_ns()))
        assert isinstance(routed, Routed), routed  # a refusal would measure something else
        venue_id = routed.venue_cl_ord_id
        oms.apply(_report(venue_id, f"N{i}", ExecKind.NEW, OrderStatus.NEW, ZERO, ZERO, qty, price))
        if i % 10 in (0, 5):  # a buy and a sell: the position stays flat
            [_, change] = oms.request_cancel(CancelOrder(session, f"x{i}", f"c{i}", time.time_ns()))
            assert isinstance(change, VenueChange), change
            oms.apply(VenueReport("SIM", change.venue_cl_ord_id, venue_id, f"V{venue_id}", f"X{i}",
                                  ExecKind.CANCELED, OrderStatus.CANCELED, ZERO, ZERO, ZERO, ZERO, "",
                                  time.time_ns()))
            continue
        oms.apply(_report(venue_id, f"F{i}", ExecKind.TRADE, OrderStatus.PARTIALLY_FILLED, half, half, half,
                          price))
        oms.apply(_report(venue_id, f"G{i}", ExecKind.TRADE, OrderStatus.FILLED, half, qty, ZERO, price))
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    gc.collect()
    per_order = sorted(rounds(args.orders) / args.orders * 1e6 for _ in range(args.repeats))
    print(f"OMS CPU per order life ({args.orders} orders, {args.repeats} repeats): "
          f"best {per_order[0]:.1f} us, median {statistics.median(per_order):.1f} us")


if __name__ == "__main__":
    main()
