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

Format: frames of a 4-byte big-endian length and a pickle of a tuple of records. A frame torn by a
kill in mid-write is where replay stops.
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_LENGTH = struct.Struct(">I")


class Journal:
    """One journal file, appended to under the caller's lock (the OMS lock), flushed per append."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "current.journal"
        self._file = self.path.open("ab", buffering=1 << 16)
        self._lock = threading.Lock()  # appends normally come under the OMS lock; this keeps frames whole
        self.appends = 0

    def append(self, records: Sequence[Any]) -> None:
        """Write one frame and hand it to the OS (survives the process being killed)."""
        data = pickle.dumps(tuple(records), protocol=pickle.HIGHEST_PROTOCOL)
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
                    records = pickle.loads(data)
                except Exception:  # noqa: BLE001 - a torn frame can fail to unpickle in many ways
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
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    from book.database import async_url, run_sync
    from book.writer import write_records
    from oms.model import ClientReport

    files = Journal.pending(directory)
    reports: list[Any] = []
    for path in files:
        records: list[Any] = []
        for item in Journal.read(path):
            (reports if isinstance(item, ClientReport) else records).append(item)

        async def write(batch: list[Any] = records) -> None:
            engine = create_async_engine(async_url(database_url), poolclass=NullPool)
            try:
                async with engine.begin() as conn:
                    for start in range(0, len(batch), 5000):
                        await write_records(conn, batch[start:start + 5000])
            finally:
                await engine.dispose()

        if records:
            run_sync(write)
        log.info("journal %s: %d records replayed into the book", path.name, len(records))
        path.unlink()
    return reports
