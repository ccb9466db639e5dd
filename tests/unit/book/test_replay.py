"""Journal replay at start-up against a real PostgreSQL: bad records, damaged files, owed reports."""

from __future__ import annotations

import asyncio
import logging
import marshal
import struct
from pathlib import Path
from typing import Any, cast

import pytest

from book.journal import _MAGIC, Journal, JournalFormatError, replay
from book.writer import connect
from domain.model import Carried, ClientSent
from gateway.clients import ClientApplication
from oms.manager import OrderManager
from tests.unit.book import samples

LENGTH = struct.Struct(">I")


def rows(database_url: str, sql: str) -> list[Any]:
    async def fetch() -> list[Any]:
        conn = await connect(database_url)
        try:
            return list(await conn.fetch(sql))
        finally:
            await conn.close()

    return asyncio.run(fetch())


def run(directory: Path, *frames: list[object]) -> None:
    """A run that journaled ``frames`` and was killed (its journal left as ``current.journal``)."""
    journal = Journal(directory)
    for frame in frames:
        journal.append(frame)
    journal.close()


def test_a_record_the_book_refuses_is_set_aside_not_fatal(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # An execution of an order the book has never seen breaks the foreign key: it can never be
    # written, and it must not keep every later start from coming up.
    run(tmp_path, [samples.order(1)], [samples.execution("BAD", order_id=999)],
        [samples.execution("E1", order_id=1), samples.position()])
    replayed = replay(tmp_path, database_url)
    assert [r["exec_id"] for r in rows(database_url, "SELECT exec_id FROM executions")] == ["E1"]
    assert [r["order_id"] for r in rows(database_url, "SELECT order_id FROM orders")] == [1]
    assert len(rows(database_url, "SELECT * FROM positions")) == 1
    assert "set aside" in caplog.text and "BAD" in caplog.text
    replayed.carry_over([], Journal(tmp_path))
    assert list(tmp_path.glob("*.replay")) == []
    # The refused record's only copy is that file: kept, not deleted, and not replayed again.
    [kept] = list(tmp_path.glob("*.refused"))
    assert any(getattr(r, "exec_id", None) == "BAD" for r in Journal.read(kept))


def test_damage_mid_file_keeps_the_file_and_replays_what_it_can(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    run(tmp_path, [samples.order(1), samples.report("R1")], [samples.order(2)], [samples.order(3)])
    [damaged] = Journal.pending(tmp_path)
    data = bytearray(damaged.read_bytes())
    second = len(_MAGIC) + LENGTH.size + LENGTH.unpack_from(data, len(_MAGIC))[0]
    data[second + LENGTH.size : second + LENGTH.size + 4] = b"\xff\xff\xff\xff"
    damaged.write_bytes(bytes(data))
    run(tmp_path, [samples.order(4)])  # a later run's journal, whole

    with caplog.at_level(logging.ERROR, logger="book.journal"):
        replayed = replay(tmp_path, database_url)
    assert [r["order_id"] for r in rows(database_url, "SELECT order_id FROM orders ORDER BY 1")] == [1, 4]
    assert [r.exec_id for r in replayed.reports] == ["R1"]
    assert damaged.name in caplog.text and "undecodable frame" in caplog.text

    replayed.carry_over([], Journal(tmp_path))
    assert damaged.with_suffix(".corrupt").read_bytes() == bytes(data)  # kept whole for a person
    assert list(tmp_path.glob("*.replay")) == []


def test_a_record_of_another_layout_stops_start_up_and_keeps_the_file(
    tmp_path: Path, database_url: str
) -> None:
    run(tmp_path, [samples.order(1)])
    [path] = Journal.pending(tmp_path)
    with path.open("ab") as fh:
        data = marshal.dumps((("AAPL", "1", 3),))
        fh.write(LENGTH.pack(len(data)) + data)
    with pytest.raises(JournalFormatError, match=path.name):
        replay(tmp_path, database_url)
    assert path.exists()


def test_owed_reports_survive_a_second_kill_before_the_client_logs_on(
    tmp_path: Path, database_url: str
) -> None:
    run(tmp_path, [samples.order(1), samples.report("R1")], [samples.report("R2")])

    first = replay(tmp_path, database_url)
    assert [r.exec_id for r in first.reports] == ["R1", "R2"]
    journal = Journal(tmp_path)  # the new run's journal
    first.carry_over([first.reports[1]], journal)  # R1 was sent before the kill, R2 was not
    journal.close()  # killed again before CLIENT1 logged on

    second = replay(tmp_path, database_url)
    assert [r.exec_id for r in second.reports] == ["R2"]


def test_replayed_files_stay_until_the_owed_reports_are_carried_over(
    tmp_path: Path, database_url: str
) -> None:
    run(tmp_path, [samples.order(1), samples.report("R1")])
    replay(tmp_path, database_url)  # killed before carry_over
    again = replay(tmp_path, database_url)
    assert [r.exec_id for r in again.reports] == ["R1"]
    assert len(rows(database_url, "SELECT * FROM orders")) == 1  # replaying twice is harmless


def test_a_report_carried_over_then_sent_is_not_owed_again(tmp_path: Path, database_url: str) -> None:
    run(tmp_path, [samples.order(1), samples.report("R1")])
    clients = ClientApplication(cast(OrderManager, object()), lambda effects: Carried())

    first = replay(tmp_path, database_url)
    owed = clients.owe(first.reports, first.sent)
    assert owed == [samples.report("R1")]
    journal = Journal(tmp_path)
    first.carry_over(owed, journal)
    # CLIENT1 logs on, R1 goes out and is marked so; then the gateway is killed.
    journal.append([ClientSent.of(samples.report("R1"))])
    journal.close()

    second = replay(tmp_path, database_url)
    assert [r.exec_id for r in second.reports] == ["R1"]  # still journaled, ...
    assert second.sent == {ClientSent.of(samples.report("R1"))}
    assert ClientApplication(cast(OrderManager, object()), lambda effects: Carried()).owe(
        second.reports, second.sent) == []  # ... but marked: sending it again would be twice


def test_marks_are_read_from_every_replayed_file_and_never_reach_the_book(
    tmp_path: Path, database_url: str
) -> None:
    # A report journaled in one run and marked in the next (owed, carried over, sent at logon).
    reject = samples.cancel_reject("x1")
    run(tmp_path, [samples.order(1), samples.report("R1")], [ClientSent.of(reject)])
    run(tmp_path, [ClientSent.of(samples.report("R1"))])
    replayed = replay(tmp_path, database_url)
    assert replayed.sent == {ClientSent.of(samples.report("R1")), ClientSent.of(reject)}
    assert replayed.refused == () and len(replayed.done) == 2
