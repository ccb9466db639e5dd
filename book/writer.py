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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from operator import attrgetter
from typing import Any

import asyncpg
from sqlalchemy import Table, and_, func, or_, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from book.database import async_url, run_sync
from book.fields import field_names
from book.hops import HopRecord, OrderHops, ReportHops
from book.risk_events import INSERT_ONCE, breach_row, once_args, risk_event
from book.rows import (
    Row,
    execution_row,
    mark_row,
    order_record,
    order_row,
    position_record,
    position_row,
)
from book.tables import executions, marks, orders, positions, risk_events
from domain.model import (
    AppliedReport,
    BookRecord,
    Breach,
    ExecKind,
    ExecutionRecord,
    MarkRecord,
    OrderRecord,
    OrderStatus,
    PositionRecord,
)
from risk.restore import BREACH, KILL, LIMITS, RESUME, RiskEvent

# What the writer takes: book records, hop timestamps, and daily loss breaches (``risk_events`` rows).
Record = BookRecord | HopRecord | Breach

_log = logging.getLogger(__name__)

OPEN_STATUSES: tuple[str, ...] = tuple(s.value for s in OrderStatus if not s.is_terminal)


# The writer talks to PostgreSQL with asyncpg directly: each table's rows of a batch go as one
# statement over column arrays (``unnest``), prepared once per connection (asyncpg's statement cache),
# so a batch costs a few array encodings, not a SQLAlchemy compile and a parameter set per row.

_Columns = tuple[tuple[str, str], ...]  # (name, PostgreSQL type) of each column a statement writes


