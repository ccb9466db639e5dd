"""The operator dashboard: one page at ``/``, its static files, and its live feed.

The page (``api/static/``: plain HTML, CSS and JavaScript, with uPlot vendored for the charts) holds no
data. It asks for a bearer token, keeps it in the page's memory only (never in a URL, a cookie or
storage), and reads ``GET /dashboard/feed`` with it in ``Authorization``: server-sent events over one
response that stays open, a snapshot about once a second, read with ``fetch`` (``EventSource`` cannot
send the header). Each snapshot is built by the REST API's own endpoint functions and repository, so
the page shows what the API answers: the FIX sessions (``/sessions``), each part's health
(``/health``), risk status and the audit trail (``/risk/status``, ``/risk/events``), positions with
marks and P&L (``/positions``, ``/pnl``), the latest orders and fills (``/orders``, ``/executions``,
newest first), the OMS's counters (``/metrics/oms``) and each hop's latency (``/metrics/latency``,
and per second over the last minutes). What an operator does from the page is a REST call with the
same token (``POST /risk/kill``, ``/risk/resume``, ``/orders/{id}/cancel``), audited under the
token's identity like any other.

Nothing here runs on the hot path: a feed reads the in-memory snapshots the REST API reads (risk's
view, the OMS's counters, the latency histograms) and the book through a read-only snapshot, once a
second per open page, and nothing at all while no page is open.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Protocol, runtime_checkable

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from api.auth import firm_reader
from api.endpoints import _parse_side, _parse_statuses, get_repository, health, list_positions, pnl
from api.errors import Unavailable
from api.identities import Identity, Role
from api.metrics_endpoints import HopStatsLike, LatencyProvider, OmsCountersProvider, latency
from api.params import SafeText
from api.risk_endpoints import RiskOperations, events, status
from api.schemas import Execution, Order
from api.sessions_endpoints import sessions
from domain.model import Side

_log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
FEED_INTERVAL_S = 1.0
MAX_ROWS = 200
AUDIT_ROWS = 20

#: The page's own files only: no inline script or style, nothing from another origin, no framing.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
        " base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

dashboard_router = APIRouter(include_in_schema=False)


class Fill(Execution):
    """A fill as the dashboard lists it: the execution, with its order's account, symbol, side and ClOrdID."""

    account: str
    symbol: str
    side: Side
    cl_ord_id: str


@runtime_checkable
class LatencyHistory(Protocol):
    """Each hop's distribution per interval of about a second (``gateway.latency.HopMetrics.recent``)."""

    def recent(self) -> Sequence[HopIntervalLike]: ...


class HopIntervalLike(Protocol):
    @property
    def from_ns(self) -> int: ...
    @property
    def to_ns(self) -> int: ...
    @property
    def hops(self) -> Mapping[str, HopStatsLike]: ...


class Feeds:
    """The open feeds of one app: each ends at its next tick once :meth:`close` is called (uvicorn
    waits for every open response before it stops, and a feed never ends on its own)."""

    def __init__(self) -> None:
        self.closing = threading.Event()

    def close(self) -> None:
        self.closing.set()


def install_dashboard(app: FastAPI) -> None:
    """Serve the dashboard from ``app``: the page at ``/``, its files under ``/dashboard/static``,
    the feed at ``/dashboard/feed``."""
    app.state.feeds = Feeds()
    app.include_router(dashboard_router)
    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")


def close_feeds(app: FastAPI) -> None:
    """End the app's open feeds (before its server stops)."""
    feeds: Feeds | None = getattr(app.state, "feeds", None)
    if feeds is not None:
        feeds.close()


@dashboard_router.get("/")
async def page() -> FileResponse:
    """The dashboard page. It holds no data: everything comes from the feed, with a token."""
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=_PAGE_HEADERS)


@dashboard_router.get("/dashboard/feed")
async def feed(
    request: Request,
    caller: Annotated[Identity, Depends(firm_reader)],
    account: SafeText | None = None,
    symbol: SafeText | None = None,
    status: Annotated[list[str] | None, Query()] = None,
    side: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = 50,
) -> StreamingResponse:
    """The dashboard's live feed (operators and viewers): server-sent events, ``hello`` (who the token
    is), then a ``snapshot`` about once a second until the page goes away. ``account`` and ``symbol``
    filter the latest orders and fills, ``status`` (repeatable) and ``side`` the orders; a bad value
    is a 422 before the stream begins."""
    filters = _Filters(account, symbol, _parse_statuses(status), _parse_side(side), limit)
    feeds: Feeds = request.app.state.feeds
    return StreamingResponse(
        _stream(request, caller, filters, feeds), media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", "X-Content-Type-Options": "nosniff"},
    )


@dataclass(frozen=True, slots=True)
class _Filters:
    """The page's filters of the latest orders and fills, validated as ``GET /orders``'s."""

    account: str | None
    symbol: str | None
    statuses: list[str] | None
    side: str | None
    limit: int


def _event(kind: str, data: Any) -> bytes:
    # orjson writes no newline inside a value, so one ``data:`` line holds the whole event.
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def _stream(request: Request, caller: Identity, filters: _Filters, feeds: Feeds) -> AsyncIterator[bytes]:
    yield _event("hello", {"name": caller.name, "role": caller.role.value,
                           "may_act": caller.role is Role.OPERATOR})
    cursor = _Cursor()
    while not feeds.closing.is_set():
        yield _event("snapshot", await _snapshot(request, caller, filters, cursor))
        # A short sleep at a time: the feed sees the server stopping, or the page gone, at once.
        until = time.monotonic() + FEED_INTERVAL_S
        while time.monotonic() < until and not feeds.closing.is_set():
            await asyncio.sleep(0.1)
        if await request.is_disconnected():
            return


