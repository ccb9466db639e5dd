"""The FastAPI application over the book of record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

from api.endpoints import router
from api.errors import APIError, api_error_handler
from book.database import async_url


def create_app(database_url: str) -> FastAPI:
    """The REST app reading the book at ``database_url``; its engine lives as long as the app runs."""

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
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title="fixgate",
        summary="Book of record of the fixgate FIX gateway: orders, executions, positions.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.add_exception_handler(APIError, api_error_handler)
    app.include_router(router)
    return app
