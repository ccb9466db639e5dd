"""Turning raw timings into the numbers the README reports: per-path percentiles, added latency, ratios."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from bench.latency import NOT_ANSWERED, Summary, latencies, summarize

COMPARED: tuple[float, ...] = (50.0, 99.0, 99.9)


def run_summary(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Counts, achieved send rate, corrected (from intended time) and uncorrected (from send) latency."""
    intended: Sequence[int] = raw["intended_ns"]
    sent: Sequence[int] = raw["sent_ns"]
    received: Sequence[int] = raw["received_ns"]
    count = len(intended)
    answered = sum(1 for r in received if r != NOT_ANSWERED)
    span_s = (max(sent) - min(sent)) / 1e9 if count > 1 else 0.0
    behind = [s - i for s, i in zip(sent, intended, strict=True)]
    return {
        "rate": raw["rate"],
        "count": count,
        "answered": answered,
        "rejected": raw["rejected"],
        "session_rejects": raw["session_rejects"],
        "reject_texts": raw["reject_texts"],
        "achieved_send_rate": (count - 1) / span_s if span_s > 0 else None,
        "send_behind_schedule_max_us": max(behind) / 1000 if behind else 0.0,
        "corrected": summarize(latencies(intended, received)).to_json(),
        "uncorrected": summarize(latencies(sent, received)).to_json(),
    }


def added(path_us: float, baseline_us: float) -> float:
    """Latency a path adds over the baseline at one percentile."""
    return path_us - baseline_us


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``; None when the denominator is not a positive number."""
    if math.isnan(numerator) or math.isnan(denominator) or denominator <= 0:
        return None
    return numerator / denominator


def compare(by_path: Mapping[str, Summary]) -> dict[str, Any]:
    """Gateway, relay and pass-through added latency over direct, gateway-added / relay-added
    (``added_ratio``) and gateway-added / pass-through-added (``floor_ratio``), per percentile; with
    the gateway over TLS, what TLS adds over the plain gateway (``tls_added_us``)."""
    out: dict[str, Any] = {}
    direct, relay, gateway = by_path.get("direct"), by_path.get("relay"), by_path.get("gateway")
    passthrough = by_path.get("passthrough")
    for q in COMPARED:
        key = f"p{q:g}"
        row: dict[str, Any] = {path: s.at(q) for path, s in by_path.items()}
        if direct is not None and gateway is not None:
            row["gateway_added_us"] = added(gateway.at(q), direct.at(q))
        if direct is not None and relay is not None:
            row["relay_added_us"] = added(relay.at(q), direct.at(q))
        if direct is not None and passthrough is not None:
            row["passthrough_added_us"] = added(passthrough.at(q), direct.at(q))
        if "gateway_added_us" in row and "relay_added_us" in row:
            row["added_ratio"] = ratio(row["gateway_added_us"], row["relay_added_us"])
        if "gateway_added_us" in row and "passthrough_added_us" in row:
            row["floor_ratio"] = ratio(row["gateway_added_us"], row["passthrough_added_us"])
        if gateway is not None and "tls" in by_path:
            row["tls_added_us"] = added(by_path["tls"].at(q), gateway.at(q))
        out[key] = row
    return out


def summary_of(run: Mapping[str, Any]) -> Summary:
    """The corrected-latency Summary back from a ``run_summary`` dict."""
    c = run["corrected"]
    return Summary(c["count"], c["mean_us"], dict(c["percentiles_us"]))


def collapsed_top(lines: Sequence[str], n: int = 15) -> dict[str, list[tuple[str, float]]]:
    """Top frames of a py-spy ``--format raw`` (collapsed stacks) profile: self and inclusive share.

    Each line is ``frame;frame;...;frame COUNT``; a frame's self share counts the samples where it is
    the leaf, its inclusive share the samples where it appears anywhere in the stack (once per stack).
    """
    self_counts: dict[str, int] = {}
    total_counts: dict[str, int] = {}
    total = 0
    for line in lines:
        line = line.strip()
        if not line:
            continue
        stack, _, count_text = line.rpartition(" ")
        try:
            count = int(count_text)
        except ValueError:
            continue
        frames = [f for f in stack.split(";") if f]
        if not frames:
            continue
        total += count
        self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + count
        for frame in set(frames):
            total_counts[frame] = total_counts.get(frame, 0) + count
    if total == 0:
        return {"self": [], "inclusive": []}

    def top(counts: dict[str, int]) -> list[tuple[str, float]]:
        ranked = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)[:n]
        return [(frame, round(100 * c / total, 1)) for frame, c in ranked]

    return {"self": top(self_counts), "inclusive": top(total_counts), "samples": [("total", float(total))]}
