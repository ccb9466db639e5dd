"""Every record the journal holds becomes an event: a kind, a stable id from its place, exact values."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from book.hops import OrderHops, ReportHops
from book.journal import Journal, SegmentReader, _Codec
from bus.events import KINDS, EventId, check_instance, decode, encode, encoded_event, event, kind_of
from domain.model import Breach, ClientSent, Control, ExecKind, ExecutionRecord, OrderStatus, TradingState
from tests.unit.book import samples


def every_record() -> list[object]:
    return [
        samples.order(), samples.execution(), replace(samples.execution("E2"), kind=ExecKind.CANCELED),
        samples.position(), samples.mark(), samples.report(), samples.cancel_reject(),
        Breach("ACC", TradingState.HALTED, Decimal("5012.50"), Decimal(5000), "daily loss", 7),
        Control("KILL", "account", "ACC", "alice", 8, "runaway"),
        OrderHops(1, 2, 3, None), ReportHops("E1", 4, 5), ClientSent("FIX.4.4:FIXGATE->CLIENT1", "8:R1"),
    ]


def test_every_type_the_journal_writes_has_a_kind() -> None:
    records = every_record()
    assert {type(r) for r in records} == set(_Codec.TYPES)
    kinds = [kind_of(r) for r in records]
    assert set(kinds) <= set(KINDS)
    assert kinds[1:3] == ["fills", "executions"]  # a trade is a fill; other reports are executions


def test_values_survive_exactly_and_ids_come_from_the_journal_place(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append(every_record()[:3])
    journal.append(every_record()[3:])
    journal.close()
    bodies = [
        decode(encode(event("east", journal.segment, offset, i, record)))
        for offset, _, records in SegmentReader(journal.path).poll()
        for i, record in enumerate(records)
    ]
    ids = [EventId.parse(b["id"]) for b in bodies]
    assert [i.position() for i in ids] == sorted(i.position() for i in ids)
    assert len(set(ids)) == len(ids) == len(every_record())
    assert {i.instance for i in ids} == {"east"} and {i.segment for i in ids} == {journal.segment}
    fill = bodies[1]
    assert (fill["v"], fill["kind"], fill["type"], fill["order_id"]) == (1, "fills", "ExecutionRecord", 1)
    assert fill["data"]["last_px"] == "190.0100" and fill["data"]["status"] == OrderStatus.PARTIALLY_FILLED.value
    assert ExecutionRecord.__name__ == fill["type"]
    assert bodies[3]["data"]["realized_pnl"] == "-0.00000001"  # exact, plain, never a float
    assert bodies[4]["data"]["price"] == "100"  # Decimal("1E+2")


def test_an_instance_name_is_one_subject_token() -> None:
    assert check_instance("east_1") == "east_1"
    for bad in ("", "a.b", "a*", "a>", "x" * 33, "é"):
        with pytest.raises(ValueError):
            check_instance(bad)


def test_the_publishers_body_is_the_event() -> None:
    for i, record in enumerate(every_record()):
        kind, event_id, data = encoded_event("east", "01", 7, i, record)
        body = event("east", "01", 7, i, record)
        assert (kind, event_id) == (body["kind"], body["id"]) and decode(data) == body
