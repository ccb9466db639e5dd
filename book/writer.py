"""The single book-of-record writer and the start-up read of the book.

The OMS runs on QuickFIX callback threads and must never wait on the database, so it only calls
:meth:`BookWriter.submit`, which puts the records on a ``queue.SimpleQueue`` and returns. One
daemon thread drains the queue in batches and commits each batch in one transaction (group commit):
the cost of a commit is shared by every record that arrived while the previous one was running.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Table, func, or_, select
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from book.database import async_url, run_sync
from book.rows import (
    Row,
    execution_row,
    mark_row,
    order_record,
    order_row,
    position_record,
    position_row,
)
from book.tables import executions, marks, orders, positions
from oms.model import BookRecord, ExecutionRecord, MarkRecord, OrderRecord, OrderStatus, PositionRecord

_log = logging.getLogger(__name__)

OPEN_STATUSES: tuple[str, ...] = tuple(s.value for s in OrderStatus if not s.is_terminal)


def _upsert(table: Table) -> Insert:
    stmt = pg_insert(table)
    # Each record is the full new state of its row: overwrite every stored column.
    return stmt.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={
            c.name: stmt.excluded[c.name]
            for c in table.columns
            if not c.primary_key and c.computed is None and c.identity is None
        },
    )


_UPSERT_ORDERS = _upsert(orders)
_UPSERT_POSITIONS = _upsert(positions)
_UPSERT_MARKS = _upsert(marks)
# No conflict target: a duplicate exec_id or a duplicate (venue, venue_exec_id) is skipped alike, so
# a resent ExecutionReport is recorded once.
_INSERT_EXECUTIONS = pg_insert(executions).on_conflict_do_nothing()


class _Flush:
    """Queue marker: everything ahead of it is committed once ``done`` is set."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class _Stop:
    """Queue marker: commit what is queued, then end the writer thread."""

    __slots__ = ()


_STOP = _Stop()

_Item = tuple[BookRecord, ...] | _Flush | _Stop


@dataclass(slots=True)
class _Batch:
    records: list[BookRecord] = field(default_factory=list)
    flushes: list[threading.Event] = field(default_factory=list)
    stop: bool = False


