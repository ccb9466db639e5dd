"""The journal: an append-only local file of every book record and every report owed to a client,
written on the hot path before an order can reach a venue and before a venue's report is
acknowledged to QuickFIX.

Why: the book of record is written to PostgreSQL asynchronously (group commit), so a process killed
between "the OMS changed state" and "the writer committed" would forget that change; and QuickFIX
advances a session's expected inbound sequence number as soon as ``fromApp`` returns, so a venue
would never resend a fill the gateway had taken but not committed. An append and a flush to the
page cache cost microseconds and survive a killed process (not a lost machine: there is no fsync;
see docs/ARCHITECTURE.md). At start, fixgate replays the journal into PostgreSQL (every write is
idempotent: upserts of full row states in order, executions once per venue ExecID), sends the
client reports the journal holds but QuickFIX's store does not, and starts a new journal.

Format: a file header (``_MAGIC``), then frames of a 4-byte big-endian length and a ``marshal`` of a
tuple of records, each record a tuple of plain values (Decimals as their exact text, enums as their
value) ending with its type's code (see :class:`_Codec`). ``marshal`` of plain tuples costs a fifth of
pickling the dataclasses, and this runs under the OMS lock on every change. A file without the header
is a journal of the earlier format (a pickle per frame) and is read as such. A frame torn by a kill in
mid-write is where replay stops.
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
from dataclasses import fields
from decimal import Decimal
from enum import Enum
from operator import attrgetter
from pathlib import Path
from typing import Any

from oms.model import ClientReport, ExecutionRecord, MarkRecord, OrderRecord, PositionRecord

log = logging.getLogger(__name__)

_LENGTH = struct.Struct(">I")
_MAGIC = b"FGJ2\n"  # this format: marshal frames of plain tuples
_PICKLED = -1  # the code of a record of a type the codec does not know: kept as a pickle


class _Codec:
    """Records as tuples of plain values and back, per dataclass: field values in declaration order
    (Decimal as ``str``, an enum as its value), then the type's code. The codes are this file
    format's: append new types, never renumber."""

    TYPES: tuple[type, ...] = (OrderRecord, ExecutionRecord, PositionRecord, MarkRecord, ClientReport)

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
            self._decoders.append(self._decoder(cls, decimals, enums))

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
        record_type: type, decimals: tuple[int, ...], enums: tuple[tuple[int, Any], ...]
    ) -> Callable[[tuple[Any, ...]], Any]:
        def decode(item: tuple[Any, ...]) -> Any:
            values = list(item[:-1])
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
        return [pickle.loads(item[0]) if item[-1] == _PICKLED else decoders[item[-1]](item)
                for item in marshal.loads(data)]


_CODEC = _Codec()


class Journal:
    """One journal file, appended to under the caller's lock (the OMS lock), flushed per append."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "current.journal"
        if self.path.exists() and self.path.stat().st_size > 0:
            # Left by a run whose journal was not replayed (start-up moves it aside first): keep it
            # for the next replay rather than append frames of another format to it.
            os.replace(self.path, directory / f"{time.time_ns()}.replay")
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
            target = directory / f"{time.time_ns()}.replay"
            os.replace(current, target)
            files.append(target)
        return files

    @staticmethod
    def read(path: Path) -> Iterator[Any]:
        """Every record of a journal file in order; stops at a frame torn by a kill."""
        with path.open("rb") as fh:
            current = fh.read(len(_MAGIC)) == _MAGIC
            if not current:
                fh.seek(0)  # the earlier format: a pickle per frame, no header
            while True:
                head = fh.read(_LENGTH.size)
                if len(head) < _LENGTH.size:
                    return
                (length,) = _LENGTH.unpack(head)
                data = fh.read(length)
                if len(data) < length:
                    log.warning("journal %s: torn last frame (%d of %d bytes) ignored", path, len(data), length)
                    return
                try:
                    records = _CODEC.loads(data) if current else pickle.loads(data)
                except Exception:  # noqa: BLE001 - a torn frame can fail to decode in many ways
                    log.warning("journal %s: unreadable last frame ignored", path)
                    return
                yield from records


class JournaledSink:
    """The OMS's sink: each change into the journal first, then onto the book writer's queue."""

    def __init__(self, journal: Journal, submit: Any) -> None:
        self._journal = journal
        self._submit = submit

    def __call__(self, records: Sequence[Any], owed: Any = None) -> None:
        self._journal.append(records if owed is None else (*records, owed))
        self._submit(records)


def replay(directory: Path, database_url: str) -> list[Any]:
    """Write what earlier runs journaled into the book, then drop those journal files.

    Returns the client reports the journal holds (the caller sends the ones QuickFIX never stored).
    Replaying is idempotent (full-state upserts in journal order; executions once per venue ExecID),
    so a crash during replay only means replaying again."""
    from book.database import run_sync
    from book.writer import connect, write_records
    from oms.model import ClientReport

    files = Journal.pending(directory)
    reports: list[Any] = []
    for path in files:
        records: list[Any] = []
        for item in Journal.read(path):
            (reports if isinstance(item, ClientReport) else records).append(item)

        async def write(batch: list[Any] = records) -> None:
            conn = await connect(database_url)
            try:
                async with conn.transaction():
                    for start in range(0, len(batch), 5000):
                        await write_records(conn, batch[start:start + 5000])
            finally:
                await conn.close()

        if records:
            run_sync(write)
        log.info("journal %s: %d records replayed into the book", path.name, len(records))
        path.unlink()
    return reports
