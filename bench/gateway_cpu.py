"""``python -m bench.gateway_cpu``: the gateway process's CPU time per order, below saturation.

Starts what ``bench.run`` starts (simulator, ``fixgate serve``, a fresh book database), sends
``--orders`` crossing orders at ``--rate`` through the gateway, waits until the book stops growing,
and divides the CPU time the gateway process used meanwhile (user + system, from ``/proc``: Linux
only) by the number of orders; the same for its child processes (the book writer, the bus publisher,
NATS) and for its REST thread. Everything the gateway does for an order counts: FIX in and out, risk,
the OMS, the journal, the book writer. Latency at a rate past saturation says more about queueing
than about cost; this says what each order costs. See bench/README.md.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from bench import procs
from bench.run import Bench, cpu_per_order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=4000)
    parser.add_argument("--rate", type=float, default=250.0)
    parser.add_argument("--idle", type=float, default=5.0,
                        help="seconds to measure the idle gateway's CPU first (what it costs per second, not per order)")
    parser.add_argument("--fix50", action="store_true",
                        help="FIX 5.0 SP2 over FIXT.1.1 on both sides: the load client's session and the venue's")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fixgate-cpu-"))
    version = "FIXT.1.1" if args.fix50 else "FIX.4.4"
    print(f"client and venue sessions in {'FIX 5.0 SP2 (FIXT.1.1)' if args.fix50 else 'FIX 4.4'}", flush=True)
    bench = Bench(work, argparse.Namespace(keep_work=False, begin_string=version, venue_fix50=args.fix50))
    bench.start(["gateway"], True)
    try:
        bench.wait_gateway_ready()
        bench.settle()
        if args.idle > 0:
            assert bench.gateway is not None
            before = procs.cpu_snapshot(bench.gateway.pid, bench.gateway_threads)
            time.sleep(args.idle)
            idle = procs.cpu_used(before, procs.cpu_snapshot(bench.gateway.pid, bench.gateway_threads))
            threads = ", ".join(f"{k} {1e3 * v / args.idle:.1f}" for k, v in sorted(idle["threads_cpu_s"].items())
                                if v > 0)
            print(f"idle, ms of CPU per second: gateway {1e3 * idle['process_cpu_s'] / args.idle:.1f}"
                  f" (threads: {threads}); its child processes {1e3 * idle['children_cpu_s'] / args.idle:.1f}")
        # The gateway's CPU time from the load's start until its book stopped growing (``Bench.load``).
        used = cpu_per_order(bench.load("gateway", args.rate, args.orders, pattern="cross"), args.orders)
        children = ", ".join(f"{k} {v:.0f}" for k, v in sorted(used["children_cpu_us_per_order_by_name"].items()))
        print(f"gateway CPU per crossing order: {used['process_cpu_us_per_order']:.0f} us"
              f" ({args.orders} orders at {args.rate:g}/s); its child processes: {used['children_cpu_us_per_order']:.0f}"
              f" us ({children or 'none'}); total: {used['total_cpu_us_per_order']:.0f} us;"
              f" its REST thread: {used.get('rest_thread_cpu_us_per_order', float('nan')):.1f} us"
              f" (scheduled {used.get('rest_thread_runs', '?')} times)")
    finally:
        bench.stop()
        shutil.rmtree(work, ignore_errors=True)  # its journal, FIX stores and logs


if __name__ == "__main__":
    main()
