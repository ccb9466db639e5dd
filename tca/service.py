"""The TCA process: reads the gateway's event stream, measures every fill and order, scores the venues.

    DATABASE_URL=URL NATS_URL=URL python -m tca.service --instance NAME

Started and supervised by ``fixgate serve`` when the bus is on (``fixgate.app``), like the book writer
and the bus publisher; it may as well run anywhere else that reaches the bus and the database.

- It reads ``fixgate.<instance>.>`` from the instance's stream through a durable pull consumer
  (``tca_<instance>``), which a (re)started process places right after the last event whose effects
  it committed (the stream sequence in ``tca_progress``): it goes on from exactly there.
- JetStream delivers at least once; every event counts once all the same: what a batch of events
  changed is written in one transaction with the id of the last event applied (``tca_progress``), and
  an event at or before that id is skipped (ids sort in stream order, ``docs/EVENTS.md``). Events are
  acknowledged after that commit.
- The engine (``tca.engine``) keeps the quotes, the orders still working and the fills with a markout
  to come in memory; a restart takes them back from the tables.
- Each batch's changed venue scores are published as ``tca`` events (``docs/EVENTS.md``, "TCA") on
  ``fixgate_tca.<instance>.tca``, in a stream of their own (``FIXGATE_TCA_<instance>``): the instance's
  stream holds the journal's events only, in journal order, and its publisher guards that order.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.client import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from book.database import async_url
from bus.events import VERSION, EventId, check_instance, decode, encode, stream_name, subject
from bus.server import servers
from tca.engine import TcaEngine
from tca.measures import HALF_LIFE, METRICS, VenueScore
from tca.store import Progress, decimal_text, load, save

log = logging.getLogger("tca.service")

_BATCH = 500  # events fetched at once
_FETCH_WAIT_S = 1.0  # a fetch that finds nothing waits this long: how often quiet markouts are settled
_DUPLICATE_WINDOW_S = 600.0


def score_subject(instance: str) -> str:
    """Where the TCA process publishes the venue scores of ``instance``."""
    return f"fixgate_tca.{instance}.tca"


def score_stream(instance: str) -> str:
    return f"FIXGATE_TCA_{instance}"


def durable_name(instance: str) -> str:
    return f"tca_{instance}"


def score_event(instance: str, score: VenueScore, half_life: int) -> dict[str, Any]:
    """A venue score as a ``tca`` event (docs/EVENTS.md): the same score state always has the same id."""
    key = score.key
    observations = sum(mean.count for mean in score.means.values())
    data: dict[str, Any] = {"venue": key.venue, "symbol": key.symbol, "size_bucket": key.size_bucket}
    for metric in METRICS:
        data[metric] = decimal_text(score.value(metric))
        mean = score.means.get(metric)
        data[f"{metric}_count"] = 0 if mean is None else mean.count
    data["half_life"] = half_life
    data["updated_ns"] = score.updated_ns
    return {"v": VERSION, "id": f"tca:{instance}:{key.venue}:{key.symbol}:{key.size_bucket}:{observations}",
            "instance": instance, "kind": "tca", "type": "VenueScore", "order_id": None, "data": data}


async def _ensure_score_stream(js: JetStreamContext, instance: str) -> None:
    try:
        await js.stream_info(score_stream(instance))
        return
    except nats.js.errors.NotFoundError:
        pass
    try:
        await js.add_stream(StreamConfig(
            name=score_stream(instance), subjects=[f"fixgate_tca.{instance}.>"], storage=StorageType.FILE,
            duplicate_window=_DUPLICATE_WINDOW_S,
            description=f"fixgate instance {instance}: venue scores of transaction cost analysis (docs/EVENTS.md)",
        ))
    except nats.js.errors.BadRequestError as exc:
        if exc.err_code != 10058:  # made meanwhile
            raise


class TcaService:
    """One instance's TCA consumer: stream in, tables and score events out."""

    def __init__(self, url: str, database_url: str, instance: str, half_life: int = HALF_LIFE) -> None:
        self.url = url
        self.database_url = database_url
        self.instance = check_instance(instance)
        self.engine = TcaEngine(half_life)
        self.progress: Progress | None = None
        self.applied = 0
        self._stop = asyncio.Event()

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        db = create_async_engine(async_url(self.database_url), poolclass=NullPool)
        nc: NATS | None = None
        try:
            async with db.connect() as conn:
                stored = await load(conn, self.instance, self.engine.horizons_s)
            self.progress = stored.progress
            self.engine.restore(stored.quotes, stored.orders, stored.fills, stored.scores, stored.children)
            log.info("tca %s: resuming after %s (%d orders working, %d fills with markouts to come)",
                     self.instance, stored.progress.event_id if stored.progress else "the start",
                     len(stored.orders), len(stored.fills))
            nc = await nats.connect(servers(self.url), max_reconnect_attempts=-1, reconnect_time_wait=0.5)
            js = nc.jetstream()
            await _ensure_score_stream(js, self.instance)
            sub = await self._subscribe(js)
            if sub is None:
                return
            while not self._stop.is_set():
                await self._handle(js, db, await self._fetch(sub))
        finally:
            if nc is not None and not nc.is_closed:
                await nc.close()
            await db.dispose()

    async def _fetch(self, sub: Any) -> list[Msg]:
        """The next events: a batch, or none after ``_FETCH_WAIT_S`` or at once when asked to stop.

        A stop does not wait for the fetch to expire: what the cancelled fetch would have brought is
        neither applied nor acknowledged, and the next start places the consumer right after the last
        event committed, so it comes again then."""
        fetch = asyncio.create_task(sub.fetch(_BATCH, timeout=_FETCH_WAIT_S))
        stop = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({fetch, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not fetch.done():
                fetch.cancel()
            await asyncio.gather(fetch, stop, return_exceptions=True)  # leave no task pending
        if fetch.cancelled():
            return []
        try:
            messages: list[Msg] = fetch.result()
        except (TimeoutError, nats.errors.TimeoutError):  # nats-py raises either
            return []
        return messages

    async def _subscribe(self, js: JetStreamContext) -> Any:
        """The durable consumer, once the instance's stream exists (its publisher makes it), placed right
        after the last event committed (``tca_progress.stream_seq``): the database is the one record of
        how far TCA has got. An event handed to a process that died before its commit so comes again at
        once, not after JetStream's ack wait (a killed process's pull requests are otherwise owed their
        messages until then)."""
        stream, durable = stream_name(self.instance), durable_name(self.instance)
        while not self._stop.is_set():
            try:
                last_seq = (await js.stream_info(stream)).state.last_seq
                start = None if self.progress is None else self.progress.stream_seq + 1
                if start is not None and start > last_seq + 1:
                    # A stream that is not the one the progress was made on (made again): read it all;
                    # the events applied before are known by their ids.
                    log.warning("tca %s: stream %s ends at %d, before the %d applied: reading it from the start",
                                self.instance, stream, last_seq, start - 1)
                    start = None
                try:
                    await js.delete_consumer(stream, durable)
                except nats.js.errors.NotFoundError:
                    pass
                if start is None:
                    config = ConsumerConfig(ack_policy=AckPolicy.ALL, max_ack_pending=-1,
                                            deliver_policy=DeliverPolicy.ALL)
                else:
                    config = ConsumerConfig(ack_policy=AckPolicy.ALL, max_ack_pending=-1,
                                            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start)
                return await js.pull_subscribe(subject(self.instance, ">"), durable=durable, stream=stream,
                                               config=config)
            except nats.js.errors.NotFoundError:
                try:
                    await asyncio.wait_for(self._stop.wait(), 0.5)
                except TimeoutError:
                    pass  # the stream is not there yet: look again
        return None

    async def _handle(self, js: JetStreamContext, db: AsyncEngine, messages: list[Msg]) -> None:
        engine = self.engine
        progress = self.progress
        skipped = 0
        for msg in messages:
            try:
                event = decode(msg.data)
                event_id = EventId.parse(str(event["id"]))
            except (ValueError, KeyError, TypeError):
                log.warning("tca %s: a message on %s is not a fixgate event: skipped", self.instance, msg.subject)
                continue
            if event.get("v") != VERSION:
                log.error("tca %s: event %s has schema version %r; this build knows %d: skipped",
                          self.instance, event_id, event.get("v"), VERSION)
                continue
            position = event_id.position()
            if progress is not None and position <= progress.position:
                skipped += 1  # applied before (a redelivery): its effect is in the tables already
                continue
            try:
                engine.apply(event)
            except (ValueError, KeyError, TypeError, ArithmeticError):
                log.exception("tca %s: event %s could not be measured: skipped", self.instance, event_id)
            progress = Progress(str(event_id), position, msg.metadata.sequence.stream)
            self.applied += 1
        if skipped:
            log.info("tca %s: %d events delivered again were applied before: skipped", self.instance, skipped)
        if messages:
            engine.end_frame()  # a frame split across fetches is measured as far as it came
        else:
            engine.settle_quiet(time.time_ns())
        changes = engine.take_changes()
        if changes or progress != self.progress:
            for score in changes.scores.values():
                body = score_event(self.instance, score, engine.half_life)
                # Before the commit: a crash between the two measures the same again, to the same ids,
                # which JetStream keeps once (Nats-Msg-Id).
                await js.publish(score_subject(self.instance), encode(body), headers={"Nats-Msg-Id": body["id"]})
            async with db.begin() as conn:
                await save(conn, self.instance, changes, progress, time.time_ns())
            self.progress = progress
            engine.forget_done()
        if messages:
            await messages[-1].ack()  # AckPolicy.ALL: every message up to this one


async def serve(url: str, database_url: str, instance: str) -> None:
    service = TcaService(url, database_url, instance)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, service.request_stop)
    await service.run()
    log.info("tca %s stopped after %d events this run", instance, service.applied)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tca.service", description=__doc__.split("\n\n")[0])
    parser.add_argument("--instance", required=True)
    args = parser.parse_args(argv)
    url, database_url = os.environ.get("NATS_URL"), os.environ.get("DATABASE_URL")
    if not url or not database_url:
        parser.error("NATS_URL and DATABASE_URL must be set (by the environment: a password stays out of ps)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(serve(url, database_url, args.instance))
    except Exception:
        log.exception("tca: unexpected failure; exiting for the supervisor to restart it")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