class BookWriter:
    """The one writer of the book of record: batches submitted records and group-commits them.

    ``submit`` is thread-safe and never blocks; ``flush`` waits for what was submitted before it.
    A failed write is logged and retried with backoff, never dropped, so while the database is away
    the queue grows and ``pending`` shows it. Only a record PostgreSQL refuses for its content (a bug
    upstream) is set aside, logged and kept in ``rejected``, so it cannot stall the records behind it.
    """

    def __init__(self, database_url: str, *, max_batch: int = 2000, max_backoff: float = 5.0) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch {max_batch} < 1")
        self._url = async_url(database_url)
        self._max_batch = max_batch
        self._max_backoff = max_backoff
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stopped = False
        # Monitoring counters, read without a lock. The committed ones are written by the writer
        # thread only. _submitted is bumped by the submitting threads without a lock (submit must
        # never wait): a rare lost update under contention only skews ``pending``.
        self._submitted = 0
        self.committed_batches = 0
        self.committed_records = 0
        self.failed_attempts = 0
        self.last_error: str | None = None
        # Records PostgreSQL refused (a bug upstream), with the reason; the newest are kept.
        self.rejected_records = 0
        self.rejected: deque[tuple[BookRecord, str]] = deque(maxlen=10_000)

    @property
    def pending(self) -> int:
        """Records submitted but not yet committed (approximate while records are in flight)."""
        return max(self._submitted - self.committed_records - self.rejected_records, 0)

    @property
    def running(self) -> bool:
        """Whether the writer thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    # -- LIFECYCLE -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread (one daemon thread with its own asyncio loop)."""
        if self._thread is not None:
            raise RuntimeError("BookWriter already started")
        self._thread = threading.Thread(target=self._run, name="book-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Commit everything submitted so far, then end the thread; False if it did not end in time.

        If the database is unreachable the thread keeps retrying past ``timeout`` (it is a daemon
        thread, so it does not keep the process alive); what it could not write is logged.
        """
        thread = self._thread
        if thread is None or self._stopped:
            return not self.running
        self._stopped = True
        self._queue.put(_STOP)
        thread.join(timeout)
        if thread.is_alive():
            _log.error(
                "book writer did not stop within %.1fs: about %d records not yet committed (last error: %s)",
                timeout,
                self.pending,
                self.last_error,
            )
            return False
        return True

    # -- HOT PATH --------------------------------------------------------------------------------------

    def submit(self, records: Iterable[BookRecord]) -> None:
        """Hand records to the writer; returns at once (called on QuickFIX callback threads)."""
        batch = tuple(records)
        if not batch:
            return
        if self._stopped:
            # Still queued (a later start is not supported, but nothing is thrown away silently).
            _log.error("book writer is stopped: %d records queued but will not be written", len(batch))
        self._submitted += len(batch)
        self._queue.put(batch)

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until everything submitted before this call is committed; False on timeout."""
        if not self.running:
            return self.pending == 0
        marker = _Flush()
        self._queue.put(marker)
        return marker.done.wait(timeout)

    # -- WRITER THREAD ---------------------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        # One connection is all a single writer uses; pre-ping replaces a connection the server
        # dropped while the writer was idle.
        engine = create_async_engine(
            self._url,
            pool_size=1,
            max_overflow=0,
            pool_pre_ping=True,
            connect_args={"timeout": 10},
        )
        try:
            stopping = False
            while True:
                # The blocking get happens outside the loop: nothing else runs on this loop, and a
                # plain blocking get costs no wake-ups while idle.
                batch = self._take_batch(block=not stopping)
                if batch.records:
                    loop.run_until_complete(self._commit_with_retry(engine, batch.records))
                for done in batch.flushes:
                    done.set()
                stopping = stopping or batch.stop
                if stopping and not batch.records and not batch.flushes:
                    break
        except BaseException:
            _log.exception("book writer thread crashed; about %d records not committed", self.pending)
            raise
        finally:
            loop.run_until_complete(engine.dispose())
            loop.close()

    def _take_batch(self, *, block: bool) -> _Batch:
        """Wait for the first item (if ``block``), then take what else is queued, up to max_batch."""
        batch = _Batch()
        try:
            item = self._queue.get() if block else self._queue.get_nowait()
            while True:
                if isinstance(item, tuple):
                    batch.records.extend(item)
                elif isinstance(item, _Flush):
                    batch.flushes.append(item.done)
                else:
                    batch.stop = True
                if len(batch.records) >= self._max_batch:
                    break
                item = self._queue.get_nowait()
        except queue.Empty:
            pass
        return batch

    async def _commit_with_retry(self, engine: AsyncEngine, records: Sequence[BookRecord]) -> None:
        """Commit ``records`` in order, retrying while the database fails; set aside bad records.

        A data error (a value PostgreSQL refuses, a broken foreign key) fails the same way on every
        retry and would hold back the whole book behind it, so the batch is split in halves, each
        committed in order, until the records that cannot be written are alone; those are logged
        with their full value and kept in ``rejected``. Any other failure is retried as is.
        """
        rows = BookRows.of(records)  # once: a retry writes exactly the same rows
        delay = 0.05
        attempt = 0
        while True:
            try:
                async with engine.begin() as conn:
                    await write_rows(conn, rows)
            except Exception as exc:  # noqa: BLE001 - whatever failed, the batch is retried, not dropped
                if is_data_error(exc):
                    await self._isolate_bad_records(engine, records, exc)
                    return
                attempt += 1
                self.failed_attempts += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                # The full traceback once per batch; later attempts one line each.
                _log.error(
                    "book write of %d records failed (attempt %d), retrying in %.2fs: %s",
                    len(records),
                    attempt,
                    delay,
                    self.last_error,
                    exc_info=attempt == 1,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff)
                continue
            if attempt:
                _log.warning(
                    "book write of %d records succeeded after %d failed attempts", len(records), attempt
                )
            self.committed_batches += 1
            self.committed_records += len(records)
            return

    async def _isolate_bad_records(
        self, engine: AsyncEngine, records: Sequence[BookRecord], exc: Exception
    ) -> None:
        if len(records) == 1:
            self.rejected_records += 1
            self.rejected.append((records[0], f"{type(exc).__name__}: {exc}"))
            _log.error("book record cannot be written, set aside: %r: %s", records[0], exc)
            return
        middle = len(records) // 2
        await self._commit_with_retry(engine, records[:middle])
        await self._commit_with_retry(engine, records[middle:])


def is_data_error(exc: BaseException) -> bool:
    """Whether a write failed because of the data itself, so retrying it unchanged cannot succeed.

    SQLSTATE class 22 (data exception, including values asyncpg cannot encode) and class 23
    (integrity constraint violation), or a value SQLAlchemy could not bind.
    """
    if isinstance(exc, DBAPIError):
        sqlstate = str(getattr(exc.orig, "sqlstate", "") or "")
        return sqlstate[:2] in {"22", "23"}
    return isinstance(exc, StatementError)


@dataclass(slots=True)
class BookRows:
    """A batch of records as table rows, deduplicated: the last snapshot per order, position and mark.

    Executions keep the order they were submitted in: the book numbers them (``seq``) as inserted.
    """

    orders: dict[int, Row] = field(default_factory=dict)
    executions: list[Row] = field(default_factory=list)
    positions: dict[tuple[str, str], Row] = field(default_factory=dict)
    marks: dict[str, Row] = field(default_factory=dict)

    @classmethod
    def of(cls, records: Iterable[BookRecord]) -> BookRows:
        """The rows of ``records``; anything that is not a book record is logged and left out."""
        rows = cls()
        for record in records:
            if isinstance(record, OrderRecord):
                rows.orders[record.order_id] = order_row(record)
            elif isinstance(record, ExecutionRecord):
                rows.executions.append(execution_row(record))
            elif isinstance(record, PositionRecord):
                rows.positions[(record.account, record.symbol)] = position_row(record)
            elif isinstance(record, MarkRecord):
                rows.marks[record.symbol] = mark_row(record)
            else:
                # A bug upstream. Retrying could never write it, and it would hold back the rest.
                _log.error("not a book record, not written: %r", record)
        return rows


async def write_rows(conn: AsyncConnection, rows: BookRows) -> None:
    """Write rows on ``conn``, inside the caller's transaction: orders, executions, positions, marks.

    Orders go first so an execution's foreign key finds its order written in the same batch.
    """
    # A list of parameter sets is an executemany: one prepared statement, pipelined by asyncpg.
    if rows.orders:
        await conn.execute(_UPSERT_ORDERS, list(rows.orders.values()))
    if rows.executions:
        await conn.execute(_INSERT_EXECUTIONS, rows.executions)
    if rows.positions:
        await conn.execute(_UPSERT_POSITIONS, list(rows.positions.values()))
    if rows.marks:
        await conn.execute(_UPSERT_MARKS, list(rows.marks.values()))


async def write_records(conn: AsyncConnection, records: Iterable[BookRecord]) -> None:
    """Write book records on ``conn`` inside the caller's transaction (see :func:`write_rows`)."""
    await write_rows(conn, BookRows.of(records))


# -- START-UP ---------------------------------------------------------------------------------------------


RECENT_NS = 24 * 3600 * 1_000_000_000  # orders done within a day are still loaded at start


@dataclass(frozen=True, slots=True)
class BookState:
    """What the in-memory OMS and risk view are rebuilt from at start."""

    orders: list[OrderRecord]  # every open order, and the orders done within RECENT_NS
    positions: list[PositionRecord]
    max_order_id: int
    applied_executions: frozenset[tuple[str, str]]  # (venue, venue_exec_id) of those orders' reports

    @property
    def open_orders(self) -> list[OrderRecord]:
        return [o for o in self.orders if not o.status.is_terminal]


async def read_state(conn: AsyncConnection, now_ns: int | None = None) -> BookState:
    """Read the book state on ``conn`` (run it in one snapshot for a consistent view).

    Recently finished orders come too: a client's PossDup resend of one, or a venue's resend of its
    reports after a restart, must be recognised as a repeat, not taken as new."""
    since = (time.time_ns() if now_ns is None else now_ns) - RECENT_NS
    wanted = or_(orders.c.status.in_(OPEN_STATUSES), orders.c.updated_ns >= since)
    order_rows = await conn.execute(select(orders).where(wanted).order_by(orders.c.order_id))
    loaded = [order_record(m) for m in order_rows.mappings()]
    position_rows = await conn.execute(select(positions).order_by(positions.c.account, positions.c.symbol))
    all_positions = [position_record(m) for m in position_rows.mappings()]
    max_order_id = (await conn.execute(select(func.coalesce(func.max(orders.c.order_id), 0)))).scalar_one()
    applied = await conn.execute(
        select(executions.c.venue, executions.c.venue_exec_id)
        .join(orders, orders.c.order_id == executions.c.order_id)
        .where(wanted)
    )
    return BookState(
        orders=loaded,
        positions=all_positions,
        max_order_id=int(max_order_id),
        applied_executions=frozenset((venue, exec_id) for venue, exec_id in applied.all()),
    )


async def _load_state(database_url: str) -> BookState:
    engine = create_async_engine(async_url(database_url), poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            # One REPEATABLE READ snapshot: the four queries see the same book even if a writer
            # is still committing.
            snapshot = await conn.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            async with snapshot.begin():
                return await read_state(snapshot)
    finally:
        await engine.dispose()


def load_state(database_url: str) -> BookState:
    """Read open orders, positions, the highest order id and applied fills from the book (sync)."""
    return run_sync(lambda: _load_state(database_url))
