"""The bus publisher against a real nats-server: every journal record reaches JetStream as one event,
once, in journal order, through kills of the publisher and of the server; and `fixgate events tail`."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import nats
import pytest

from book.journal import BOOKED_SUFFIX, Journal, SegmentReader
from bus.events import EventId, decode, event, kind_of, stream_name, subject
from bus.publisher import Status
from bus.server import EmbeddedNats
from tests.support import bus_events, eventually, free_port, running
from tests.unit.book import samples

REPO = Path(__file__).resolve().parents[2]
INSTANCE = "t1"

pytestmark = pytest.mark.timeout(120)


# -- HELPERS -----------------------------------------------------------------------------------------


def flow(n: int, start: int = 1) -> Iterator[list[Any]]:
    """Frames as an OMS writes them: a fill's position, mark, execution, order and client report."""
    for i in range(start, start + n):
        yield [samples.position(), samples.mark(), samples.execution(f"E{i}", i), samples.order(i),
               samples.report(f"R{i}")]


def write(journal: Journal, frames: Iterator[list[Any]]) -> None:
    for frame in frames:
        journal.append(frame)


def booked(directory: Path, frames: Iterator[list[Any]]) -> Path:
    """A closed segment of an earlier run, as the gateway's start leaves it for the bus."""
    journal = Journal(directory)
    write(journal, frames)
    journal.close()
    path = journal.path.with_suffix(BOOKED_SUFFIX)
    os.replace(journal.path, path)
    return path


def expected(*paths: Path) -> list[dict[str, Any]]:
    """The events of the segments' records, in journal order."""
    events = []
    for path in paths:
        reader = SegmentReader(path)
        for offset, _end, records in reader.poll(max_records=10**9):
            events += [event(INSTANCE, reader.segment, offset, i, r) for i, r in enumerate(records)]
        reader.close()
    return events


def stream(url: str, raw: bool = False) -> list[tuple[str, Any, Any]]:
    """Every message of the instance's stream, in order (``tests.support.bus_events``)."""
    return bus_events(url, INSTANCE, raw)


def stream_count(url: str) -> int:
    async def fetch() -> int:
        nc = await nats.connect(url, allow_reconnect=False)
        try:
            try:
                info = await nc.jetstream().stream_info(stream_name(INSTANCE))
            except nats.js.errors.NotFoundError:
                return 0
            return int(info.state.messages)
        finally:
            await nc.close()

    return asyncio.run(fetch())


def assert_exactly(url: str, events: list[dict[str, Any]]) -> None:
    """The stream holds ``events``, each once, in order, on its kind's subject, under its id."""
    got = stream(url)
    assert [body["id"] for _, _, body in got] == [e["id"] for e in events]
    assert [msg_id for _, msg_id, _ in got] == [e["id"] for e in events]
    assert [body for _, _, body in got] == events
    assert [s for s, _, _ in got] == [subject(INSTANCE, e["kind"]) for e in events]


