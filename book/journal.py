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

Format: a file header (``_MAGIC``), then frames of a 4-byte big-endian length and a ``marshal`` of a
tuple of records, each record a tuple of plain values (Decimals as their exact text, enums as their
value) ending with its type's code (see :class:`_Codec`). ``marshal`` of plain tuples costs a fifth of
pickling the dataclasses, and this runs under the OMS lock on every change. A file without the header
is a journal of the earlier format (a pickle per frame) and is read as such. A kill in mid-write can
only leave the file's last frame short: that one is ignored. An undecodable frame with more bytes after
it is corruption, not a kill: replay writes what came before it and keeps the file as ``*.corrupt``.
"""

from __future__ import annotations

import logging
import marshal
import os
import pickle
import struct
import threading
import time
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from enum import Enum
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domain.model import (
    Breach,
    ClientCancelReject,
    ClientMessage,
    ClientReport,
    ClientSent,
    ExecutionRecord,
    MarkRecord,
    OrderRecord,
    PositionRecord,
)

if TYPE_CHECKING:
    from book.writer import BookWriter

log = logging.getLogger(__name__)

_LENGTH = struct.Struct(">I")
_MAGIC = b"FGJ2\n"  # this format: marshal frames of plain tuples
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


def _position_with_cost(values: list[Any]) -> list[Any]:
    # A position journaled before positions kept their exact cost: the best it had, quantity x its
    # 8-place average price (values are still the journal's text here).
    return [*values, str(Decimal(values[2]) * Decimal(values[3]))]


def _cancel_reject_with_id(values: list[Any]) -> list[Any]:
    # A cancel reject journaled before rejects had their own identity: "" marks it by its ClOrdID,
    # as the marks of that journal were written (ClientSent.of).
    return [*values, ""]


def _unpickled(records: list[Any]) -> list[Any]:
    """Records of the earlier pickle format, brought to this build's layout: a slots dataclass
    unpickles its stored values into its first fields and leaves a field added since unset."""
    for record in records:
        if isinstance(record, PositionRecord) and not hasattr(record, "cost"):
            object.__setattr__(record, "cost", record.quantity * record.avg_price)
        elif isinstance(record, ClientCancelReject) and not hasattr(record, "reject_id"):
            object.__setattr__(record, "reject_id", "")
    return records


# (type, field count of an earlier layout) -> its values in this build's layout.
_UPGRADES: dict[tuple[type, int], Callable[[list[Any]], list[Any]]] = {
    (PositionRecord, 6): _position_with_cost,
    (ClientCancelReject, 8): _cancel_reject_with_id,
}


class _Codec:
    """Records as tuples of plain values and back, per dataclass: field values in declaration order
    (Decimal as ``str``, an enum as its value), then the type's code. The codes are this file
    format's: append new types, never renumber."""

    TYPES: tuple[type, ...] = (
        OrderRecord, ExecutionRecord, PositionRecord, MarkRecord, ClientReport, Breach, ClientCancelReject,
        ClientSent,
    )

    def __init__(self) -> None:
        self._encoders: dict[type, Callable[[Any], tuple[Any, ...]]] = {}
        self._decoders: list[Callable[[tuple[Any, ...]], Any]] = []
        for code, cls in enumerate(self.TYPES):
            names = [f.name for f in fields(cls)]
            hints = typing.get_type_hints(cls)
            decimals = tuple(i for i, n in enumerate(names) if "Decimal" in str(hints[n]))
            enums = tuple(
                (i, hints[n]) for i, n in enumerate(names) if isinstance(hints[n], type) and issubclass(hints[n], Enum)
            )
            self._encoders[cls] = self._encoder(attrgetter(*names), decimals, enums, code)
            self._decoders.append(self._decoder(cls, len(names), decimals, enums))

    @staticmethod
    def _encoder(
        get: Callable[[Any], tuple[Any, ...]], decimals: tuple[int, ...], enums: tuple[tuple[int, Any], ...], code: int
    ) -> Callable[[Any], tuple[Any, ...]]:
        def encode(record: Any) -> tuple[Any, ...]:
            values = list(get(record))
            for i in decimals:
                value = values[i]
                if value is not None:
                    values[i] = str(value)
            for i, _ in enums:
                values[i] = values[i]._value_
            values.append(code)
            return tuple(values)

        return encode

    @staticmethod
    def _decoder(
        record_type: type, count: int, decimals: tuple[int, ...], enums: tuple[tuple[int, Any], ...]
    ) -> Callable[[tuple[Any, ...]], Any]:
        def decode(item: tuple[Any, ...]) -> Any:
            values = list(item[:-1])
            upgrade = _UPGRADES.get((record_type, len(values)))
            if upgrade is not None:
                values = upgrade(values)
            if len(values) != count:
                # Values are positional: a field added or removed since the record was written would
                # shift them into the wrong fields (or fail as a TypeError that looks like a torn frame).
                raise JournalFormatError(
                    f"journal record of type {record_type.__name__} has {len(values)} fields, this build's"
                    f" {record_type.__name__} has {count}: written by another version of fixgate"
                )
            for i in decimals:
                value = values[i]
                if value is not None:
                    values[i] = Decimal(value)
            for i, kind in enums:
                values[i] = kind(values[i])
            return record_type(*values)

        return decode

    def dumps(self, records: Sequence[Any]) -> bytes:
        encoders = self._encoders
        items = []
        for record in records:
            encode = encoders.get(type(record))
            items.append((pickle.dumps(record), _PICKLED) if encode is None else encode(record))
        return marshal.dumps(tuple(items))

    def loads(self, data: bytes) -> list[Any]:
        decoders = self._decoders
        records = []
        for item in marshal.loads(data):
            code = item[-1]
            if code == _PICKLED:
                records.extend(_unpickled([pickle.loads(item[0])]))
            elif 0 <= code < len(decoders):
                records.append(decoders[code](item))
            else:
                raise JournalFormatError(f"journal record type code {code} unknown to this build of fixgate")
        return records


