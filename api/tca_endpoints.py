"""HTTP endpoints of transaction cost analysis: parameters in, schemas out; the SQL is in
:mod:`api.tca_repository`, the measures in :mod:`tca.measures`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import RowMapping

from api.auth import Caller, authenticate
from api.endpoints import _own, _snapshot
from api.errors import PROTECTED_RESPONSES, ErrorBody, InvalidParameter, NotFound
from api.params import OrderId, SafeText, parse_time_ns
from api.tca_repository import TcaRepository
from api.tca_schemas import TcaFill, TcaMarkout, TcaOrder, TcaSummary, TcaVenueScore, TcaVenueSummary
from tca.measures import HALF_LIFE, HORIZONS_S, LARGEST_BUCKET, SIZE_BUCKETS

#: Every TCA read requires a bearer token, as the rest of the API; a client identity sees its own
#: accounts' orders only (venue scores are the firm's, over every account).
tca_router = APIRouter(prefix="/tca", dependencies=[Depends(authenticate)], responses=PROTECTED_RESPONSES)

_BUCKETS = [name for _, name in SIZE_BUCKETS] + [LARGEST_BUCKET]


async def get_tca_repository(request: Request) -> AsyncIterator[TcaRepository]:
    """A repository on a read-only snapshot, as the book's endpoints have."""
    async with _snapshot(request) as book:
        yield TcaRepository(book._conn)


Repository = Annotated[TcaRepository, Depends(get_tca_repository)]


def _fill(row: RowMapping) -> TcaFill:
    markouts = [TcaMarkout(horizon_s=h, mid=row[f"mid_{h}s"], markout_bps=row[f"markout_{h}s_bps"],
                           settled=row[f"settled_{h}s"]) for h in HORIZONS_S]
    return TcaFill.model_validate({**row, "markouts": markouts})


@tca_router.get("/orders/{order_id}", response_model=TcaOrder,
                responses={404: {"model": ErrorBody, "description": "no TCA for this order (yet)"}})
async def tca_order(order_id: OrderId, repository: Repository, caller: Caller) -> TcaOrder:
    """What an order cost: its implementation shortfall, fill rate, time to complete and venues, and
    per fill its arrival mid, slippage, effective spread, fee and markouts."""
    row = await repository.order(order_id)
    if row is None:
        raise NotFound(f"order {order_id} has no transaction cost analysis (unknown, or not measured yet)")
    _own(caller, order_id, row["account"])
    fills = [_fill(f) for f in await repository.fills_of_order(order_id)]
    filled: Decimal = row["filled_qty"]
    avg = None if not filled else row["fill_notional"] / filled
    venues = [v for v in row["venues"].split(",") if v]
    return TcaOrder.model_validate({**row, "avg_price": avg, "venues": venues, "fills": fills})


@tca_router.get("/venues", response_model=list[TcaVenueScore])
async def tca_venues(
    repository: Repository,
    instance: Annotated[SafeText | None, Query(description="the gateway instance whose TCA measured them")] = None,
    venue: SafeText | None = None,
    symbol: Annotated[SafeText | None, Query(description='a symbol, or "*" for the venue overall')] = None,
    size_bucket: Annotated[str | None, Query(description=f"one of {', '.join(_BUCKETS)}, or *")] = None,
) -> list[TcaVenueScore]:
    """The venues' exponentially weighted scores of slippage, markout (5 s), reject rate and fill rate:
    overall (symbol and size_bucket "*"), per symbol, per symbol and order size; each gateway instance's
    TCA process keeps its own."""
    if size_bucket is not None and size_bucket not in (*_BUCKETS, "*"):
        raise InvalidParameter(f"size_bucket={size_bucket!r}: expected one of {', '.join(_BUCKETS)}, or *")
    rows = await repository.venue_scores(instance, venue, symbol, size_bucket)
    return [TcaVenueScore.model_validate({**row, "half_life": HALF_LIFE}) for row in rows]


@tca_router.get("/summary", response_model=TcaSummary)
async def tca_summary(
    repository: Repository,
    caller: Caller,
    window_from: Annotated[str | None, Query(alias="from", description="ISO-8601 time with offset; fills at"
                                             " or after it, orders that arrived at or after it")] = None,
    window_to: Annotated[str | None, Query(alias="to", description="ISO-8601 time with offset; before it")] = None,
    symbol: SafeText | None = None,
    venue: SafeText | None = None,
) -> TcaSummary:
    """Transaction cost per venue over a window: fills (slippage, effective spread, markouts, quantity
    weighted) and ended orders (shortfall, fill rate, time to complete)."""
    from_ns = parse_time_ns("from", window_from)
    to_ns = parse_time_ns("to", window_to)
    if from_ns is not None and to_ns is not None and from_ns > to_ns:
        raise InvalidParameter(f"from={window_from!r} is after to={window_to!r}")
    scope = caller.account_scope
    fills = {r["venue"]: r for r in await repository.fill_summary(from_ns, to_ns, symbol, venue, scope)}
    orders = {r["venue"]: r for r in await repository.order_summary(from_ns, to_ns, symbol, venue, scope)}
    venues = []
    for name in sorted(set(fills) | set(orders)):
        f: dict[str, Any] = dict(fills.get(name) or {})
        o: dict[str, Any] = dict(orders.get(name) or {})
        ttc = o.get("time_to_complete_ns")
        venues.append(TcaVenueSummary.model_validate({
            **{k: f.get(k) for k in ("fees", "slippage_bps", "effective_spread_bps",
                                     *(f"markout_{h}s_bps" for h in HORIZONS_S))},
            "venue": name, "fills": f.get("fills", 0), "quantity": f.get("quantity") or 0,
            "notional": f.get("notional") or 0, "orders": o.get("orders", 0), "rejected": o.get("rejected", 0),
            "shortfall": o.get("shortfall"), "shortfall_bps": o.get("shortfall_bps"),
            "fill_rate": o.get("fill_rate"), "time_to_complete_ns": None if ttc is None else int(ttc),
        }))
    return TcaSummary(from_ns=from_ns, to_ns=to_ns, symbol=symbol, venue=venue, venues=venues)
