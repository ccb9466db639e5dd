"""Time to ready: how long ``Fixgate.start`` takes on a book with many orders, and a journal to replay.

    .venv/bin/python -m bench.startup [--open-orders 10000] [--done-orders 10000] [--journal 20000]

Builds a fresh database (on ``DATABASE_URL``'s server, else an embedded PostgreSQL) holding
``--open-orders`` working orders and ``--done-orders`` filled ones (each with a fill), leaves a
journal of ``--journal`` records from a "previous run" to replay, then times ``Fixgate.start``
(migrations, journal replay, state load into the OMS and risk view, engines, REST) three times.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from book.database import create_database, drop_database, resolve_database_url, upgrade
from book.journal import Journal
from book.writer import BookWriter
from domain.model import (
    ExecKind,
    ExecutionRecord,
    OrderRecord,
    OrderStatus,
    OrdType,
    PositionRecord,
    Side,
    TimeInForce,
)
from fixgate.app import Fixgate
from fixgate.config import Settings
from tests.support import free_port

RESULTS = Path(__file__).resolve().parent / "results"


def order(order_id: int, status: OrderStatus, now: int) -> OrderRecord:
    filled = status is OrderStatus.FILLED
    return OrderRecord(
        order_id=order_id, session="FIX.4.4:FIXGATE->CLIENT1", cl_ord_id=f"c{order_id}", account="CLIENT1",
        symbol="AAPL", side=Side.BUY, ord_type=OrdType.LIMIT, time_in_force=TimeInForce.DAY,
        quantity=Decimal(100), price=Decimal("189.00"), venue="SIM", venue_cl_ord_id=f"FG{order_id}",
        venue_order_id=f"V{order_id}", status=status, cum_qty=Decimal(100 if filled else 0),
        leaves_qty=Decimal(0 if filled else 100), avg_px=Decimal("189.00" if filled else 0), text="",
        created_ns=now, updated_ns=now,
    )


def fill(order_id: int, now: int) -> ExecutionRecord:
    return ExecutionRecord(
        exec_id=f"SIM-X{order_id}", order_id=order_id, venue="SIM", venue_exec_id=f"X{order_id}",
        kind=ExecKind.TRADE, status=OrderStatus.FILLED, last_qty=Decimal(100), last_px=Decimal("189.00"),
        cum_qty=Decimal(100), leaves_qty=Decimal(0), avg_px=Decimal("189.00"), text="", received_ns=now,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open-orders", type=int, default=10_000)
    parser.add_argument("--done-orders", type=int, default=10_000)
    parser.add_argument("--journal", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    work = Path(tempfile.mkdtemp(prefix="fixgate-bench-startup-"))
    admin_url, embedded = resolve_database_url(work) if not os.environ.get("DATABASE_URL") else (
        os.environ["DATABASE_URL"], None)
    name = f"fixgate_bench_startup_{os.getpid()}"
    url = create_database(admin_url, name)
    timings: list[float] = []
    try:
        upgrade(url)
        now = time.time_ns()
        writer = BookWriter(url)
        writer.start()
        n_open, n_done = args.open_orders, args.done_orders
        writer.submit([order(i, OrderStatus.NEW, now) for i in range(1, n_open + 1)])
        done = range(n_open + 1, n_open + n_done + 1)
        writer.submit([order(i, OrderStatus.FILLED, now) for i in done])
        writer.submit([fill(i, now) for i in done])
        writer.submit([PositionRecord("CLIENT1", "AAPL", Decimal(100 * n_done), Decimal(189), Decimal(0), now,
                                      Decimal(100 * n_done * 189))])
        assert writer.flush(timeout=300)
        writer.stop()
        for run in range(args.runs):
            data_dir = work / f"gw{run}"
            journal = Journal(data_dir / "journal")
            # Changes to the open orders (the same size of book every run): updates to replay.
            for i in range(args.journal):
                journal.append((order(i % n_open + 1, OrderStatus.NEW, now + i),))
            journal.close()
            gateway = Fixgate(Settings(data_dir=data_dir, client_port=free_port(), sim_port=free_port(),
                                       rest_port=free_port(), database_url=url, api_token="bench"))
            started = time.monotonic()
            gateway.start()
            timings.append(time.monotonic() - started)
            gateway.stop()
    finally:
        drop_database(admin_url, name)
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(work, ignore_errors=True)

    result = {"open_orders": args.open_orders, "done_orders": args.done_orders,
              "journal_records": args.journal, "ready_s": timings}
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"startup-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"time to ready with {args.open_orders} open + {args.done_orders} done orders in the book and "
          f"{args.journal} journal records to replay: " + ", ".join(f"{t:.2f} s" for t in timings))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
