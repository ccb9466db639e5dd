"""``python -m bench.run``: latency by path at fixed rates, then the gateway's maximum sustained rate.

One run starts one venue simulator (FIX message logs off), a byte relay in front of it, a bare
QuickFIX pass-through (``bench.passthrough``) and a ``fixgate serve`` against it (database: a fresh one on ``DATABASE_URL``'s server, else an embedded
PostgreSQL), all on 127.0.0.1. Each measurement is a load client process of its own. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import bookcheck, procs
from bench.latency import summarize
from bench.plot import plot_latency
from bench.report import collapsed_top, compare, ratio, run_summary, summary_of

PATHS = ("direct", "relay", "passthrough", "gateway", "tls")
DEFAULT_PATHS = ("direct", "relay", "gateway")
"""The pass-through and the gateway over TLS are asked for by name (``--paths
direct,relay,passthrough,gateway,tls``): see bench/README.md."""
GATEWAY_PATHS = ("gateway", "tls")  # through the fixgate process (plain, or TLS through its terminator)
RESULTS = Path(__file__).resolve().parent / "results"


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


class Bench:
    """The processes of one benchmark run and the load client runs against them."""

    def __init__(self, work: Path, args: argparse.Namespace) -> None:
        self.work = work
        self.args = args
        self.sim_port = procs.free_port()
        self.relay_port = procs.free_port()
        self.passthrough_port = procs.free_port()
        self.client_port = procs.free_port()
        self.rest_port = procs.free_port()
        self.tls_port = procs.free_port()
        self.tls_client_flags: list[str] = []
        self.processes: list[procs.Process] = []
        self.db: bookcheck.BenchDatabase | None = None
        self.gateway: procs.Process | None = None
        self.hops: dict[str, procs.Process] = {}  # the process in the middle of each path but direct
        self.gateway_threads: dict[str, list[int]] = {}  # the gateway's Python threads by name
        self._runs = 0

    def start(self, paths: list[str], need_gateway: bool) -> None:
        print(f"work dir {self.work}", flush=True)
        self.processes.append(procs.start_simulator(self.work, self.sim_port))
        if "relay" in paths:
            self.hops["relay"] = procs.start_relay(self.work, self.relay_port, self.sim_port)
            self.processes.append(self.hops["relay"])
        if "passthrough" in paths:
            self.hops["passthrough"] = procs.start_passthrough(self.work, self.passthrough_port, self.sim_port)
            self.processes.append(self.hops["passthrough"])
        if need_gateway:
            self.db = bookcheck.BenchDatabase.create(self.work)
            print(f"book of record: database {self.db.name} ({self.db.source})", flush=True)
            # One more session over TLS for the tls path (the plain path's sessions stay as shipped); or the
            # gateway's venue session in FIX 5.0 SP2 (bench.gateway_cpu --fix50); or a given config folder.
            config = getattr(self.args, "config_dir", None)
            if "tls" in paths:
                config, self.tls_client_flags = procs.tls_config(self.work, self.tls_port)
            elif getattr(self.args, "venue_fix50", False):
                config = procs.fix50_venue_config(self.work / "config")
            self.gateway = procs.start_gateway(self.work, client_port=self.client_port,
                                               venue_port=self.sim_port, rest_port=self.rest_port,
                                               database_url=self.db.url, config_dir=config)
            self.processes.append(self.gateway)
            self.hops["gateway"] = self.gateway
            if "tls" in paths:
                procs.wait_for_port(self.tls_port, 30, self.gateway.popen)
                self.hops["tls"] = self.gateway

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()
        if self.db is not None:
            self.db.close(drop=not self.args.keep_work)

    def endpoint(self, path: str) -> tuple[int, str]:
        return {"direct": (self.sim_port, "SIM"), "relay": (self.relay_port, "SIM"),
                "passthrough": (self.passthrough_port, "PASS"), "gateway": (self.client_port, "FIXGATE"),
                "tls": (self.tls_port, "FIXGATE")}[path]

    def load(self, path: str, rate: float, count: int, *, pattern: str = "rest", tag: str | None = None,
             drain_timeout: float = 5.0) -> dict[str, Any]:
        """One load client process against ``path``; its raw timings, and the CPU time the process in
        the middle of the path used meanwhile (for the gateway, until its book stopped growing; and
        besides, that of its child processes and of its named threads)."""
        self._runs += 1
        tag = tag or f"{path[0].upper()}{self._runs}"
        port, target = self.endpoint(path)
        out = self.work / "raw" / f"{tag}.json"
        out.parent.mkdir(exist_ok=True)
        cmd = [sys.executable, "-m", "bench.loadclient", "--port", str(port), "--target", target,
               "--rate", f"{rate:g}", "--count", str(count), "--pattern", pattern, "--tag", tag,
               "--drain-timeout", f"{drain_timeout:g}", "--out", str(out),
               "--begin-string", getattr(self.args, "begin_string", "FIX.4.4")]
        if path == "tls":
            cmd += self.tls_client_flags
        hop = self.hops.get(path)
        through_gateway = path in GATEWAY_PATHS
        threads = self.gateway_threads if through_gateway else {}
        cpu_before = procs.cpu_snapshot(hop.pid, threads) if hop is not None else None
        done = subprocess.run(cmd, check=False, cwd=procs.REPO, capture_output=True, text=True,
                              timeout=count / rate + drain_timeout + 60)
        if done.returncode != 0:
            raise RuntimeError(f"load client failed on {path}: {done.stderr.strip()}")
        raw: dict[str, Any] = json.loads(out.read_text())
        if through_gateway:
            self.settle()
        elif hop is not None:
            settle_cpu(hop.pid)
        if hop is not None and cpu_before is not None:
            used = procs.cpu_used(cpu_before, procs.cpu_snapshot(hop.pid, threads))
            raw.update(used if through_gateway else {"process_cpu_s": used["process_cpu_s"]})
        return raw

    def settle(self, quiet_s: float = 1.0, timeout: float = 120.0) -> None:
        """Wait until the gateway has worked off what a run left queued in it (its book stops
        growing), so an overloaded run does not slow the next one down, whatever its path."""
        assert self.db is not None
        deadline = time.monotonic() + timeout
        last, since = bookcheck.activity(self.db.url), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.25)
            now = bookcheck.activity(self.db.url)
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return
        print(f"  (the gateway was still busy {timeout:g}s after the run)", flush=True)

    def wait_gateway_ready(self, timeout: float = 30.0) -> None:
        """Probe until an order through the gateway is answered without a reject (venue logged on)."""
        deadline = time.monotonic() + timeout
        while True:
            raw = self.load("gateway", 200, 20, drain_timeout=2)
            answered = sum(1 for r in raw["received_ns"] if r >= 0)
            if answered == 20 and raw["rejected"] == 0 and raw["session_rejects"] == 0:
                assert self.gateway is not None
                self.gateway_threads = procs.python_threads(self.gateway.pid)
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"gateway not ready: {raw['reject_texts']}")
            time.sleep(0.5)


def settle_cpu(pid: int, quiet_s: float = 1.0, idle_share: float = 0.05, timeout: float = 60.0) -> None:
    """Wait until process ``pid`` has been idle (under ``idle_share`` of a core) for ``quiet_s``: a
    relay or pass-through that fell behind works off its backlog before the next run starts."""
    deadline = time.monotonic() + timeout
    last, since = procs.cpu_seconds(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = procs.cpu_seconds(pid)
        if now - last > idle_share * 0.25:
            since = time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        last = now
    print(f"  (pid {pid} was still busy {timeout:g}s after the run)", flush=True)


def cpu_per_order(raw: dict[str, Any], count: int) -> dict[str, Any]:
    """The CPU seconds ``Bench.load`` measured, and each per order in µs: the process in the middle;
    for the gateway also its children (book writer, bus publisher, NATS), the total, and its threads
    (``rest_thread``: the REST server's)."""
    out: dict[str, Any] = {"process_cpu_s": raw["process_cpu_s"],
                           "process_cpu_us_per_order": 1e6 * raw["process_cpu_s"] / count}
    if "children_cpu_s" in raw:
        total = raw["process_cpu_s"] + raw["children_cpu_s"]
        out.update({
            "children_cpu_s": raw["children_cpu_s"],
            "children_cpu_us_per_order": 1e6 * raw["children_cpu_s"] / count,
            "children_cpu_us_per_order_by_name": {k: 1e6 * v / count for k, v in raw["children_cpu_s_by_name"].items()},
            "total_cpu_us_per_order": 1e6 * total / count,
            "threads_cpu_us_per_order": {k: 1e6 * v / count for k, v in raw["threads_cpu_s"].items()},
            "threads_runs": raw["threads_runs"],
        })
        if "rest" in raw["threads_cpu_s"]:
            out["rest_thread_cpu_us_per_order"] = 1e6 * raw["threads_cpu_s"]["rest"] / count
            out["rest_thread_runs"] = raw["threads_runs"]["rest"]
    return out


def compare_cpu(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """CPU per order of the process in the middle of each path at one rate, the gateway's children and
    total, and the gateway's against the pass-through's (``floor_ratio``: total; ``alone``: the
    gateway process without its children)."""
    row: dict[str, Any] = {r["path"]: r["process_cpu_us_per_order"] for r in runs if "process_cpu_us_per_order" in r}
    gateway = next((r for r in runs if r["path"] == "gateway" and "total_cpu_us_per_order" in r), None)
    if gateway is not None:
        row["gateway_children"] = gateway["children_cpu_us_per_order"]
        row["gateway_total"] = gateway["total_cpu_us_per_order"]
        if "passthrough" in row:
            row["floor_ratio"] = ratio(row["gateway_total"], row["passthrough"])
            row["alone_floor_ratio"] = ratio(row["gateway"], row["passthrough"])
    tls = next((r for r in runs if r["path"] == "tls" and "total_cpu_us_per_order" in r), None)
    if tls is not None:  # the terminator is one of the gateway's children
        row["tls_total"] = tls["total_cpu_us_per_order"]
        row["tls_terminator"] = tls["children_cpu_us_per_order_by_name"].get("gateway.tlsproxy")
    return row


def latency_runs(bench: Bench, paths: list[str], rates: list[float], duration: float, min_orders: int,
                 warmup: int) -> dict[str, Any]:
    for path in paths:
        print(f"  warming up {path}: {warmup} orders, discarded...", flush=True)
        bench.load(path, 1000, warmup, tag=f"W{path[0].upper()}")  # warm caches and code paths, discarded
    runs: list[dict[str, Any]] = []
    comparison: dict[str, Any] = {}
    for rate in rates:
        count = max(min_orders, int(rate * duration))
        by_path = {}
        for path in paths:  # paths interleaved per rate, so drift in machine noise hits them alike
            raw = bench.load(path, rate, count)
            summary = {"path": path, **run_summary(raw)}
            cpu = ""
            if "process_cpu_s" in raw:
                summary.update(cpu_per_order(raw, count))
                cpu = f" cpu/order={summary['process_cpu_us_per_order']:.0f}us"
                if "children_cpu_s" in raw:
                    cpu += (f" children={summary['children_cpu_us_per_order']:.0f}us"
                            f" total={summary['total_cpu_us_per_order']:.0f}us"
                            f" rest-thread={summary.get('rest_thread_cpu_us_per_order', float('nan')):.1f}us")
            runs.append(summary)
            by_path[path] = summary_of(summary)
            c = summary["corrected"]["percentiles_us"]
            print(f"  {rate:>6g}/s {path:<11} n={count:<6} answered={summary['answered']:<6} "
                  f"p50={c['p50']:.0f}us p99={c['p99']:.0f}us p99.9={c['p99.9']:.0f}us{cpu}", flush=True)
        comparison[f"{rate:g}"] = {**compare(by_path), "cpu_us_per_order": compare_cpu(runs[-len(paths):])}
    return {"runs": runs, "comparison": comparison}


def throughput_runs(bench: Bench, rates: list[float], duration: float, drain: float,
                    book_timeout: float, max_p99_ms: float, path: str = "gateway") -> dict[str, Any]:
    """Raise the rate until a step fails: not every order answered within ``drain`` s of its schedule
    end, a reject, a corrected p99 over ``max_p99_ms`` (a backlog that grows while the step runs), or
    (gateway) not every order and fill in the book within ``book_timeout`` s. The pass-through has no
    book: its steps are judged on the answers alone."""
    if path != "gateway":
        return _throughput_no_book(bench, path, rates, duration, drain, max_p99_ms)
    assert bench.db is not None
    steps: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    for rate in rates:
        count = int(rate * duration)
        tag = f"T{rate:g}"
        base = bookcheck.max_order_id(bench.db.url)
        poller = bookcheck.LagPoller(bench.db.url, base, final_kind="TRADE")
        poller.start()
        try:
            raw = bench.load("gateway", rate, count, pattern="cross", tag=tag, drain_timeout=drain)
            counted, complete_after = bookcheck.wait_complete(bench.db.url, tag, count, "FILLED", "TRADE",
                                                              book_timeout)
            time.sleep(2 * poller.interval)
        finally:
            poller.stop()
        step = {"path": "gateway", "pattern": "cross", **run_summary(raw), **cpu_per_order(raw, count)}
        fills = summarize(poller.lags_ns.get("TRADE", []), use_hdr=False)
        every = summarize([v for lags in poller.lags_ns.values() for v in lags], use_hdr=False)
        step["book"] = {
            "orders": counted.orders, "filled": counted.final, "fills": counted.executions,
            "complete": complete_after is not None,
            "complete_after_last_answer_s": complete_after,
            "fill_lag_ms": {"p50": fills.at(50) / 1000, "p99": fills.at(99) / 1000, "max": fills.at(100) / 1000,
                            "count": fills.count},
            "execution_lag_ms": {"p50": every.at(50) / 1000, "p99": every.at(99) / 1000, "count": every.count},
            "poll_interval_ms": poller.interval * 1000,
            "mean_poll_query_ms": 1000 * poller.poll_time_s / max(1, poller.polls),
        }
        failures = _answer_failures(step, count, max_p99_ms)
        if complete_after is None:
            failures.append(f"book incomplete after {book_timeout:g}s")
        sustained = not failures
        step["sustained"] = sustained
        step["failures"] = failures
        steps.append(step)
        c = step["corrected"]["percentiles_us"]
        print(f"  {rate:>6g}/s gateway cross n={count:<6} answered={step['answered']:<6} "
              f"p50={c['p50']:.0f}us p99={c['p99']:.0f}us book={'complete' if complete_after is not None else 'INCOMPLETE'} "
              f"fill lag p50={step['book']['fill_lag_ms']['p50']:.1f}ms "
              f"p99={step['book']['fill_lag_ms']['p99']:.1f}ms cpu/order={step['process_cpu_us_per_order']:.0f}us "
              f"total={step['total_cpu_us_per_order']:.0f}us -> {'ok' if sustained else 'not sustained: ' + ', '.join(failures)}",
              flush=True)
        if not sustained:
            break
        best = step
    return {
        "criteria": f"every order answered within {drain:g}s after the last scheduled send, no rejects, "
                    f"corrected p99 <= {max_p99_ms:g} ms, "
                    f"every order FILLED with its fill in PostgreSQL within {book_timeout:g}s",
        "steps": steps,
        "max_sustained_rate": best["rate"] if best else None,
        "book_lag_at_max_ms": best["book"]["fill_lag_ms"] if best else None,
    }


def _answer_failures(step: dict[str, Any], count: int, max_p99_ms: float) -> list[str]:
    failures = []
    if step["answered"] != count:
        failures.append(f"{count - step['answered']} orders unanswered")
    if step["rejected"] or step["session_rejects"]:
        failures.append(f"{step['rejected'] + step['session_rejects']} rejects")
    if step["corrected"]["percentiles_us"]["p99"] > max_p99_ms * 1000:
        failures.append(f"corrected p99 > {max_p99_ms:g} ms")
    return failures


def _throughput_no_book(bench: Bench, path: str, rates: list[float], duration: float, drain: float,
                        max_p99_ms: float) -> dict[str, Any]:
    """The ramp of :func:`throughput_runs` through a path without a book (the pass-through)."""
    steps: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    for rate in rates:
        count = int(rate * duration)
        raw = bench.load(path, rate, count, pattern="cross", tag=f"T{path[0].upper()}{rate:g}", drain_timeout=drain)
        step = {"path": path, "pattern": "cross", **run_summary(raw)}
        if "process_cpu_s" in raw:
            step.update(cpu_per_order(raw, count))
        failures = _answer_failures(step, count, max_p99_ms)
        step["sustained"] = not failures
        step["failures"] = failures
        steps.append(step)
        c = step["corrected"]["percentiles_us"]
        print(f"  {rate:>6g}/s {path} cross n={count:<6} answered={step['answered']:<6} "
              f"p50={c['p50']:.0f}us p99={c['p99']:.0f}us -> "
              f"{'ok' if not failures else 'not sustained: ' + ', '.join(failures)}", flush=True)
        if failures:
            break
        best = step
    return {
        "criteria": f"every order answered within {drain:g}s after the last scheduled send, no rejects, "
                    f"corrected p99 <= {max_p99_ms:g} ms (no book)",
        "steps": steps,
        "max_sustained_rate": best["rate"] if best else None,
    }


def profile_gateway(bench: Bench, rate: float, seconds: float, out_dir: Path, stamp: str) -> dict[str, Any]:
    """py-spy record on the gateway process while a load client runs; top frames of the profile.

    ``--gil``: only samples of the thread holding the GIL, i.e. what the gateway's Python spends its
    one usable core on (idle waits in selectors and queues are left out)."""
    assert bench.gateway is not None
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    raw_path = out_dir / f"profile-{stamp}.txt"
    spy = subprocess.Popen([py_spy, "record", "-p", str(bench.gateway.pid), "-d", f"{seconds:g}",
                            "-r", "200", "--gil", "-f", "raw", "-o", str(raw_path)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # py-spy attaches
    bench.load("gateway", rate, int(rate * (seconds - 1.5)), pattern="cross", tag=f"P{rate:g}")
    _, err = spy.communicate(timeout=seconds + 30)
    if spy.returncode != 0 or not raw_path.exists():
        return {"error": err.decode(errors="replace")[-500:]}
    top = collapsed_top(raw_path.read_text().splitlines(), n=25)
    return {"rate": rate, "seconds": seconds, "collapsed_stacks": raw_path.name, **top}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--paths", default=",".join(DEFAULT_PATHS), help="comma-separated subset of " + ",".join(PATHS))
    parser.add_argument("--rates", default="500,2000,5000", help="fixed rates for the latency runs (orders/s)")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per latency run")
    parser.add_argument("--min-orders", type=int, default=3000, help="at least this many orders per latency run")
    parser.add_argument("--warmup", type=int, default=500, help="orders per path before measuring (discarded)")
    parser.add_argument("--throughput-rates", default="250,500,750,1000,1500,2000,3000,4000,5000,6000,8000",
                        help="ramp of the maximum-throughput search (stops at the first failing step)")
    parser.add_argument("--throughput-duration", type=float, default=3.0, help="seconds per ramp step")
    parser.add_argument("--drain", type=float, default=2.0,
                        help="a ramp step fails if an order is unanswered this long after the last send")
    parser.add_argument("--book-timeout", type=float, default=10.0,
                        help="a ramp step fails if the book is incomplete this long after the last answer")
    parser.add_argument("--max-p99-ms", type=float, default=100.0,
                        help="a ramp step fails if its corrected p99 exceeds this (the gateway fell behind)")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency runs")
    parser.add_argument("--no-throughput", action="store_true", help="skip the throughput search")
    parser.add_argument("--profile", type=float, default=0.0, metavar="SECONDS",
                        help="after the runs, py-spy record the gateway for SECONDS under load")
    parser.add_argument("--profile-rate", type=float, default=2000.0)
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder (JSON, PNG)")
    parser.add_argument("--keep-work", action="store_true", help="keep the work dir (logs, raw timings) and DB")
    args = parser.parse_args(argv)

    paths = [p for p in args.paths.split(",") if p]
    unknown = set(paths) - set(PATHS)
    if unknown:
        parser.error(f"unknown path(s) {sorted(unknown)}")
    need_gateway = bool(set(GATEWAY_PATHS) & set(paths)) and (
        not args.no_latency or not args.no_throughput or args.profile > 0)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    work = Path(tempfile.mkdtemp(prefix="fixgate-bench-"))
    started = time.monotonic()
    results: dict[str, Any] = {
        "command": "python -m bench.run " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "started_utc": stamp,
        "git_commit": _git_commit(),
        "machine": {"cpus": _cpus(), "python": platform.python_version(), "platform": platform.platform()},
        "latency_measure": "NewOrderSingle -> first ExecutionReport, from each order's intended send time "
                           "(coordinated-omission corrected); 'uncorrected' is from its actual send",
    }
    bench = Bench(work, args)
    try:
        print(f"starting {', '.join(paths)} (the first start of an embedded database takes a while)...", flush=True)
        bench.start(paths, need_gateway)
        if need_gateway:
            bench.wait_gateway_ready()
        results["database"] = bench.db.source if bench.db else None
        if not args.no_latency:
            print("latency runs", flush=True)
            results["latency"] = latency_runs(bench, paths, _floats(args.rates), args.duration,
                                              args.min_orders, args.warmup)
        if need_gateway and not args.no_throughput:
            print("throughput search (gateway, crossing orders)", flush=True)
            results["throughput"] = throughput_runs(bench, _floats(args.throughput_rates),
                                                    args.throughput_duration, args.drain, args.book_timeout,
                                                    args.max_p99_ms)
        if "passthrough" in paths and not args.no_throughput:
            # After the gateway's: a pass-through ramp that overloads the simulator spoils nothing after it.
            print("throughput search (passthrough, crossing orders; no book)", flush=True)
            results["throughput_passthrough"] = throughput_runs(
                bench, _floats(args.throughput_rates), args.throughput_duration, args.drain, args.book_timeout,
                args.max_p99_ms, path="passthrough")
        if need_gateway and args.profile > 0:
            print(f"profiling the gateway for {args.profile:g}s at {args.profile_rate:g}/s", flush=True)
            results["profile"] = profile_gateway(bench, args.profile_rate, args.profile, args.out, stamp)
    finally:
        bench.stop()
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    json_path = args.out / f"run-{stamp}.json"
    json_path.write_text(json.dumps(results, indent=1))
    print(f"results: {json_path}")
    if "latency" in results:
        png = plot_latency(results, args.out / f"latency-{stamp}.png")
        if png is not None:
            print(f"plot: {png}")
        _print_comparison(results["latency"]["comparison"])
    if "throughput" in results:
        t = results["throughput"]
        print(f"max sustained rate: {t['max_sustained_rate']} orders/s; book lag at it: {t['book_lag_at_max_ms']}")
    if "throughput_passthrough" in results:
        print(f"pass-through max sustained rate: {results['throughput_passthrough']['max_sustained_rate']} orders/s")
    return 0


def _print_comparison(comparison: dict[str, Any]) -> None:
    for rate, by_q in comparison.items():
        for q, row in by_q.items():
            parts = [f"{k}={v:.0f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
                     if not k.endswith("ratio")]
            parts += [f"{k}={v:.2f}" for k, v in row.items() if k.endswith("ratio") and v is not None]
            print(f"  {rate}/s {q}: " + " ".join(parts))


def _git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=False, cwd=procs.REPO,
                              capture_output=True, text=True, timeout=5)
        return done.stdout.strip() or None
    except OSError:
        return None


def _cpus() -> int | None:
    import os

    return os.cpu_count()


if __name__ == "__main__":
    sys.exit(main())
