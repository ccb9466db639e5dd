"""The bus publisher process: every record of an instance's journal, published to NATS JetStream as
one event, exactly once, in journal order.

The gateway only appends to its journal (``book/journal.py``); this process, started and supervised
by it (``fixgate.supervisor``), reads the journal's whole frames and publishes each record as an event
(``bus.events``) on ``fixgate.<instance>.<kind>``, into the instance's stream ``FIXGATE_<instance>``
(made here if missing). It reads the earlier runs' segments the book holds (``*.booked``, oldest
first: each is deleted once JetStream has acknowledged all of it), then follows the current run's
segment as it grows.

Exactly once, in order. The stream itself is the publisher's position: on every (re)connection it
reads the stream's last message, whose ``Nats-Msg-Id`` is the id of the last event stored, which says
where in the journal that event lies (``EventId``); publishing resumes right after it. Publishes are
pipelined (many in flight, acknowledged in order), and each carries the stream sequence and the id of
the event before it (``Nats-Expected-Last-Sequence``, ``Nats-Expected-Last-Msg-Id``): JetStream stores an
event only directly after its predecessor, so an event refused or lost in flight (the bus going down, a
stray message someone else published) fails every later one in the pipeline too, never leaving a gap
behind a stored successor. ``Nats-Msg-Id`` is the second guard: the same event
from a publisher killed mid-flight and its successor is stored once (within the duplicate window).

The bus being down never stops it: it reconnects with backoff, and the journal keeps everything
meanwhile. It exits on SIGTERM (after publishing what the journal holds, for a few seconds at most, if
the bus is up), and on anything unexpected (an unreadable journal), logged, for its supervisor to
restart it. Its progress is in a small status file (JSON, replaced whole) for ``/health``.

    NATS_URL=URL python -m bus.publisher --journal-dir DIR --instance NAME --status FILE
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig

from book.files import write_whole
from book.journal import BOOKED_SUFFIX, SEGMENT_SUFFIX, Journal, SegmentReader, in_order, segment_of
from bus.events import EventId, check_instance, encoded_event, stream_name, subject
from bus.server import servers

log = logging.getLogger("bus.publisher")

MSG_ID = "Nats-Msg-Id"
EXPECTED_LAST_SEQ = "Nats-Expected-Last-Sequence"
EXPECTED_LAST_MSG_ID = "Nats-Expected-Last-Msg-Id"
DUPLICATE_WINDOW_S = 600.0  # JetStream remembers event ids this long (the guard against a repeat)
_ACK_EVERY = 250  # publishes per acknowledgement asked for
_MAX_ACKS_IN_FLIGHT = 16  # so about 4,000 events in flight
_ACK_TIMEOUT_S = 10.0  # an ack this late: the connection is taken for lost
_API_TIMEOUT_S = 5.0
_LOOK_BACK = 100  # messages passed over, looking for the stream's last event
_STOP_GRACE_S = 4.0  # after SIGTERM, how long to go on publishing what the journal holds
_CLOSE_TIMEOUT_S = 3.0  # closing a connection
_BACKOFF_S = (0.1, 5.0)  # first and longest wait between connection attempts
_STATUS_EVERY_S = 0.1
_HEARTBEAT_S = 1.0
_READ_BATCH = 2000  # records per look at the journal
# Seconds between looks at the journal when nothing came: short enough for a dashboard, long enough
# that a process of its own does not wake thousands of times a second on a machine of two cores.
_IDLE_SLEEP = (0.002, 0.005, 0.01, 0.02)

Position = tuple[int, int, int]  # EventId.position(): (segment, frame offset, index in frame)


class BusLost(Exception):
    """The connection to the bus ended, or an acknowledgement did not come."""


# What sends the publisher back to reconnecting; anything else is unexpected.
BUS_ERRORS = (nats.errors.Error, BusLost, OSError, asyncio.TimeoutError)


@dataclass(frozen=True, slots=True)
class Status:
    """The publisher's progress as its status file holds it."""

    connected: bool
    segment: str  # the journal is on the bus up to ``offset`` of this segment
    offset: int
    published: int  # events JetStream acknowledged since this process started
    last_error: str | None
    at_ns: int
    pid: int

    def write(self, path: Path) -> None:
        write_whole(path, json.dumps(asdict(self)))

    @classmethod
    def read(cls, path: Path) -> Status | None:
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            return cls(bool(data["connected"]), str(data["segment"]), int(data["offset"]), int(data["published"]),
                       data.get("last_error"), int(data["at_ns"]), int(data["pid"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def stream_config(instance: str) -> StreamConfig:
    """The instance's stream as the publisher makes it: all its subjects, on disk, ids remembered for
    ``DUPLICATE_WINDOW_S``, nothing expired (a consumer's business, or an operator's)."""
    return StreamConfig(
        name=stream_name(instance), subjects=[subject(instance, ">")], storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_S,
        description=f"fixgate instance {instance}: every journal record as an event (docs/EVENTS.md)",
    )


async def ensure_stream(js: JetStreamContext, instance: str) -> None:
    """Make the instance's stream if it is missing; one that exists is left as it is."""
    name = stream_name(instance)
    try:
        await js.stream_info(name)
        return
    except nats.js.errors.NotFoundError:
        pass
    try:
        await js.add_stream(stream_config(instance))
        log.info("stream %s created", name)
    except nats.js.errors.BadRequestError as exc:
        if exc.err_code != 10058:  # "stream name already in use": someone made it meanwhile
            raise


async def last_published(js: JetStreamContext, instance: str) -> tuple[EventId | None, int]:
    """The last event the stream holds (None: none yet) and the stream's last sequence.

    The last message is normally that event; one that is not (published by someone else onto the
    instance's subjects, or removed by a limit) is passed over, back to ``_LOOK_BACK`` messages."""
    name = stream_name(instance)
    state = (await js.stream_info(name)).state
    last_seq = state.last_seq
    if not state.messages:
        if last_seq:
            raise ValueError(f"stream {name} is empty after sequence {last_seq} (purged, or its limits removed"
                             " every event): its last event, where publishing goes on from, is lost")
        return None, 0
    for seq in range(last_seq, max(state.first_seq, last_seq - _LOOK_BACK) - 1, -1):
        try:
            msg = await js.get_msg(name, seq)
        except nats.js.errors.NotFoundError:
            continue
        msg_id = (msg.headers or {}).get(MSG_ID)
        try:
            last = EventId.parse(msg_id) if msg_id is not None else None
        except ValueError:
            last = None
        if last is not None and last.instance == instance:
            if seq != last_seq:
                log.warning("stream %s: its last %d messages are not events of %s", name, last_seq - seq, instance)
            return last, last_seq
    raise ValueError(f"stream {name}: none of its last {_LOOK_BACK} messages is an event of {instance!r}")


class Refused(BusLost):
    """JetStream refused a publish (e.g. not the sequence or id it follows): go on from the stream."""


@dataclass(slots=True)
class _Awaited:
    """An acknowledgement asked for (None: the end of a batch, nothing to wait for), and what it
    confirms: the journal up to ``offset`` of ``segment``, ``events`` events."""

    ack: asyncio.Future[int] | None
    segment: str
    offset: int
    events: int
    sent: float = 0.0


class _Pipeline:
    """Publishes in flight on one connection, acknowledged in order.

    Only every ``_ACK_EVERY``-th publish (and a batch's last) asks for an acknowledgement: JetStream
    takes one connection's messages in order, and each must follow the one before it (by sequence and
    by id), so an ack says every event before it is stored too. Acks come to an inbox of its own (not
    nats-py's ``publish_async``, which leaves a publish refused with a 400 unanswered for ever)."""

    def __init__(self, nc: NATS, instance: str, last_seq: int) -> None:
        self.nc = nc
        self.instance = instance
        self.seq = last_seq  # the stream sequence of the last event published (acknowledged or not)
        # Its id. None at first: the server forgets the last id when it restarts, so the session's first
        # event is checked by sequence only (the message there was just read).
        self.last_id: str | None = None
        self.in_flight: deque[_Awaited] = deque()
        self.acked = 0
        self.reached: tuple[str, int] | None = None  # where the journal is acknowledged up to
        self._inbox = nc.new_inbox()
        self._waiting: dict[str, asyncio.Future[int]] = {}
        self._asked = 0

    async def start(self) -> None:
        await self.nc.subscribe(f"{self._inbox}.*", cb=self._answer)

    async def _answer(self, msg: Msg) -> None:
        ack = self._waiting.pop(msg.subject.rsplit(".", 1)[1], None)
        if ack is None or ack.done():
            return
        if not msg.data:  # a status, not an answer: 503, no stream takes the subject
            status = (msg.headers or {}).get("Status", "?")
            ack.set_exception(Refused(f"no stream answered (status {status})"))
            return
        try:
            answer = json.loads(msg.data)
        except ValueError:
            ack.set_exception(Refused(f"unreadable acknowledgement {msg.data[:100]!r}"))
            return
        if "error" in answer:
            error = answer["error"]
            ack.set_exception(Refused(f"{error.get('description')} (code {error.get('err_code')})"))
        else:
            ack.set_result(int(answer["seq"]))

    async def publish(self, segment: str, frames: list[tuple[int, int, list[Any]]], after: Position | None) -> None:
        """Publish the frames' records, those past ``after`` (already on the bus)."""
        number = int(segment)
        batch: list[tuple[str, bytes, dict[str, str], int]] = []  # subject, event, headers, offset reached
        for offset, end, records in frames:
            last = len(records) - 1
            for index, record in enumerate(records):
                if after is not None and (number, offset, index) <= after:
                    continue
                kind, event_id, data = encoded_event(self.instance, segment, offset, index, record)
                headers = {MSG_ID: event_id, EXPECTED_LAST_SEQ: str(self.seq)}
                if self.last_id is not None:
                    headers[EXPECTED_LAST_MSG_ID] = self.last_id
                self.seq += 1
                self.last_id = event_id
                batch.append((subject(self.instance, kind), data, headers, end if index == last else offset))
        since = 0
        for i, (subj, data, headers, reached) in enumerate(batch):
            since += 1
            if since < _ACK_EVERY and i < len(batch) - 1:
                await self.nc.publish(subj, data, headers=headers)
                continue
            self._asked += 1
            token = str(self._asked)
            ack: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            self._waiting[token] = ack
            await self.nc.publish(subj, data, reply=f"{self._inbox}.{token}", headers=headers)
            self.in_flight.append(_Awaited(ack, segment, reached, since, time.monotonic()))
            since = 0
            if len(self.in_flight) >= _MAX_ACKS_IN_FLIGHT:
                await self._settle_oldest()
        if frames:
            self.in_flight.append(_Awaited(None, segment, frames[-1][1], 0))

    def abandon(self) -> None:
        """Forget the acks in flight (their connection is gone)."""
        for awaited in self.in_flight:
            ack = awaited.ack
            if ack is not None and ack.done() and not ack.cancelled():
                ack.exception()  # read, so that a refusal is not logged as never retrieved
            elif ack is not None:
                ack.cancel()
        self.in_flight.clear()
        self._waiting.clear()

    def settle(self) -> None:
        """Take the acknowledgements that have come, in order, without waiting; BusLost if the oldest
        is overdue."""
        while self.in_flight:
            oldest = self.in_flight[0]
            if oldest.ack is not None and not oldest.ack.done():
                if time.monotonic() - oldest.sent > _ACK_TIMEOUT_S:
                    raise BusLost(f"no acknowledgement within {_ACK_TIMEOUT_S:.0f}s")
                break
            self._take()

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait for every publish in flight to be acknowledged; False if ``timeout`` ran out first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.in_flight:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            await self._settle_oldest()
        return True

    async def _settle_oldest(self) -> None:
        oldest = self.in_flight[0]
        ack = oldest.ack
        # Short waits: a lost connection leaves its acks pending for ever; see it at once.
        while ack is not None and not ack.done():
            self.alive()
            if time.monotonic() - oldest.sent > _ACK_TIMEOUT_S:
                raise BusLost(f"no acknowledgement within {_ACK_TIMEOUT_S:.0f}s")
            await asyncio.wait({ack}, timeout=0.2)
        self._take()

    def _take(self) -> None:
        awaited = self.in_flight.popleft()
        if awaited.ack is not None:
            awaited.ack.result()  # a refusal raises: reconnect and go on from the stream's last event
            self.acked += awaited.events
        self.reached = (awaited.segment, awaited.offset)

    def alive(self) -> None:
        if self.nc.is_closed or not self.nc.is_connected:
            raise BusLost("connection to the bus lost")


class Publisher:
    """Publishes one instance's journal to JetStream until stopped; see the module's docstring."""

    def __init__(self, url: str, journal_dir: Path, instance: str, status_path: Path) -> None:
        self.url = url
        self.journal_dir = journal_dir
        self.instance = check_instance(instance)
        self.status_path = status_path
        self.stop = asyncio.Event()
        self._stop_at: float | None = None
        self.connected = False
        self.segment = ""
        self.offset = 0
        self.published = 0
        self.last_error: str | None = None
        self._status_at = 0.0
        self._status_state: tuple[object, ...] = ()
        self._parent = os.getppid()
        self._pipe: _Pipeline | None = None

    def request_stop(self) -> None:
        if self._stop_at is None:
            self._stop_at = time.monotonic()
        self.stop.set()

    def _orphaned(self) -> bool:
        """Whether the process that started this one is gone (and with it, whoever would stop us): then
        stop, after publishing what the journal holds."""
        if os.getppid() == self._parent or self.stop.is_set():
            return False
        log.warning("bus publisher: its parent process ended; publishing what the journal holds, then stopping")
        self.request_stop()
        return True

    def _out_of_time(self) -> bool:
        return self._stop_at is not None and time.monotonic() - self._stop_at > _STOP_GRACE_S

    # -- STATUS --------------------------------------------------------------------------------------

    def write_status(self, force: bool = False) -> None:
        """Write the status file: when ``force``d; when progress changed, at most every
        ``_STATUS_EVERY_S``; else every ``_HEARTBEAT_S`` (its ``at_ns`` says the publisher is alive)."""
        pipe = self._pipe
        if pipe is not None:
            pipe.settle()
            if pipe.reached is not None:
                self.segment, self.offset = pipe.reached
        published = self.published + (pipe.acked if pipe is not None else 0)
        state = (self.connected, self.segment, self.offset, published, self.last_error)
        since = time.monotonic() - self._status_at
        if not force and since < (_STATUS_EVERY_S if state != self._status_state else _HEARTBEAT_S):
            return
        self._status_at += since
        self._status_state = state
        Status(*state, time.time_ns(), os.getpid()).write(self.status_path)

    # -- CONNECTIONS ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Publish until stopped: connect, publish, and after any loss of the bus, again."""
        backoff = _BACKOFF_S[0]
        self.write_status(force=True)
        while not self.stop.is_set():
            nc: NATS | None = None
            try:
                # One connection per session, never reconnected under us: a new one resumes from the
                # stream. (max_reconnect_attempts=0 would mean "for ever" to the first connect.)
                nc = await asyncio.wait_for(nats.connect(
                    servers(self.url), allow_reconnect=False, connect_timeout=2, max_reconnect_attempts=1,
                    reconnect_time_wait=0.05, error_cb=self._on_error, name=f"fixgate-publisher-{self.instance}",
                ), timeout=10)
                js = nc.jetstream(timeout=_API_TIMEOUT_S)
                await ensure_stream(js, self.instance)
                last, last_seq = await last_published(js, self.instance)
                self._pipe = _Pipeline(nc, self.instance, last_seq)
                await self._pipe.start()
                self.connected, self.last_error = True, None
                backoff = _BACKOFF_S[0]
                log.info("publishing to %s, stream %s, after %s (seq %d)", self.url, stream_name(self.instance),
                         last if last is not None else "nothing", last_seq)
                self.write_status(force=True)
                await self._publish(self._pipe, None if last is None else last.position())
                return
            except BUS_ERRORS as exc:
                self.last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                log.warning("bus: %s; retrying in %.1fs", self.last_error, backoff)
            finally:
                if self._pipe is not None:
                    try:
                        self.write_status(force=True)  # the acks taken before it ended
                    except BUS_ERRORS:
                        pass  # an error ack among them: the stream says where to go on from
                    self.published += self._pipe.acked
                    self._pipe.abandon()
                    self._pipe = None
                self.connected = False
                if nc is not None:
                    await _close(nc)
                self.write_status(force=True)
            try:
                await asyncio.wait_for(self.stop.wait(), backoff)
            except TimeoutError:
                pass
            backoff = min(backoff * 2, _BACKOFF_S[1])

    async def _on_error(self, exc: Exception) -> None:
        log.debug("nats client: %s: %s", type(exc).__name__, exc)

    # -- THE JOURNAL ---------------------------------------------------------------------------------

    def _segments(self) -> list[Path]:
        """The journal's segments, earlier runs' (booked or not yet) and the current one, in order."""
        files = [*Journal.booked(self.journal_dir), *self.journal_dir.glob(f"*{SEGMENT_SUFFIX}")]
        return [p for p in in_order(files) if segment_of(p).isdigit()]

    def _newer_than(self, number: int) -> bool:
        return any(int(segment_of(p)) > number for p in self._segments())

    async def _publish(self, pipe: _Pipeline, after: Position | None) -> None:
        """Publish every event past ``after``, segment after segment, until stopped."""
        done = after[0] - 1 if after is not None else -1  # segments numbered up to here are all on the bus
        idle = 0
        while True:
            todo: list[Path] = []
            for path in self._segments():
                number = int(segment_of(path))
                if number > done:
                    todo.append(path)
                elif path.name.endswith(BOOKED_SUFFIX):
                    await self._retire(pipe, path)
            if not todo:  # no current segment (the gateway not started yet): wait for one
                if self.stop.is_set() or self._orphaned():
                    break
                pipe.alive()
                self.write_status()
                await asyncio.sleep(_IDLE_SLEEP[min(idle, len(_IDLE_SLEEP) - 1)])
                idle += 1
                continue
            idle = 0
            path = todo[0]
            try:
                ended = await self._segment(pipe, path, after)
            except FileNotFoundError:
                continue  # renamed as it was listed (a .journal booked by the gateway's start): list again
            if not ended:
                break
            done = int(segment_of(path))
            if path.name.endswith(BOOKED_SUFFIX):
                await self._retire(pipe, path)
        pipe.settle()
        if not self._out_of_time():
            await pipe.drain(timeout=max(0.0, _STOP_GRACE_S - (time.monotonic() - (self._stop_at or 0.0))))
        self.write_status(force=True)

    async def _retire(self, pipe: _Pipeline, path: Path) -> None:
        """Delete a booked segment that is wholly on the bus, once every publish of it is acknowledged."""
        await pipe.drain()
        path.unlink(missing_ok=True)
        log.info("segment %s is on the bus: deleted", path.name)

    async def _segment(self, pipe: _Pipeline, path: Path, after: Position | None) -> bool:
        """Publish a segment's events past ``after``: a booked one, or one a newer segment followed, to its
        end; the newest as it grows. False if stopped before its end."""
        number = int(segment_of(path))
        reader = SegmentReader(path, after[1] if after is not None and after[0] == number else 0)
        closed = path.name.endswith(BOOKED_SUFFIX)
        idle = 0
        try:
            while True:
                if self._out_of_time():
                    return False
                frames = reader.poll(_READ_BATCH)
                if frames:
                    idle = 0
                    await pipe.publish(reader.segment, frames, after)
                    self.write_status()
                    continue
                if closed:
                    break
                if self._newer_than(number):
                    closed = True  # its run has ended: what it holds now is all it will hold
                    continue
                if self.stop.is_set():
                    return False
                pipe.alive()
                self.write_status()
                if self._orphaned():
                    continue
                await asyncio.sleep(_IDLE_SLEEP[min(idle, len(_IDLE_SLEEP) - 1)])
                idle += 1
        finally:
            reader.close()
        await pipe.drain()
        self.write_status(force=True)
        return True


async def _close(nc: NATS) -> None:
    """Close a session's connection. One the bus dropped is closing itself: let it finish rather than
    close it a second time across it (which leaves its subscriptions' tasks pending)."""
    for _ in range(50):
        if nc.is_closed or nc.is_connected:
            break
        await asyncio.sleep(0.01)
    if not nc.is_closed:
        try:
            await asyncio.wait_for(nc.close(), _CLOSE_TIMEOUT_S)  # nats-py's close can wait for ever
        except Exception as exc:  # noqa: BLE001 - a connection already broken may fail to close
            log.debug("closing the connection: %s", exc)
    await asyncio.sleep(0.01)  # its cancelled tasks end


async def _watchdog(publisher: Publisher) -> None:
    """Whatever the publisher awaits: stop when the gateway is gone, and end the process if a stop
    asked for has not happened in time (a chaos run once left a publisher waiting for ever on a
    connection its bus had dropped, long after its gateway was killed). What it had not published is
    in the journal: the next publisher goes on from the stream's last event."""
    while True:
        await asyncio.sleep(1.0)
        publisher._orphaned()
        stop_at = publisher._stop_at
        if stop_at is not None and time.monotonic() - stop_at > _STOP_GRACE_S + _CLOSE_TIMEOUT_S + 1:
            log.error("bus publisher: still running %.0fs after it was asked to stop: exiting",
                      time.monotonic() - stop_at)
            logging.shutdown()
            os._exit(0)


async def publish(url: str, journal_dir: Path, instance: str, status_path: Path) -> None:
    """Run a :class:`Publisher` until SIGTERM or SIGINT."""
    publisher = Publisher(url, journal_dir, instance, status_path)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, publisher.request_stop)
    watchdog = asyncio.create_task(_watchdog(publisher))
    try:
        await publisher.run()
    finally:
        watchdog.cancel()
    log.info("bus publisher stopped after %d events, at byte %d of segment %s",
             publisher.published, publisher.offset, publisher.segment or "-")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bus.publisher", description=__doc__.split("\n\n")[0])
    parser.add_argument("--nats-url", help="the bus (else NATS_URL: a token or password stays out of ps)")
    parser.add_argument("--journal-dir", type=Path, required=True)
    parser.add_argument("--instance", required=True)
    parser.add_argument("--status", type=Path, required=True, help="progress file (JSON)")
    args = parser.parse_args(argv)
    url = args.nats_url or os.environ.get("NATS_URL")
    if not url:
        parser.error("no bus: --nats-url or NATS_URL")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(publish(url, args.journal_dir, args.instance, args.status))
    except Exception:
        log.exception("bus publisher: unexpected failure; exiting for the supervisor to restart it")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