_CODEC = _Codec()


def _move_aside(current: Path) -> Path:
    """Rename a run's journal to a new ``*.replay`` beside it (replayed, oldest first, at start)."""
    target = current.with_name(f"{time.time_ns()}.replay")
    os.replace(current, target)
    return target


class Journal:
    """One journal file, appended to under the caller's lock (the OMS lock), flushed per append."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "current.journal"
        if self.path.exists() and self.path.stat().st_size > 0:
            # Left by a run whose journal was not replayed (start-up moves it aside first): keep it
            # for the next replay rather than append frames of another format to it.
            _move_aside(self.path)
        self._file = self.path.open("ab", buffering=1 << 16)
        self._file.write(_MAGIC)
        self._file.flush()
        self._lock = threading.Lock()  # appends normally come under the OMS lock; this keeps frames whole
        self.appends = 0

    def append(self, records: Sequence[Any]) -> None:
        """Write one frame and hand it to the OS (survives the process being killed)."""
        data = _CODEC.dumps(records)
        with self._lock:
            self._file.write(_LENGTH.pack(len(data)))
            self._file.write(data)
            self._file.flush()
            self.appends += 1

    def close(self) -> None:
        with self._lock:
            self._file.close()

    # -- START-UP ------------------------------------------------------------------------------------

    @staticmethod
    def pending(directory: Path) -> list[Path]:
        """Journal files a previous run left to replay, oldest first."""
        if not directory.is_dir():
            return []
        files = sorted(directory.glob("*.replay"))
        current = directory / "current.journal"
        if current.exists():
            # Renamed first, so a crash during replay leaves it to replay again, not overwritten.
            files.append(_move_aside(current))
        return files

    @staticmethod
    def read(path: Path) -> Iterator[Any]:
        """Every record of a journal file in order.

        A frame torn by a kill (short, or undecodable with nothing after it) ends the file quietly.
        An undecodable frame with more bytes after it raises :class:`CorruptJournal` once the records
        before it are yielded: frames are only delimited by their lengths, so nothing after a bad one
        can be trusted. A record of another build's layout raises :class:`JournalFormatError`."""
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            current = fh.read(len(_MAGIC)) == _MAGIC
            if not current:
                fh.seek(0)  # the earlier format: a pickle per frame, no header
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
                    records = _CODEC.loads(data) if current else _unpickled(pickle.loads(data))
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
                yield from records


class JournaledSink:
    """The OMS's sink: each change into the journal first, then onto the book writer's queue."""

    def __init__(self, journal: Journal, submit: Any) -> None:
        self._journal = journal
        self._submit = submit

    def __call__(self, records: Sequence[Any], owed: Sequence[Any] = ()) -> None:
        self._journal.append((*records, *owed) if owed else records)
        if records:
            self._submit(records)


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

    def carry_over(self, owed: Sequence[ClientMessage], journal: Journal) -> None:
        """Append the reports still ``owed`` to the new ``journal``, then retire the replayed files:
        removed, or kept for a person to look at: ``*.corrupt`` with a damaged frame, ``*.refused``
        holding records the book refused (the only copy of those records left)."""
        if owed:
            journal.append(owed)
        for path in self.done:
            path.unlink(missing_ok=True)
        for paths, suffix in ((self.corrupt, ".corrupt"), (self.refused, ".refused")):
            for path in paths:
                if path.exists():
                    os.replace(path, path.with_suffix(suffix))


def replay(directory: Path, database_url: str, *, stall_timeout: float = 60.0) -> Replayed:
    """Write what earlier runs journaled into the book; the files are retired by
    :meth:`Replayed.carry_over` once the reports still owed are in the new journal.

    Writing goes through a :class:`~book.writer.BookWriter`, in journal order, so replay treats the
    database as the running gateway does: a failure is retried, and a record PostgreSQL refuses for
    its content is set aside and logged rather than failing every start. Replaying is idempotent
    (full-state upserts in journal order; executions once each, by their ExecID), so a crash during replay
    only means replaying again. Raises if the book takes nothing for ``stall_timeout`` seconds."""
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
            try:
                for item in Journal.read(path):
                    if isinstance(item, (ClientReport, ClientCancelReject)):
                        reports.append(item)
                    elif isinstance(item, ClientSent):
                        sent.add(item)
                    else:
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
