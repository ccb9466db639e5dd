"""Start-up and shutdown of one fixgate: book of record, OMS, risk, FIX engines, REST."""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from api.app import create_app
from api.schemas import PartHealth
from book.database import resolve_database_url, upgrade
from book.follower import BookLag, start_offset, wait_for_writers
from book.journal import Journal, JournaledSink, replay, segment_of
from book.order_ids import OrderIdMark
from book.writer import load_state
from bus.publisher import Status as PublisherStatus
from bus.server import embedded_argv, embedded_url, pick_port, write_url
from domain.model import ClientSent
from fixgate.config import ConfigError, Settings, load_instruments
from fixgate.datadir import DataDirLock, allow_traverse, lock_data_dir
from fixgate.metrics import BusFollower, FixgateCollector, registry_of
from fixgate.rest import RestServer
from fixgate.supervisor import Child, Supervisor
from gateway.latency import HopMetrics
from gateway.server import FixGateway
from gateway.settings import SessionConfigError, check_template
from oms.controls import TradingControls
from oms.ids import OrderIds
from oms.manager import OrderManager
from oms.router import Router
from risk import PreTradeRisk, load_risk_config
from risk.restore import restore_from_events
from tca.feedback import feed_router

log = logging.getLogger(__name__)

_BUS_BEHIND_BYTES = 1 << 20  # more of the journal than this not yet published: /health says the bus is behind


