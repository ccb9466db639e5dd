"""``GET /metrics``: the gateway's numbers in the Prometheus text format, converted at scrape time.

Nothing here runs on the order path, and no Prometheus object is updated per order: the collector
reads what the gateway keeps anyway (the per-hop histograms, the OMS's counters, risk's view, the
sessions' state, the book writer's and the bus publisher's status files) when Prometheus asks, on
the REST server's thread. The list of metrics is in the README ("Metrics").

Values are floats, as the exposition format has no other number: money (P&L, limits) is exact in
the gateway and in the book (``/pnl``, ``/risk/status``), and only its monitoring copy is a float.
P&L comes from risk's in-memory view, the one home of positions (``risk/exposure.py``), so it is
what the risk checks see now; the book's ``/pnl`` is the same once the book writer has caught up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from book.follower import BookLag
from book.journal import Journal
from bus.publisher import Status as PublisherStatus
from domain.model import TradingState
from gateway.latency import HOPS, HopMetrics
from gateway.sessions import FixSessions
from risk import PreTradeRisk
from risk.status import ExposureUse, risk_status

#: The latency histograms' ``le`` bounds in seconds: 10 µs to 10 s, 1-2.5-5 a decade (the gateway's
#: own histogram is finer, about 3% a bucket; these are what a dashboard's quantiles are made of).
LATENCY_BOUNDS_S = tuple(Decimal(m) * Decimal(10) ** e for e in range(-5, 1) for m in ("1", "2.5", "5")) + (
    Decimal(10),)
_BOUNDS_NS = [int(b * 1_000_000_000) for b in LATENCY_BOUNDS_S]
_NS = 1e9

#: What each OMS counter counts (``oms.manager.OmsCounters``), for the metric's HELP.
OMS_COUNTER_HELP = {
    "orders": "New orders taken (risk rejects included; resends answered from the book not).",
    "rejected": "Orders the gateway rejected itself (risk, duplicate ClOrdID, venue down).",
    "reports_applied": "Venue execution reports applied to the book.",
    "duplicate_reports": "Venue reports skipped as already applied.",
    "reused_exec_ids": "Venue reports applied although their venue ExecID was seen (their content differed).",
    "unknown_reports": "Venue reports and cancel rejects for no order or request the gateway knows.",
    "illegal_transitions": "Venue reports the lifecycle table refuses (not applied; a fill's quantities are).",
    "cancel_rejects": "OrderCancelRejects made for clients (the gateway's and venues').",
    "reconciled": "Orders moved to agree with a venue's status answer after a logon.",
    "reconcile_mismatches": "Status answers whose CumQty differed from the book's.",
}


@dataclass(frozen=True, slots=True)
class BusFollower:
    """Where the bus publisher's state is read: its process, its status file, the journal it follows."""

    running: Callable[[], bool]
    status_path: Path
    journal: Journal


