"""The book writer process follows a journal into PostgreSQL: every record once, in order, and after a
SIGKILL it goes on from the position it committed with the rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

from book.follower import Status, consumer_name, start_offset, wait_for_writers
from book.journal import Journal, replay, segment_of
from domain.model import OrderStatus
from fixgate.supervisor import Child, Supervisor
from tests.support import book_rows as rows
from tests.support import eventually, running
from tests.unit.book import samples

REPO = Path(__file__).resolve().parents[2]


def follower(database_url: str, journal: Journal, status: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "book.follower", "--database-url", database_url, "--journal", str(journal.path),
         "--instance", "east", "--status", str(status)],
        cwd=REPO, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )


def frames(first: int, count: int) -> list[list[object]]:
    """An order, then a fill of 1 on it per frame (cum qty growing): each frame a new row state."""
    out: list[list[object]] = [[samples.order(1, cum_qty=D(0), status=OrderStatus.NEW)]]
    for n in range(first, first + count):
        out.append([
            samples.order(1, cum_qty=D(n)),
            replace(samples.execution(f"E{n}"), cum_qty=D(n), venue_exec_id=f"X{n}"),
        ])
    return out


def committed(status: Path) -> int:
    found = Status.read(status)
    return -1 if found is None else found.offset


def test_a_journal_is_written_once_in_order_across_a_kill_of_the_writer(tmp_path: Path, database_url: str) -> None:
    journal = Journal(tmp_path / "journal")
    status = tmp_path / "book-writer.status"
    log = tmp_path / "book-writer.log"
    proc = follower(database_url, journal, status, log)
    try:
        for frame in frames(1, 200):
            journal.append(frame)
        eventually(lambda: committed(status), lambda offset: offset == journal.size, timeout=30)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # What comes while it is down waits in the journal; the restart goes on from its position.
        for frame in frames(201, 200)[1:]:
            journal.append(frame)
        proc = follower(database_url, journal, status, log)
        eventually(lambda: committed(status), lambda offset: offset == journal.size, timeout=30)
    finally:
        proc.terminate()
        proc.wait(30)
    assert proc.returncode == 0
    seqs = rows(database_url, "SELECT exec_id, seq FROM executions ORDER BY seq")
    assert [r["exec_id"] for r in seqs] == [f"E{n}" for n in range(1, 401)]  # in journal order
    [order] = rows(database_url, "SELECT cum_qty FROM orders")
    assert order["cum_qty"] == 400  # the last state written wins
    [position] = rows(database_url, "SELECT consumer, segment, byte_offset FROM book_positions")
    assert (position["consumer"], position["segment"], position["byte_offset"]) == (
        consumer_name("east"), journal.segment, journal.size)
    started = [line for line in log.read_text().splitlines() if "following" in line]
    assert len(started) == 2 and not started[1].endswith("from byte 0")  # resumed, not replayed from the start


def test_a_writer_that_starts_while_the_database_is_away_waits_for_it(tmp_path: Path, database_url: str) -> None:
    journal = Journal(tmp_path / "journal")
    journal.append([samples.order(1)])
    status = tmp_path / "book-writer.status"
    missing = database_url.rsplit("/", 1)[0] + "/fixgate_missing_database"
    proc = follower(missing, journal, status, tmp_path / "book-writer.log")
    try:
        time.sleep(1.5)
        assert proc.poll() is None and committed(status) == -1  # waiting, not dead, nothing claimed
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_child_that_dies_is_started_again_and_stopped_with_the_supervisor(tmp_path: Path) -> None:
    supervisor = Supervisor()
    supervisor.start()
    child = supervisor.add(Child("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"],
                                 tmp_path / "sleeper.log", stop_grace_s=5))
    first = child.pid
    assert first is not None and child.running
    os.kill(first, signal.SIGKILL)
    eventually(lambda: (child.pid, child.running), lambda s: s[0] != first and s[1], timeout=10)
    assert child.starts == 2 and child.last_exit == -signal.SIGKILL
    second = child.pid
    supervisor.stop()
    assert not child.running and second is not None
    assert supervisor.status()["sleeper"]["starts"] == 2


def test_children_die_with_the_gateway(tmp_path: Path) -> None:
    # A parent that supervises a child and is then SIGKILLed, as a gateway may be.
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from fixgate.supervisor import Child, Supervisor\n"
        "s = Supervisor(); s.start()\n"
        "c = s.add(Child('sleeper', [sys.executable, '-c', 'import time; time.sleep(60)'], Path(sys.argv[1])))\n"
        "print(c.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "c.log")], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)

    eventually(lambda: running(child_pid), lambda alive: not alive, timeout=10)


def test_the_next_start_waits_for_the_writer_of_a_killed_run(tmp_path: Path, database_url: str) -> None:
    # A writer behind (the database slow for a moment) when its gateway is killed: were the next start
    # to replay under it, it would write the dead run's older row states over the new run's.
    directory = tmp_path / "journal"
    journal = Journal(directory)
    status = tmp_path / "book-writer.status"
    old = follower(database_url, journal, status, tmp_path / "old.log")
    new: subprocess.Popen[bytes] | None = None
    try:
        for frame in frames(1, 5):
            journal.append(frame)
        eventually(lambda: committed(status), lambda offset: offset == journal.size, timeout=30)
        old.send_signal(signal.SIGSTOP)
        for frame in frames(6, 300)[1:]:
            journal.append(frame)
        journal.close()
        old.send_signal(signal.SIGTERM)  # the gateway is gone: PR_SET_PDEATHSIG (delivered once it runs)

        started: list[Journal] = []

        def next_start() -> None:  # as Fixgate.start does it
            pending = Journal.pending(directory)
            wait_for_writers(pending)
            last = segment_of(pending[-1])
            replayed = replay(directory, database_url, written=(last, start_offset(database_url, "east", last) or 0))
            started.append(Journal(directory))
            replayed.carry_over((), started[0])

        starting = threading.Thread(target=next_start)
        starting.start()
        starting.join(1.5)
        assert starting.is_alive()  # held by the old writer's lock on the segment
        old.send_signal(signal.SIGCONT)
        starting.join(60)
        assert not starting.is_alive() and old.wait(30) == 0
        new_journal = started[0]
        new = follower(database_url, new_journal, tmp_path / "new.status", tmp_path / "new.log")
        new_journal.append([samples.order(1, cum_qty=D(1000))])  # the new run fills the order further
        eventually(lambda: committed(tmp_path / "new.status"), lambda o: o == new_journal.size, timeout=30)
    finally:
        for proc in (old, new):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
                proc.wait(30)
    [order] = rows(database_url, "SELECT cum_qty FROM orders")
    [position] = rows(database_url, "SELECT segment FROM book_positions")
    assert (order["cum_qty"], position["segment"]) == (1000, new_journal.segment)
    executions = rows(database_url, "SELECT count(*) AS n FROM executions")
    assert executions[0]["n"] == 305  # E1-E305, each once


def test_a_record_the_writer_refuses_is_kept_beside_its_segment(tmp_path: Path, database_url: str) -> None:
    journal = Journal(tmp_path / "journal")
    status = tmp_path / "book-writer.status"
    proc = follower(database_url, journal, status, tmp_path / "w.log")
    try:
        journal.append([samples.order(1)])
        journal.append([samples.execution("E-ORPHAN", order_id=404)])  # the foreign key refuses it
        journal.append([samples.order(2)])
        eventually(lambda: committed(status), lambda offset: offset == journal.size, timeout=30)
    finally:
        proc.terminate()
        proc.wait(30)
    assert [r["order_id"] for r in rows(database_url, "SELECT order_id FROM orders ORDER BY 1")] == [1, 2]
    [kept] = (tmp_path / "journal").glob("*.writer-refused")
    assert [r.exec_id for r in Journal.read(kept)] == ["E-ORPHAN"]
