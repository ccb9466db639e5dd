"""``python -m bench.gateway_cpu``: the gateway process's CPU time per order, below saturation.

Starts what ``bench.run`` starts (simulator, ``fixgate serve``, a fresh book database), sends
``--orders`` crossing orders at ``--rate`` through the gateway, waits until the book stops growing,
and divides the CPU time the gateway process used meanwhile (user + system, from ``/proc``: Linux
only) by the number of orders; the same for its child processes (the book writer, the bus publisher,
NATS) and for its REST thread. Everything the gateway does for an order counts: FIX in and out, risk,
the OMS, the journal, the book writer. Latency at a rate past saturation says more about queueing
than about cost; this says what each order costs. See bench/README.md.

``--drop-copy``: a drop copy session, DROPCOPY (FIX 4.4), covers BENCH and is logged on through the
run, reading every copy: what a drop copy adds per order (compare with a run without).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from bench import procs
from bench.run import Bench, cpu_per_order
from fixgate.fixclient import FixClient


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=4000)
    parser.add_argument("--rate", type=float, default=250.0)
    parser.add_argument("--idle", type=float, default=5.0,
                        help="seconds to measure the idle gateway's CPU first (what it costs per second, not per order)")
    parser.add_argument("--fix50", action="store_true",
                        help="FIX 5.0 SP2 over FIXT.1.1 on both sides: the load client's session and the venue's")
    parser.add_argument("--drop-copy", action="store_true",
                        help="a drop copy session covering BENCH logged on through the run")
    args = parser.parse_args()
    if args.fix50 and args.drop_copy:
        parser.error("--fix50 and --drop-copy are measured apart: give one")
    work = Path(tempfile.mkdtemp(prefix="fixgate-cpu-"))
    version = "FIXT.1.1" if args.fix50 else "FIX.4.4"
    print(f"client and venue sessions in {'FIX 5.0 SP2 (FIXT.1.1)' if args.fix50 else 'FIX 4.4'}", flush=True)
    config_dir = covering_bench(work / "config") if args.drop_copy else None
    bench = Bench(work, argparse.Namespace(keep_work=False, begin_string=version, venue_fix50=args.fix50,
                                           config_dir=config_dir))
    bench.start(["gateway"], True)
    drop: FixClient | None = None
    try:
        bench.wait_gateway_ready()
        if args.drop_copy:
            drop = FixClient.connect("127.0.0.1", bench.client_port, sender_comp_id="DROPCOPY",
                                     target_comp_id="FIXGATE")
            drop.logon(reset_seq_num=True, timeout=10)
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
        if drop is not None:
            copies = sum(1 for m in drop.received if m.get(35) == "8" and m.get(797) == "Y")
            print(f"drop copy DROPCOPY logged on throughout: {copies} ExecutionReport copies received")
    finally:
        if drop is not None:
            drop.close()
        bench.stop()
        shutil.rmtree(work, ignore_errors=True)  # its journal, FIX stores and logs


def covering_bench(config_dir: Path) -> Path:
    """A copy of the shipped config with one venue (the bench's simulator is SIM alone) and a drop copy
    session, DROPCOPY (FIX 4.4), covering BENCH."""
    procs.one_venue_config(config_dir)
    cfg = config_dir / "fix_sessions" / "clients.cfg"
    cfg.write_text(cfg.read_text() + "\n[SESSION]\nBeginString=FIX.4.4\nTargetCompID=DROPCOPY\n"
                   "DataDictionary=${SPEC_DIR}/FIX44.xml\nDropCopy=Y\nDropCopyOf=BENCH\n")
    return config_dir

if __name__ == "__main__":
    main()
