"""The book writer process: follows the gateway's journal and writes the book of record.

The gateway process only appends to its journal (``book/journal.py``); this process, started and
supervised by it (``fixgate.supervisor``), reads the journal's whole frames as they land and commits
them to PostgreSQL through one :class:`~book.writer.BookWriter` (batched, group-committed, retried
while the database is away, a record it refuses set aside). With every batch it commits how far into
the journal the batch reaches (``book_positions``, row ``book:<instance>``), so a restarted writer goes
on from exactly the next frame: every record is written once, in journal order. It follows the
current run's segment only; the segments of earlier runs are written by the gateway's start-up replay
before this process starts.

Progress is also written to a small status file (JSON, replaced whole), which the gateway reads to
wait for the book (``BookLag.flush``) and to report the writer on ``/health`` without asking the
database.

    python -m book.follower --database-url URL --journal DIR/<segment>.journal --instance NAME --status FILE
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from book.database import run_sync
from book.hops import OrderHops, ReportHops
from book.journal import SegmentReader, segment_of
from book.writer import BookWriter, Position, connect, read_position
from domain.model import Breach, ExecutionRecord, MarkRecord, OrderRecord, PositionRecord

log = logging.getLogger("book.follower")

# What the book holds of the journal; the rest (client messages owed, marks of what went out) is the
# gateway's own.
BOOK_TYPES = (OrderRecord, ExecutionRecord, PositionRecord, MarkRecord, Breach, OrderHops, ReportHops)
_MAX_QUEUED = 50_000  # records read ahead of the database before reading pauses
_IDLE_SLEEP = (0.0005, 0.001, 0.002, 0.005)  # seconds between looks at the journal when nothing came


def consumer_name(instance: str) -> str:
    return f"book:{instance}"


@dataclass(frozen=True, slots=True)
class Status:
    """The writer's progress as its status file holds it."""

    segment: str
    offset: int  # the journal is in the book up to here
    pid: int
    at_ns: int  # when it last committed (or started)

    def write(self, path: Path) -> None:
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps({
            "segment": self.segment, "offset": self.offset, "pid": self.pid, "at_ns": self.at_ns,
        }))
        os.replace(temporary, path)

    @classmethod
    def read(cls, path: Path) -> Status | None:
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            return cls(str(data["segment"]), int(data["offset"]), int(data["pid"]), int(data["at_ns"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def start_offset(database_url: str, instance: str, segment: str, stop: threading.Event | None = None) -> int | None:
    """Where to start reading ``segment``: where this instance's writer last committed in it, else at
    its beginning (0). While the database is away it waits for it; None if ``stop`` is set meanwhile."""

    async def fetch() -> Position | None:
        conn = await connect(database_url)
        try:
            return await read_position(conn, consumer_name(instance))
        finally:
            await conn.close()

    while True:
        try:
            position = run_sync(fetch)
            break
        except Exception as exc:  # noqa: BLE001 - the database may be away: wait for it, as the writer does
            log.warning("book writer: cannot read its position yet (%s: %s); retrying", type(exc).__name__, exc)
            if stop is None:
                time.sleep(1.0)
            elif stop.wait(1.0):
                return None
    return position.offset if position is not None and position.segment == segment else 0


def follow(database_url: str, journal: Path, instance: str, status_path: Path, stop: threading.Event) -> None:
    """Write ``journal`` into the book as it grows, until ``stop`` is set and all of it is written."""
    segment = segment_of(journal)
    offset = start_offset(database_url, instance, segment, stop)
    if offset is None:
        return
    pid = os.getpid()
    reader = SegmentReader(journal, offset)
    # Past the segment's header, which holds nothing for the book: a journal with no frame yet is
    # all in the book (``BookLag`` compares this offset with the journal's size).
    reader.poll(0)
    Status(segment, reader.offset, pid, time.time_ns()).write(status_path)

    def committed(position: Position) -> None:
        Status(position.segment, position.offset, pid, time.time_ns()).write(status_path)

    writer = BookWriter(database_url, consumer=consumer_name(instance), on_commit=committed)
    writer.start()
    log.info("book writer following %s from byte %d", journal, offset)
    idle = 0
    try:
        while True:
            frames = reader.poll()
            if frames:
                idle = 0
                records = [r for _, _, frame in frames for r in frame if isinstance(r, BOOK_TYPES)]
                if records:
                    writer.submit(records)
                writer.mark(Position(segment, frames[-1][1]))
                while writer.pending > _MAX_QUEUED and writer.running:
                    time.sleep(0.01)
                continue
            if stop.is_set():
                break
            if os.getppid() == 1:  # the gateway is gone (and with it, whoever would stop us)
                log.warning("book writer: the gateway process ended; writing what the journal holds, then stopping")
                stop.set()
                continue
            time.sleep(_IDLE_SLEEP[min(idle, len(_IDLE_SLEEP) - 1)])
            idle += 1
    finally:
        reader.close()
        writer.stop(timeout=10.0)  # what it could not write is in the journal: the next start replays it
    log.info("book writer stopped at byte %d of %s", reader.offset, journal.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m book.follower", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--journal", type=Path, required=True, help="the segment to follow")
    parser.add_argument("--instance", required=True)
    parser.add_argument("--status", type=Path, required=True, help="progress file (JSON)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    follow(args.database_url, args.journal, args.instance, args.status, stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())


class BookLag:
    """The gateway's view of its book writer process: how far the book is behind the journal, read
    from the writer's status file (so it answers while the database is away)."""

    def __init__(self, journal: Any, status_path: Path, alive: Callable[[], bool] = lambda: True) -> None:
        self._journal = journal  # book.journal.Journal: its segment and its size so far
        self.status_path = status_path
        self._alive = alive

    def status(self) -> Status | None:
        status = Status.read(self.status_path)
        return status if status is not None and status.segment == self._journal.segment else None

    @property
    def running(self) -> bool:
        return self._alive()

    @property
    def pending(self) -> int:
        """Bytes of the journal the book does not hold yet."""
        status = self.status()
        size: int = self._journal.size
        return size - (status.offset if status is not None else 0)

    def drain(self, stall: float = 5.0) -> bool:
        """Wait until the book holds the journal, as long as the writer keeps writing: False once it
        has written nothing for ``stall`` seconds (the database is away)."""
        last = -1
        while not self.flush(timeout=stall):
            status = self.status()
            offset = status.offset if status is not None else 0
            if offset == last:
                return False
            last = offset
        return True

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the book holds everything journaled before this call; False on timeout."""
        self._journal.flush_later()
        target = self._journal.size
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if status is not None and status.offset >= target:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
