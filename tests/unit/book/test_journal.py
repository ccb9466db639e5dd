"""The journal file: its codec, the earlier pickle format, and what a kill or damage leaves behind."""

from __future__ import annotations

import copyreg
import marshal
import pickle
import struct
import sys
from dataclasses import dataclass, replace
from decimal import Decimal as D
from pathlib import Path

import pytest

import book.journal
import domain.model
from book.fields import field_names
from book.hops import OrderHops
from book.journal import (
    _CODEC,
    _HEADER,
    _MAGIC_FGJ2,
    CorruptJournal,
    Journal,
    JournalFormatError,
    SegmentReader,
    _Codec,
    segment_of,
)
from domain.model import (
    ClientCancelReject,
    ClientSent,
    MarkRecord,
    OrderRecord,
    OrderStatus,
    PositionRecord,
    Side,
)
from tests.unit.book import samples

LENGTH = struct.Struct(">I")


def written(tmp_path: Path, *frames: list[object]) -> Path:
    journal = Journal(tmp_path)
    for frame in frames:
        journal.append(frame)
    journal.close()
    return journal.path


def exact(records: list[object]) -> list[str]:
    # A dataclass compares Decimals by value (1.0 == 1.00); its repr shows every digit and each
    # enum's type, which is what must survive the round trip.
    return [repr(r) for r in records]


def test_every_record_type_round_trips_exactly(tmp_path: Path) -> None:
    records = samples.every_type()
    path = written(tmp_path, records[:3], records[3:])
    back = list(Journal.read(path))
    assert exact(back) == exact(records)
    assert [type(r) for r in back] == [type(r) for r in records]
    first = back[0]
    assert isinstance(first, OrderRecord)
    assert str(first.price) == "190.0100" and str(first.avg_px) == "190.01000000"
    assert type(first.status) is OrderStatus and first.status is OrderStatus.PARTIALLY_FILLED
    assert back[1].price is None and back[1].venue_order_id is None
    assert str(back[3].realized_pnl) == "-1E-8"
    assert str(back[4].price) == "1E+2"


def test_a_type_the_codec_does_not_know_travels_as_a_pickle(tmp_path: Path) -> None:
    halt = domain.model.Halt("firm", "", "alice", 1, "test")
    assert type(halt) not in _Codec.TYPES
    path = written(tmp_path, [samples.mark(), halt, OrderHops(7, 1, 2, None)])
    assert list(Journal.read(path)) == [samples.mark(), halt, OrderHops(7, 1, 2, None)]


# How the builds of the pickle format laid out an order's values (before its fields shared with the
# live order were put first): a pickled slots dataclass holds its values in that order, not its names.
PICKLED_ORDER_LAYOUT = (
    "order_id", "session", "cl_ord_id", "account", "symbol", "side", "ord_type", "time_in_force", "quantity",
    "price", "venue", "venue_cl_ord_id", "venue_order_id", "status", "cum_qty", "leaves_qty", "avg_px", "text",
    "created_ns", "updated_ns", "pending", "chained",
)


def test_a_journal_of_the_earlier_pickle_format_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = samples.every_type()
    # As those builds wrote them: the record classes in oms.model, an order's values in their layout.
    monkeypatch.setitem(sys.modules, "oms.model", domain.model)
    for kind in {type(r) for r in records} - {ClientSent}:
        monkeypatch.setattr(kind, "__module__", "oms.model")
    monkeypatch.setattr(OrderRecord, "__reduce_ex__", lambda self, protocol: (
        copyreg.__newobj__, (OrderRecord,), [getattr(self, name) for name in PICKLED_ORDER_LAYOUT]))
    path = tmp_path / "1.replay"
    with path.open("wb") as fh:  # no header: a pickle of a tuple of records per frame
        for frame in (records[:2], records[2:]):
            data = pickle.dumps(tuple(frame), protocol=pickle.HIGHEST_PROTOCOL)
            fh.write(LENGTH.pack(len(data)) + data)
    monkeypatch.undo()
    assert exact(list(Journal.read(path))) == exact(records)


def test_records_pickled_before_a_field_was_added_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A pickle of a slots dataclass holds its values, not its field names: unpickled by this build,
    # a field added since (a position's cost, a cancel reject's own id) would be left unset.
    position, reject = samples.position(), samples.cancel_reject()
    for kind in (PositionRecord, ClientCancelReject):  # pickled as the build before the field wrote them
        getstate = kind.__getstate__  # type: ignore[attr-defined]
        monkeypatch.setattr(kind, "__getstate__", lambda self, getstate=getstate: getstate(self)[:-1])
    data = pickle.dumps((position, reject), protocol=pickle.HIGHEST_PROTOCOL)
    monkeypatch.undo()
    path = tmp_path / "1.replay"
    path.write_bytes(LENGTH.pack(len(data)) + data)
    old_position, old_reject = Journal.read(path)
    assert old_position == position and old_position.cost == position.quantity * position.avg_price
    assert old_reject == reject and old_reject.reject_id == ""


