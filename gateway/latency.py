"""Per-hop latency inside the gateway: timestamps at each hop of an order and of a venue report,
kept in small in-memory histograms (read over REST) and handed to the book (stored per order).

The hops, all ``time.time_ns()`` wall-clock stamps taken on the QuickFIX callback threads:

- an order: ``received`` (client NewOrderSingle in ``fromApp``), ``decided`` (the OMS returned:
  parsed, risk-checked, journaled), ``sent`` (the venue NewOrderSingle handed to QuickFIX, which
  wrote it to the socket);
- a venue report: ``received`` (ExecutionReport in ``fromApp``), ``applied`` (the OMS applied and
  journaled it), ``sent`` (the client ExecutionReport handed to QuickFIX).

No locks on the hot path: every thread records into histograms of its own (by thread id), and a
reader merges them. A reader may see a count that a thread is just incrementing; it is
monitoring, not accounting. Wall-clock stamps can step backwards under a clock adjustment; such an
interval is recorded as 0.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from book.hops import OrderHops, ReportHops

# Log-linear buckets (as in HDR histograms): values below 2**_SUB_BITS nanoseconds exactly, then each
# power of two split in 2**_SUB_BITS linear sub-buckets, so a bucket is at most 1/2**_SUB_BITS (~3%)
# wide relative to its value. Values from 2**_MAX_BITS ns (~18 minutes) up share the last bucket.
_SUB_BITS = 5
_SUB = 1 << _SUB_BITS
_MAX_BITS = 40
_BUCKETS = (_MAX_BITS - _SUB_BITS + 1) * _SUB
_TOP = (1 << _MAX_BITS) - 1

PERCENTILES: tuple[tuple[str, float], ...] = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99_9", 99.9))


def _index(value: int) -> int:
    if value < _SUB:
        return value
    value = min(value, _TOP)
    shift = value.bit_length() - _SUB_BITS - 1
    return (shift + 1) * _SUB + (value >> shift) - _SUB


def _upper(index: int) -> int:
    """The highest value that falls in bucket ``index``."""
    if index < _SUB:
        return index
    shift = index // _SUB - 1
    return ((index % _SUB + _SUB + 1) << shift) - 1


class Histogram:
    """Counts of nanosecond values in fixed log-linear buckets; O(1) ``record``, not thread-safe
    (each thread records into its own; see :class:`HopMetrics`)."""

    __slots__ = ("count", "counts", "max", "total")

    def __init__(self) -> None:
        self.counts = [0] * _BUCKETS
        self.count = 0
        self.max = 0
        self.total = 0

    def record(self, value: int) -> None:
        value = max(value, 0)
        self.counts[_index(value)] += 1
        self.count += 1
        self.total += value
        self.max = max(self.max, value)

    def merge(self, other: Histogram) -> None:
        counts = self.counts
        for i, n in enumerate(other.counts):
            if n:
                counts[i] += n
        self.count += other.count
        self.total += other.total
        self.max = max(self.max, other.max)

    def since(self, earlier: Histogram) -> Histogram:
        """What was recorded between ``earlier`` (a copy of this histogram read before) and now. Its
        maximum is the upper bound of its highest bucket, capped at this one's exact maximum."""
        delta = Histogram()
        delta.counts = [now - then for now, then in zip(self.counts, earlier.counts, strict=True)]
        delta.count = self.count - earlier.count
        delta.total = self.total - earlier.total
        top = next((i for i in range(_BUCKETS - 1, -1, -1) if delta.counts[i] > 0), None)
        delta.max = 0 if top is None else min(_upper(top), self.max)
        return delta

    def cumulative(self, bounds_ns: Sequence[int]) -> list[int]:
        """For each bound (ascending, ns), how many values fell in buckets wholly at or below it (a
        Prometheus histogram's ``le`` counts). A value within a bucket's width (about 3%) below a
        bound may be counted at the next bound instead."""
        counts = self.counts
        out: list[int] = []
        seen = i = 0
        for bound in bounds_ns:
            while i < _BUCKETS and _upper(i) <= bound:
                seen += counts[i]
                i += 1
            out.append(seen)
        return out

    def percentile(self, pct: float) -> int:
        """The upper bound of the bucket holding the value at rank ``pct`` (nearest rank), capped
        at the exact maximum; 0 when empty."""
        if self.count == 0:
            return 0
        rank = max(1, math.ceil(pct / 100 * self.count - 1e-9))  # nearest rank
        seen = 0
        for i, n in enumerate(self.counts):
            seen += n
            if seen >= rank:
                return min(_upper(i), self.max)
        return self.max


@dataclass(frozen=True, slots=True)
class HopStats:
    """One hop's distribution, in microseconds."""

    count: int
    mean: float
    p50: float
    p90: float
    p99: float
    p99_9: float
    max: float

    @classmethod
    def of(cls, h: Histogram) -> HopStats:
        p50, p90, p99, p99_9 = (h.percentile(p) / 1000 for _, p in PERCENTILES)
        mean = (h.total / h.count / 1000) if h.count else 0.0
        return cls(h.count, mean, p50, p90, p99, p99_9, h.max / 1000)