class Publisher:
    """``python -m bus.publisher`` as the gateway's supervisor runs it."""

    def __init__(self, url: str, journal_dir: Path, status: Path, log_path: Path) -> None:
        self.argv = [sys.executable, "-m", "bus.publisher", "--nats-url", url, "--journal-dir", str(journal_dir),
                     "--instance", INSTANCE, "--status", str(status)]
        self.status_path = status
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Publisher:
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(self.argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        return self

    def status(self) -> Status | None:
        return Status.read(self.status_path)

    def wait_connected(self) -> Status:
        """This process's status once it is publishing (its signal handlers in place)."""
        assert self.process is not None
        pid = self.process.pid
        status: Status = eventually(self.status, lambda s: s is not None and s.pid == pid and s.connected)
        return status

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def ensure_stopped(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path / "data").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def publisher(tmp_path: Path, bus: EmbeddedNats) -> Iterator[Publisher]:
    p = Publisher(bus.url, tmp_path / "journal", tmp_path / "publisher.json", tmp_path / "publisher.log")
    (tmp_path / "journal").mkdir()
    try:
        yield p
    finally:
        p.ensure_stopped()


# -- TESTS -------------------------------------------------------------------------------------------


def test_every_record_once_in_order_booked_then_current(tmp_path: Path, bus: EmbeddedNats,
                                                        publisher: Publisher) -> None:
    journal_dir = tmp_path / "journal"
    old = booked(journal_dir, flow(50))
    everything = [samples.every_type(), *flow(20, start=100)]
    current = Journal(journal_dir)
    write(current, iter(everything[:10]))
    old_events = expected(old)
    publisher.start()

    eventually(lambda: stream_count(bus.url), lambda n: n >= len(old_events) + len(expected(current.path)))
    write(current, iter(everything[10:]))  # the current segment grows while followed
    events = old_events + expected(current.path)
    eventually(lambda: stream_count(bus.url), lambda n: n >= len(events))
    publisher.wait_connected()
    assert publisher.stop() == 0

    assert_exactly(bus.url, events)
    assert not old.exists()  # wholly on the bus: deleted
    assert current.path.exists()  # the gateway's own
    kinds = {e["kind"] for e in events}
    assert {"orders", "fills", "positions", "marks", "client", "sent"} <= kinds
    assert all(e["kind"] == kind_of(r) for e, r in zip(expected(current.path)[:12], samples.every_type(),
                                                        strict=True))
    status = publisher.status()
    assert status is not None and status.segment == current.segment and status.offset == current.size
    assert status.published == len(events)
    current.close()


def test_restarted_publisher_resumes_after_the_last_event(tmp_path: Path, bus: EmbeddedNats,
                                                          publisher: Publisher) -> None:
    """Killed at random moments while publishing, restarted each time: every event once, in order."""
    rng = random.Random(14)
    journal_dir = tmp_path / "journal"
    segments = [booked(journal_dir, flow(1500)), booked(journal_dir, flow(1500, start=2000))]
    current = Journal(journal_dir)
    write(current, flow(1500, start=4000))
    events = expected(*segments, current.path)
    at_kills = []
    for _ in range(5):
        publisher.start().wait_connected()
        time.sleep(rng.uniform(0.0, 0.5))
        publisher.kill()
        at_kills.append(stream_count(bus.url))
    assert any(0 < n < len(events) for n in at_kills), at_kills  # some kills came in mid-stream
    publisher.start().wait_connected()
    eventually(lambda: stream_count(bus.url), lambda n: n >= len(events), timeout=60)
    assert publisher.stop() == 0
    assert_exactly(bus.url, events)
    assert not any(p.exists() for p in segments)
    current.close()


def test_bus_killed_and_restarted_while_publishing(tmp_path: Path, bus: EmbeddedNats,
                                                   publisher: Publisher) -> None:
    journal_dir = tmp_path / "journal"
    current = Journal(journal_dir)
    write(current, flow(3000))
    publisher.start().wait_connected()
    eventually(lambda: stream_count(bus.url), lambda n: n > 0)
    bus.kill()
    down = eventually(publisher.status, lambda s: s is not None and not s.connected)
    write(current, flow(500, start=5000))  # trading goes on while the bus is down
    # It keeps trying (each failed attempt rewrites its status) and still says it is not connected.
    eventually(publisher.status, lambda s: s is not None and not s.connected and s.at_ns > down.at_ns
               and s.last_error is not None)
    bus.start()
    eventually(publisher.status, lambda s: s is not None and s.connected)
    events = expected(current.path)
    eventually(lambda: stream_count(bus.url), lambda n: n >= len(events), timeout=60)
    assert publisher.stop() == 0
    assert_exactly(bus.url, events)
    current.close()


def test_events_tail_prints_a_fill(tmp_path: Path, bus: EmbeddedNats, publisher: Publisher) -> None:
    journal_dir = tmp_path / "journal"
    current = Journal(journal_dir)
    write(current, iter([[samples.order(7)]]))
    publisher.start()
    eventually(lambda: stream_count(bus.url), lambda n: n >= 1)  # the stream exists
    tail = subprocess.Popen(
        [sys.executable, "-m", "fixgate.cli", "events", "tail", "--kind", "fills", "--instance", INSTANCE,
         "--nats-url", bus.url],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert tail.stderr is not None and tail.stdout is not None
        assert "watching" in tail.stderr.readline()  # subscribed: what comes from now on is shown
        fill = replace(samples.execution("E9", 7), last_qty=Decimal(25), last_px=Decimal("191.5"))
        write(current, iter([[samples.position(), fill, samples.order(7), samples.report("R9")]]))
        line = tail.stdout.readline()
    finally:
        tail.send_signal(signal.SIGINT)
        tail.wait(timeout=10)
    assert "fills" in line and "order 7" in line and "SELL 25 AAPL @ 191.5" in line, line
    current.close()


def test_events_tail_without_a_bus(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NATS_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "fixgate.cli", "events", "tail", "--data-dir", str(tmp_path / "nothing")],
        cwd=REPO, capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert done.returncode == 2
    assert "NATS_URL" in done.stderr
    dead = f"nats://127.0.0.1:{free_port()}"
    done = subprocess.run([sys.executable, "-m", "fixgate.cli", "events", "tail"], cwd=REPO, capture_output=True,
                          text=True, env={**env, "NATS_URL": dead}, timeout=60, check=False)
    assert done.returncode == 2
    assert f"no NATS server at {dead}" in done.stderr
    done = subprocess.run([sys.executable, "-m", "fixgate.cli", "events", "tail", "--instance", ">"], cwd=REPO,
                          capture_output=True, text=True, env={**env, "NATS_URL": dead}, timeout=60, check=False)
    assert done.returncode == 2 and "instance name '>'" in done.stderr  # not a wildcard over every instance


def test_event_ids_sort_in_journal_order(tmp_path: Path) -> None:
    journal_dir = tmp_path / "journal"
    first = booked(journal_dir, flow(3))
    second = Journal(journal_dir)
    write(second, flow(3))
    ids = [EventId.parse(e["id"]) for e in expected(first, second.path)]
    assert [i.position() for i in ids] == sorted(i.position() for i in ids)
    second.close()


def test_the_consumer_example_prints_fills(tmp_path: Path, bus: EmbeddedNats, publisher: Publisher) -> None:
    """docs/examples/consume_fills.py, as EVENTS.md tells a reader to run it."""
    journal_dir = tmp_path / "journal"
    current = Journal(journal_dir)
    write(current, flow(2))
    publisher.start()
    eventually(lambda: stream_count(bus.url), lambda n: n >= 10)
    env = {**os.environ, "NATS_URL": bus.url, "FIXGATE_INSTANCE": INSTANCE}
    consumer = subprocess.Popen([sys.executable, "docs/examples/consume_fills.py"], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, text=True)
    try:
        assert consumer.stdout is not None
        lines = [consumer.stdout.readline() for _ in range(3)]
    finally:
        consumer.send_signal(signal.SIGINT)
        consumer.wait(timeout=10)
    assert "consuming" in lines[0]
    fills = [e for e in expected(current.path) if e["kind"] == "fills"]
    assert [line.split()[0] for line in lines[1:]] == [e["id"] for e in fills]
    assert "order 1: 40 @ 190.0100 = 7600.4000 " in lines[1]
    current.close()


def test_stopped_while_the_bus_is_down(tmp_path: Path) -> None:
    """No bus: it says so in its status, keeps trying, and SIGTERM still ends it at once, cleanly."""
    (tmp_path / "journal").mkdir()
    dead = f"nats://127.0.0.1:{free_port()}"
    p = Publisher(dead, tmp_path / "journal", tmp_path / "publisher.json", tmp_path / "publisher.log").start()
    try:
        first = eventually(p.status, lambda s: s is not None and s.last_error is not None)
        assert not first.connected
        eventually(p.status, lambda s: s is not None and s.at_ns > first.at_ns)  # another attempt
        assert p.stop() == 0
    finally:
        p.ensure_stopped()


def test_segments_of_a_gateway_between_runs(tmp_path: Path, bus: EmbeddedNats, publisher: Publisher) -> None:
    """An earlier run's segment not yet replayed is published but left for the gateway's start; once
    that start books it (and the current one) and begins a new segment, they go, the new one follows."""
    journal_dir = tmp_path / "journal"
    old = booked(journal_dir, flow(5))
    unreplayed = Journal(journal_dir)
    write(unreplayed, flow(5, start=10))
    unreplayed.close()
    current = Journal(journal_dir)
    write(current, flow(5, start=20))
    events = expected(old, unreplayed.path, current.path)
    publisher.start()
    eventually(lambda: stream_count(bus.url), lambda n: n >= len(events))
    eventually(lambda: old.exists(), lambda exists: not exists)
    assert unreplayed.path.exists() and current.path.exists()

    current.close()  # the gateway restarts: its start replays both and books them, then a new run
    for journal in (unreplayed, current):
        os.replace(journal.path, journal.path.with_suffix(BOOKED_SUFFIX))
    following = Journal(journal_dir)
    write(following, flow(5, start=30))
    events += expected(following.path)
    eventually(lambda: stream_count(bus.url), lambda n: n >= len(events))
    eventually(lambda: sorted(p.name for p in journal_dir.iterdir() if p.name != "segment-mark"),
               lambda names: names == [following.path.name])
    assert publisher.stop() == 0
    assert_exactly(bus.url, events)
    following.close()


def test_a_stray_message_in_the_stream(tmp_path: Path, bus: EmbeddedNats, publisher: Publisher) -> None:
    """Someone else publishes onto the instance's subjects: the publisher's next publish is refused (not
    the sequence it follows), and it goes on after its own last event, every event still once, in order."""
    journal_dir = tmp_path / "journal"
    current = Journal(journal_dir)
    write(current, flow(20))
    publisher.start().wait_connected()
    first = expected(current.path)
    eventually(lambda: stream_count(bus.url), lambda n: n >= len(first))

    async def stray() -> None:
        nc = await nats.connect(bus.url)
        try:
            await nc.jetstream().publish(subject(INSTANCE, "fills"), b"not an event")
        finally:
            await nc.close()

    asyncio.run(stray())
    write(current, flow(20, start=100))
    events = expected(current.path)
    eventually(lambda: stream_count(bus.url), lambda n: n >= len(events) + 1)
    assert publisher.stop() == 0
    got = stream(bus.url, raw=True)
    assert got[len(first)] == (subject(INSTANCE, "fills"), None, b"not an event")
    del got[len(first)]
    assert [(s, i, decode(d)) for s, i, d in got] == [(subject(INSTANCE, e["kind"]), e["id"], e) for e in events]
    current.close()


def test_tail_has_a_line_for_every_kind_of_record() -> None:
    from datetime import UTC, datetime

    from book.hops import OrderHops, ReportHops
    from bus.tail import line
    from domain.model import Breach, Control, TradingState

    records = [*samples.every_type(), OrderHops(1, 2, 3, None), ReportHops("E1", 4, 5),
               Breach(None, TradingState.HALTED, Decimal("5012.5"), Decimal(5000), "daily loss 5012.5 > max 5000", 6),
               Control("KILL", "account", "ACC", "ops", 7, "runaway")]
    now = datetime.now(UTC)
    for record in records:
        body = event(INSTANCE, "01796250000000000000", 100, 0, record)
        text = line(body, now)
        assert body["kind"] in text and "=" not in text, text  # its own summary, not the fallback
    fill = event(INSTANCE, "01796250000000000000", 100, 2, samples.execution())
    assert "order 1" in line(fill, now, ("SELL", "AAPL")) and "SELL 40 AAPL @ 190.0100" in line(fill, now, ("SELL", "AAPL"))


def test_the_embedded_server_takes_only_clients_with_its_token(tmp_path: Path, bus: EmbeddedNats) -> None:
    assert stream_count(bus.url) == 0  # with the token (in the URL): served
    bare = f"nats://127.0.0.1:{bus.port}"

    async def without_token() -> None:
        await nats.connect(bare, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2)

    with pytest.raises(Exception, match="(?i)authorization"):
        asyncio.run(without_token())
    for name in ("token", "server.conf", "url"):  # the token's copies are the owner's only
        assert (tmp_path / "data" / "nats" / name).stat().st_mode & 0o077 == 0
    secret = bus.url.split("//")[1].split("@")[0]
    assert secret and secret not in " ".join(bus.argv)  # never on a command line (ps)


def test_a_publisher_whose_gateway_is_killed_ends_even_with_the_bus_down(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal")
    write(journal, flow(3))
    dead = f"nats://127.0.0.1:{free_port()}"
    script = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from fixgate.supervisor import Child, Supervisor\n"
        "s = Supervisor(); s.start()\n"
        "c = s.add(Child('bus-publisher', [sys.executable, '-m', 'bus.publisher', '--journal-dir', sys.argv[1],\n"
        "          '--instance', 'x', '--status', sys.argv[2]], Path(sys.argv[3]), env={**os.environ, 'NATS_URL': sys.argv[4]}))\n"
        "print(c.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script, str(journal.directory), str(tmp_path / "status"),
                               str(tmp_path / "publisher.log"), dead], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    pid = int(parent.stdout.readline())
    eventually(lambda: Status.read(tmp_path / "status"), lambda s: s is not None and not s.connected, timeout=20)
    parent.send_signal(signal.SIGKILL)  # the gateway dies while its publisher cannot reach the bus
    parent.wait(10)

    eventually(lambda: running(pid), lambda alive: not alive, timeout=20)
    journal.close()
