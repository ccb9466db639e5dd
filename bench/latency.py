"""Latency arithmetic: fixed-rate schedules, coordinated-omission correction, percentiles.

A fixed-rate run decides when each order *should* leave (``intended``) before the run starts. A
client that measured from the moment it actually sent would hide every stall: while it waits, the
orders it should have sent are not sent, so their delay is never seen (coordinated omission). Measured
from the intended time, a stall of the system under test shows up in every order it held back.

Percentiles come from an HDR histogram (the ``hdrhistogram`` package, 3 significant digits) when it is
installed, and from the exact sorted values otherwise; both report microseconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

try:
    from hdrh.histogram import HdrHistogram
except ImportError:  # pragma: no cover - the bench extra installs it
    HdrHistogram = None

PERCENTILES: tuple[float, ...] = (50.0, 90.0, 99.0, 99.9, 100.0)
"""Reported for every run; 100 is the maximum."""

NOT_ANSWERED = -1
"""Receive time of an order that got no ExecutionReport."""


def schedule(rate: float, count: int) -> list[int]:
    """Intended send times (ns after the start) of ``count`` orders at ``rate`` per second."""
    if rate <= 0:
        raise ValueError(f"rate {rate} must be positive")
    interval = 1e9 / rate
    return [round(i * interval) for i in range(count)]


def latencies(start_ns: Sequence[int], received_ns: Sequence[int]) -> list[int]:
    """``received - start`` of every answered order (receive time not ``NOT_ANSWERED``), in ns."""
    return [r - s for s, r in zip(start_ns, received_ns, strict=True) if r != NOT_ANSWERED]


def percentile(sorted_values: Sequence[int], q: float) -> int:
    """Nearest-rank percentile ``q`` (0 < q <= 100) of already sorted values."""
    if not sorted_values:
        raise ValueError("no values")
    if not 0 < q <= 100:
        raise ValueError(f"percentile {q} not in (0, 100]")
    # Rounded first: 99.9 / 100 * 1000 is 999.0000000000001 in binary floating point.
    rank = max(1, math.ceil(round(q / 100 * len(sorted_values), 9)))
    return sorted_values[rank - 1]


@dataclass(frozen=True, slots=True)
class Summary:
    """Percentiles of one set of latencies, in microseconds."""

    count: int
    mean_us: float
    percentiles_us: dict[str, float]

    def at(self, q: float) -> float:
        """The ``q`` percentile in microseconds."""
        return self.percentiles_us[_key(q)]

    def to_json(self) -> dict[str, object]:
        return {"count": self.count, "mean_us": self.mean_us, "percentiles_us": self.percentiles_us}


def _key(q: float) -> str:
    return f"p{q:g}"


def summarize(values_ns: Iterable[int], *, use_hdr: bool = True) -> Summary:
    """Percentiles (``PERCENTILES``) of latencies given in ns; HDR histogram if available."""
    values = sorted(values_ns)
    if not values:
        return Summary(0, math.nan, {_key(q): math.nan for q in PERCENTILES})
    mean_us = sum(values) / len(values) / 1000
    if use_hdr and HdrHistogram is not None:
        # 1 us to 10 min, 3 significant digits; values below 1 us are recorded as 1 us.
        histogram = HdrHistogram(1, 600_000_000, 3)
        for v in values:
            histogram.record_value(max(1, v // 1000))
        points = {_key(q): float(histogram.get_value_at_percentile(q)) for q in PERCENTILES}
    else:
        points = {_key(q): percentile(values, q) / 1000 for q in PERCENTILES}
    return Summary(len(values), mean_us, points)
