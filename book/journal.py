"""The journal: an append-only local file of every book record and every report owed to a client,
written on the hot path before an order can reach a venue and before a venue's report is
acknowledged to QuickFIX.

Why: the book of record is written to PostgreSQL asynchronously (group commit), so a process killed
between "the OMS changed state" and "the writer committed" would forget that change; and QuickFIX
advances a session's expected inbound sequence number as soon as ``fromApp`` returns, so a venue
would never resend a fill the gateway had taken but not committed. An append and a flush to the
page cache cost microseconds and survive a killed process (not a lost machine: there is no fsync;
see docs/ARCHITECTURE.md). At start, fixgate replays the journal into PostgreSQL (every write is
idempotent: upserts of full row states in order, executions once each, by their ExecID), sends the
client reports the journal holds without a mark that they went out (``ClientSent``, appended after
QuickFIX put one on the wire), and starts a new journal.

Format: a file header (``_MAGIC`` and the file's schema: each type code's record type and field names),
then frames of a 4-byte big-endian length and a ``marshal`` of a tuple of records, each record a tuple
of plain values (Decimals as their exact text, enums as their value) ending with its type's code (see
:class:`_Codec`). ``marshal`` of plain tuples costs a fifth of pickling the dataclasses, and this runs
under the OMS lock on every change. The schema makes the frames self-describing: a reader maps values
to fields by name, so a record written before a field was added reads with that field's default (or
its ``_UPGRADES`` value). Files of the earlier formats are read too: ``FGJ2`` (no schema, values by
position) and, without any header, a pickle per frame. A kill in mid-write can
only leave the file's last frame short: that one is ignored. An undecodable frame with more bytes after
it is corruption, not a kill: replay writes what came before it and keeps the file as ``*.corrupt``.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import marshal
import os
import pickle
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import domain.model
from book.fields import Field, field_names, record_fields
from book.files import write_whole
from book.hops import OrderHops, ReportHops
from domain.model import (
    Breach,
    ClientCancelReject,
    ClientMessage,
    ClientReport,
    ClientSent,
    Control,
    ExecutionRecord,
    MarkRecord,
    OrderRecord,
    PositionRecord,
)

if TYPE_CHECKING:
    from book.writer import BookWriter

log = logging.getLogger(__name__)

_LENGTH = struct.Struct(">I")
_MAGIC = b"FGJ3\n"  # this format: a schema, then marshal frames of plain tuples
_MAGIC_FGJ2 = b"FGJ2\n"  # the format before: marshal frames of plain tuples, values by position
_PICKLED = -1  # the code of a record of a type the codec does not know: kept as a pickle
_REPLAY_BATCH = 5000  # records per book transaction during replay


class JournalFormatError(Exception):
    """A journal record this build cannot decode as written (another version's record layout).

    Not corruption and not a torn frame: every record of that type would fail alike, so replay stops
    with this error and leaves the file in place rather than drop data."""


class CorruptJournal(Exception):
    """An undecodable frame with more of the file after it: damage, not a kill in mid-write."""

    def __init__(self, path: Path, offset: int, size: int) -> None:
        super().__init__(f"journal {path}: undecodable frame at byte {offset} of {size}")
        self.path = path
        self.offset = offset
        self.size = size


def _position_cost(values: dict[str, Any]) -> Any:
    # A position journaled before positions kept their exact cost: the best it had, quantity x its
    # 8-place average price.
    return values["quantity"] * values["avg_price"]


def _no_reject_id(values: dict[str, Any]) -> str:
    # A cancel reject journaled before rejects had their own identity: "" marks it by its ClOrdID,
    # as the marks of that journal were written (ClientSent.of). Not the field's default: a new id
    # would match none of that journal's marks.
    return ""


# (type, field) -> the value of that field for a journaled record written before the field existed,
# from the values it has, by name; where there is none, the field's default. A field added with
# neither cannot be read from an older journal (JournalFormatError).
_UPGRADES: dict[tuple[type, str], Callable[[dict[str, Any]], Any]] = {
    (PositionRecord, "cost"): _position_cost,
    (ClientCancelReject, "reject_id"): _no_reject_id,
}

_Decode = Callable[[tuple[Any, ...]], Any]


def _missing_value(record_type: type, f: Field) -> Callable[[dict[str, Any]], Any] | None:
    """How a record of ``record_type`` read without field ``f`` gets its value; None: it cannot."""
    upgrade = _UPGRADES.get((record_type, f.name))
    if upgrade is not None:
        return upgrade
    default = f.default
    return None if default is None else lambda _values: default()


def _complete(record: Any) -> Any:
    """A record of the earlier pickle format, brought to this build's fields: a slots dataclass
    unpickles its stored values into its first fields and leaves a field added since unset."""
    missing = [f for f in record_fields(type(record)) if not hasattr(record, f.name)]
    if missing:
        values = {f.name: getattr(record, f.name) for f in record_fields(type(record)) if hasattr(record, f.name)}
        for f in missing:
            fill = _missing_value(type(record), f)
            if fill is None:
                raise JournalFormatError(_lacks(type(record), len(values), f.name))
            object.__setattr__(record, f.name, fill(values))
    return record


# The fields of a record in the formats before FGJ3, in their order there, where this build's order
# differs: an order's fields were since split into those it shares with the live order (first) and
# its own (``OrderRecord``). Values are by position in FGJ2 frames and in pickled slots dataclasses.
_POSITIONAL_FIELDS: dict[type, tuple[str, ...]] = {
    OrderRecord: (
        "order_id", "session", "cl_ord_id", "account", "symbol", "side", "ord_type", "time_in_force", "quantity",
        "price", "venue", "venue_cl_ord_id", "venue_order_id", "status", "cum_qty", "leaves_qty", "avg_px", "text",
        "created_ns", "updated_ns", "pending", "chained",
    ),
}


def _positional_names(record_type: type) -> tuple[str, ...]:
    """A record's field names in the order FGJ2 and pickle wrote its values."""
    return _POSITIONAL_FIELDS.get(record_type) or field_names(record_type)


class _PickledOrder:
    """An order record as the pickle format stored it: its values in the order of
    ``_POSITIONAL_FIELDS`` (a frozen slots dataclass pickles a list of them), made an ``OrderRecord``
    by name (``_upgraded``)."""

    state: list[Any]

    def __setstate__(self, state: list[Any]) -> None:
        self.state = state


# Where the classes of the pickle format's records lived then.
_MOVED_MODULES = {"oms.model", "risk.checks"}


class _Unpickler(pickle.Unpickler):
    """Reads the pickle format's frames: its records' classes by where they live now, an order record
    by the names of its values (``_PickledOrder``). Only fixgate's own journal is read with it."""

    def find_class(self, module: str, name: str) -> Any:
        moved = getattr(domain.model, name, None) if module in _MOVED_MODULES else None
        cls = super().find_class(module, name) if moved is None else moved
        return _PickledOrder if cls is OrderRecord else cls


def _unpickle(data: bytes) -> Any:
    """What a pickle of the journal holds (a frame of the pickle format: a tuple of records; a record
    of a type the codec does not know), its records brought to this build's fields."""
    return _upgraded(_Unpickler(io.BytesIO(data)).load())


def _upgraded(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_upgraded(v) for v in value]
    if isinstance(value, _PickledOrder):
        names = _positional_names(OrderRecord)[: len(value.state)]
        value = _decoder(OrderRecord, names)((*value.state, 0))
    return _complete(value) if type(value) in _Codec.TYPES else value


def _lacks(record_type: type, count: int, name: str) -> str:
    return (
        f"journal record of type {record_type.__name__} has {count} fields, this build's {record_type.__name__}"
        f" has {len(record_fields(record_type))}: no value for {name}; written by another version of fixgate"
    )


def _raise(message: str) -> _Decode:
    def fail(item: tuple[Any, ...]) -> Any:
        raise JournalFormatError(message)

    return fail


def _decoder(record_type: type, names: Sequence[str]) -> _Decode:
    """Decode a record of ``record_type`` written as the values of ``names`` and its type code: each
    value into the field of its name (a Decimal from its text, an enum from its value); a field the
    record lacks from ``_UPGRADES`` or its default. A field this build does not have is an error: the
    record was written by a later version, and dropping the value would lose what it said."""
    by_name = {f.name: f for f in record_fields(record_type)}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        return _raise(
            f"journal record of type {record_type.__name__} has fields {', '.join(unknown)}, which this"
            f" build's {record_type.__name__} does not: written by a later version of fixgate"
        )
    count = len(names)
    decimals = tuple(i for i, n in enumerate(names) if by_name[n].is_decimal)
    enums = tuple((i, by_name[n].type) for i, n in enumerate(names) if by_name[n].is_enum)
    fills = []
    for f in record_fields(record_type):
        if f.name not in names:
            fill = _missing_value(record_type, f)
            if fill is None:
                return _raise(_lacks(record_type, count, f.name))
            fills.append((f.name, fill))
    # By position when the values are the fields in order and the constructor takes them so.
    in_order = tuple(names) == field_names(record_type) and not any(
        f.kw_only for f in dataclasses.fields(record_type))
    keys = tuple(names)

    def decode(item: tuple[Any, ...]) -> Any:
        values = list(item[:-1])
        if len(values) != count:
            raise JournalFormatError(
                f"journal record of type {record_type.__name__} has {len(values)} fields, its journal's"
                f" {record_type.__name__} has {count}"
            )
        for i in decimals:
            value = values[i]
            if value is not None:
                values[i] = Decimal(value)
        for i, kind in enums:
            value = values[i]
            if value is not None:
                values[i] = kind(value)
        if in_order:
            return record_type(*values)
        by = dict(zip(keys, values))
        for name, fill in fills:
            by[name] = fill(by)
        return record_type(**by)

    return decode


class _Codec:
    """Records as tuples of plain values and back, per dataclass: field values in declaration order
    (Decimal as ``str``, an enum as its value), then the type's code. A file's header names each code's
    type and fields (:meth:`schema`), so a reader maps values by name. The codes are this build's; in a
    file of the earlier format (FGJ2, no schema) they are these, and values are by position (in the
    fields' order then: ``_POSITIONAL_FIELDS``): append new types, never renumber."""

    TYPES: tuple[type, ...] = (
        OrderRecord, ExecutionRecord, PositionRecord, MarkRecord, ClientReport, Breach, ClientCancelReject,
        ClientSent, OrderHops, ReportHops, Control,
    )

    def __init__(self, types: Sequence[type] = TYPES) -> None:
        self.types = tuple(types)
        self._encoders: dict[type, Callable[[Any], tuple[Any, ...]]] = {}
        for code, cls in enumerate(self.types):
            fields = record_fields(cls)
            decimals = tuple(i for i, f in enumerate(fields) if f.is_decimal)
            enums = tuple(i for i, f in enumerate(fields) if f.is_enum and not f.optional)
            optional_enums = tuple(i for i, f in enumerate(fields) if f.is_enum and f.optional)
            get = attrgetter(*field_names(cls))
            self._encoders[cls] = self._encoder(get, decimals, enums, optional_enums, code)

    def schema(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """Each code's type name and field names: what a file's header holds."""
        return tuple((cls.__name__, field_names(cls)) for cls in self.types)

    @staticmethod
    def _encoder(
        get: Callable[[Any], tuple[Any, ...]],
        decimals: tuple[int, ...],
        enums: tuple[int, ...],
        optional_enums: tuple[int, ...],
        code: int,
    ) -> Callable[[Any], tuple[Any, ...]]:
        def encode(record: Any) -> tuple[Any, ...]:
            values = list(get(record))
            for i in decimals:
                value = values[i]
                if value is not None:
                    values[i] = str(value)
            for i in enums:
                values[i] = values[i]._value_
            for i in optional_enums:
                value = values[i]
                if value is not None:
                    values[i] = value._value_
            values.append(code)
            return tuple(values)

        return encode

    def dumps(self, records: Sequence[Any]) -> bytes:
        encoders = self._encoders
        items = []
        for record in records:
            encode = encoders.get(type(record))
            items.append((pickle.dumps(record), _PICKLED) if encode is None else encode(record))
        return marshal.dumps(tuple(items))

    def reader(self, schema: Sequence[tuple[str, Sequence[str]]] | None) -> _Reader:
        """The reader of frames written under ``schema`` (a file's header); ``None``: a file of the
        earlier format (FGJ2), whose records are this build's types by code, values by position."""
        return _Reader(self, None if schema is None else [(name, tuple(names)) for name, names in schema])

    def loads(self, data: bytes) -> list[Any]:
        """The records of a frame this codec wrote."""
        return self.reader(self.schema()).loads(data)


class _Reader:
    """Decodes the frames of one journal file; one decoder per type code (and, for FGJ2, per length),
    made when a record of it first appears."""

    def __init__(self, codec: _Codec, schema: list[tuple[str, tuple[str, ...]]] | None) -> None:
        self._types = {cls.__name__: cls for cls in codec.types}
        self._codec = codec
        self._schema = schema
        self._decoders: dict[tuple[int, int], _Decode] = {}

    def _decoder(self, code: int, count: int) -> _Decode:
        if self._schema is None:
            if not 0 <= code < len(self._codec.types):
                return _raise(f"journal record type code {code} unknown to this build of fixgate")
            record_type = self._codec.types[code]
            names = _positional_names(record_type)
            if count > len(names):
                return _raise(
                    f"journal record of type {record_type.__name__} has {count} fields, this build's"
                    f" {record_type.__name__} has {len(names)}: written by another version of fixgate"
                )
            return _decoder(record_type, names[:count])
        if not 0 <= code < len(self._schema):
            return _raise(f"journal record type code {code} unknown to this build of fixgate")
        name, names = self._schema[code]
        if name not in self._types:
            return _raise(f"journal record type {name} (code {code}) unknown to this build of fixgate")
        return _decoder(self._types[name], names)

    def loads(self, data: bytes) -> list[Any]:
        decoders = self._decoders
        # FGJ2's layouts differ by length (a field appended since); a schema's by code only.
        positional = self._schema is None
        records = []
        for item in marshal.loads(data):
            code = item[-1]
            if code == _PICKLED:
                records.append(_unpickle(item[0]))
                continue
            key = (code, len(item) - 1 if positional else 0)
            decode = decoders.get(key)
            if decode is None:
                decode = decoders[key] = self._decoder(code, key[1])
            records.append(decode(item))
        return records


_CODEC = _Codec()
_SCHEMA = marshal.dumps(_CODEC.schema())
_HEADER = _MAGIC + _LENGTH.pack(len(_SCHEMA)) + _SCHEMA  # what a journal file of this build starts with


REFUSED_BY_WRITER_SUFFIX = ".writer-refused"  # records the book writer process set aside, in journal format
SEGMENT_SUFFIX = ".journal"  # a run's segment, not yet in the book (replayed at the next start)
BOOKED_SUFFIX = ".booked"  # a segment of an earlier run that is in the book, kept until the bus has it
_SEGMENT_MARK = "segment-mark"  # the highest segment number given in this folder
_LEGACY_NAME = "current.journal"  # what builds before segments named every run's journal


def _move_aside(current: Path) -> Path:
    """Rename a legacy ``current.journal`` to a ``*.replay`` (replayed, oldest first, at start)."""
    target = current.with_name(f"{time.time_ns():020d}.replay")
    os.replace(current, target)
    return target


def _is_this_format(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(len(_MAGIC)) == _MAGIC


def segment_of(path: Path) -> str:
    """The segment a journal file is (its name's stem: the run's start, in ns)."""
    return path.name.split(".", 1)[0]


def in_order(paths: Iterable[Path]) -> list[Path]:
    """Journal files in the order they were written: by the number their name starts with."""
    def key(path: Path) -> tuple[int, str]:
        stem = segment_of(path)
        return (int(stem) if stem.isdigit() else 0, path.name)

    return sorted(paths, key=key)


class Journal:
    """One journal segment, appended to under the caller's lock (the OMS lock), flushed per append.

    Each run writes its own segment, ``<start ns, 20 digits>.journal``: the name is the segment's
    identity, which the book writer's durable position and the events' ids carry (``segment``), and
    names sort in the order the runs wrote them. Records that may wait (``later``: hop timestamps,
    market marks) ride with the next frame instead of costing a
    write of their own; ``flush_later`` writes them when no frame comes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        legacy = directory / _LEGACY_NAME
        if legacy.exists() and legacy.stat().st_size > 0:
            # Left by a build that named every run's journal so, and not replayed: keep it for the next replay.
            _move_aside(legacy)
        # Above every segment before, whatever the clock says: a clock set back between runs must not
        # make the new segment sort before the last one (the book and the bus take segments in order,
        # and the bus goes on after its last event's). The mark survives the segments, which go.
        mark = directory / _SEGMENT_MARK
        before = [int(segment_of(p)) for p in directory.iterdir() if segment_of(p).isdigit()]
        if mark.exists():
            before.append(int(mark.read_text().strip() or 0))
        stamp = max([time.time_ns(), *(b + 1 for b in before)])
        write_whole(mark, f"{stamp}\n")
        self.segment = f"{stamp:020d}"
        self.path = directory / f"{self.segment}{SEGMENT_SUFFIX}"
        self._file = self.path.open("xb", buffering=1 << 16)
        self._file.write(_HEADER)
        self._file.flush()
        self._lock = threading.Lock()  # appends normally come under the OMS lock; this keeps frames whole
        self._later: list[Any] = []
        self.appends = 0
        self.size = len(_HEADER)  # bytes handed to the OS: the end of the last whole frame

    def append(self, records: Sequence[Any]) -> None:
        """Write one frame, with the records waiting in ``later``, and hand it to the OS (survives the
        process being killed)."""
        if self._later:
            with self._lock:
                later, self._later = self._later, []
            records = (*records, *later)
        data = _CODEC.dumps(records)  # outside the lock: the OMS's frames are ordered by its own lock
        with self._lock:
            self._write(data)

    def later(self, records: Sequence[Any]) -> None:
        """Journal ``records`` with the next frame: for what a kill may lose at no cost to the book (a
        timestamp; a market mark the next quote or trade replaces)."""
        with self._lock:
            self._later.extend(records)

    def flush_later(self) -> None:
        """Write what waits in ``later`` as a frame of its own, if anything does."""
        with self._lock:
            later, self._later = self._later, []
        if later:
            data = _CODEC.dumps(later)
            with self._lock:
                self._write(data)

    def _write(self, data: bytes) -> None:
        try:
            self._file.write(_LENGTH.pack(len(data)) + data)
            self._file.flush()
        except OSError:
            self._cut_back()
            raise
        self.appends += 1
        self.size += _LENGTH.size + len(data)

    def _cut_back(self) -> None:
        """After a failed write (a full disk): the file back to its last whole frame, so a frame written
        in part cannot break the framing of every frame after it."""
        try:
            self._file.close()  # its buffer is dropped with it
        except OSError:
            pass
        with self.path.open("r+b") as fh:
            fh.truncate(self.size)
        self._file = self.path.open("ab", buffering=1 << 16)

    def wait_followed(self, reached: Callable[[], tuple[str, int] | None], timeout: float) -> bool:
        """Wait until a follower (the book writer, the bus publisher) has what is journaled now: until
        ``reached()``, where it says it is (segment, byte offset), is at or past it; False on timeout."""
        self.flush_later()
        target = (self.segment, self.size)
        deadline = time.monotonic() + timeout
        while True:
            position = reached()
            if position is not None and position >= target:  # segments of 20 digits sort as text
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)

    def close(self) -> None:
        self.flush_later()
        with self._lock:
            self._file.close()

    # -- START-UP ------------------------------------------------------------------------------------

    @staticmethod
    def pending(directory: Path) -> list[Path]:
        """Journal files earlier runs left to replay, oldest first (call before this run's
        ``Journal`` exists: every segment then is an earlier run's)."""
        if not directory.is_dir():
            return []
        legacy = directory / _LEGACY_NAME
        if legacy.exists():
            _move_aside(legacy)
        return in_order([*directory.glob("*.replay"), *directory.glob(f"*{SEGMENT_SUFFIX}")])

    @staticmethod
    def booked(directory: Path) -> list[Path]:
        """Earlier runs' segments the book holds and the bus may not yet, oldest first."""
        return in_order(directory.glob(f"*{BOOKED_SUFFIX}")) if directory.is_dir() else []

    @staticmethod
    def read(path: Path) -> Iterator[Any]:
        """Every record of a journal file in order (see :meth:`frames`)."""
        for _, records in Journal.frames(path):
            yield from records

    @staticmethod
    def frames(path: Path) -> Iterator[tuple[int, list[Any]]]:
        """Every frame of a journal file in order: its byte offset and its records.

        A frame torn by a kill (short, or undecodable with nothing after it) ends the file quietly.
        An undecodable frame with more bytes after it raises :class:`CorruptJournal` once the records
        before it are yielded: frames are only delimited by their lengths, so nothing after a bad one
        can be trusted. A record of another build's layout raises :class:`JournalFormatError`."""
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            magic = fh.read(len(_MAGIC))
            if magic == _MAGIC:
                reader: _Reader | None = _read_header(fh, path, size)
                if reader is None:
                    return
            elif magic == _MAGIC_FGJ2:
                reader = _CODEC.reader(None)
            else:
                reader = None
                fh.seek(0)  # the earliest format: a pickle per frame, no header
            while True:
                offset = fh.tell()
                head = fh.read(_LENGTH.size)
                if len(head) < _LENGTH.size:
                    if head:
                        log.warning("journal %s: torn last frame (%d header bytes) ignored", path, len(head))
                    return
                (length,) = _LENGTH.unpack(head)
                data = fh.read(length)
                if len(data) < length:
                    log.warning("journal %s: torn last frame (%d of %d bytes) ignored", path, len(data), length)
                    return
                try:
                    records = _unpickle(data) if reader is None else reader.loads(data)
                except JournalFormatError as exc:
                    raise JournalFormatError(
                        f"journal {path}, frame at byte {offset}: {exc}; the file is left in place"
                    ) from exc
                except Exception as exc:  # damaged bytes can fail to decode in many ways
                    if fh.tell() < size:
                        raise CorruptJournal(path, offset, size) from exc
                    log.warning(
                        "journal %s: unreadable last frame ignored: %s: %s", path, type(exc).__name__, exc
                    )
                    return
                yield offset, records


def set_aside(segment: Path, record: Any) -> Path:
    """Keep a record of ``segment`` that the book refused in ``<segment>.writer-refused`` (journal
    format, read with :meth:`Journal.read`): its only copy once the writer has committed past it, for a
    person to look at, as start-up keeps a replayed file with such a record as ``*.refused``."""
    path = segment.with_name(segment_of(segment) + REFUSED_BY_WRITER_SUFFIX)
    data = _CODEC.dumps([record])
    with path.open("ab") as fh:
        if fh.tell() == 0:
            fh.write(_HEADER)
        fh.write(_LENGTH.pack(len(data)) + data)
    return path


class SegmentReader:
    """Reads the whole frames of a segment another process is writing, from a byte offset on: a
    frame not yet wholly written (or its header) is left for the next :meth:`poll`. What the book
    writer and the bus publisher follow the gateway's journal with."""

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = path
        self.segment = segment_of(path)
        self.offset = offset  # where the next frame starts; moved past the header once it is read
        self._fh = path.open("rb")
        self._reader: _Reader | None = None

    def close(self) -> None:
        self._fh.close()

    def _read_header(self) -> bool:
        fh = self._fh
        fh.seek(0)
        magic = fh.read(len(_MAGIC))
        if len(magic) < len(_MAGIC):
            return False
        if magic != _MAGIC:
            raise JournalFormatError(f"journal {self.path}: not a segment of this build's format ({magic!r})")
        self._reader = _read_header(fh, self.path, os.fstat(fh.fileno()).st_size)
        if self._reader is None:
            return False
        self.offset = max(self.offset, fh.tell())
        return True

    def poll(self, max_records: int = 10_000) -> list[tuple[int, int, list[Any]]]:
        """The whole frames written since the last call, up to about ``max_records`` records: each as
        (its byte offset, the offset after it, its records)."""
        if self._reader is None and not self._read_header():
            return []
        assert self._reader is not None
        fh = self._fh
        fh.seek(self.offset)
        frames: list[tuple[int, int, list[Any]]] = []
        count = 0
        while count < max_records:
            head = fh.read(_LENGTH.size)
            if len(head) < _LENGTH.size:
                break
            (length,) = _LENGTH.unpack(head)
            data = fh.read(length)
            if len(data) < length:
                break
            try:
                records = self._reader.loads(data)
            except JournalFormatError:
                raise
            except Exception as exc:  # damaged bytes can fail to decode in many ways
                raise CorruptJournal(self.path, self.offset, os.fstat(fh.fileno()).st_size) from exc
            end = self.offset + _LENGTH.size + length
            frames.append((self.offset, end, records))
            self.offset = end
            count += len(records)
        return frames


def _read_header(fh: BinaryIO, path: Path, size: int) -> _Reader | None:
    """The reader of a file by the schema in its header (after the magic); None if a kill tore the
    header, so the file holds no record."""
    head = fh.read(_LENGTH.size)
    data = fh.read(_LENGTH.unpack(head)[0]) if len(head) == _LENGTH.size else b""
    if len(head) < _LENGTH.size or len(data) < _LENGTH.unpack(head)[0]:
        log.warning("journal %s: torn header ignored, no records", path)
        return None
    try:
        return _CODEC.reader(marshal.loads(data))
    except Exception as exc:  # damaged bytes can fail to decode in many ways
        raise CorruptJournal(path, len(_MAGIC), size) from exc


class JournaledSink:
    """The OMS's sink: each change into the journal, the one hand-off of the hot path. The book writer
    process (``book.follower``) and the bus publisher (``bus.publisher``) follow the journal."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    def __call__(self, records: Sequence[Any], owed: Sequence[Any] = ()) -> None:
        self._journal.append((*records, *owed) if owed else records)


@dataclass(frozen=True, slots=True)
class Replayed:
    """What :func:`replay` wrote into the book, and the journal files it read.

    The files stay until :meth:`carry_over`: until then, they are the only durable copy of the client
    reports still owed, so a crash in between replays them again (harmless: idempotent)."""

    reports: tuple[ClientMessage, ...]  # every client report and cancel reject the files hold, in order
    done: tuple[Path, ...]  # read to the end (or a torn last frame)
    corrupt: tuple[Path, ...]  # read up to a damaged frame only
    refused: tuple[Path, ...] = ()  # read to the end, but the book refused some of their records
    sent: frozenset[ClientSent] = frozenset()  # the files' marks of client messages on the wire

    def carry_over(self, owed: Sequence[ClientMessage | ClientSent], journal: Journal, *,
                   keep_booked: bool = False) -> None:
        """Append the reports still ``owed`` (with the marks of those who had them: a drop copy may be
        owed what its client had) to the new ``journal``, then retire the replayed files:
        removed, or, with ``keep_booked``, kept as ``*.booked`` until the bus publisher has them (it
        removes them); or kept for a person to look at: ``*.corrupt`` with a damaged frame,
        ``*.refused`` holding records the book refused (the only copy of those records left)."""
        if owed:
            journal.append(owed)
        for path in self.done:
            if keep_booked and _is_this_format(path):
                os.replace(path, path.with_suffix(BOOKED_SUFFIX))
            else:  # a file of an earlier format is not published (the publisher reads this one only)
                path.unlink(missing_ok=True)
        for paths, suffix in ((self.corrupt, ".corrupt"), (self.refused, ".refused")):
            for path in paths:
                if path.exists():
                    os.replace(path, path.with_suffix(suffix))


def replay(directory: Path, database_url: str, *, stall_timeout: float = 60.0,
           written: tuple[str, int] | None = None) -> Replayed:
    """Write what earlier runs journaled into the book; the files are retired by
    :meth:`Replayed.carry_over` once the reports still owed are in the new journal.

    Writing goes through a :class:`~book.writer.BookWriter`, in journal order, so replay treats the
    database as the running gateway does: a failure is retried, and a record PostgreSQL refuses for
    its content is set aside and logged rather than failing every start. Replaying is idempotent
    (full-state upserts in journal order; executions once each, by their ExecID), so a crash during replay
    only means replaying again. Raises if the book takes nothing for ``stall_timeout`` seconds.

    ``written`` (segment, byte offset): how far the book writer process had committed when the run
    ended; the frames of that segment before it are in the book already and are not written again
    (their client reports are still collected)."""
    from book.writer import BookWriter

    files = Journal.pending(directory)
    reports: list[ClientMessage] = []
    sent: set[ClientSent] = set()
    done: list[Path] = []
    corrupt: list[Path] = []
    refused: list[Path] = []
    if not files:
        return Replayed((), (), ())
    writer = BookWriter(database_url, max_batch=_REPLAY_BATCH)
    writer.start()
    try:
        for path in files:
            records: list[Any] = []
            skip = written[1] if written is not None and written[0] == segment_of(path) else 0
            try:
                for offset, frame in Journal.frames(path):
                    for item in frame:
                        if isinstance(item, (ClientReport, ClientCancelReject)):
                            reports.append(item)
                        elif isinstance(item, ClientSent):
                            sent.add(item)
                        elif offset >= skip:
                            records.append(item)
                done.append(path)
            except CorruptJournal as exc:
                log.error(
                    "journal %s: undecodable frame at byte %d of %d; the %d records before it are replayed,"
                    " the rest is not: the file is kept as %s",
                    path, exc.offset, exc.size, len(records), path.with_suffix(".corrupt"),
                )
                corrupt.append(path)
            set_aside = writer.rejected_records
            for start in range(0, len(records), _REPLAY_BATCH):
                writer.submit(records[start : start + _REPLAY_BATCH])
            _wait_written(writer, path, stall_timeout)
            set_aside = writer.rejected_records - set_aside
            if set_aside:
                log.error(
                    "journal %s: %d records the book refused were set aside (logged above); the file is"
                    " kept as %s", path.name, set_aside, path.with_suffix(".refused"),
                )
                if path in done:
                    done.remove(path)
                    refused.append(path)
            log.info("journal %s: %d records replayed into the book", path.name, len(records) - set_aside)
    finally:
        writer.stop()
    return Replayed(tuple(reports), tuple(done), tuple(corrupt), tuple(refused), frozenset(sent))


def _wait_written(writer: BookWriter, path: Path, stall_timeout: float) -> None:
    """Wait for the writer to commit what was submitted, as long as it makes progress."""
    progress = writer.committed_records + writer.rejected_records
    while not writer.flush(timeout=stall_timeout):
        now = writer.committed_records + writer.rejected_records
        if now == progress:
            raise RuntimeError(
                f"journal {path}: the book took no record for {stall_timeout:.0f}s"
                f" (last error: {writer.last_error}); the journal is kept for the next start"
            )
        progress = now