@pytest.mark.parametrize("cut", [1, 5, 20])
def test_a_last_frame_torn_by_a_kill_is_ignored(tmp_path: Path, cut: int) -> None:
    path = written(tmp_path, [samples.order()], [samples.execution(), samples.position()])
    path.write_bytes(path.read_bytes()[:-cut])
    assert list(Journal.read(path)) == [samples.order()]


def test_a_torn_frame_header_is_ignored(tmp_path: Path) -> None:
    path = written(tmp_path, [samples.order()])
    with path.open("ab") as fh:
        fh.write(b"\x00\x00")
    assert list(Journal.read(path)) == [samples.order()]


def test_an_undecodable_last_frame_is_ignored(tmp_path: Path) -> None:
    path = written(tmp_path, [samples.order()])
    with path.open("ab") as fh:
        fh.write(LENGTH.pack(8) + b"\xff" * 8)
    assert list(Journal.read(path)) == [samples.order()]


def test_damage_in_the_middle_is_not_taken_for_a_torn_last_frame(tmp_path: Path) -> None:
    path = written(tmp_path, [samples.order()], [samples.execution()], [samples.position()])
    data = bytearray(path.read_bytes())
    second = len(_HEADER) + LENGTH.size + LENGTH.unpack_from(data, len(_HEADER))[0]
    (length,) = LENGTH.unpack_from(data, second)
    data[second + LENGTH.size : second + LENGTH.size + length] = b"\xff" * length
    path.write_bytes(bytes(data))

    read: list[object] = []
    with pytest.raises(CorruptJournal) as caught:
        read.extend(Journal.read(path))
    assert read == [samples.order()]  # what came before the damage
    assert (caught.value.path, caught.value.offset, caught.value.size) == (path, second, len(data))
    assert str(path) in str(caught.value)


def fgj2(tmp_path: Path, *frames: bytes) -> Path:
    """A journal of the format before schemas (FGJ2): the same frames, values by position."""
    path = tmp_path / "1.replay"
    path.write_bytes(_MAGIC_FGJ2 + b"".join(LENGTH.pack(len(data)) + data for data in frames))
    return path


def fgj2_frame(records: list[object]) -> bytes:
    """A frame as FGJ2 wrote it: each record's values by position, an order's in its layout then."""
    items = []
    for record in records:
        [item] = marshal.loads(_CODEC.dumps([record]))
        if isinstance(record, OrderRecord):
            by_name = dict(zip(field_names(OrderRecord), item, strict=False))
            item = (*(by_name[name] for name in PICKLED_ORDER_LAYOUT), item[-1])
        items.append(item)
    return marshal.dumps(tuple(items))


def test_a_journal_of_the_positional_format_is_read(tmp_path: Path) -> None:
    records = samples.every_type()
    path = fgj2(tmp_path, fgj2_frame(records[:3]), fgj2_frame(records[3:]))
    assert exact(list(Journal.read(path))) == exact(records)


def test_a_record_with_another_field_count_fails_loudly(tmp_path: Path) -> None:
    # As a field added to MarkRecord, without a default, after this journal was written would leave
    # it: one value short.
    code = _Codec.TYPES.index(MarkRecord)
    data = marshal.dumps((("AAPL", "190.01", code),))
    path = fgj2(tmp_path, fgj2_frame([samples.order()]), data)  # the last frame: no excuse to call it torn
    with pytest.raises(JournalFormatError, match=r"MarkRecord has 2 fields, this build's MarkRecord has 6"):
        list(Journal.read(path))


def test_a_mark_of_an_earlier_build_is_read_without_its_venue_and_quotes(tmp_path: Path) -> None:
    # Marks had three fields before 0011 added venue, bid and offer (with defaults).
    code = _Codec.TYPES.index(MarkRecord)
    data = marshal.dumps((("AAPL", "190.01", 5, code),))
    path = fgj2(tmp_path, fgj2_frame([samples.order()]), data)
    assert list(Journal.read(path))[-1] == MarkRecord("AAPL", D("190.01"), 5)