def _columns(table: Table, record_type: type, *, but: Sequence[str] = ()) -> _Columns:
    """The columns of ``table`` that hold the fields of ``record_type`` (a record, or hop timestamps),
    in field order, each with its PostgreSQL type as the table declares it; ``but`` left out."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return tuple(
        (name, table.c[name].type.compile(dialect=dialect).lower())
        for name in field_names(record_type)
        if name not in but
    )


_ORDER_COLUMNS = _columns(orders, OrderRecord)
_ORDER_HOP_COLUMNS = _columns(orders, OrderHops, but=("order_id",))
_EXECUTION_COLUMNS = _columns(executions, ExecutionRecord)
_EXECUTION_HOP_COLUMNS = _columns(executions, ReportHops, but=("exec_id",))
_POSITION_COLUMNS = _columns(positions, PositionRecord)
_MARK_COLUMNS = _columns(marks, MarkRecord)
# Hop timestamps ride on the row of their order or execution when it is in the same batch.
_ORDER_HOP_NAMES = tuple(name for name, _ in _ORDER_HOP_COLUMNS)
_order_hops = attrgetter(*_ORDER_HOP_NAMES)
_EXECUTION_HOP_NAMES = tuple(name for name, _ in _EXECUTION_HOP_COLUMNS)
_report_hops = attrgetter(*_EXECUTION_HOP_NAMES)


def _unnest(columns: Sequence[tuple[str, str]], ordinality: bool = False) -> str:
    args = ", ".join(f"${i}::{kind}[]" for i, (_, kind) in enumerate(columns, 1))
    if ordinality:
        return f"unnest({args}) WITH ORDINALITY AS u({_names(columns)}, ord)"
    return f"unnest({args}) AS u({_names(columns)})"


def _names(columns: Sequence[tuple[str, str]]) -> str:
    return ", ".join(name for name, _ in columns)


def _upsert_sql(table: str, columns: Sequence[tuple[str, str]], key: Sequence[str],
                keep: Sequence[tuple[str, str]] = ()) -> str:
    """Insert or overwrite every column (each record is the full new state of its row); the
    ``keep`` columns only where the new row has a value (hop timestamps written later by an update)."""
    every = (*columns, *keep)
    sets = [f"{name} = EXCLUDED.{name}" for name, _ in columns if name not in key]
    sets += [f"{name} = coalesce(EXCLUDED.{name}, {table}.{name})" for name, _ in keep]
    return (
        f"INSERT INTO {table} ({_names(every)}) SELECT {_names(every)} FROM {_unnest(every)}"
        f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {', '.join(sets)}"
    )


_UPSERT_ORDERS = _upsert_sql("orders", _ORDER_COLUMNS, ("order_id",), _ORDER_HOP_COLUMNS)
_UPSERT_POSITIONS = _upsert_sql("positions", _POSITION_COLUMNS, ("account", "symbol"))
_UPSERT_MARKS = _upsert_sql("marks", _MARK_COLUMNS, ("symbol",))
# No conflict target: a duplicate exec_id or a duplicate report (``uq_executions_venue_report``) is
# skipped alike, so a resent ExecutionReport (or a replayed journal) is recorded once. Inserted in
# submission order: ``seq`` numbers them so.
_EXECUTION_ALL = (*_EXECUTION_COLUMNS, *_EXECUTION_HOP_COLUMNS)
_INSERT_EXECUTIONS = (
    f"INSERT INTO executions ({_names(_EXECUTION_ALL)}) SELECT {_names(_EXECUTION_ALL)}"
    f" FROM {_unnest(_EXECUTION_ALL, ordinality=True)} ORDER BY ord ON CONFLICT DO NOTHING"
)


def _update_sql(table: str, alias: str, columns: _Columns, key: str) -> str:
    """Set ``columns`` of the rows of ``table`` found by ``key`` (the first column), from arrays."""
    sets = ", ".join(f"{name} = u.{name}" for name, _ in columns[1:])
    return f"UPDATE {table} AS {alias} SET {sets} FROM {_unnest(columns)} WHERE {alias}.{key} = u.{key}"


_UPDATE_ORDER_HOPS = _update_sql("orders", "o", _columns(orders, OrderHops), "order_id")
_UPDATE_REPORT_HOPS = _update_sql("executions", "e", _columns(executions, ReportHops), "exec_id")

_STATEMENTS = (_UPSERT_ORDERS, _INSERT_EXECUTIONS, _UPSERT_POSITIONS, _UPSERT_MARKS, _UPDATE_ORDER_HOPS,
               _UPDATE_REPORT_HOPS)


def _arrays(rows: Sequence[Row], columns: Sequence[tuple[str, str]]) -> list[list[Any]]:
    return [[row.get(name) for row in rows] for name, _ in columns]


def _field_arrays(records: Iterable[Any], record_type: type) -> list[list[Any]]:
    """A column array per field of ``record_type`` (hop timestamps: plain ints, no conversion)."""
    values = list(records)
    return [[getattr(r, name) for r in values] for name in field_names(record_type)]


def connect_args(database_url: str) -> dict[str, Any]:
    """``asyncpg.connect`` keyword arguments for a database URL (as SQLAlchemy's asyncpg dialect
    reads it: user, password, host or Unix socket directory, port, database)."""
    dialect = asyncpg_dialect()  # type: ignore[no-untyped-call]
    _, kwargs = dialect.create_connect_args(make_url(async_url(database_url)))  # type: ignore[no-untyped-call]
    return dict(kwargs)


async def connect(database_url: str, timeout: float = 10.0) -> asyncpg.Connection:
    """A plain asyncpg connection to the book (what the writer and the journal replay write on)."""
    return await asyncpg.connect(**connect_args(database_url), timeout=timeout)


class _Flush:
    """Queue marker: everything ahead of it is committed once ``done`` is set."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class _Stop:
    """Queue marker: commit what is queued, then end the writer thread."""

    __slots__ = ()


_STOP = _Stop()


@dataclass(frozen=True, slots=True)
class Position:
    """How far into its source (a journal segment, a byte offset) the records before it reach:
    committed in the same transaction as they are, so a restarted writer goes on from exactly there."""

    segment: str
    offset: int


_Item = tuple[Record, ...] | _Flush | _Stop | Position


@dataclass(slots=True)
class _Batch:
    records: list[Record] = field(default_factory=list)
    flushes: list[threading.Event] = field(default_factory=list)
    stop: bool = False
    position: Position | None = None


_SAVE_POSITION = (
    "INSERT INTO book_positions (consumer, segment, byte_offset, updated_ns) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (consumer) DO UPDATE SET segment = EXCLUDED.segment, byte_offset = EXCLUDED.byte_offset,"
    " updated_ns = EXCLUDED.updated_ns"
)


async def read_position(conn: asyncpg.Connection, consumer: str) -> Position | None:
    """Where ``consumer`` last committed to (None: never)."""
    row = await conn.fetchrow("SELECT segment, byte_offset FROM book_positions WHERE consumer = $1", consumer)
    return None if row is None else Position(row["segment"], int(row["byte_offset"]))