class FixgateCollector(Collector):
    """Yields every ``fixgate_*`` metric family from the gateway's parts, read when scraped."""

    def __init__(
        self,
        *,
        hops: HopMetrics,
        oms_counters: Callable[[], Mapping[str, int]],
        risk: PreTradeRisk,
        sessions: FixSessions,
        writer: BookLag | None = None,
        bus: BusFollower | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._hops = hops
        self._oms_counters = oms_counters
        self._risk = risk
        self._sessions = sessions
        self._writer = writer
        self._bus = bus
        self._clock_ns = clock_ns

    def collect(self) -> Iterator[Metric]:
        yield from self._latency()
        yield from self._oms()
        yield from self._fix_sessions()
        yield from self._risk_use()
        yield from self._pnl()
        yield from self._book_writer()
        yield from self._bus_publisher()

    def _latency(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            "fixgate_hop_latency_seconds",
            "Time inside the gateway per hop since start (order.*: client NewOrderSingle to venue; report.*: "
            "venue ExecutionReport to client).", labels=["hop"])
        histograms = self._hops.histograms()
        for hop in HOPS:
            h = histograms[hop]
            # The +Inf bucket and the count from the same bucket counts: a thread may be recording as
            # they are merged, and Prometheus wants them to agree.
            count = sum(h.counts)
            buckets = [(str(le), float(n)) for le, n in zip(LATENCY_BOUNDS_S, h.cumulative(_BOUNDS_NS), strict=True)]
            family.add_metric([hop], buckets + [("+Inf", float(count))], sum_value=h.total / _NS)
        yield family

    def _oms(self) -> Iterator[Metric]:
        for name, value in self._oms_counters().items():
            yield CounterMetricFamily(f"fixgate_oms_{name}", OMS_COUNTER_HELP.get(name, f"OMS counter {name}."),
                                      value=value)

    def _fix_sessions(self) -> Iterator[Metric]:
        labels = ["session", "role"]
        logged_on = GaugeMetricFamily("fixgate_session_logged_on", "1 if the FIX session is logged on.", labels=labels)
        sender = GaugeMetricFamily("fixgate_session_next_sender_seq", "MsgSeqNum of the next message fixgate sends.",
                                   labels=labels)
        target = GaugeMetricFamily("fixgate_session_next_target_seq",
                                   "MsgSeqNum fixgate expects next from the counterparty.", labels=labels)
        received = CounterMetricFamily("fixgate_session_messages_in", "FIX messages received (admin included).",
                                       labels=labels)
        sent = CounterMetricFamily("fixgate_session_messages_out", "FIX messages sent (admin and resends included).",
                                   labels=labels)
        for s in self._sessions.statuses():
            key = [s.session_id, s.role]
            logged_on.add_metric(key, 1.0 if s.logged_on else 0.0)
            sender.add_metric(key, s.next_sender_seq)
            target.add_metric(key, s.next_target_seq)
            received.add_metric(key, s.messages_in)
            sent.add_metric(key, s.messages_out)
        yield from (logged_on, sender, target, received, sent)

    def _risk_use(self) -> Iterator[Metric]:
        status = risk_status(self._risk)
        labels = ["account", "limit"]  # account "" is the firm
        used = GaugeMetricFamily("fixgate_risk_limit_used", "What an exposure limit counts now (account \"\": the "
                                 "firm).", labels=labels)
        most = GaugeMetricFamily("fixgate_risk_limit_max", "An exposure limit's maximum.", labels=labels)
        ratio = GaugeMetricFamily("fixgate_risk_limit_utilization_ratio", "Used / max of an exposure limit.",
                                  labels=labels)
        uses: list[ExposureUse] = [status.firm, *status.accounts]
        for use in uses:
            for limit in use.limits:
                key = [use.account or "", limit.limit]
                used.add_metric(key, float(limit.used))
                most.add_metric(key, float(limit.max))
                ratio.add_metric(key, float(limit.used / limit.max) if limit.max else 0.0)
        yield from (used, most, ratio)
        positions = GaugeMetricFamily("fixgate_risk_position_utilization_ratio",
                                      "Worst-case position / max_position of an account in a symbol.",
                                      labels=["account", "symbol"])
        for p in status.positions:
            positions.add_metric([p.account, p.symbol], float(p.worst_case / p.max) if p.max else 0.0)
        yield positions
        rates = GaugeMetricFamily("fixgate_risk_order_rate_utilization_ratio",
                                  "Orders of the last second / max_orders_per_second of a client session.",
                                  labels=["session"])
        for r in status.order_rates:
            rates.add_metric([r.session], r.orders_last_second / r.max if r.max else 0.0)
        yield rates
        denied = CounterMetricFamily("fixgate_risk_rejections", "Orders denied by pre-trade risk, per check.",
                                     labels=["check"])
        for check, n in sorted(status.rejections.items()):
            denied.add_metric([check], n)
        yield denied
        yield GaugeMetricFamily("fixgate_risk_halts", "Kill switches in force.", value=len(status.halts))
        states = GaugeMetricFamily("fixgate_risk_trading_state",
                                   "1 for the trading state of the firm (account \"\") and of each account not ACTIVE.",
                                   labels=["account", "state"])
        states.add_metric(["", status.firm.state.name], 1)
        for account, state in sorted(status.account_states.items()):
            if state is not TradingState.ACTIVE:
                states.add_metric([account, state.name], 1)
        yield states

    def _pnl(self) -> Iterator[Metric]:
        view = self._risk.view
        new_day = self._risk.wall_clock_ns() >= view.day_end_ns  # as risk_status: no fill has begun today yet
        realized = GaugeMetricFamily("fixgate_pnl_realized", "Realized P&L of an account since it began trading.",
                                     labels=["account"])
        unrealized = GaugeMetricFamily("fixgate_pnl_unrealized", "Unrealized P&L of an account at the marks.",
                                       labels=["account"])
        daily = GaugeMetricFamily("fixgate_pnl_daily", "Today's (UTC) realized plus unrealized P&L of an account.",
                                  labels=["account"])
        for account, totals in sorted(dict(view.accounts).items()):  # copied in C first: fills change it
            realized.add_metric([account], float(totals.realized))
            unrealized.add_metric([account], float(view.unrealized(account)))
            daily.add_metric([account], float(view.daily_pnl(account, day_ended=new_day)))
        yield from (realized, unrealized, daily)
        positions = GaugeMetricFamily("fixgate_position_quantity", "Signed position of an account in a symbol.",
                                      labels=["account", "symbol"])
        for (account, symbol), e in sorted(dict(view.symbols).items()):
            if e.position:
                positions.add_metric([account, symbol], float(e.position))
        yield positions
        marks = GaugeMetricFamily("fixgate_mark_price", "The mark of a symbol (the venue's last trade or mid).",
                                  labels=["symbol"])
        for symbol, price in sorted(dict(view.marks).items()):
            marks.add_metric([symbol], float(price))
        yield marks

    def _book_writer(self) -> Iterator[Metric]:
        writer = self._writer
        if writer is None:
            return
        yield GaugeMetricFamily("fixgate_book_writer_up", "1 if the book writer process runs.",
                                value=1.0 if writer.running else 0.0)
        yield GaugeMetricFamily("fixgate_book_writer_lag_bytes", "Bytes of the journal not yet in the book.",
                                value=writer.pending)
        status = writer.status()
        if status is not None:
            yield GaugeMetricFamily("fixgate_book_writer_last_commit_age_seconds",
                                    "Seconds since the book writer last committed (or started on this journal).",
                                    value=(self._clock_ns() - status.at_ns) / _NS)

    def _bus_publisher(self) -> Iterator[Metric]:
        bus = self._bus
        if bus is None:
            return
        yield GaugeMetricFamily("fixgate_bus_publisher_up", "1 if the bus publisher process runs.",
                                value=1.0 if bus.running() else 0.0)
        status = PublisherStatus.read(bus.status_path)
        connected = status is not None and status.connected
        yield GaugeMetricFamily("fixgate_bus_connected", "1 if the publisher is connected to NATS.",
                                value=1.0 if connected else 0.0)
        journal = bus.journal
        # Publishing an earlier segment: at least this segment is behind.
        behind = journal.size - status.offset if status is not None and status.segment == journal.segment \
            else journal.size
        yield GaugeMetricFamily("fixgate_bus_lag_bytes", "Bytes of the journal not yet on the bus (at least).",
                                value=behind)
        if status is not None:
            yield CounterMetricFamily("fixgate_bus_published", "Events JetStream acknowledged since the publisher "
                                      "process started.", value=status.published)


def registry_of(collector: FixgateCollector) -> CollectorRegistry:
    """A registry holding only ``collector``: no process or platform metrics of the client library
    (the REST thread's process is the gateway's, but those names are not ``fixgate_``)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
