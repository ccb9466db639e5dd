"""The book of record on a real PostgreSQL: migrations, the batching writer, the start-up read."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, RowMapping, insert, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from book.database import (
    alembic_config,
    async_url,
    create_database,
    database_url_for,
    downgrade,
    drop_database,
    run_sync,
    upgrade,
)
from book.rows import execution_row, order_row
from book.tables import executions, metadata, orders
from book.writer import BookWriter, load_state
from domain.model import (
    AppliedReport,
    ExecKind,
    ExecutionRecord,
    MarkRecord,
    OrderRecord,
    OrderStatus,
    OrdType,
    PositionRecord,
    RequestKind,
    Side,
    TimeInForce,
)
from oms.manager import PendingChange

T0 = 1_763_700_000_000_000_000  # 2025-11-21T04:40:00Z in ns


def order(order_id: int, status: OrderStatus = OrderStatus.NEW, **changes: Any) -> OrderRecord:
    fields: dict[str, Any] = {
        "order_id": order_id,
        "session": "FIX.4.4:FIXGATE->CLIENT1",
        "cl_ord_id": f"C{order_id}",
        "account": "ACC1",
        "symbol": "AAPL",
        "side": Side.BUY,
        "ord_type": OrdType.LIMIT,
        "time_in_force": TimeInForce.DAY,
        "quantity": Decimal(100),
        "price": Decimal("190.05"),
        "venue": "XNAS",
        "venue_cl_ord_id": f"V{order_id}",
        "venue_order_id": None,
        "status": status,
        "cum_qty": Decimal(0),
        "leaves_qty": Decimal(100),
        "avg_px": Decimal(0),
        "text": "",
        "created_ns": T0 + order_id,
        "updated_ns": T0 + order_id,
    }
    fields.update(changes)
    return OrderRecord(**fields)


def fill(order_id: int, venue_exec_id: str, **changes: Any) -> ExecutionRecord:
    fields: dict[str, Any] = {
        "exec_id": f"E-{order_id}-{venue_exec_id}",
        "order_id": order_id,
        "venue": "XNAS",
        "venue_exec_id": venue_exec_id,
        "kind": ExecKind.TRADE,
        "status": OrderStatus.PARTIALLY_FILLED,
        "last_qty": Decimal(10),
        "last_px": Decimal("190.05"),
        "cum_qty": Decimal(10),
        "leaves_qty": Decimal(90),
        "avg_px": Decimal("190.05"),
        "text": "",
        "received_ns": T0 + 1_000,
    }
    fields.update(changes)
    return ExecutionRecord(**fields)


def position(account: str, symbol: str, quantity: str, **changes: Any) -> PositionRecord:
    fields: dict[str, Any] = {
        "account": account,
        "symbol": symbol,
        "quantity": Decimal(quantity),
        "avg_price": Decimal("190.05"),
        "realized_pnl": Decimal(0),
        "updated_ns": T0,
    }
    fields.update(changes)
    fields.setdefault("cost", fields["quantity"] * fields["avg_price"])
    return PositionRecord(**fields)


def query(url: str, sql: str, **params: Any) -> Sequence[RowMapping]:
    async def run() -> Sequence[RowMapping]:
        engine = create_async_engine(async_url(url), poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(text(sql), params)).mappings().all()
        finally:
            await engine.dispose()

    return run_sync(run)


@pytest.fixture
def writer(database_url: str) -> Iterator[BookWriter]:
    book = BookWriter(database_url)
    book.start()
    yield book
    assert book.stop(timeout=10.0)


# -- MIGRATIONS -----------------------------------------------------------------------------------------


def test_migrations_match_table_definitions(database_url: str) -> None:
    def diff(conn: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))

    async def run() -> list[Any]:
        engine = create_async_engine(async_url(database_url), poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(diff)
        finally:
            await engine.dispose()

    assert run_sync(run) == []
    constraints = query(
        database_url,
        "SELECT conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
        " AND contype IN ('p', 'u', 'f', 'c') AND conrelid <> 'alembic_version'::regclass",
    )
    # The names the naming convention gives, so later migrations can refer to them.
    assert sorted(row["conname"] for row in constraints) == [
        "ck_executions_kind",
        "ck_executions_status",
        "ck_orders_ord_type",
        "ck_orders_side",
        "ck_orders_status",
        "ck_orders_time_in_force",
        "ck_risk_events_action",
        "ck_risk_events_scope",
        "fk_executions_order_id_orders",
        "pk_book_positions",
        "pk_executions",
        "pk_marks",
        "pk_orders",
        "pk_positions",
        "pk_risk_events",
        "pk_tca_fills",
        "pk_tca_orders",
        "pk_tca_progress",
        "pk_tca_quotes",
        "pk_tca_venue_scores",
        "uq_executions_seq",
        "uq_executions_venue_report",
    ]
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert query(database_url, "SELECT version_num FROM alembic_version")[0]["version_num"] == head


def test_migrations_downgrade_and_upgrade_again(database_url: str) -> None:
    tables = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    downgrade(database_url)
    assert [r["tablename"] for r in query(database_url, tables)] == ["alembic_version"]
    upgrade(database_url)
    assert [r["tablename"] for r in query(database_url, tables)] == [
        "alembic_version",
        "book_positions",
        "executions",
        "marks",
        "orders",
        "positions",
        "risk_events",
        "tca_fills",
        "tca_orders",
        "tca_progress",
        "tca_quotes",
        "tca_venue_scores",
    ]


def test_upgrade_to_0008_gives_each_position_the_cost_its_row_had(database_url: str) -> None:
    downgrade(database_url, "0007")

    async def write_0007_positions() -> None:
        engine = create_async_engine(async_url(database_url), poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(
                    "INSERT INTO positions (account, symbol, quantity, avg_price, realized_pnl, updated_ns)"
                    " VALUES ('A', 'AAPL', 150, 190.01333333, 0, 1), ('A', 'MSFT', -10, 420.5, -1.5, 1),"
                    " ('B', 'AAPL', 0, 0, 12.25, 1)"))
        finally:
            await engine.dispose()

    run_sync(write_0007_positions)
    upgrade(database_url)
    rows = query(database_url, "SELECT account, symbol, cost FROM positions ORDER BY account, symbol")
    assert [(r["account"], r["symbol"], r["cost"]) for r in rows] == [
        ("A", "AAPL", Decimal("28501.99999950")),  # quantity x the rounded average: the best it had
        ("A", "MSFT", Decimal("-4205.0")),
        ("B", "AAPL", Decimal(0)),
    ]


def test_upgrade_from_0001_numbers_old_executions_and_marks_each_symbol(database_url: str) -> None:
    # A book written before 0002: the fills' seq comes from (received_ns, exec_id), and each symbol
    # is marked at its last fill.
    downgrade(database_url, "0001")

    async def write_0001_book() -> None:
        engine = create_async_engine(async_url(database_url), poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                for record in (order(1), order(2, symbol="MSFT")):
                    row = order_row(record)
                    del row["pending"], row["chained"], row["route"], row["parent_id"]  # columns of 0006, 0012, 0014
                    await conn.execute(insert(orders), [row])
                for record in (
                    fill(1, "X1b", received_ns=T0 + 2_000, last_px=Decimal("190.07")),
                    fill(1, "X1a", received_ns=T0 + 1_000, last_px=Decimal("190.01")),
                    fill(2, "X2", received_ns=T0 + 500, last_px=Decimal("420.5")),
                    fill(2, "X2n", received_ns=T0 + 900, kind=ExecKind.NEW, last_px=Decimal(0)),
                ):
                    row = execution_row(record)
                    del row["commission"]  # a column of 0013
                    await conn.execute(insert(executions), [row])
        finally:
            await engine.dispose()

    run_sync(write_0001_book)
    upgrade(database_url)
    rows = query(database_url, "SELECT venue_exec_id, seq FROM executions ORDER BY seq")
    assert [(r["venue_exec_id"], r["seq"]) for r in rows] == [("X2", 1), ("X2n", 2), ("X1a", 3), ("X1b", 4)]
    marks = query(database_url, "SELECT symbol, price, updated_ns FROM marks ORDER BY symbol")
    assert [(m["symbol"], m["price"], m["updated_ns"]) for m in marks] == [
        ("AAPL", Decimal("190.07"), T0 + 2_000),
        ("MSFT", Decimal("420.5"), T0 + 500),  # the NEW report after it is not a trade
    ]
    # New executions are numbered after the old ones.
    writer = BookWriter(database_url)
    writer.start()
    try:
        writer.submit([fill(2, "X2c")])
        assert writer.flush()
    finally:
        assert writer.stop()
    assert query(database_url, "SELECT seq FROM executions WHERE venue_exec_id = 'X2c'")[0]["seq"] == 5


def test_schema_refuses_unknown_status(database_url: str) -> None:
    row = {**order_row(order(1)), "status": "BOGUS"}

    async def run() -> None:
        engine = create_async_engine(async_url(database_url), poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                await conn.execute(insert(orders), [row])
        finally:
            await engine.dispose()

    with pytest.raises(IntegrityError, match="ck_orders_status"):
        run_sync(run)


# -- WRITER ---------------------------------------------------------------------------------------------


def test_writer_keeps_decimals_exact(writer: BookWriter, database_url: str) -> None:
    tenth, fifth = Decimal("0.1"), Decimal("0.2")
    huge = Decimal("-123456789012345678901234567890.123456789012345678")
    writer.submit(
        [
            order(1, quantity=tenth + fifth, price=Decimal("190.0500"), avg_px=Decimal("0.000000000001")),
            fill(1, "X1", last_qty=tenth, last_px=fifth, cum_qty=tenth + fifth),
            position("ACC1", "AAPL", "0.3", avg_price=Decimal("190.05"), realized_pnl=huge),
        ]
    )
    assert writer.flush()

    (o,) = query(database_url, "SELECT quantity, price, avg_px, price IS NOT NULL AS p FROM orders")
    assert (str(o["quantity"]), str(o["price"]), str(o["avg_px"])) == ("0.3", "190.0500", "1E-12")
    (e,) = query(
        database_url, "SELECT last_qty, last_px, cum_qty, pg_typeof(last_px)::text AS t FROM executions"
    )
    assert (e["last_qty"], e["last_px"], e["cum_qty"], e["t"]) == (
        Decimal("0.1"),
        Decimal("0.2"),
        Decimal("0.3"),
        "numeric",
    )
    (p,) = query(database_url, "SELECT realized_pnl, quantity FROM positions")
    assert p["realized_pnl"] == huge and isinstance(p["realized_pnl"], Decimal)
    assert p["quantity"] == Decimal("0.3")


def test_writer_fills_timestamptz_from_nanoseconds(writer: BookWriter, database_url: str) -> None:
    writer.submit([order(7, created_ns=1_700_000_000_123_456_789, updated_ns=1_700_000_001_000_000_000)])
    assert writer.flush()
    (row,) = query(database_url, "SELECT created_at, updated_at FROM orders")
    assert row["created_at"].isoformat() == "2023-11-14T22:13:20.123457+00:00"
    assert (row["updated_at"] - row["created_at"]).total_seconds() == pytest.approx(0.876543, abs=2e-6)


def test_resubmitted_execution_is_recorded_once(writer: BookWriter, database_url: str) -> None:
    writer.submit([order(1), fill(1, "X1")])
    writer.submit([fill(1, "X1")])  # same record resent, in the same batch or the next
    assert writer.flush()
    writer.submit([fill(1, "X1")])  # resent after a commit
    writer.submit([fill(1, "X1", exec_id="OTHER-ID")])  # new exec id, same venue report
    writer.submit([fill(1, "X1", venue="BATS", exec_id="E-BATS")])  # same id from another venue is new
    assert writer.flush()

    rows = query(database_url, "SELECT venue, venue_exec_id, exec_id FROM executions ORDER BY venue")
    assert [(r["venue"], r["venue_exec_id"], r["exec_id"]) for r in rows] == [
        ("BATS", "X1", "E-BATS"),
        ("XNAS", "X1", "E-1-X1"),
    ]
    assert writer.committed_records == 6


def test_a_reused_venue_exec_id_with_other_content_is_recorded_and_loaded(
    writer: BookWriter, database_url: str
) -> None:
    # A venue that restarted its ExecIDs: X1 again, for another order; and for the same order, a second
    # fill alike but for the CumQty after it. A resend of either (the journal replayed) counts once.
    writer.submit([order(1, OrderStatus.PARTIALLY_FILLED), order(2, OrderStatus.PARTIALLY_FILLED)])
    writer.submit([fill(1, "X1"), fill(2, "X1", exec_id="E-2-X1#2"),
                   fill(1, "X1", exec_id="E-1-X1#3", cum_qty=Decimal(20))])
    writer.submit([fill(2, "X1", exec_id="E-2-X1#2"), fill(1, "X1", exec_id="E-1-X1#3", cum_qty=Decimal(20))])
    assert writer.flush()

    rows = query(database_url, "SELECT exec_id FROM executions ORDER BY seq")
    assert [r["exec_id"] for r in rows] == ["E-1-X1", "E-2-X1#2", "E-1-X1#3"]
    assert load_state(database_url).applied_executions == frozenset({
        AppliedReport("XNAS", "X1", 1, ExecKind.TRADE, Decimal(10), Decimal("190.05"), Decimal(10)),
        AppliedReport("XNAS", "X1", 2, ExecKind.TRADE, Decimal(10), Decimal("190.05"), Decimal(10)),
        AppliedReport("XNAS", "X1", 1, ExecKind.TRADE, Decimal(10), Decimal("190.05"), Decimal(20)),
    })


def test_last_order_snapshot_wins(writer: BookWriter, database_url: str) -> None:
    writer.submit(
        [
            order(1, OrderStatus.PENDING_NEW),
            order(1, OrderStatus.NEW, text="accepted"),
            order(
                1,
                OrderStatus.PARTIALLY_FILLED,
                venue_order_id="VO1",
                cum_qty=Decimal(40),
                leaves_qty=Decimal(60),
            ),
            position("ACC1", "AAPL", "40"),
            position("ACC1", "AAPL", "41"),
        ]
    )
    assert writer.flush()
    (row,) = query(database_url, "SELECT status, cum_qty, venue_order_id, text FROM orders")
    assert (row["status"], row["cum_qty"], row["venue_order_id"], row["text"]) == (
        "PARTIALLY_FILLED",
        Decimal(40),
        "VO1",
        "",
    )
    assert [r["quantity"] for r in query(database_url, "SELECT quantity FROM positions")] == [Decimal(41)]

    writer.submit(
        [order(1, OrderStatus.FILLED, venue_order_id="VO1", cum_qty=Decimal(100), leaves_qty=Decimal(0))]
    )
    writer.submit([position("ACC1", "AAPL", "100")])
    assert writer.flush()
    (row,) = query(database_url, "SELECT status, cum_qty, leaves_qty FROM orders")
    assert (row["status"], row["cum_qty"], row["leaves_qty"]) == ("FILLED", Decimal(100), Decimal(0))
    assert [r["quantity"] for r in query(database_url, "SELECT quantity FROM positions")] == [Decimal(100)]


def test_executions_are_numbered_in_the_order_submitted(writer: BookWriter, database_url: str) -> None:
    # Applied order, not received order: a gateway-made event can carry an earlier clock than the
    # venue report applied before it.
    writer.submit([order(1), fill(1, "X3", received_ns=T0 + 3_000), fill(1, "X1", received_ns=T0 + 1_000)])
    writer.submit([fill(1, "X2", received_ns=T0 + 2_000)])
    writer.submit([fill(1, "X1", received_ns=T0 + 1_000)])  # resent: skipped, keeps its number
    assert writer.flush()
    rows = query(database_url, "SELECT venue_exec_id FROM executions ORDER BY seq")
    assert [r["venue_exec_id"] for r in rows] == ["X3", "X1", "X2"]


def test_last_mark_per_symbol_wins(writer: BookWriter, database_url: str) -> None:
    writer.submit(
        [
            MarkRecord("AAPL", Decimal("190.01"), T0 + 1),
            MarkRecord("MSFT", Decimal("420.00"), T0 + 2),
            MarkRecord("AAPL", Decimal("190.03"), T0 + 3),
        ]
    )
    assert writer.flush()
    writer.submit([MarkRecord("MSFT", Decimal("419.99"), T0 + 4)])
    assert writer.flush()
    marks = query(database_url, "SELECT symbol, price, updated_ns FROM marks ORDER BY symbol")
    assert [(m["symbol"], m["price"], m["updated_ns"]) for m in marks] == [
        ("AAPL", Decimal("190.03"), T0 + 3),
        ("MSFT", Decimal("419.99"), T0 + 4),
    ]
    assert writer.rejected_records == 0


def test_flush_waits_for_everything_submitted_before_it(database_url: str) -> None:
    book = BookWriter(database_url, max_batch=250)
    book.start()
    try:
        for i in range(1, 2001):
            book.submit([order(i), fill(i, f"X{i}")])
        assert book.flush(timeout=30.0)
        # Nothing may be missing right after flush returns.
        (row,) = query(
            database_url, "SELECT (SELECT count(*) FROM orders) AS o, (SELECT count(*) FROM executions) AS e"
        )
        assert (row["o"], row["e"]) == (2000, 2000)
        assert book.committed_records == 4000
        assert book.pending == 0
        assert book.committed_batches >= 4000 // 250  # batches are capped at max_batch records
    finally:
        assert book.stop()


def test_stop_commits_what_was_queued(database_url: str) -> None:
    book = BookWriter(database_url)
    book.start()
    book.submit([order(i) for i in range(1, 51)])
    assert book.stop(timeout=10.0)
    assert not book.running
    assert query(database_url, "SELECT count(*) AS n FROM orders")[0]["n"] == 50


def test_text_with_nul_is_stored_not_wedged(writer: BookWriter, database_url: str) -> None:
    writer.submit([order(1, text="bad\x00text")])
    assert writer.flush()
    assert query(database_url, "SELECT text FROM orders")[0]["text"] == "bad\ufffdtext"


def test_record_the_database_refuses_is_set_aside_not_wedging_the_book(
    writer: BookWriter, database_url: str
) -> None:
    orphan = fill(404, "X-ORPHAN")  # its order was never recorded: the foreign key refuses it
    writer.submit([order(1), fill(1, "X1")])
    writer.submit([orphan, order(2)])
    writer.submit([fill(2, "X2"), position("ACC1", "AAPL", "10")])
    assert writer.flush()

    rows = query(database_url, "SELECT venue_exec_id FROM executions ORDER BY venue_exec_id")
    assert [r["venue_exec_id"] for r in rows] == ["X1", "X2"]
    assert [r["order_id"] for r in query(database_url, "SELECT order_id FROM orders ORDER BY 1")] == [1, 2]
    assert writer.rejected_records == 1
    assert writer.rejected[0][0] == orphan and "fk_executions_order_id_orders" in writer.rejected[0][1]
    assert writer.committed_records == 5
    assert writer.pending == 0


def test_writer_reconnects_after_its_connection_is_killed(writer: BookWriter, database_url: str) -> None:
    writer.submit([order(1)])
    assert writer.flush()
    killed = query(
        database_url,
        "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND backend_type = 'client backend'",  # not an autovacuum worker that happens to be there
    )
    assert [r["killed"] for r in killed] == [True]  # the writer's one connection
    writer.submit([order(2)])
    assert writer.flush()
    assert query(database_url, "SELECT count(*) AS n FROM orders")[0]["n"] == 2


def test_writer_retries_until_the_database_is_there(pg_admin_url: str) -> None:
    # A database that does not exist yet stands for an unreachable one: every write fails until it
    # is created, and nothing submitted meanwhile may be lost.
    name = f"fixgate_test_{uuid.uuid4().hex[:16]}"
    url = database_url_for(pg_admin_url, name)
    book = BookWriter(url, max_backoff=0.1)
    book.start()
    try:
        book.submit([order(1), fill(1, "X1")])
        book.submit([position("ACC1", "AAPL", "10")])
        assert not book.flush(timeout=0.5)
        assert book.failed_attempts >= 1 and book.last_error is not None
        assert book.pending == 3

        create_database(pg_admin_url, name)
        upgrade(url)
        assert book.flush(timeout=10.0)
        assert book.pending == 0
        (row,) = query(
            url,
            "SELECT (SELECT count(*) FROM orders) AS o, (SELECT count(*) FROM executions) AS e,"
            " (SELECT count(*) FROM positions) AS p",
        )
        assert (row["o"], row["e"], row["p"]) == (1, 1, 1)
    finally:
        book.stop()
        drop_database(pg_admin_url, name)


# -- START-UP STATE -------------------------------------------------------------------------------------


def test_load_state_of_an_empty_book(database_url: str) -> None:
    state = load_state(database_url)
    assert (state.open_orders, state.positions, state.max_order_id, state.applied_executions) == (
        [],
        [],
        0,
        frozenset(),
    )


def test_load_state_returns_open_orders_positions_and_applied_fills(
    writer: BookWriter, database_url: str
) -> None:
    open_new = order(3, OrderStatus.NEW)
    open_partial = order(5, OrderStatus.PARTIALLY_FILLED, cum_qty=Decimal(10), leaves_qty=Decimal(90))
    open_done_for_day = order(6, OrderStatus.DONE_FOR_DAY)
    filled = order(9, OrderStatus.FILLED, cum_qty=Decimal(100), leaves_qty=Decimal(0))
    canceled = order(4, OrderStatus.CANCELED)
    aapl = position("ACC1", "AAPL", "110", realized_pnl=Decimal("12.5"))
    msft = position("ACC2", "MSFT", "-5")
    writer.submit([open_new, open_partial, open_done_for_day, filled, canceled])
    writer.submit([fill(5, "X5"), fill(9, "X9a"), fill(9, "X9b"), aapl, msft])
    assert writer.flush()

    state = load_state(database_url)
    assert state.open_orders == [open_new, open_partial, open_done_for_day]
    assert state.positions == [aapl, msft]
    assert state.max_order_id == 9
    assert state.applied_executions == frozenset(
        {AppliedReport("XNAS", "X5", 5, ExecKind.TRADE, Decimal(10), Decimal("190.05"), Decimal(10))}
    )


def test_load_state_sums_each_orders_fills_exactly(writer: BookWriter, database_url: str) -> None:
    # What the order's AvgPx goes on from after a restart: the fills, not the row's rounded AvgPx.
    writer.submit([order(5, OrderStatus.PARTIALLY_FILLED, cum_qty=Decimal(3), leaves_qty=Decimal(97),
                         avg_px=Decimal("190.01666667"))])
    writer.submit([
        fill(5, "N5", kind=ExecKind.NEW, status=OrderStatus.NEW, last_qty=Decimal(0), last_px=Decimal(0)),
        fill(5, "X5a", last_qty=Decimal(1), last_px=Decimal("190.01")),
        fill(5, "X5b", last_qty=Decimal(2), last_px=Decimal("190.02")),
    ])  # fmt: skip
    assert writer.flush()
    notional = load_state(database_url).notionals[5]
    assert notional == Decimal("570.05") and notional / 3 != Decimal("190.01666667")


def test_an_outstanding_request_is_kept_with_its_order(writer: BookWriter, database_url: str) -> None:
    # What a restart needs to answer a client's cancel or replace by the client's own ids.
    replace_ = PendingChange(RequestKind.REPLACE, "C2b", "C2", "V2R1", OrderStatus.NEW, Decimal("150.5"),
                             Decimal("190.10"))
    cancel = PendingChange(RequestKind.CANCEL, "C2", "C2", "V2R2", OrderStatus.PENDING_REPLACE)
    pending = order(2, OrderStatus.PENDING_CANCEL, pending=replace_.encode(), chained=cancel.encode())
    writer.submit([pending])
    assert writer.flush()
    [loaded] = load_state(database_url).open_orders
    assert loaded == pending
    assert (PendingChange.decode(loaded.pending), PendingChange.decode(loaded.chained)) == (replace_, cancel)


def test_load_state_also_returns_orders_done_within_a_day_with_their_fills(
    writer: BookWriter, database_url: str
) -> None:
    now = time.time_ns()
    recent = order(20, OrderStatus.FILLED, cum_qty=Decimal(100), leaves_qty=Decimal(0), updated_ns=now - 10**9)
    old = order(21, OrderStatus.FILLED, cum_qty=Decimal(100), leaves_qty=Decimal(0),
                updated_ns=now - 25 * 3600 * 10**9)
    writer.submit([recent, old, fill(20, "R20"), fill(21, "O21")])
    assert writer.flush()

    state = load_state(database_url)
    assert state.orders == [recent]  # a PossDup resend of it must still be recognised
    assert state.open_orders == []
    assert {(a.venue, a.venue_exec_id) for a in state.applied_executions} == {("XNAS", "R20")}


def test_load_state_works_inside_a_running_event_loop(writer: BookWriter, database_url: str) -> None:
    # Called from async code (e.g. an app's start-up), load_state must not nest event loops.
    writer.submit([order(12)])
    assert writer.flush()

    async def start_up() -> int:
        return load_state(database_url).max_order_id

    assert asyncio.run(start_up()) == 12
