"""HTTP endpoints: parameters in, schemas out; the SQL is in :mod:`api.repository`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.audit import audit
from api.auth import Caller, Canceller, authenticate
from api.errors import (
    PROTECTED_RESPONSES,
    Conflict,
    ErrorBody,
    Forbidden,
    InvalidParameter,
    NotFound,
    Unavailable,
)
from api.identities import Identity
from api.params import INT64_MAX, OrderId, SafeText, cursor, parse_time_ns
from api.pnl import PnlSum, pnl_report, unrealized_pnl
from api.repository import BookRepository
from api.schemas import (
    AccountPnl,
    CancelAccepted,
    Execution,
    Health,
    Order,
    OrderDetail,
    PartHealth,
    Pnl,
    PnlTotals,
    Position,
)
from domain.model import CancelRejectReason, OrderStatus, Refusal, Side

_log = logging.getLogger(__name__)

#: Open to anyone: liveness only. (FastAPI's own /docs and /openapi.json are open too.)
open_router = APIRouter()
#: Everything else requires a bearer token; a client identity sees its own accounts only.
router = APIRouter(dependencies=[Depends(authenticate)], responses=PROTECTED_RESPONSES)

HEALTH_TIMEOUT_S = 2.0
MAX_LIMIT = 1000
NEXT_CURSOR_HEADER = "X-Next-Cursor"

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"at most this many rows (1..{MAX_LIMIT})")]


class OrderOperations(Protocol):
    """What operators may do to live orders through the API (``oms.controls.TradingControls``)."""

    def cancel_order(self, order_id: int) -> Refusal | None:
        """Send a cancel for the order to its venue: ``None`` when sent, else why not."""
        ...


def _engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


@asynccontextmanager
async def _snapshot(request: Request) -> AsyncIterator[BookRepository]:
    async with _engine(request).connect() as conn:
        snapshot: AsyncConnection = await conn.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
        async with snapshot.begin():
            yield BookRepository(snapshot)


async def get_repository(request: Request) -> AsyncIterator[BookRepository]:
    """A repository on a read-only snapshot: a request's queries all see the same book."""
    async with _snapshot(request) as repository:
        yield repository


Repository = Annotated[BookRepository, Depends(get_repository)]