class Fixgate:
    """One running gateway. ``start`` brings the parts up in dependency order; ``stop`` reverses it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database_url = ""
        self.oms: OrderManager | None = None
        self.router: Router | None = None
        self.writer: BookLag | None = None  # the book writer process, as the gateway sees it
        self.journal: Journal | None = None
        self.supervisor: Supervisor | None = None
        self.bus_url: str | None = None  # the NATS server the events go to (None: no bus)
        self._bus_status: Path | None = None
        self._publisher: Child | None = None
        self._tls_terminator: Child | None = None
        self.gateway: FixGateway | None = None
        self.controls: TradingControls[PreTradeRisk] | None = None
        self.hops: HopMetrics | None = None
        self.rest: RestServer | None = None
        self._embedded: Any = None
        self._lock: DataDirLock | None = None

    def start(self) -> None:
        """Lock the data folder (raises ``DataDirInUse`` if another process has it), then bring up
        the book, OMS, risk, FIX sessions and REST. A start that fails stops what it had started (the
        FIX sessions, the child processes, the embedded database) and unlocks the folder."""
        try:
            self._start()
        except BaseException:
            try:
                self.stop()
            except Exception:  # the start's own error is the one to raise
                log.exception("stopping what a failed start had started")
            raise

    def _start(self) -> None:
        started = time.monotonic()
        s = self.settings
        for template in ("clients.cfg", "venues.cfg"):
            try:  # before anything starts: a refused setting is a config error, one line (fixgate.cli)
                check_template(s.config_dir / "fix_sessions" / template)
            except (SessionConfigError, OSError) as exc:
                raise ConfigError(str(exc)) from None
        data_dir = s.data_dir.resolve()
        # Before anything reads or writes the folder: a second process must not replay this one's journal.
        self._lock = lock_data_dir(data_dir)
        if s.database_url:
            self.database_url = s.database_url
        else:
            self.database_url, self._embedded = resolve_database_url(data_dir)
            allow_traverse(data_dir)
        upgrade(self.database_url)
        journal_dir = data_dir / "journal"
        # What the last run's book writer process committed is in the book: replay the rest.
        pending = Journal.pending(journal_dir)
        wait_for_writers(pending)  # a killed run's writer may still be committing its last batch
        last = segment_of(pending[-1]) if pending else None
        written = (last, start_offset(self.database_url, s.instance, last) or 0) if last is not None else None
        replayed = replay(journal_dir, self.database_url, written=written)
        state = load_state(self.database_url, s.order_id_slot, s.order_id_slots)

        instruments = load_instruments(s.config_dir / "instruments.toml")
        risk = PreTradeRisk(instruments, load_risk_config(s.config_dir / "risk.toml"))
        # Kill switches, daily loss states and live limit changes are in memory only while running:
        # put back what the audit trail says was in force, before any order can arrive.
        restored = restore_from_events(risk, state.risk_events)
        self.router = Router(instruments)
        self.journal = Journal(journal_dir)
        self._start_consumers(data_dir, self.journal)
        id_mark = OrderIdMark(data_dir / "order-ids")
        self.oms = OrderManager(
            instruments=instruments,
            risk=risk,
            router=self.router,
            sink=JournaledSink(self.journal),
            # Market marks may wait for the next frame: a kill loses at most the latest ones.
            marks_sink=self.journal.later,
            # Above the book's highest id and every id reserved before: the book can lack an order
            # the venue has (a record set aside, a row deleted), and its id must not come again.
            order_ids=OrderIds(max(state.max_order_id + 1, id_mark.read()), reserve=id_mark.write,
                               slot=s.order_id_slot, slots=s.order_id_slots),
        )
        self.oms.restore(state.orders, state.positions, state.applied_executions, state.notionals)

        self.hops = HopMetrics(book=self.journal.later)
        self.gateway = FixGateway(
            self.oms,
            self.router,
            risk=risk,
            sessions_dir=s.config_dir / "fix_sessions",
            data_dir=data_dir,
            client_port=s.client_port,
            sim_host=s.sim_host,
            sim_port=s.sim_port,
            sim2_port=s.venue2_port,
            message_log=s.fix_message_log,
            hops=self.hops,
        )
        self.gateway.clients.record_sent = self.journal.append
        owed = self.gateway.clients.owe(replayed.reports, replayed.sent)
        # Until the owed reports are in the new journal, the replayed files are their only durable
        # copy: a kill before the client logs on must find them again at the next start.
        replayed.carry_over(owed, self.journal, keep_booked=s.bus)
        if owed:
            log.warning(
                "%d execution reports and cancel rejects were journaled but not marked as sent (to their client"
                " or a drop copy): sent at each one's logon with PossResend",
                sum(not isinstance(m, ClientSent) for m in owed),
            )
        self._start_tls_terminator(data_dir)
        self.gateway.start()
        if not s.api_token and not s.api_tokens:
            log.warning("no REST API token (FIXGATE_API_TOKEN, FIXGATE_API_TOKENS_FILE): the REST API refuses"
                        " every call but /health")
        self.controls = TradingControls(self.oms, risk, self.gateway.dispatcher.carry_out, self.journal.append)
        api = create_app(
            self.database_url, api_token=s.api_token, api_tokens=s.api_tokens, operations=self.controls,
            metrics=self.hops, risk=self.controls, parts=self.health_parts,
            sessions=self.gateway.sessions, prometheus=registry_of(self._collector(risk)),
            tasks=[functools.partial(feed_router, instance=s.instance, sink=self.router.set_scores)]
            if s.route_feedback else [],
        )
        self.rest = RestServer(api, s.rest_host, s.rest_port, certfile=s.rest_tls_cert, keyfile=s.rest_tls_key)
        self.rest.start()
        log.info(
            "fixgate ready in %.2fs: FIX clients on port %d, REST on %s, %d open orders restored; risk: %d"
            " kill switches and %d trading states in force, limits from %s",
            time.monotonic() - started, s.client_port, self.rest.url, len(state.open_orders),
            len(restored.halts), len(restored.states),
            "the config file" if restored.limits_from is None else f"risk_events id {restored.limits_from.id}",
        )

    def _collector(self, risk: PreTradeRisk) -> FixgateCollector:
        """What ``GET /metrics`` reads, at scrape time only."""
        assert self.hops is not None and self.controls is not None and self.gateway is not None
        bus = None
        if self._publisher is not None and self._bus_status is not None and self.journal is not None:
            publisher = self._publisher
            bus = BusFollower(lambda: publisher.running, self._bus_status, self.journal)
        return FixgateCollector(hops=self.hops, oms_counters=self.controls.oms_counters, risk=risk,
                                sessions=self.gateway.sessions, writer=self.writer, bus=bus)

    def _start_consumers(self, data_dir: Path, journal: Journal) -> None:
        """Start the processes that follow the journal: the book writer, and the bus publisher (with
        an embedded NATS server when no NATS_URL is given) and the TCA process that reads its events."""
        s = self.settings
        self.supervisor = Supervisor(tick=journal.flush_later)
        self.supervisor.start()
        logs = data_dir / "logs"
        status = data_dir / "book-writer.status"
        # URLs by the environment, not the command line: a password in one would show in ps.
        env = {**os.environ, "DATABASE_URL": self.database_url}
        writer = self.supervisor.add(Child("book-writer", [
            sys.executable, "-m", "book.follower", "--journal", str(journal.path), "--instance", s.instance,
            "--status", str(status),
        ], logs / "book-writer.log", env=env, stop_grace_s=30.0))
        self.writer = BookLag(journal, status, alive=lambda: writer.running)
        if not s.bus:
            return
        url = s.nats_url
        if url is None:
            port = pick_port(data_dir)
            url = embedded_url(data_dir, port)
            self.supervisor.add(Child("nats", embedded_argv(data_dir, port), logs / "nats-server.log",
                                      stop_grace_s=10.0))
            write_url(data_dir, url)  # where `fixgate events tail` and other local consumers find it
        self.bus_url = url
        self._bus_status = data_dir / "bus-publisher.status"
        self._publisher = self.supervisor.add(Child("bus-publisher", [
            sys.executable, "-m", "bus.publisher", "--journal-dir", str(journal.directory),
            "--instance", s.instance, "--status", str(self._bus_status),
        ], logs / "bus-publisher.log", env={**env, "NATS_URL": url}, stop_grace_s=10.0))
        # Transaction cost analysis reads the events, so it runs with the bus only (tca.service).
        self.supervisor.add(Child("tca", [sys.executable, "-m", "tca.service", "--instance", s.instance],
                                  logs / "tca.log", env={**env, "NATS_URL": url}, stop_grace_s=10.0))

    def _start_tls_terminator(self, data_dir: Path, timeout: float = 10.0) -> None:
        """Start the TLS terminator (``gateway.tlsproxy``) when a session speaks TLS, and wait until it
        listens, so the venue sessions' first connection and the first client find it."""
        assert self.gateway is not None and self.supervisor is not None
        plan = self.gateway.tls
        if not plan.routes:
            return
        for route in plan.routes:
            route.context()  # a certificate that cannot load stops the start here, naming the file
        config, ready = data_dir / "tls" / "routes.json", data_dir / "tls" / "ready"
        plan.write(config)
        ready.unlink(missing_ok=True)
        child = self.supervisor.add(Child("tls-terminator", [
            sys.executable, "-m", "gateway.tlsproxy", "--config", str(config), "--ready", str(ready),
        ], data_dir / "logs" / "tls-terminator.log", stop_grace_s=5.0))
        self._tls_terminator = child
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if time.monotonic() > deadline or (child.process is not None and child.process.poll() is not None):
                raise RuntimeError(f"the TLS terminator did not start (see {child.log_path})")
            time.sleep(0.02)
        log.info("TLS terminator up: %s", ", ".join(
            f"{r.name} {'in on' if r.side == 'accept' else 'out to'} "
            f"{r.listen_port if r.side == 'accept' else f'{r.target_host}:{r.target_port}'}" for r in plan.routes))

    def health_parts(self) -> dict[str, PartHealth]:
        """The state of each part besides the database, for ``/health``: "ok", or what is wrong, and
        whether that stops the gateway trading or recording (503). Only the venues can: with none
        logged on no order can be routed. The book writer and the bus cannot: what they have not
        taken waits in the journal, and they catch up when they are back."""
        parts: dict[str, PartHealth] = {}
        if self.gateway is not None:
            parts["venues"] = self._venues_health(self.gateway.sessions.venues(), self.gateway.sessions.venues_down())
        lag = self.writer
        if lag is not None:
            status = lag.status()
            since = None if status is None else (time.time_ns() - status.at_ns) / 1e9
            if not lag.running:
                state = "down: restarting (trading goes on; the book catches up from the journal)"
            elif lag.pending > 0 and (since is None or since > 5):
                # Nothing committed for 5 s with the journal ahead: the database is away, or slow.
                quiet = "no word yet from the writer on this journal" if since is None else \
                    f"nothing written for {since:.0f}s"
                state = f"behind: {lag.pending} journal bytes not in the book, {quiet} (see logs/book-writer.log)"
            else:
                state = "ok"
            parts["book_writer"] = PartHealth(state)
        if self._tls_terminator is not None:
            parts["tls_terminator"] = PartHealth("ok" if self._tls_terminator.running else
                                                 "down: restarting (TLS sessions reconnect once it is back)")
        if self._publisher is not None and self._bus_status is not None and self.journal is not None:
            parts["bus"] = PartHealth(self._bus_health(self._publisher, self._bus_status, self.journal))
        return parts

    @staticmethod
    def _venues_health(venues: list[str], down: list[str]) -> PartHealth:
        if not venues:
            return PartHealth("down: no venue session configured (config/fix_sessions/venues.cfg)", stops=True)
        if not down:
            return PartHealth("ok")
        if len(down) == len(venues):
            return PartHealth(f"down: {', '.join(down)} (no venue logged on: every order is rejected)", stops=True)
        return PartHealth(f"down: {', '.join(down)} (orders for their instruments are rejected; the other"
                          " venues trade)")

    @staticmethod
    def _bus_health(publisher: Child, status_path: Path, journal: Journal) -> str:
        status = PublisherStatus.read(status_path)
        if not publisher.running:
            return "down: the publisher is restarting (trading goes on; the bus catches up from the journal)"
        if status is None:
            return "starting"
        if not status.connected:
            return f"disconnected: {status.last_error or 'no NATS server answers'} (trading goes on)"
        if time.time_ns() - status.at_ns > 15_000_000_000:
            return "stalled: no word from the publisher for 15 s (see logs/bus-publisher.log)"
        if status.segment != journal.segment:
            return "behind: publishing the journal segments of earlier runs"
        behind = journal.size - status.offset
        return f"behind: {behind} journal bytes not yet on the bus" if behind > _BUS_BEHIND_BYTES else "ok"

    def wait_for_bus(self, timeout: float = 10.0) -> bool:
        """Block until the bus has every event journaled before this call; False on timeout."""
        if self.journal is None or self._bus_status is None:
            return False
        status_path = self._bus_status

        def reached() -> tuple[str, int] | None:
            status = PublisherStatus.read(status_path)
            return None if status is None else (status.segment, status.offset)

        return self.journal.wait_followed(reached, timeout)

    def wait_for_venues(self, venues: set[str], timeout: float = 20.0) -> bool:
        """Block until every named venue session is logged on; False on timeout."""
        assert self.router is not None
        deadline = time.monotonic() + timeout
        while not venues <= self.router.venues_up:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def stop(self) -> None:
        """Stop taking FIX traffic first, then let the book writer and the bus catch up with the
        journal and stop them (with TCA, all three together), then the NATS server they used, then the
        database."""
        if self.gateway is not None:
            self.gateway.stop()
        if self.rest is not None:
            self.rest.stop()
        if self.writer is not None and self.writer.running and not self.writer.drain():
            log.error("the book writer is not catching up with the journal (see logs/book-writer.log): the next"
                      " start replays the rest")
        if self.supervisor is not None:
            # The publisher publishes what it has read (or leaves it for the next start, which goes on
            # from the stream), the writer has drained: neither waits for the other, nor does TCA.
            self.supervisor.stop(order=(("bus-publisher", "tca", "book-writer"), ("nats",)))
            self.supervisor = None
        if self.journal is not None:
            self.journal.close()
        if self._embedded is not None:
            self._embedded.stop()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

