"""Gateway metrics: per-hop latency histograms (in memory), one order's hops (from the book), and
the OMS's counters (in memory: reports applied, duplicates, unknown reports, illegal transitions...).

The histograms and the counters come from provider objects handed to the app (``fixgate.app`` passes
the gateway's ``HopMetrics`` and the gateway itself); this module knows nothing of FIX or of how they
are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.auth import firm_reader
from api.errors import PROTECTED_RESPONSES, ErrorBody, NotFound, Unavailable
from api.params import OrderId

# Operators and viewers: the metrics are the whole gateway's, not one client's.
_UNAVAILABLE: dict[int | str, dict[str, Any]] = {503: {"model": ErrorBody, "description": "no gateway wired to this API"}}
metrics_router = APIRouter(prefix="/metrics", tags=["metrics"], dependencies=[Depends(firm_reader)],
                           responses={**PROTECTED_RESPONSES, **_UNAVAILABLE})


class HopStatsLike(Protocol):
    """One hop's distribution in microseconds (``gateway.latency.HopStats`` has this shape)."""

    @property
    def count(self) -> int: ...
    @property
    def mean(self) -> float: ...
    @property
    def p50(self) -> float: ...
    @property
    def p90(self) -> float: ...
    @property
    def p99(self) -> float: ...
    @property
    def p99_9(self) -> float: ...
    @property
    def max(self) -> float: ...


class LatencyProvider(Protocol):
    """What serves ``GET /metrics/latency``: each hop's current distribution, in path order."""

    def snapshot(self) -> Mapping[str, HopStatsLike]: ...


@runtime_checkable
class OmsCountersProvider(Protocol):
    """What serves ``GET /metrics/oms``: the OMS's counters by name (``oms.controls.TradingControls``)."""

    def oms_counters(self) -> Mapping[str, int]: ...


class _Schema(BaseModel):
    model_config = ConfigDict(frozen=True)


class HopLatency(_Schema):
    """One hop since the gateway started: how many were timed and their distribution, microseconds
    (percentiles are bucket upper bounds, within about 3%; max is exact)."""

    count: int
    mean_us: float
    p50_us: float
    p90_us: float
    p99_us: float
    p99_9_us: float
    max_us: float


class LatencyReport(_Schema):
    """Every hop inside the gateway. ``order.*``: client NewOrderSingle received -> decided (parsed,
    risk-checked, OMS state and journal) -> sent to the venue. ``report.*``: venue ExecutionReport
    received -> applied by the OMS (and journaled) -> client ExecutionReport sent."""

    hops: dict[str, HopLatency]


class OrderHop(_Schema):
    """One hop of one order or report: when it started and ended (epoch ns) and how long it took."""

    hop: str
    exec_id: str | None
    from_ns: int
    to_ns: int
    micros: float


class OrderLatency(_Schema):
    """Where one order's time went inside the gateway, from the book (hops not recorded are left out)."""

    order_id: int
    hops: list[OrderHop]


class OmsCounters(_Schema):
    """What the order manager has counted since the gateway started (not restored at a restart).
    ``illegal_transitions``, ``unknown_reports`` and ``reconcile_mismatches`` above 0 mean a venue and
    the book disagreed: the gateway's log names each order and report."""

    orders: int = Field(description="new orders taken (risk rejects included, resends answered from the book not)")
    rejected: int = Field(description="orders the gateway rejected itself (risk, duplicate ClOrdID, venue down)")
    reports_applied: int = Field(description="venue execution reports applied to the book")
    duplicate_reports: int = Field(
        description="venue reports skipped as already applied (same venue ExecID, order, ExecType, LastQty, "
        "LastPx)"
    )
    reused_exec_ids: int = Field(
        description="venue reports applied although their venue ExecID was seen: their content differed (a "
        "venue that restarted its ExecIDs); each logged"
    )
    unknown_reports: int = Field(
        description="venue reports and cancel rejects for no order or request the gateway knows: ignored"
    )
    illegal_transitions: int = Field(
        description="venue reports the lifecycle table refuses (oms/lifecycle.py): not applied, but a "
        "fill's quantities are"
    )
    cancel_rejects: int = Field(description="OrderCancelRejects made for clients (the gateway's and venues')")
    reconciled: int = Field(description="orders moved to agree with a venue's status answer after a logon")
    reconcile_mismatches: int = Field(
        description="status answers whose CumQty differed from the book's (logged, never invented)"
    )


