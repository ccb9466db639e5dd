"""Coordinated-omission correction, percentiles and the added-latency comparison: pure arithmetic."""

from __future__ import annotations

import math

import pytest

from bench.latency import NOT_ANSWERED, latencies, percentile, schedule, summarize
from bench.report import collapsed_top, compare, ratio, run_summary


def test_schedule_is_evenly_spaced() -> None:
    assert schedule(1000, 4) == [0, 1_000_000, 2_000_000, 3_000_000]
    assert schedule(3, 2) == [0, 333_333_333]
    with pytest.raises(ValueError):
        schedule(0, 1)


def test_a_stall_is_charged_to_every_order_it_held_back() -> None:
    # 1000/s; the client could not send orders 1..3 until 4 ms (the system under test stalled), then
    # each was answered 100 us after it left. Measured from the send, the stall disappears.
    intended = schedule(1000, 5)
    sent = [0, 4_000_000, 4_000_000, 4_000_000, 4_000_000]
    received = [s + 100_000 for s in sent]
    assert latencies(sent, received) == [100_000] * 5
    assert latencies(intended, received) == [100_000, 3_100_000, 2_100_000, 1_100_000, 100_000]


def test_unanswered_orders_are_left_out_of_latencies() -> None:
    assert latencies([0, 10, 20], [5, NOT_ANSWERED, 27]) == [5, 7]


def test_nearest_rank_percentile() -> None:
    values = list(range(1, 1001))
    assert percentile(values, 50) == 500
    assert percentile(values, 99) == 990
    assert percentile(values, 99.9) == 999
    assert percentile(values, 100) == 1000
    assert percentile([7], 50) == 7


@pytest.mark.parametrize("use_hdr", [True, False])
def test_summary_in_microseconds(use_hdr: bool) -> None:
    summary = summarize([v * 1000 for v in range(1, 1001)], use_hdr=use_hdr)
    assert summary.count == 1000
    assert summary.at(50) == pytest.approx(500, rel=1e-3)
    assert summary.at(99.9) == pytest.approx(999, rel=1e-3)
    assert summary.mean_us == pytest.approx(500.5)


def test_empty_summary_is_nan() -> None:
    assert math.isnan(summarize([]).at(50))


def test_run_summary_counts_and_rates() -> None:
    raw = {"rate": 1000.0, "intended_ns": schedule(1000, 3), "sent_ns": [0, 1_000_000, 3_000_000],
           "received_ns": [50_000, NOT_ANSWERED, 3_050_000], "rejected": 0, "session_rejects": 0,
           "reject_texts": []}
    summary = run_summary(raw)
    assert summary["answered"] == 2
    assert summary["send_behind_schedule_max_us"] == 1000
    assert summary["achieved_send_rate"] == pytest.approx(2 / 0.003)
    assert summary["corrected"]["percentiles_us"]["p100"] == pytest.approx(1050, rel=1e-3)
    assert summary["uncorrected"]["percentiles_us"]["p100"] == pytest.approx(50, rel=1e-3)


def test_added_latency_and_ratio() -> None:
    base = [v * 1000 for v in range(100, 200)]
    by_path = {
        "direct": summarize(base, use_hdr=False),
        "relay": summarize([v + 20_000 for v in base], use_hdr=False),
        "gateway": summarize([v + 60_000 for v in base], use_hdr=False),
    }
    row = compare(by_path)["p50"]
    assert row["relay_added_us"] == pytest.approx(20)
    assert row["gateway_added_us"] == pytest.approx(60)
    assert row["added_ratio"] == pytest.approx(3)
    assert ratio(5, 0) is None
    assert ratio(5, -1) is None


def test_collapsed_stacks_top_frames() -> None:
    lines = ["main;a;b 6", "main;a;c 3", "main;d 1", "garbage"]
    top = collapsed_top(lines, n=2)
    assert top["self"] == [("b", 60.0), ("c", 30.0)]
    assert top["inclusive"] == [("main", 100.0), ("a", 90.0)]


def test_pass_through_added_latency_and_floor_ratio() -> None:
    base = [v * 1000 for v in range(100, 200)]
    by_path = {
        "direct": summarize(base, use_hdr=False),
        "passthrough": summarize([v + 40_000 for v in base], use_hdr=False),
        "gateway": summarize([v + 100_000 for v in base], use_hdr=False),
    }
    row = compare(by_path)["p50"]
    assert row["passthrough_added_us"] == pytest.approx(40)
    assert row["floor_ratio"] == pytest.approx(2.5)
    assert "added_ratio" not in row
