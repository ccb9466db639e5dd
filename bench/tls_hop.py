"""``python -m bench.tls_hop``: what the TLS terminator alone costs, without the gateway's noise.

Three paths to one venue simulator, interleaved round by round at one fixed rate: ``direct``; the
plain byte relay ``bench.relay`` (the least an extra local hop costs); and ``tls``: the load client
over TLS (client certificate verified) to the TLS terminator (``gateway.tlsproxy``, an ``accept``
route) that relays to the simulator in plain text, the hop every TLS client of fixgate takes. Per
path: corrected p50/p99 of NewOrderSingle -> ExecutionReport (resting orders, one report each) and,
for the two hops, the CPU per order of the process in the middle. Compare within a round.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import procs
from bench.report import run_summary
from gateway.tls import TlsPlan, TlsRoute


def _load(work: Path, port: int, tag: str, rate: float, count: int, extra: list[str]) -> dict[str, Any]:
    out = work / f"{tag}.json"
    cmd = [sys.executable, "-m", "bench.loadclient", "--port", str(port), "--target", "SIM", "--rate", f"{rate:g}",
           "--count", str(count), "--tag", tag, "--out", str(out), *extra]
    done = subprocess.run(cmd, check=False, cwd=procs.REPO, capture_output=True, text=True, timeout=count / rate + 60)
    if done.returncode != 0:
        raise RuntimeError(f"load client failed ({tag}): {done.stderr.strip()}")
    raw: dict[str, Any] = json.loads(out.read_text())
    return raw


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tls_hop", description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    from fixgate.devcerts import Authority

    work = Path(tempfile.mkdtemp(prefix="fixgate-tls-hop-"))
    sim_port, relay_port, tls_port = procs.free_port(), procs.free_port(), procs.free_port()
    authority = Authority(work / "pki", "hop")
    server, client = authority.issue("SIM", server=True), authority.issue("BENCH")
    plan = TlsPlan((TlsRoute(side="accept", name="hop", listen_host="127.0.0.1", listen_port=tls_port,
                             target_host="127.0.0.1", target_port=sim_port, certificate=str(server.cert),
                             key=str(server.key), ca=str(authority.ca), verify_peer=True),))
    plan.write(work / "routes.json")
    tls_flags = ["--tls-ca", str(authority.ca), "--tls-cert", str(client.cert), "--tls-key", str(client.key)]
    started = [procs.start_simulator(work, sim_port)]
    try:
        relay = procs.start_relay(work, relay_port, sim_port)
        started.append(relay)
        terminator = procs.start("tlsproxy", ["-m", "gateway.tlsproxy", "--config", str(work / "routes.json")],
                                 work / "logs")
        started.append(terminator)
        procs.wait_for_port(tls_port, 15, terminator.popen)
        paths: dict[str, tuple[int, list[str], procs.Process | None]] = {
            "direct": (sim_port, [], None), "relay": (relay_port, [], relay), "tls": (tls_port, tls_flags, terminator)}
        for name, (port, extra, _) in paths.items():
            _load(work, port, f"W{name}", 1000, 500, extra)  # warm up, discarded
        results: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
        for round_no in range(args.rounds):
            for name, (port, extra, hop) in paths.items():
                before = procs.cpu_seconds(hop.pid) if hop is not None else 0.0
                summary = run_summary(_load(work, port, f"R{round_no}{name}", args.rate, args.count, extra))
                cpu = (procs.cpu_seconds(hop.pid) - before) / args.count * 1e6 if hop is not None else float("nan")
                c = summary["corrected"]["percentiles_us"]
                results[name].append({"p50": c["p50"], "p99": c["p99"], "cpu_us_per_order": cpu})
                print(f"round {round_no} {name:<6} answered={summary['answered']} p50={c['p50']:.0f}us "
                      f"p99={c['p99']:.0f}us cpu/order={cpu:.0f}us", flush=True)
        for name, rows in results.items():
            print(f"median {name:<6} p50={statistics.median(r['p50'] for r in rows):.0f}us "
                  f"p99={statistics.median(r['p99'] for r in rows):.0f}us "
                  f"cpu/order={statistics.median(r['cpu_us_per_order'] for r in rows):.0f}us")
    finally:
        for proc in reversed(started):
            proc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
