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

    DATABASE_URL=URL python -m book.follower --journal DIR/<segment>.journal --instance NAME --status FILE
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from book.database import run_sync
from book.files import write_whole
from book.hops import OrderHops, ReportHops
from book.journal import Journal, SegmentReader, segment_of, set_aside
from book.signals import SignalStop
from book.writer import BookWriter, Position, connect, read_position
from domain.model import Breach, ExecutionRecord, MarkRecord, OrderRecord, PositionRecord

log = logging.getLogger("book.follower")

# What the book holds of the journal; the rest (client messages owed, marks of what went out) is the
# gateway's own.
BOOK_TYPES = (OrderRecord, ExecutionRecord, PositionRecord, MarkRecord, Breach, OrderHops, ReportHops)
_MAX_QUEUED = 50_000  # records read ahead of the database before reading pauses
# Seconds between looks at the journal when nothing came (the book's lag when trading starts again).
_IDLE_SLEEP = (0.002, 0.005, 0.01, 0.02)
_GATHER_S = 0.002  # after a look that found frames: let more land, so a look reads a batch, not a frame
_STATUS_EVERY_NS = 20_000_000  # the status file is rewritten at most this often, unless caught up
_MAX_READ = 10_000  # records read in one look


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
        write_whole(path, json.dumps({"segment": self.segment, "offset": self.offset, "pid": self.pid,
                                      "at_ns": self.at_ns}))

    @classmethod
    def read(cls, path: Path) -> Status | None:
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            return cls(str(data["segment"]), int(data["offset"]), int(data["pid"]), int(data["at_ns"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def start_offset(database_url: str, instance: str, segment: str,
                 stop: threading.Event | SignalStop | None = None) -> int | None:
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


def hold(journal: Path) -> BinaryIO:
    """Lock ``journal`` as its book writer (until the returned file is closed, or the process ends)."""
    guard = journal.open("rb")
    fcntl.flock(guard, fcntl.LOCK_EX)
    return guard


def wait_for_writers(journals: Iterable[Path]) -> None:
    """Return once no book writer holds any of ``journals``: a writer of a run that was killed may be
    committing its last batch, and the next start must not replay under it (it would write older
    states after the replay's newer ones)."""
    for path in journals:
        try:
            with path.open("rb") as fh:
                if _locked(fh):
                    log.warning("waiting for the book writer of the last run to stop (%s)", path.name)
                    fcntl.flock(fh, fcntl.LOCK_EX)
        except FileNotFoundError:
            pass


def _locked(fh: BinaryIO) -> bool:
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(fh, fcntl.LOCK_UN)
    return False


def follow(database_url: str, journal: Path, instance: str, status_path: Path,
           stop: threading.Event | SignalStop) -> None:
    """Write ``journal`` into the book as it grows, until ``stop`` is set: then what was read is
    committed and the rest left to the journal (the gateway waits for the book before it stops us;
    after a kill, the next start replays it), so a writer outliving its gateway stops at once."""
    guard = hold(journal)  # the next start waits for this process before it replays the segment
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

    written_ns = 0

    def committed(position: Position) -> None:
        nonlocal written_ns
        now = time.time_ns()
        if writer.pending == 0 or now - written_ns >= _STATUS_EVERY_NS:
            Status(position.segment, position.offset, pid, now).write(status_path)
            written_ns = now

    writer = BookWriter(database_url, consumer=consumer_name(instance), on_commit=committed,
                        on_reject=lambda record, _reason: log.error(
                            "kept in %s for a person to look at", set_aside(journal, record).name))
    writer.start()
    log.info("book writer following %s from byte %d", journal, offset)
    idle = 0
    try:
        while not stop.is_set():
            if not writer.running:
                raise RuntimeError(f"the book writer thread ended (last error: {writer.last_error})")
            frames = reader.poll(_MAX_READ)
            if frames:
                idle = 0
                records = [r for _, _, frame in frames for r in frame if isinstance(r, BOOK_TYPES)]
                if records:
                    writer.submit(records)
                writer.mark(Position(segment, frames[-1][1]))
                while writer.pending > _MAX_QUEUED and writer.running and not stop.is_set():
                    time.sleep(0.01)
                if sum(len(frame) for _, _, frame in frames) < _MAX_READ:
                    time.sleep(_GATHER_S)
                continue
            time.sleep(_IDLE_SLEEP[min(idle, len(_IDLE_SLEEP) - 1)])
            idle += 1
    finally:
        reader.close()
        writer.stop(timeout=10.0)  # what it could not write is in the journal: the next start replays it
        guard.close()
    log.info("book writer stopped at byte %d of %s", reader.offset, journal.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m book.follower", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="the book (else DATABASE_URL: a password stays out of ps)")
    parser.add_argument("--journal", type=Path, required=True, help="the segment to follow")
    parser.add_argument("--instance", required=True)
    parser.add_argument("--status", type=Path, required=True, help="progress file (JSON)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = SignalStop().install()  # never threading.Event: see book.signals
    database_url = args.database_url or os.environ.get("DATABASE_URL")
    if not database_url:
        parser.error("no database: --database-url or DATABASE_URL")
    follow(database_url, args.journal, args.instance, args.status, stop)
    return 0


class BookLag:
    """The gateway's view of its book writer process: how far the book is behind the journal, read
    from the writer's status file (so it answers while the database is away)."""

    def __init__(self, journal: Journal, status_path: Path, alive: Callable[[], bool] = lambda: True) -> None:
        self._journal = journal
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
        return self._journal.size - (status.offset if status is not None else 0)

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
        def reached() -> tuple[str, int] | None:
            status = Status.read(self.status_path)
            return None if status is None else (status.segment, status.offset)

        return self._journal.wait_followed(reached, timeout)


if __name__ == "__main__":
    sys.exit(main())
