"""``python -m bench.flood``: what one client's flood does to another client's latency.

One simulator and one ``fixgate serve`` (shipped config), as in ``bench.run``. A probe client
(``CLIENT2``, 20 orders/s) is timed three times in one run, NewOrderSingle -> first ExecutionReport:

- ``quiet``: alone;
- ``flood, no limits``: while ``BENCH`` (no flow limits in the shipped config: the flood as it was
  before flow limits were judged at arrival) sends resting orders at ``--flood-rate``;
- ``flood, limited``: while ``CLIENT1`` (``[flow]``: 2,000 orders/s by SendingTime, max backlog
  500 ms) sends the same flood.

Reported per phase: the probe's p50/p99/max (corrected for coordinated omission) and what became of
the flood (answered New, refused and why). Results go to ``bench/results/flood-*.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import bookcheck, procs
from bench.latency import summarize

RESULTS = Path(__file__).resolve().parent / "results"


def _load(work: Path, port: int, sender: str, rate: float, count: int, tag: str) -> subprocess.Popen[str]:
    out = work / "raw" / f"{tag}.json"
    out.parent.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "bench.loadclient", "--port", str(port), "--target", "FIXGATE",
           "--sender", sender, "--rate", f"{rate:g}", "--count", str(count), "--tag", tag,
           "--drain-timeout", "30", "--out", str(out)]
    return subprocess.Popen(cmd, cwd=procs.REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(work: Path, proc: subprocess.Popen[str], tag: str) -> dict[str, Any]:
    _, err = proc.communicate(timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"load client {tag} failed: {err.strip()}")
    raw: dict[str, Any] = json.loads((work / "raw" / f"{tag}.json").read_text())
    return raw


def _probe_summary(raw: dict[str, Any]) -> dict[str, Any]:
    latencies = [r - i for i, r in zip(raw["intended_ns"], raw["received_ns"], strict=True) if r >= 0]
    s = summarize(latencies)
    return {"orders": raw["count"], "answered": len(latencies), "rejected": raw["rejected"],
            "p50_us": s.at(50), "p99_us": s.at(99), "max_us": max(latencies) / 1000}


def _flood_summary(raw: dict[str, Any]) -> dict[str, Any]:
    reasons = Counter(" ".join(t.split()[:4]) if "throttled" in t or "order rate" in t else t
                      for t in raw["reject_texts"])
    return {"sent": raw["count"], "answered": sum(1 for r in raw["received_ns"] if r >= 0),
            "rejected": raw["rejected"], "rejects_by_reason": dict(reasons.most_common(5)),
            "elapsed_s": raw["elapsed_s"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.flood", description=__doc__)
    parser.add_argument("--flood-rate", type=float, default=5000)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each phase")
    parser.add_argument("--probe-rate", type=float, default=20)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="fixgate-flood-"))
    sim_port, client_port, rest_port = procs.free_port(), procs.free_port(), procs.free_port()
    processes = [procs.start_simulator(work, sim_port)]
    db = bookcheck.BenchDatabase.create(work)
    phases: dict[str, Any] = {}
    try:
        gateway = procs.start_gateway(work, client_port=client_port, venue_port=sim_port, rest_port=rest_port,
                                      database_url=db.url)
        processes.append(gateway)
        time.sleep(2)  # the venue session logs on
        probe_count = int(args.probe_rate * args.seconds)
        flood_count = int(args.flood_rate * args.seconds)
        for n, (phase, flooder) in enumerate((("quiet", None), ("flood, no limits", "BENCH"),
                                              ("flood, limited", "CLIENT1"))):
            flood = None
            if flooder is not None:
                flood = _load(work, client_port, flooder, args.flood_rate, flood_count, f"F{n}")
                time.sleep(0.5)  # the flood is under way before the probe starts
            probe = _load(work, client_port, "CLIENT2", args.probe_rate, probe_count, f"P{n}")
            phases[phase] = {"probe": _probe_summary(_result(work, probe, f"P{n}"))}
            if flood is not None:
                phases[phase]["flood"] = _flood_summary(_result(work, flood, f"F{n}"))
            print(f"{phase}: {json.dumps(phases[phase])}", flush=True)
            _settle(db.url)
    finally:
        for proc in reversed(processes):
            proc.stop()
        db.close(drop=True)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"flood-{stamp}.json"
    out.write_text(json.dumps({"args": vars(args), "phases": phases}, indent=2))
    print(f"results in {out}")
    return 0


def _settle(database_url: str, quiet_s: float = 1.0, timeout: float = 120.0) -> None:
    """Wait until the gateway's book stops growing: the next phase starts on an idle gateway."""
    deadline = time.monotonic() + timeout
    last, since = bookcheck.activity(database_url), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = bookcheck.activity(database_url)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return


if __name__ == "__main__":
    sys.exit(main())
