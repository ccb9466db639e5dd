"""The book of record seen from outside the gateway: a throwaway database, completeness, commit lag.

The gateway does not stamp commit times, so the lag (gateway received the venue's report -> the row is
committed) is observed by polling: a row first seen by a poll that returned at wall time ``t`` was
committed before ``t``, so ``t - received_ns`` is an upper bound of its lag, too high by at most one
poll interval plus one query. The poll reads only rows it cannot have seen yet (order ids above the
oldest order whose last expected execution is still missing, received at or after the newest seen;
the gateway's one writer commits rows in the order it received them).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from book.database import EmbeddedPostgres, async_url, create_database, drop_database, start_embedded


@dataclass
class BenchDatabase:
    """A fresh database for one benchmark, on ``DATABASE_URL``'s server or an embedded one."""

    url: str
    admin_url: str
    name: str
    source: str  # "DATABASE_URL" or "embedded"
    embedded: EmbeddedPostgres | None = None

    @classmethod
    def create(cls, work: Path) -> BenchDatabase:
        env_url = os.environ.get("DATABASE_URL", "").strip()
        embedded = None
        if env_url:
            admin_url, source = env_url, "DATABASE_URL"
        else:
            embedded = start_embedded(work / "pgdata")
            admin_url, source = embedded.url, "embedded"
        name = f"fixgate_bench_{uuid.uuid4().hex[:8]}"
        return cls(create_database(admin_url, name), admin_url, name, source, embedded)

    def close(self, *, drop: bool = True) -> None:
        """Drop the database (unless ``drop`` is False) and stop the embedded server if one was started."""
        try:
            if drop:
                drop_database(self.admin_url, self.name)
        finally:
            if self.embedded is not None:
                self.embedded.stop()


def _engine(url: str) -> AsyncEngine:
    return create_async_engine(async_url(url), poolclass=NullPool)


async def _fetch(url: str, sql: str, params: dict[str, Any]) -> list[Any]:
    engine = _engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())
    finally:
        await engine.dispose()


def max_order_id(url: str) -> int:
    """The highest order id in the book (0 when empty)."""
    rows = asyncio.run(_fetch(url, "SELECT coalesce(max(order_id), 0) FROM orders", {}))
    return int(rows[0][0])


def activity(url: str) -> tuple[int, int]:
    """(highest order id, highest execution seq): both stop moving when the gateway is idle."""
    rows = asyncio.run(_fetch(
        url, "SELECT (SELECT coalesce(max(order_id), 0) FROM orders),"
             " (SELECT coalesce(max(seq), 0) FROM executions)", {}))
    return int(rows[0][0]), int(rows[0][1])


@dataclass(frozen=True, slots=True)
class BookCount:
    """What the book holds for the orders of one run (ClOrdIDs starting with its tag)."""

    orders: int
    final: int  # orders in the expected final status
    executions: int  # executions of the expected final kind

    def complete(self, count: int) -> bool:
        return self.orders == count and self.final == count and self.executions == count


def count_run(url: str, tag: str, final_status: str, final_kind: str) -> BookCount:
    sql = """
        SELECT
          (SELECT count(*) FROM orders WHERE starts_with(cl_ord_id, :prefix)),
          (SELECT count(*) FROM orders WHERE starts_with(cl_ord_id, :prefix) AND status = :status),
          (SELECT count(*) FROM executions e JOIN orders o ON o.order_id = e.order_id
             WHERE starts_with(o.cl_ord_id, :prefix) AND e.kind = :kind)
    """
    rows = asyncio.run(_fetch(url, sql, {"prefix": f"{tag}-", "status": final_status, "kind": final_kind}))
    return BookCount(*(int(v) for v in rows[0]))


def wait_complete(url: str, tag: str, count: int, final_status: str, final_kind: str,
                  timeout: float) -> tuple[BookCount, float | None]:
    """Poll until the run's orders are all in the book in their final state; (last count, seconds)."""
    started = time.monotonic()
    while True:
        counted = count_run(url, tag, final_status, final_kind)
        if counted.complete(count):
            return counted, time.monotonic() - started
        if time.monotonic() - started > timeout:
            return counted, None
        time.sleep(0.1)


@dataclass
class LagPoller:
    """Polls the executions of orders above ``base_order_id`` in a thread; records first-seen lags.

    ``final_kind`` is the execution that completes an order (TRADE for crossing orders); the poll
    window starts at the oldest order still missing it.
    """

    url: str
    base_order_id: int
    final_kind: str
    interval: float = 0.01
    lags_ns: dict[str, list[int]] = field(default_factory=dict)  # kind -> lags
    polls: int = 0
    poll_time_s: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="lag-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    async def _run(self) -> None:
        sql = text("SELECT exec_id, order_id, kind, received_ns FROM executions"
                   " WHERE order_id > :low AND received_ns >= :since")
        engine = _engine(self.url)
        seen: set[str] = set()
        done: set[int] = set()
        low = self.base_order_id
        since = 0
        try:
            async with engine.connect() as conn:
                while not self._stop.is_set():
                    began = time.monotonic()
                    rows = (await conn.execute(sql, {"low": low, "since": since})).all()
                    await conn.rollback()  # end the snapshot, so the next poll sees newer commits
                    now = time.time_ns()
                    self.polls += 1
                    self.poll_time_s += time.monotonic() - began
                    for exec_id, order_id, kind, received_ns in rows:
                        if exec_id in seen:
                            continue
                        seen.add(exec_id)
                        self.lags_ns.setdefault(kind, []).append(now - received_ns)
                        since = max(since, received_ns)
                        if kind == self.final_kind:
                            done.add(order_id)
                    while low + 1 in done:
                        done.discard(low + 1)
                        low += 1
                    await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - began)))
        finally:
            await engine.dispose()