def _parse_statuses(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    for value in values:
        if value not in OrderStatus.__members__:
            raise InvalidParameter(
                f"unknown order status {value!r}: expected one of {', '.join(OrderStatus.__members__)}"
            )
    return values


def _parse_side(value: str | None) -> str | None:
    if value is not None and value not in Side.__members__:
        raise InvalidParameter(f"unknown side {value!r}: expected one of {', '.join(Side.__members__)}")
    return value


def _accounts(caller: Identity, account: str | None) -> tuple[str | None, frozenset[str] | None]:
    """The account filter of a read, and the accounts it is limited to (``None``: all): a client's reads
    cover its own accounts only, and naming another is a 403 rather than an empty answer."""
    if account is not None and not caller.may_see(account):
        raise Forbidden(f"{caller.name} (client) may not see account {account!r}: its accounts are"
                        f" {', '.join(sorted(caller.accounts))}")
    return account, caller.account_scope


@open_router.get("/health", response_model=Health, response_model_exclude_none=True,
                 responses={503: {"model": Health}})
async def health(request: Request) -> Health | JSONResponse:
    """Each part of fixgate: ``database`` (PostgreSQL answers a ``SELECT 1``), ``venues``,
    ``book_writer``, ``bus``. 503 with status "down" when a part that stops trading or recording is
    not ok (the database; every venue), "degraded" for any other part that is not. No token needed."""

    async def ping() -> None:
        async with _engine(request).connect() as conn:
            await BookRepository(conn).ping()

    provider = request.app.state.parts
    parts: dict[str, PartHealth] = dict(provider()) if provider is not None else {}
    try:
        await asyncio.wait_for(ping(), HEALTH_TIMEOUT_S)
        parts["database"] = PartHealth("ok")
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy", which is the answer, not an error
        _log.warning("health check: database unavailable: %s: %s", type(exc).__name__, exc)
        # The book of record can be neither written nor read (orders wait in the journal meanwhile).
        parts["database"] = PartHealth(f"unavailable: {type(exc).__name__}", stops=True)
    failing = [p for p in parts.values() if p.state != "ok"]
    down = any(p.stops for p in failing)
    body = Health(status="down" if down else "degraded" if failing else "ok",
                  **{name: p.state for name, p in parts.items()})
    if down:
        return JSONResponse(body.model_dump(exclude_none=True), status_code=503)
    return body


@router.get("/orders", response_model=list[Order])
async def list_orders(
    request: Request,
    response: Response,
    repository: Repository,
    caller: Caller,
    status: Annotated[
        list[str] | None,
        Query(description=f"order status name, repeatable: {', '.join(OrderStatus.__members__)}"),
    ] = None,
    symbol: SafeText | None = None,
    account: SafeText | None = None,
    side: Annotated[str | None, Query(description="BUY or SELL")] = None,
    created_from: Annotated[
        str | None,
        Query(
            alias="from",
            description="created at or after this ISO-8601 time with offset (2025-11-21T14:30:00Z)",
        ),
    ] = None,
    created_to: Annotated[
        str | None, Query(alias="to", description="created before this ISO-8601 time with offset")
    ] = None,
    after: Annotated[int | None, cursor("orders with a greater order id")] = None,
    limit: Limit = 100,
) -> list[Order]:
    """Orders by order id, filtered by status, symbol, account, side and created time.

    When more orders match than ``limit``, the response carries the cursor of the next page in the
    ``X-Next-Cursor`` header (pass it as ``after``) and its URL in a ``Link: <...>; rel="next"`` header;
    on the last page neither is present.
    """
    from_ns = parse_time_ns("from", created_from)
    to_ns = parse_time_ns("to", created_to)
    account, scope = _accounts(caller, account)
    if from_ns is not None and to_ns is not None and from_ns > to_ns:
        raise InvalidParameter(f"from={created_from!r} is after to={created_to!r}")
    rows = await repository.list_orders(
        statuses=_parse_statuses(status),
        symbol=symbol,
        account=account,
        accounts=scope,
        side=_parse_side(side),
        created_from_ns=from_ns,
        created_to_ns=to_ns,
        after=after,
        limit=limit + 1,  # one more than asked says whether there is a next page
    )
    return [Order.model_validate(dict(row)) for row in _page(request, response, rows, limit, "order_id")]


def _page(
    request: Request, response: Response, rows: Sequence[RowMapping], limit: int, key: str
) -> Sequence[RowMapping]:
    """The first ``limit`` of ``rows`` (fetched with one more, which says there is a next page); when
    there is one, its cursor (``key`` of the page's last row) goes in ``X-Next-Cursor`` and its URL in
    ``Link: <...>; rel="next"``."""
    page = rows[:limit]
    if len(rows) > limit:
        cursor = str(page[-1][key])
        response.headers[NEXT_CURSOR_HEADER] = cursor
        response.headers["Link"] = f'<{request.url.include_query_params(after=cursor)}>; rel="next"'
    return page


def _own(caller: Identity, order_id: int, account: str) -> None:
    if not caller.may_see(account):
        raise Forbidden(
            f"{caller.name} (client) may not see or cancel order {order_id}: not one of its accounts")


@router.get(
    "/orders/{order_id}", response_model=OrderDetail, responses={404: {"model": ErrorBody,
                                                                       "description": "no such order"}}
)
async def get_order(order_id: OrderId, repository: Repository, caller: Caller) -> OrderDetail:
    """One order with its full event history (every execution, in the order applied)."""
    row = await repository.get_order(order_id)
    if row is None:
        raise NotFound(f"order {order_id} not found")
    _own(caller, order_id, row["account"])
    events = await repository.executions_of_order(order_id)
    children = await repository.children_of(order_id)
    return OrderDetail.model_validate({**row, "executions": [dict(e) for e in events],
                                       "children": [dict(c) for c in children]})


@router.post(
    "/orders/{order_id}/cancel",
    status_code=202,
    response_model=CancelAccepted,
    responses={
        404: {"model": ErrorBody, "description": "no such order"},
        409: {"model": ErrorBody,
              "description": "the order is done, or a cancel or replace is already pending"},
        503: {"model": ErrorBody, "description": "no gateway is wired to this API"},
    },
)
async def cancel_order(order_id: OrderId, request: Request, caller: Canceller) -> CancelAccepted:
    """A cancel sent to the order's venue (202); the result arrives as the order's events. An operator
    may cancel any order, a client the orders of its accounts (as the book has them), a viewer none."""
    operations: OrderOperations | None = request.app.state.operations
    if operations is None:
        raise Unavailable("order operations are not available: this API serves the book only")
    if caller.account_scope is not None:
        # A client's cancel waits on the book to learn whose the order is: an order the book does not
        # have yet is not one the client can be shown to own.
        async with _snapshot(request) as repository:
            row = await repository.get_order(order_id)
        if row is None:
            raise NotFound(f"order {order_id} not found")
        _own(caller, order_id, row["account"])
    # Off the event loop: the gateway takes the OMS lock and a FIX session's send lock.
    refusal = await run_in_threadpool(operations.cancel_order, order_id)
    if refusal is None:
        await audit(request, f"the cancel of order {order_id}", at_ns=time.time_ns(), by=caller.name,
                    action="CANCEL", value=str(order_id), details={"order_id": order_id})
        return CancelAccepted(
            order_id=order_id,
            status=OrderStatus.PENDING_CANCEL,
            detail=f"cancel of order {order_id} sent to its venue",
        )
    # The gateway holds the orders of this run and those restored at start (open or recent), so
    # for one it does not hold the book decides between 404 and 409; an operator's cancel is sent
    # without reading the book (only its audit row, written after, waits on the database).
    if refusal.reason is CancelRejectReason.UNKNOWN_ORDER:
        async with _snapshot(request) as repository:
            row = await repository.get_order(order_id)
        if row is None:
            raise NotFound(refusal.text)
        raise Conflict(f"order {order_id} is {row['status']}: nothing to cancel")
    raise Conflict(refusal.text)


@router.get("/executions", response_model=list[Execution])
async def list_executions(
    request: Request,
    response: Response,
    repository: Repository,
    caller: Caller,
    order_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    account: Annotated[SafeText | None, Query(description="the order's account")] = None,
    symbol: Annotated[SafeText | None, Query(description="the order's symbol")] = None,
    after: Annotated[int | None, cursor("executions with a greater seq")] = None,
    limit: Limit = 100,
) -> list[Execution]:
    """Executions in the order the book applied them (``seq``), filtered by order id, account and symbol;
    paged like ``/orders`` (``X-Next-Cursor`` and ``Link`` while more match)."""
    account, scope = _accounts(caller, account)
    rows = await repository.list_executions(order_id=order_id, account=account, accounts=scope, symbol=symbol,
                                            after=after, limit=limit + 1)
    return [Execution.model_validate(dict(row)) for row in _page(request, response, rows, limit, "seq")]


@router.get("/positions", response_model=list[Position])
async def list_positions(
    repository: Repository, caller: Caller, account: SafeText | None = None, symbol: SafeText | None = None
) -> list[Position]:
    """Positions by account and symbol, filtered by either, marked at each symbol's mark price."""
    account, scope = _accounts(caller, account)
    rows = await repository.list_positions(account=account, accounts=scope, symbol=symbol)
    return [
        Position.model_validate(
            {**row, "unrealized_pnl": unrealized_pnl(row["quantity"], row["cost"], row["mark_price"])}
        )
        for row in rows
    ]


@router.get("/pnl", response_model=Pnl)
async def pnl(repository: Repository, caller: Caller, account: SafeText | None = None) -> Pnl:
    """Realized, unrealized and total P&L per account and for the firm (all accounts, or ``account``;
    for a client identity, its accounts)."""
    account, scope = _accounts(caller, account)
    rows = await repository.list_positions(account=account, accounts=scope)
    report = pnl_report(
        (r["account"], r["quantity"], r["cost"], r["realized_pnl"], r["mark_price"]) for r in rows
    )

    return Pnl(
        accounts=[
            AccountPnl.model_validate({"account": a, **_totals(t)}) for a, t in report.accounts.items()
        ],
        total=PnlTotals.model_validate(_totals(report.firm)),
    )


def _totals(t: PnlSum) -> dict[str, Decimal]:
    return {"realized_pnl": t.realized_pnl, "unrealized_pnl": t.unrealized_pnl, "total_pnl": t.total_pnl}
