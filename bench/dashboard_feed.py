"""``python -m bench.dashboard_feed``: what open dashboards cost the gateway process, in CPU a second.

Starts what ``bench.run`` starts (simulator, ``fixgate serve``, a fresh book database), then for 0, 1
and 4 open dashboard feeds (``curl`` reading ``GET /dashboard/feed``, each a snapshot a second) and,
with ``--rate``, under a steady flow of crossing orders, measures the CPU time the gateway process and
its REST thread use for ``--seconds`` (from ``/proc``: Linux only). The feeds' own cost is the
difference from the run with none. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench import procs
from bench.run import Bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--feeds", default="0,1,4", help="numbers of open feeds to measure, comma-separated")
    parser.add_argument("--rate", type=float, default=0.0, help="crossing orders a second meanwhile (0: idle)")
    args = parser.parse_args()
    curl = shutil.which("curl")
    if curl is None:
        raise SystemExit("curl is needed to hold the feeds open")
    token = secrets.token_urlsafe(32)
    os.environ["FIXGATE_API_TOKEN"] = token  # the gateway's REST token, passed on in its environment
    work = Path(tempfile.mkdtemp(prefix="fixgate-feed-"))
    bench = Bench(work, argparse.Namespace(keep_work=False))
    bench.start(["gateway"], True)
    try:
        bench.wait_gateway_ready()
        bench.settle()
        assert bench.gateway is not None
        url = f"http://127.0.0.1:{bench.rest_port}/dashboard/feed"
        for count in (int(n) for n in args.feeds.split(",")):
            feeds = [subprocess.Popen([curl, "-sN", "-H", f"Authorization: Bearer {token}", url],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(count)]
            try:
                time.sleep(3.0)  # the feeds' first snapshots, and the latency history's first read
                load = None
                if args.rate > 0:
                    orders = int(args.rate * (args.seconds + 2))
                    load = threading.Thread(target=bench.load, args=("gateway", args.rate, orders),
                                            kwargs={"pattern": "cross"})
                    load.start()
                    time.sleep(1.0)
                before = procs.cpu_snapshot(bench.gateway.pid, bench.gateway_threads)
                time.sleep(args.seconds)
                used = procs.cpu_used(before, procs.cpu_snapshot(bench.gateway.pid, bench.gateway_threads))
                rest = used["threads_cpu_s"].get("rest", float("nan"))
                print(f"{count} feeds{'' if load is None else f', {args.rate:g} orders/s'}: gateway process"
                      f" {1e3 * used['process_cpu_s'] / args.seconds:.1f} ms of CPU a second, its REST thread"
                      f" {1e3 * rest / args.seconds:.1f}", flush=True)
                if load is not None:
                    load.join()
                    bench.settle()
            finally:
                for feed in feeds:
                    feed.terminate()
                    feed.wait(5)
    finally:
        bench.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