@dataclass(frozen=True, slots=True)
class HopInterval:
    """Each hop's distribution over one interval, ``from_ns`` to ``to_ns`` (wall clock): a point of a
    live chart. ``count / seconds`` is the hop's rate (orders or venue reports a second)."""

    from_ns: int
    to_ns: int
    hops: dict[str, HopStats]

    @property
    def seconds(self) -> float:
        return (self.to_ns - self.from_ns) / 1e9


# The hops, in path order. "order.*" run from the client's NewOrderSingle to the venue's; "report.*"
# from the venue's ExecutionReport to the client's.
ORDER_HOPS = ("order.received_to_decided", "order.decided_to_sent", "order.received_to_sent")
REPORT_HOPS = ("report.received_to_applied", "report.applied_to_sent", "report.received_to_sent")
HOPS = ORDER_HOPS + REPORT_HOPS


class _ThreadHistograms:
    __slots__ = ("order_decide", "order_send", "order_total", "report_apply", "report_send", "report_total")

    def __init__(self) -> None:
        self.order_decide = Histogram()
        self.order_send = Histogram()
        self.order_total = Histogram()
        self.report_apply = Histogram()
        self.report_send = Histogram()
        self.report_total = Histogram()

    def by_hop(self) -> tuple[Histogram, ...]:
        return (self.order_decide, self.order_send, self.order_total,
                self.report_apply, self.report_send, self.report_total)


class HopMetrics:
    """The gateway's per-hop latency: histograms per thread, merged on read; each hop set is also
    handed to ``book`` (the book writer's ``submit``) so it is stored with its order or execution."""

    def __init__(self, book: Callable[[Sequence[Any]], None] | None = None) -> None:
        self._book = book
        # By OS thread id, not threading.local: QuickFIX's threads enter Python with a new thread
        # state on every callback, so a threading.local would start empty each time.
        self._threads: dict[int, _ThreadHistograms] = {}
        self._register = threading.Lock()  # once per thread, at its first record
        # The recent intervals (``recent``): taken by readers, never on the hot path.
        self._sampling = threading.Lock()
        self._last: tuple[int, int, dict[str, Histogram]] | None = None  # monotonic, wall, histograms
        self._intervals: deque[HopInterval] = deque()

    def _mine(self) -> _ThreadHistograms:
        ident = threading.get_ident()
        mine = self._threads.get(ident)
        if mine is None:
            with self._register:
                mine = self._threads.setdefault(ident, _ThreadHistograms())
        return mine

    # -- HOT PATH ------------------------------------------------------------------------------------

    def order(self, order_id: int, received_ns: int, decided_ns: int, sent_ns: int | None) -> None:
        """An order's inbound hops; ``sent_ns`` is None when it never went to a venue (rejected)."""
        h = self._mine()
        h.order_decide.record(decided_ns - received_ns)
        if sent_ns is not None:
            h.order_send.record(sent_ns - decided_ns)
            h.order_total.record(sent_ns - received_ns)
        if self._book is not None:
            self._book((OrderHops(order_id, received_ns, decided_ns, sent_ns),))

    def report(self, exec_id: str, received_ns: int, applied_ns: int, sent_ns: int) -> None:
        """A venue report's hops, under the exec id of the client report it became."""
        h = self._mine()
        h.report_apply.record(applied_ns - received_ns)
        h.report_send.record(sent_ns - applied_ns)
        h.report_total.record(sent_ns - received_ns)
        if self._book is not None:
            self._book((ReportHops(exec_id, applied_ns, sent_ns),))

    # -- READING -------------------------------------------------------------------------------------

    def histograms(self) -> dict[str, Histogram]:
        """Every hop's histogram, merged over the threads."""
        merged = [Histogram() for _ in HOPS]
        with self._register:
            threads = list(self._threads.values())
        for t in threads:
            for into, h in zip(merged, t.by_hop(), strict=True):
                into.merge(h)
        return dict(zip(HOPS, merged, strict=True))

    def snapshot(self) -> dict[str, HopStats]:
        """Each hop's count and percentiles (microseconds), in path order."""
        return {name: HopStats.of(h) for name, h in self.histograms().items()}

    def recent(self, every_s: float = 1.0, keep_s: float = 300.0) -> list[HopInterval]:
        """Each hop's distribution per interval of about ``every_s`` over the last ``keep_s`` seconds,
        oldest first. The intervals are taken when read: a reader that calls this about once a second
        (the dashboard's feed) makes the points, and nothing is done while nobody reads. An interval
        that spans a time nobody read is as long as that time."""
        with self._sampling:
            # The cadence by the monotonic clock (a step of the wall clock cannot stop it), the
            # points stamped by the wall clock (the chart's time axis).
            tick, now = time.monotonic_ns(), time.time_ns()
            last = self._last
            if last is None or tick - last[0] >= every_s * 1e9 * 0.9:
                histograms = self.histograms()
                if last is not None:
                    _, then, before = last
                    self._intervals.append(HopInterval(then, now, {
                        name: HopStats.of(h.since(before[name])) for name, h in histograms.items()}))
                self._last = (tick, now, histograms)
            while self._intervals and self._intervals[0].to_ns < now - keep_s * 1e9:
                self._intervals.popleft()
            return list(self._intervals)