def test_a_record_shorter_than_its_journals_schema_fails_loudly(tmp_path: Path) -> None:
    code = _Codec.TYPES.index(MarkRecord)
    path = written(tmp_path, [samples.order()])
    data = marshal.dumps((("AAPL", "190.01", code),))
    with path.open("ab") as fh:
        fh.write(LENGTH.pack(len(data)) + data)
    with pytest.raises(JournalFormatError, match=r"MarkRecord has 2 fields, its journal's MarkRecord has 6"):
        list(Journal.read(path))


def test_a_position_journaled_before_positions_kept_their_cost_is_read_with_one() -> None:
    code = _Codec.TYPES.index(PositionRecord)
    # The 6-field layout of before: account, symbol, quantity, avg_price, realized_pnl, updated_ns.
    positional = _CODEC.reader(None)
    [back] = positional.loads(marshal.dumps((("ACC", "AAPL", "-40", "190.01000000", "-1.5", 4, code),)))
    assert back == PositionRecord("ACC", "AAPL", D(-40), D("190.01"), D("-1.5"), 4, D("-7600.4"))


def test_a_cancel_reject_keeps_its_identity_through_the_journal() -> None:
    reject = samples.cancel_reject("x1")
    [back] = _CODEC.loads(_CODEC.dumps([reject]))
    assert back.reject_id == reject.reject_id != ""
    assert ClientSent.of(back) == ClientSent.of(reject)


def test_a_cancel_reject_journaled_before_rejects_had_an_identity_is_marked_by_its_clordid() -> None:
    code = _Codec.TYPES.index(ClientCancelReject)
    # The 8-field layout of before, whose marks were "9:" and the ClOrdID.
    session = "FIX.4.4:FIXGATE->CLIENT1"
    old = (session, 1, "x1", "c1", "FILLED", "REPLACE", "TOO_LATE", "order 1 is already FILLED", code)
    [back] = _CODEC.reader(None).loads(marshal.dumps((old,)))
    assert back == samples.cancel_reject("x1", session=session)
    assert ClientSent.of(back) == ClientSent(session, "9:x1")


def test_an_unknown_record_type_code_fails_loudly() -> None:
    with pytest.raises(JournalFormatError, match="type code 99"):
        _CODEC.loads(marshal.dumps((("x", 99),)))


def test_each_run_writes_a_segment_of_its_own_in_the_order_of_their_names(tmp_path: Path) -> None:
    first = written(tmp_path, [samples.order()])
    journal = Journal(tmp_path)
    journal.append([samples.mark()])
    journal.close()
    assert journal.path != first and journal.segment == segment_of(journal.path)
    assert Journal.pending(tmp_path) == [first, journal.path]
    assert [list(Journal.read(p)) for p in Journal.pending(tmp_path)] == [[samples.order()], [samples.mark()]]


def test_a_later_runs_segment_sorts_after_an_earlier_ones_whatever_the_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(book.journal.time, "time_ns", lambda: 2_000_000_000_000_000_000)
    first = Journal(tmp_path)
    first.close()
    first.path.unlink()  # booked and published: gone
    monkeypatch.setattr(book.journal.time, "time_ns", lambda: 1_999_000_000_000_000_000)  # the clock set back
    second = Journal(tmp_path)
    assert int(second.segment) > int(first.segment)


def test_a_journal_of_the_build_before_segments_is_moved_aside_for_replay(tmp_path: Path) -> None:
    legacy = written(tmp_path, [samples.order()]).rename(tmp_path / "current.journal")
    Journal(tmp_path).close()  # as if replay had not moved it: keep it for the next replay
    [aside] = tmp_path.glob("*.replay")
    assert not legacy.exists() and list(Journal.read(aside)) == [samples.order()]
    assert Journal.pending(tmp_path)[0] == aside


def test_an_empty_legacy_journal_is_not_moved_aside(tmp_path: Path) -> None:
    (tmp_path / "current.journal").touch()
    Journal(tmp_path).close()
    assert list(tmp_path.glob("*.replay")) == []