class BookWriter:
    """The one writer of the book of record: batches submitted records and group-commits them.

    ``submit`` is thread-safe and never blocks; ``flush`` waits for what was submitted before it.
    A failed write is logged and retried with backoff, never dropped, so while the database is away
    the queue grows and ``pending`` shows it. Only a record PostgreSQL refuses for its content (a bug
    upstream) is set aside, logged and kept in ``rejected``, so it cannot stall the records behind it.
    """

    def __init__(
        self,
        database_url: str,
        *,
        max_batch: int = 2000,
        max_backoff: float = 5.0,
        consumer: str | None = None,
        on_commit: Callable[[Position], None] | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch {max_batch} < 1")
        self._url = database_url
        # Positions (``mark``) are committed under this name in ``book_positions``; ``on_commit`` is
        # told each one once it is, on the writer thread.
        self._consumer = consumer
        self._on_commit = on_commit
        self.committed_position: Position | None = None
        self._conn: asyncpg.Connection | None = None
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
        self.rejected: deque[tuple[Record, str]] = deque(maxlen=10_000)

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

    def submit(self, records: Iterable[Record]) -> None:
        """Hand records to the writer; returns at once (called on QuickFIX callback threads)."""
        batch = tuple(records)
        if not batch:
            return
        if self._stopped:
            # Still queued (a later start is not supported, but nothing is thrown away silently).
            _log.error("book writer is stopped: %d records queued but will not be written", len(batch))
        self._submitted += len(batch)
        self._queue.put(batch)

    def mark(self, position: Position) -> None:
        """The records submitted so far reach ``position`` of their source: committed with them
        (needs a ``consumer``)."""
        if self._consumer is None:
            raise RuntimeError("BookWriter.mark needs a consumer name")
        self._queue.put(position)

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
        try:
            loop.run_until_complete(self._warm_up())
            stopping = False
            while True:
                # The blocking get happens outside the loop: nothing else runs on this loop, and a
                # plain blocking get costs no wake-ups while idle.
                batch = self._take_batch(block=not stopping)
                if batch.records or batch.position is not None:
                    loop.run_until_complete(self._commit_with_retry(batch.records, batch.position))
                for done in batch.flushes:
                    done.set()
                stopping = stopping or batch.stop
                if stopping and not batch.records and not batch.flushes:
                    break
        except BaseException:
            _log.exception("book writer thread crashed; about %d records not committed", self.pending)
            raise
        finally:
            loop.run_until_complete(self._disconnect())
            loop.close()

    async def _connection(self) -> asyncpg.Connection:
        """The writer's one connection, (re)opened when there is none or the server dropped it."""
        conn = self._conn
        if conn is None or conn.is_closed():
            self._conn = conn = await connect(self._url)
        return conn

    async def _warm_up(self) -> None:
        """Connect and prepare the statements before the first records arrive, so the first batch
        is not slower than the rest. A failure here is not an error yet: the first batch retries."""
        try:
            conn = await self._connection()
            for sql in _STATEMENTS:
                await conn.prepare(sql)
        except Exception as exc:  # noqa: BLE001 - whatever it was, the first batch will retry it
            _log.warning("book writer could not connect yet: %s: %s", type(exc).__name__, exc)
            await self._disconnect()

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=5)
            except Exception:  # noqa: BLE001 - closing a broken connection may fail; it is dropped
                conn.terminate()

    def _take_batch(self, *, block: bool) -> _Batch:
        """Wait for the first item (if ``block``), then take what else is queued, up to max_batch."""
        batch = _Batch()
        try:
            item = self._queue.get() if block else self._queue.get_nowait()
            while True:
                if isinstance(item, tuple):
                    batch.records.extend(item)
                elif isinstance(item, Position):
                    batch.position = item
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

    async def _commit_with_retry(self, records: Sequence[Record], position: Position | None = None) -> None:
        """Commit ``records`` in order, and ``position`` with them, retrying while the database fails;
        set aside bad records.

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
                conn = await self._connection()
                async with conn.transaction():
                    await write_rows(conn, rows)
                    if position is not None:
                        await conn.execute(_SAVE_POSITION, self._consumer, position.segment, position.offset,
                                           time.time_ns())
            except Exception as exc:  # noqa: BLE001 - whatever failed, the batch is retried, not dropped
                if is_data_error(exc) and records:
                    await self._isolate_bad_records(records, exc)
                    if position is not None:
                        await self._commit_with_retry((), position)
                    return
                await self._disconnect()  # a fresh connection for the retry
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
            if position is not None:
                self.committed_position = position
                if self._on_commit is not None:
                    self._on_commit(position)
            return

    async def _isolate_bad_records(self, records: Sequence[Record], exc: Exception) -> None:
        if len(records) == 1:
            self.rejected_records += 1
            self.rejected.append((records[0], f"{type(exc).__name__}: {exc}"))
            _log.error("book record cannot be written, set aside: %r: %s", records[0], exc)
            return
        middle = len(records) // 2
        await self._commit_with_retry(records[:middle])
        await self._commit_with_retry(records[middle:])


def is_data_error(exc: BaseException) -> bool:
    """Whether a write failed because of the data itself, so retrying it unchanged cannot succeed.

    SQLSTATE class 22 (data exception) and class 23 (integrity constraint violation) from the server,
    or a value asyncpg itself could not encode (a value of the wrong type).
    """
    if isinstance(exc, asyncpg.PostgresError):  # asyncpg's own encoding errors too (DataError, 22000)
        return str(exc.sqlstate or "")[:2] in {"22", "23"}
    return isinstance(exc, asyncpg.InterfaceError) and "invalid input" in str(exc)


@dataclass(slots=True)
class BookRows:
    """A batch of records as table rows, deduplicated: the last snapshot per order, position and mark.

    Executions keep the order they were submitted in: the book numbers them (``seq``) as inserted.
    Hop timestamps ride on their order's or execution's row when it is in the same batch, else they
    are written by an update after the rows (the row was written by an earlier batch).
    """

    orders: dict[int, Row] = field(default_factory=dict)
    executions: list[Row] = field(default_factory=list)
    positions: dict[tuple[str, str], Row] = field(default_factory=dict)
    marks: dict[str, Row] = field(default_factory=dict)
    order_hops: dict[int, OrderHops] = field(default_factory=dict)
    report_hops: dict[str, ReportHops] = field(default_factory=dict)
    breaches: list[Row] = field(default_factory=list)  # ``risk_events`` rows, in order

    @classmethod
    def of(cls, records: Iterable[Record]) -> BookRows:
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
            elif isinstance(record, OrderHops):
                rows.order_hops[record.order_id] = record
            elif isinstance(record, ReportHops):
                rows.report_hops[record.exec_id] = record
            elif isinstance(record, Breach):
                rows.breaches.append(breach_row(record))
            else:
                # A bug upstream. Retrying could never write it, and it would hold back the rest.
                _log.error("not a book record, not written: %r", record)
        if rows.order_hops and rows.orders:
            for order_id in [i for i in rows.order_hops if i in rows.orders]:
                h = rows.order_hops.pop(order_id)
                rows.orders[order_id].update(zip(_ORDER_HOP_NAMES, _order_hops(h)))
        if rows.report_hops and rows.executions:
            for row in rows.executions:
                r = rows.report_hops.pop(row["exec_id"], None)
                if r is not None:
                    row.update(zip(_EXECUTION_HOP_NAMES, _report_hops(r)))
        return rows


async def write_rows(conn: asyncpg.Connection, rows: BookRows) -> None:
    """Write rows on ``conn``, inside the caller's transaction: orders, executions, positions, marks,
    breaches, then the hop timestamps of rows written before.

    Orders go first so an execution's foreign key finds its order written in the same batch.
    """
    if rows.orders:
        await conn.execute(_UPSERT_ORDERS, *_arrays(list(rows.orders.values()), (*_ORDER_COLUMNS, *_ORDER_HOP_COLUMNS)))
    if rows.executions:
        await conn.execute(_INSERT_EXECUTIONS, *_arrays(rows.executions, _EXECUTION_ALL))
    if rows.positions:
        await conn.execute(_UPSERT_POSITIONS, *_arrays(list(rows.positions.values()), _POSITION_COLUMNS))
    if rows.marks:
        await conn.execute(_UPSERT_MARKS, *_arrays(list(rows.marks.values()), _MARK_COLUMNS))
    if rows.breaches:
        # Journaled, so a replay after a crash may write one again: INSERT_ONCE skips the copy. Rare
        # (a state change), so one row per statement is enough.
        await conn.executemany(INSERT_ONCE, [once_args(row) for row in rows.breaches])
    if rows.order_hops:
        await conn.execute(_UPDATE_ORDER_HOPS, *_field_arrays(rows.order_hops.values(), OrderHops))
    if rows.report_hops:
        await conn.execute(_UPDATE_REPORT_HOPS, *_field_arrays(rows.report_hops.values(), ReportHops))


async def write_records(conn: asyncpg.Connection, records: Iterable[Record]) -> None:
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
    applied_executions: frozenset[AppliedReport]  # what those orders' venue reports said, by venue ExecID
    # What risk's halts, states and limits are rebuilt from (``risk.restore``): the last row of each
    # action, scope and value of KILL, RESUME and BREACH, and the last LIMITS.
    risk_events: tuple[RiskEvent, ...] = ()
    # Per loaded order with fills, the exact sum of last_qty x last_px over them: the order's AvgPx
    # after a restart goes on from its fills, not from the rounded AvgPx of its row.
    notionals: dict[int, Decimal] = field(default_factory=dict)

    @property
    def open_orders(self) -> list[OrderRecord]:
        return [o for o in self.orders if not o.status.is_terminal]


async def read_state(conn: AsyncConnection, now_ns: int | None = None, *, slot: int = 0, slots: int = 1) -> BookState:
    """Read the book state on ``conn`` (run it in one snapshot for a consistent view).

    Recently finished orders come too: a client's PossDup resend of one, or a venue's resend of its
    reports after a restart, must be recognised as a repeat, not taken as new."""
    since = (time.time_ns() if now_ns is None else now_ns) - RECENT_NS
    # This instance's orders only (``oms.ids.OrderIds``: its ids are its slot modulo the slots): another
    # instance's are worked, reconciled and ended by that one (docs/SCALING.md).
    wanted = and_(or_(orders.c.status.in_(OPEN_STATUSES), orders.c.updated_ns >= since),
                  orders.c.order_id % slots == slot)
    order_rows = await conn.execute(select(orders).where(wanted).order_by(orders.c.order_id))
    loaded = [order_record(m) for m in order_rows.mappings()]
    position_rows = await conn.execute(select(positions).order_by(positions.c.account, positions.c.symbol))
    all_positions = [position_record(m) for m in position_rows.mappings()]
    max_order_id = (await conn.execute(select(func.coalesce(func.max(orders.c.order_id), 0)))).scalar_one()
    applied = await conn.execute(
        select(executions.c.venue, executions.c.venue_exec_id, executions.c.order_id, executions.c.kind,
               executions.c.last_qty, executions.c.last_px, executions.c.cum_qty)
        .join(orders, orders.c.order_id == executions.c.order_id)
        .where(wanted)
    )
    notionals = await conn.execute(
        select(executions.c.order_id, func.sum(executions.c.last_qty * executions.c.last_px))
        .join(orders, orders.c.order_id == executions.c.order_id)
        .where(wanted, executions.c.kind == ExecKind.TRADE.value)
        .group_by(executions.c.order_id)
    )
    return BookState(
        orders=loaded,
        positions=all_positions,
        max_order_id=int(max_order_id),
        applied_executions=frozenset(
            AppliedReport(venue, exec_id, order_id, ExecKind(kind), Decimal(last_qty), Decimal(last_px),
                          Decimal(cum_qty))
            for venue, exec_id, order_id, kind, last_qty, last_px, cum_qty in applied.all()
        ),
        risk_events=await read_risk_events(conn),
        notionals={order_id: Decimal(total) for order_id, total in notionals.all()},
    )


async def read_risk_events(conn: AsyncConnection) -> tuple[RiskEvent, ...]:
    """The rows of ``risk_events`` that decide what is in force (``risk.restore``): the latest of each
    action, scope and value among KILL, RESUME and BREACH (an earlier one is always overruled by a
    later one of its kind), and the latest LIMITS. Bounded by the scopes ever acted on, not by the
    length of the trail."""
    e = risk_events.c
    latest = (
        select(risk_events)
        .where(e.action.in_((KILL, RESUME, BREACH)))
        .ext(distinct_on(e.action, e.scope, e.value))
        .order_by(e.action, e.scope, e.value, e.at_ns.desc(), e.id.desc())
    )
    limits = select(risk_events).where(e.action == LIMITS).order_by(e.at_ns.desc(), e.id.desc()).limit(1)
    rows = [*(await conn.execute(latest)).mappings(), *(await conn.execute(limits)).mappings()]
    return tuple(risk_event(m) for m in rows)


async def _load_state(database_url: str, slot: int, slots: int) -> BookState:
    engine = create_async_engine(async_url(database_url), poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            # One REPEATABLE READ snapshot: the queries see the same book even if a writer
            # is still committing.
            snapshot = await conn.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            async with snapshot.begin():
                return await read_state(snapshot, slot=slot, slots=slots)
    finally:
        await engine.dispose()


def load_state(database_url: str, slot: int = 0, slots: int = 1) -> BookState:
    """Read open orders, positions, the highest order id, applied fills and the risk events that
    decide risk's halts, states and limits from the book (sync)."""
    return run_sync(lambda: _load_state(database_url, slot, slots))
