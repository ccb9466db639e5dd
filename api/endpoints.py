"""HTTP endpoints: parameters in, schemas out; the SQL is in :mod:`api.repository`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.errors import InvalidParameter, NotFound
from api.repository import BookRepository
from api.schemas import Execution, Health, Order, OrderDetail, Position
from oms.model import OrderStatus

_log = logging.getLogger(__name__)

router = APIRouter()

HEALTH_TIMEOUT_S = 2.0
MAX_LIMIT = 1000

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"at most this many rows (1..{MAX_LIMIT})")]


def _engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


async def get_repository(request: Request) -> AsyncIterator[BookRepository]:
    """A repository on a read-only snapshot: a request's queries all see the same book."""
    async with _engine(request).connect() as conn:
        snapshot: AsyncConnection = await conn.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
        async with snapshot.begin():
            yield BookRepository(snapshot)


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


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(request: Request) -> Health | JSONResponse:
    """The API is up; ``database`` says whether PostgreSQL answers a ``SELECT 1``."""

    async def ping() -> None:
        async with _engine(request).connect() as conn:
            await BookRepository(conn).ping()

    try:
        await asyncio.wait_for(ping(), HEALTH_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy", which is the answer, not an error
        _log.warning("health check: database unavailable: %s: %s", type(exc).__name__, exc)
        body = Health(status="degraded", database=f"unavailable: {type(exc).__name__}")
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", database="ok")


@router.get("/orders", response_model=list[Order])
async def list_orders(
    repository: Repository,
    status: Annotated[
        list[str] | None,
        Query(description=f"order status name, repeatable: {', '.join(OrderStatus.__members__)}"),
    ] = None,
    symbol: str | None = None,
    account: str | None = None,
    after: Annotated[int | None, Query(description="only orders with a greater order id (paging)")] = None,
    limit: Limit = 100,
) -> list[Order]:
    """Orders by order id, filtered by status, symbol and account."""
    rows = await repository.list_orders(
        statuses=_parse_statuses(status), symbol=symbol, account=account, after=after, limit=limit
    )
    return [Order.model_validate(dict(row)) for row in rows]


@router.get(
    "/orders/{order_id}", response_model=OrderDetail, responses={404: {"description": "no such order"}}
)
async def get_order(order_id: int, repository: Repository) -> OrderDetail:
    """One order with its executions."""
    row = await repository.get_order(order_id)
    if row is None:
        raise NotFound(f"order {order_id} not found")
    fills = await repository.executions_of_order(order_id)
    return OrderDetail.model_validate({**row, "executions": [dict(f) for f in fills]})


@router.get("/executions", response_model=list[Execution])
async def list_executions(
    repository: Repository,
    order_id: int | None = None,
    account: Annotated[str | None, Query(description="the order's account")] = None,
    symbol: Annotated[str | None, Query(description="the order's symbol")] = None,
    limit: Limit = 100,
) -> list[Execution]:
    """Executions oldest first, filtered by order id, account and symbol."""
    rows = await repository.list_executions(order_id=order_id, account=account, symbol=symbol, limit=limit)
    return [Execution.model_validate(dict(row)) for row in rows]


@router.get("/positions", response_model=list[Position])
async def list_positions(
    repository: Repository, account: str | None = None, symbol: str | None = None
) -> list[Position]:
    """Positions by account and symbol, filtered by either."""
    rows = await repository.list_positions(account=account, symbol=symbol)
    return [Position.model_validate(dict(row)) for row in rows]