def test_records_that_may_wait_ride_with_the_next_frame(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.later([samples.mark()])
    assert [records for _, records in Journal.frames(journal.path)] == []  # not written yet
    journal.append([samples.order()])
    journal.later([samples.position()])
    journal.flush_later()
    journal.close()
    assert [records for _, records in Journal.frames(journal.path)] == [
        [samples.order(), samples.mark()], [samples.position()]]
    assert journal.size == journal.path.stat().st_size


def test_a_segment_reader_takes_whole_frames_only_as_they_land(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    reader = SegmentReader(journal.path)
    journal.append([samples.order(1)])
    [(_, end, records)] = reader.poll()
    assert records == [samples.order(1)] and end == journal.size
    data = _CODEC.dumps([samples.order(2)])
    with journal.path.open("ab") as fh:  # a frame half written
        fh.write(LENGTH.pack(len(data)) + data[:5])
    assert reader.poll() == []
    with journal.path.open("ab") as fh:
        fh.write(data[5:])
    [(offset2, _, records2)] = reader.poll()
    assert offset2 == end and records2 == [samples.order(2)]
    again = SegmentReader(journal.path, offset2)  # from a committed position
    assert [r for _, _, rs in again.poll() for r in rs] == [samples.order(2)]


# -- BY NAME: a file's schema names each type's fields ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Quote:  # the build before a field was added
    symbol: str
    bid: D


@dataclass(frozen=True, slots=True)
class QuoteNow:  # this build's: the same type with a field added (with a default), another moved
    bid: D
    symbol: str
    side: Side = Side.BUY


def test_a_journal_written_before_a_field_was_added_still_reads_by_name() -> None:
    before = _Codec([MarkRecord, Quote])
    frame = before.dumps([samples.mark(), Quote("AAPL", D("1.50"))])
    QuoteNow.__name__ = "Quote"  # the same record type, as the next build defines it
    try:
        now = _Codec([MarkRecord, QuoteNow])
        back = now.reader(before.schema()).loads(frame)
    finally:
        QuoteNow.__name__ = "QuoteNow"
    assert back == [samples.mark(), QuoteNow(D("1.50"), "AAPL", Side.BUY)]
    assert str(back[1].bid) == "1.50"


def test_a_field_this_build_does_not_have_fails_loudly() -> None:
    later = _Codec([QuoteNow])
    frame = later.dumps([QuoteNow(D(1), "AAPL")])
    Quote.__name__ = "QuoteNow"  # a later build's record type, with a field this one lacks
    try:
        with pytest.raises(JournalFormatError, match=r"has fields side, which this build's QuoteNow does not"):
            _Codec([Quote]).reader(later.schema()).loads(frame)
    finally:
        Quote.__name__ = "Quote"


def test_a_journal_whose_orders_lack_a_field_replays_them_by_name(tmp_path: Path) -> None:
    # A file written before OrderRecord.chained and PositionRecord.cost: the order gets the field's
    # default, the position the upgrade's value (_UPGRADES), and every other value lands in its field.
    lacking = ("chained", "cost")
    schema = tuple((name, tuple(n for n in names if n not in lacking)) for name, names in _CODEC.schema())
    order, position = samples.order(), samples.position()
    items = []
    for item in marshal.loads(_CODEC.dumps([order, position])):
        _, names = _CODEC.schema()[item[-1]]
        items.append(tuple(v for n, v in zip((*names, "code"), item) if n not in lacking))
    header, frame = marshal.dumps(schema), marshal.dumps(tuple(items))
    path = tmp_path / "1.replay"
    path.write_bytes(b"FGJ3\n" + LENGTH.pack(len(header)) + header + LENGTH.pack(len(frame)) + frame)
    assert list(Journal.read(path)) == [order, replace(position, cost=D("-7600.4"))]


def test_a_fills_commission_round_trips_and_a_journal_from_before_it_reads_none(tmp_path: Path) -> None:
    # ExecutionRecord.commission and ClientReport.commission (migration 0013) came last, with a default.
    fill = replace(samples.execution(), commission=D("0.0000007600400"))
    report = replace(samples.report(), commission=D("-0.20"))
    path = written(tmp_path, [fill, report])
    assert exact(list(Journal.read(path))) == exact([fill, report])

    schema = tuple((name, tuple(n for n in names if n != "commission")) for name, names in _CODEC.schema())
    items = []
    for item in marshal.loads(_CODEC.dumps([samples.execution(), samples.report()])):
        _, names = _CODEC.schema()[item[-1]]
        items.append(tuple(v for n, v in zip((*names, "code"), item) if n != "commission"))
    header, frame = marshal.dumps(schema), marshal.dumps(tuple(items))
    older = tmp_path / "1.replay"
    older.write_bytes(b"FGJ3\n" + LENGTH.pack(len(header)) + header + LENGTH.pack(len(frame)) + frame)
    execution, owed = Journal.read(older)
    assert (execution, owed) == (samples.execution(), samples.report())
    assert execution.commission is None and owed.commission is None


def test_a_header_torn_by_a_kill_leaves_no_records(tmp_path: Path) -> None:
    path = tmp_path / "1.replay"
    path.write_bytes(_HEADER[:-3])
    assert list(Journal.read(path)) == []
