"""The FastAPI application over the book of record."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline
from prometheus_client.registry import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from api.dashboard import install_dashboard
from api.endpoints import OrderOperations, open_router, router
from api.errors import APIError, api_error_handler, unexpected_error_handler, validation_error_handler
from api.identities import Identities, Identity
from api.metrics_endpoints import LatencyProvider, OmsCountersProvider, metrics_router
from api.risk_endpoints import RiskOperations, risk_router
from api.schemas import PartHealth
from api.sessions_endpoints import SessionsProvider, sessions_router
from api.tca_endpoints import tca_router
from book.database import async_url


def create_app(
    database_url: str,
    *,
    api_token: str | None = None,
    api_tokens: Mapping[str, Identity] | None = None,
    operations: OrderOperations | None = None,
    metrics: LatencyProvider | None = None,
    risk: RiskOperations | None = None,
    oms: OmsCountersProvider | None = None,
    parts: Callable[[], Mapping[str, PartHealth]] | None = None,
    sessions: SessionsProvider | None = None,
    prometheus: CollectorRegistry | None = None,
    tasks: Sequence[Callable[[AsyncEngine], Coroutine[Any, Any, None]]] = (),
) -> FastAPI:
    """The REST app reading the book at ``database_url``; its engine lives as long as the app runs.

    Every endpoint but ``/health`` and the docs requires ``Authorization: Bearer <token>``: ``api_token``
    (an operator, named "api") or one of ``api_tokens`` (identities by the SHA-256 of their token,
    as :func:`api.identities.load_tokens` reads them); with neither they all answer 401. What an
    identity may do depends on its role (403 otherwise). ``operations`` (the operators' controls, ``oms.controls.TradingControls``) carries out operator
    commands
    such as ``POST /orders/{id}/cancel``; without it those answer 503. ``metrics`` (the gateway's
    per-hop latency) serves ``GET /metrics/latency``; without it that answers 503.
    ``risk`` (the same controls) serves ``/risk/*``: kill switch, status, limits; without it those answer 503.
    ``oms`` serves ``GET /metrics/oms``, the OMS's counters; without it, ``operations``
    serves them if it can (the controls can), else that answers 503. ``parts`` says how each part
    besides the database is (``venues``, ``book_writer``, ``bus``: "ok" or what is wrong, and whether
    that stops trading or recording), for ``/health``.
    ``sessions`` (the gateway's ``FixSessions``) serves ``GET /sessions``; without it that answers 503.
    ``prometheus`` (a registry of ``fixgate.metrics.FixgateCollector``) serves ``GET /metrics``; without
    it that answers 503. ``tasks`` run on the server's event loop as long as the app does, each given the
    app's database engine (the gateway's feed of TCA's venue scores to its router: ``tca.feedback``).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Created here, not at import or in create_app: an engine's connections belong to the event
        # loop that opened them, which is the server's loop.
        engine = create_async_engine(
            async_url(database_url),
            pool_size=5,
            max_overflow=5,
            pool_pre_ping=True,
            connect_args={"timeout": 5},
        )
        app.state.engine = engine
        running = [asyncio.create_task(task(engine)) for task in tasks]
        try:
            yield
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            await engine.dispose()

    # Swagger UI (/docs) and ReDoc (/redoc) from the files fastapi-offline ships, served by this app
    # (under /static-offline-docs), never from a CDN: the docs work on a machine without the internet.
    app = FastAPIOffline(
        title="fixgate",
        summary="Book of record of the fixgate FIX gateway: orders, executions, positions, P&L.",
        version="0.2.0",
        lifespan=lifespan,
    )
    app.state.identities = Identities(api_tokens, api_token or None)
    app.state.operations = operations
    app.state.risk = risk
    app.state.metrics = metrics
    # The gateway is passed as ``operations`` already: it need not be named twice to serve counters.
    if oms is None and isinstance(operations, OmsCountersProvider):
        oms = operations
    app.state.oms = oms
    app.state.parts = parts
    app.state.sessions = sessions
    app.state.prometheus = prometheus
    app.add_exception_handler(APIError, api_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    # Last resort: a bug or a database failure is a logged 500 whose body says nothing of the cause.
    app.add_exception_handler(Exception, unexpected_error_handler)
    app.include_router(open_router)
    app.include_router(router)
    app.include_router(risk_router)
    app.include_router(metrics_router)
    app.include_router(sessions_router)
    install_dashboard(app)
    app.include_router(tca_router)
    return app