class _Cursor:
    """What one feed has sent of what it sends once: the latency intervals up to ``sent_to_ns``, and
    the failing sections' log references (a failure is logged once, not once a second)."""

    __slots__ = ("failing", "sent_to_ns")

    def __init__(self) -> None:
        self.sent_to_ns = 0
        self.failing: dict[str, str] = {}


_repository = asynccontextmanager(get_repository)

Section = Callable[[], Awaitable[dict[str, Any]]]


async def _snapshot(request: Request, caller: Identity, f: _Filters, cursor: _Cursor) -> dict[str, Any]:
    """One snapshot, by the REST API's own endpoint functions, a section at a time: a section that fails
    (the database away) is left out and named in ``trouble``, and the others are shown, so an outage
    shows on the page with what still works (the sessions, the health of each part, the latency)."""
    state = request.app.state

    async def book() -> dict[str, Any]:
        async with _repository(request) as repository:
            positions = await list_positions(repository, caller)
            totals = await pnl(repository, caller)
            orders = await repository.list_orders(statuses=f.statuses, symbol=f.symbol, account=f.account,
                                                  accounts=caller.account_scope, side=f.side, limit=f.limit,
                                                  newest_first=True)
            fills = await repository.latest_fills(account=f.account, accounts=caller.account_scope,
                                                  symbol=f.symbol, limit=f.limit)
        return {"positions": [p.model_dump(mode="json") for p in positions],
                "pnl": totals.model_dump(mode="json"),
                "orders": [Order.model_validate(dict(row)).model_dump(mode="json") for row in orders],
                "fills": [Fill.model_validate(dict(row)).model_dump(mode="json") for row in fills]}

    async def audit() -> dict[str, Any]:
        rows = await events(request, action=None, limit=AUDIT_ROWS)
        return {"audit": [e.model_dump(mode="json", exclude={"details"}) | {"summary": _summary(e.details)}
                          for e in rows]}

    async def risk() -> dict[str, Any]:
        operations: RiskOperations | None = state.risk
        return {"risk": None if operations is None else (await status(request, operations)).model_dump(mode="json")}

    async def gateway() -> dict[str, Any]:
        counters: OmsCountersProvider | None = state.oms
        try:
            fix_sessions: list[Any] | None = [s.model_dump(mode="json") for s in sessions(request)]
        except Unavailable:
            fix_sessions = None  # an API without a gateway
        latency_now, cursor.sent_to_ns = _latency(request, state.metrics, cursor.sent_to_ns)
        return {"counters": None if counters is None else dict(counters.oms_counters()),
                "sessions": fix_sessions, "latency": latency_now}

    async def parts() -> dict[str, Any]:
        answer = await health(request)
        # A part that stops trading or recording makes /health a 503 JSONResponse: the same body.
        body = orjson.loads(answer.body) if isinstance(answer, JSONResponse) else \
            answer.model_dump(mode="json", exclude_none=True)
        return {"health": body}

    snapshot: dict[str, Any] = {"at": datetime.now(UTC).isoformat(), "trouble": []}
    sections: dict[str, Section] = {"health": parts, "FIX sessions, counters and latency": gateway,
                                    "orders, fills and positions": book, "risk": risk, "audit trail": audit}
    for what, section in sections.items():
        try:
            snapshot.update(await section())
        except Exception as exc:  # noqa: BLE001 - the page says what is missing; the next tick tries again
            reference = cursor.failing.get(what)
            if reference is None:
                reference = cursor.failing[what] = uuid.uuid4().hex[:12]
                _log.error("dashboard feed: %s failed (reference %s)", what, reference, exc_info=exc)
            snapshot["trouble"].append(f"{what}: not available now (reference {reference}; the details are in"
                                       " the gateway's log)")
        else:
            cursor.failing.pop(what, None)
    return snapshot


def _latency(request: Request, metrics: LatencyProvider | None, sent_to_ns: int) -> tuple[Any, int]:
    """Each hop since start (``GET /metrics/latency``) and its intervals not sent yet: ``[from_ns, to_ns,
    {hop: [count, p50, p90, p99, max]}]`` (microseconds)."""
    if metrics is None:
        return None, sent_to_ns
    since_start = latency(request).model_dump(mode="json")["hops"]
    intervals: list[Any] = []
    if isinstance(metrics, LatencyHistory):
        for i in metrics.recent():
            if i.to_ns > sent_to_ns:
                intervals.append([i.from_ns, i.to_ns, {name: [s.count, s.p50, s.p90, s.p99, s.max]
                                                      for name, s in i.hops.items()}])
                sent_to_ns = i.to_ns
    return {"since_start": since_start, "intervals": intervals}, sent_to_ns


def _summary(details: Mapping[str, Any]) -> str:
    """What an audit row's details say, in a line (a limit change's old and new limits are left to
    ``GET /risk/events``)."""
    if "reason" in details:
        sent = details.get("cancels_sent")
        return f"{details['reason']}" + ("" if sent is None else f" ({sent} cancel{'' if sent == 1 else 's'} sent)")
    if "lifted" in details:
        lifted = details["lifted"]
        return "lifted a halt by " + str(lifted.get("by")) if isinstance(lifted, Mapping) else "nothing in force"
    if "order_id" in details:
        return f"order {details['order_id']}"
    if "old" in details:
        return "limits changed (see GET /risk/events)"
    return ", ".join(f"{k}={v}" for k, v in details.items())[:200]