def _provider(request: Request) -> LatencyProvider:
    provider: LatencyProvider | None = getattr(request.app.state, "metrics", None)
    if provider is None:
        raise Unavailable("latency metrics are not available: this API runs without a gateway")
    return provider


def _oms_provider(request: Request) -> OmsCountersProvider:
    provider: OmsCountersProvider | None = getattr(request.app.state, "oms", None)
    if provider is None:
        raise Unavailable("OMS counters are not available: this API runs without a gateway")
    return provider


@metrics_router.get("", response_class=Response, responses={200: {
    "content": {"text/plain": {}}, "description": "the Prometheus text format (OpenMetrics if the Accept header asks)"}})
def prometheus(request: Request) -> Response:
    """Every ``fixgate_*`` metric for Prometheus, read from the gateway when scraped (the README lists
    them). Prometheus sends the API token with ``authorization: {credentials_file: ...}``."""
    registry: CollectorRegistry | None = getattr(request.app.state, "prometheus", None)
    if registry is None:
        raise Unavailable("Prometheus metrics are not available: this API runs without a gateway")
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(registry), media_type=content_type)


@metrics_router.get("/oms", response_model=OmsCounters)
def oms_counters(request: Request) -> OmsCounters:
    """The OMS's counters since the gateway started: orders, rejects, venue reports applied,
    duplicate and unknown reports, illegal lifecycle transitions, cancel rejects, reconciliation."""
    return OmsCounters.model_validate(dict(_oms_provider(request).oms_counters()))


@metrics_router.get("/latency", response_model=LatencyReport)
def latency(request: Request) -> LatencyReport:
    """Per-hop latency histograms of the gateway since it started."""
    hops = {
        name: HopLatency(count=s.count, mean_us=round(s.mean, 3), p50_us=s.p50, p90_us=s.p90, p99_us=s.p99,
                         p99_9_us=s.p99_9, max_us=s.max)
        for name, s in _provider(request).snapshot().items()
    }
    return LatencyReport(hops=hops)


_ORDER_HOPS_SQL = text(
    "SELECT received_ns, decided_ns, venue_sent_ns FROM orders WHERE order_id = :order_id"
)
_REPORT_HOPS_SQL = text(
    "SELECT exec_id, received_ns, applied_ns, client_sent_ns FROM executions"
    " WHERE order_id = :order_id AND applied_ns IS NOT NULL ORDER BY seq"
)


def _hop(name: str, exec_id: str | None, start: int | None, end: int | None) -> list[OrderHop]:
    if start is None or end is None:
        return []
    return [OrderHop(hop=name, exec_id=exec_id, from_ns=start, to_ns=end, micros=(end - start) / 1000)]


@metrics_router.get("/latency/orders/{order_id}", response_model=OrderLatency,
                    responses={404: {"model": ErrorBody, "description": "no such order"}})
async def order_latency(order_id: OrderId, request: Request) -> OrderLatency:
    """One order's hops as the book recorded them: the order's way in, then each venue report's."""
    engine: AsyncEngine = request.app.state.engine
    async with engine.connect() as conn:
        order = (await conn.execute(_ORDER_HOPS_SQL, {"order_id": order_id})).mappings().one_or_none()
        if order is None:
            raise NotFound(f"order {order_id} not found")
        reports = (await conn.execute(_REPORT_HOPS_SQL, {"order_id": order_id})).mappings().all()
    received, decided, sent = order["received_ns"], order["decided_ns"], order["venue_sent_ns"]
    hops = [*_hop("order.received_to_decided", None, received, decided),
            *_hop("order.decided_to_sent", None, decided, sent)]
    for r in reports:
        hops += _hop("report.received_to_applied", r["exec_id"], r["received_ns"], r["applied_ns"])
        hops += _hop("report.applied_to_sent", r["exec_id"], r["applied_ns"], r["client_sent_ns"])
    return OrderLatency(order_id=order_id, hops=hops)
