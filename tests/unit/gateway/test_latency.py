"""The hop histograms: buckets, percentiles, per-thread recording merged on read."""

from __future__ import annotations

import threading
import time
from typing import Any

from book.hops import OrderHops, ReportHops
from gateway.latency import HOPS, Histogram, HopMetrics, _index, _upper


def test_bucket_bounds_hold_every_value_and_stay_within_a_few_percent() -> None:
    previous = -1
    for value in [*range(5000), 10**6, 123_456_789, 2**39 + 12345]:
        i = _index(value)
        assert _upper(i) >= value
        assert i == 0 or _upper(i - 1) < value
        assert _upper(i) - value <= max(1, value // 32)
        assert i >= previous
        previous = i


def test_percentiles_are_nearest_rank_bucket_bounds_capped_at_the_max() -> None:
    h = Histogram()
    for us in range(1, 1001):  # 1..1000 us
        h.record(us * 1000)
    assert h.count == 1000 and h.max == 1_000_000
    assert 500_000 <= h.percentile(50) <= 500_000 * 1.04
    assert 990_000 <= h.percentile(99) <= 1_000_000
    assert 999_000 <= h.percentile(99.9) <= 1_000_000 and h.percentile(100) == 1_000_000
    h.record(-5)  # a clock step backwards counts as 0
    assert h.percentile(0.01) == 0


def test_each_thread_records_into_its_own_histograms_and_reads_merge_them() -> None:
    booked: list[Any] = []
    metrics = HopMetrics(book=booked.extend)

    def work(offset: int) -> None:
        for i in range(100):
            metrics.order(offset + i, 1_000, 3_000, 10_000)
            metrics.report(f"E{offset + i}", 20_000, 25_000, 40_000)

    threads = [threading.Thread(target=work, args=(n * 1000,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    metrics.order(99_999, 1_000, 2_000, None)  # rejected: never sent to a venue

    stats = metrics.snapshot()
    assert list(stats) == list(HOPS)
    assert stats["order.received_to_decided"].count == 401
    assert stats["order.decided_to_sent"].count == stats["order.received_to_sent"].count == 400
    assert stats["report.received_to_sent"].count == 400
    assert stats["order.decided_to_sent"].max == 7.0 and stats["report.received_to_applied"].p50 == 5.0
    assert len(booked) == 801
    assert OrderHops(99_999, 1_000, 2_000, None) in booked and ReportHops("E0", 25_000, 40_000) in booked


def test_since_is_what_was_recorded_between_two_reads() -> None:
    h = Histogram()
    for _ in range(100):
        h.record(10_000)  # 10 us
    before = Histogram()
    before.merge(h)  # a copy, as a reader keeps it
    for us in (900, 1000, 1100):
        h.record(us * 1000)
    delta = h.since(before)
    assert (delta.count, delta.total) == (3, 3_000_000)
    assert 1_000_000 <= delta.percentile(50) <= 1_000_000 * 1.04
    assert delta.max == h.max == 1_100_000 and delta.percentile(100) == 1_100_000
    empty = h.since(h)
    assert (empty.count, empty.max, empty.percentile(99)) == (0, 0, 0)


def test_recent_takes_an_interval_per_read_at_most_about_once_per_period() -> None:
    metrics = HopMetrics()
    assert metrics.recent(every_s=0.05) == []  # the first read only sets where the first interval starts
    for i in range(7):
        metrics.order(i, 1_000, 3_000 + i, 9_000)
    time.sleep(0.06)
    [first] = metrics.recent(every_s=0.05)
    assert first.hops["order.received_to_decided"].count == 7 and first.to_ns > first.from_ns
    assert metrics.recent(every_s=0.05) == [first]  # read again at once: no new interval
    time.sleep(0.06)
    second = metrics.recent(every_s=0.05)[-1]
    assert second.from_ns == first.to_ns and second.hops["order.received_to_decided"].count == 0
    time.sleep(0.06)
    assert first not in metrics.recent(every_s=0.05, keep_s=0.1)  # older than keep_s: dropped


def test_cumulative_counts_for_prometheus_buckets() -> None:
    h = Histogram()
    for ns in (5, 31, 10_000, 9_000, 1_000_000, 2**41):  # the last past the top bucket
        h.record(ns)
    bounds = [31, 10_000, 2_000_000, 10**12]
    counts = h.cumulative(bounds)
    # Exact at or below 31 ns; 10,000 ns sits in a bucket reaching past 10,000, so it counts at the next bound.
    assert counts == [2, 3, 5, 5]
    assert _upper(_index(10_000)) > 10_000 and _upper(_index(9_000)) <= 10_000
    assert h.cumulative([]) == [] and sum(h.counts) == h.count == 6
