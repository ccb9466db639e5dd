"""Small helpers shared by tests: real servers and ports, and the effects an OMS call returns."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg

from book.database import create_database, drop_database, upgrade
from domain.model import ClientReport, Effect, Side
from domain.positions import after_fill, average_price

if TYPE_CHECKING:
    from simulator.config import SimulatorConfig
    from simulator.matching import Fill
    from simulator.venue import Simulator


E = TypeVar("E")


def first_report(effects: Sequence[Effect]) -> ClientReport | None:
    """The client report an OMS call leads its effects with (``OrderManager.apply``), if any."""
    return effects[0] if effects and isinstance(effects[0], ClientReport) else None


def of(effects: Sequence[Effect], kind: type[E]) -> list[E]:
    """The effects of one kind, in order."""
    return [e for e in effects if isinstance(e, kind)]


def only(effects: Sequence[Effect], kind: type[E]) -> E:
    """The one effect of a kind (it fails unless there is exactly one)."""
    [effect] = of(effects, kind)
    return effect


@functools.cache
def one_venue_config_dir() -> Path:
    """The shipped config with its one venue SIM (``bench.procs.one_venue_config``), made once per test
    process: for a gateway against a one-venue simulator (the ``simulator`` fixture's)."""
    import atexit
    import shutil
    import tempfile

    from bench.procs import one_venue_config as make

    folder = Path(tempfile.mkdtemp(prefix="fixgate-test-config-"))
    atexit.register(shutil.rmtree, folder, True)
    return make(folder / "config")


def one_venue_simulator() -> SimulatorConfig:
    """The shipped simulator config's venue SIM alone."""
    from simulator.config import load_config

    return load_config(Path(__file__).resolve().parents[1] / "config" / "simulator.toml").only("SIM")


def _ephemeral_low() -> int:
    """The first port of the kernel's range for the local ports of outgoing connections."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


# Test servers listen below the ephemeral range: a port bind(0) picks is one from that range, which
# any outgoing connection (a FIX client, the gateway's venue session, a database connection) may take
# as its local port between the test's pick and the server's bind, failing the server's start.
# A machine whose ephemeral range starts low leaves no such room: then ports come from bind(0).
_PORTS = range(10_000, _ephemeral_low())
_given: set[int] = set()
_pick = random.Random()


def _bindable(port: int) -> bool:
    """Free on every interface (the client port listens on all of them)."""
    with socket.socket() as s:
        try:
            s.bind(("", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port free right now, below the ephemeral range (above) and never one this test run was
    given before (a port handed out and not yet bound must not be handed out again)."""
    for _ in range(10_000 if len(_PORTS) >= 5_000 else 0):
        port = _pick.choice(_PORTS)
        if port not in _given and _bindable(port):
            _given.add(port)
            return port
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _given:
            _given.add(port)
            return port


def free_ports_in_a_row(count: int) -> int:
    """The first of ``count`` consecutive TCP ports free on 127.0.0.1 now (``fixgate simulator
    --port N`` puts its venues on N, N+1, ...)."""
    while True:
        first = free_port()
        rest = range(first + 1, first + count)
        top = _PORTS.stop if first in _PORTS else 65_536  # below the ephemeral range, as free_port
        if rest.stop <= top and not _given.intersection(rest) and all(map(_bindable, rest)):
            _given.update(rest)
            return first


def eventually(fetch: Callable[[], Any], ok: Callable[[Any], bool], timeout: float = 10.0) -> Any:
    """Poll ``fetch`` until ``ok`` holds of its result: for state written asynchronously (the book).
    A deadline for correctness, not a speed assertion."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        time.sleep(0.05)


def order_fields(cl_ord_id: str, qty: int, price: str | None, symbol: str = "AAPL", side: str = "1",
                 **extra: str) -> dict[int, str | int]:
    """A NewOrderSingle body valid in FIX 4.2 and 4.4; ``extra`` as ``t59="3"`` (TimeInForce IOC)."""
    from fixgate.fixclient import utc_timestamp

    fields: dict[int, str | int] = {11: cl_ord_id, 21: "1", 55: symbol, 54: side, 60: utc_timestamp(),
                                    38: qty, 40: "2" if price else "1"}
    if price:
        fields[44] = price
    fields.update({int(k[1:]): v for k, v in extra.items()})
    return fields


def book_rows(database_url: str, sql: str) -> list[Any]:
    """The rows of one query on the book (asyncpg records), read outside any running loop."""

    async def fetch() -> list[Any]:
        conn = await asyncpg.connect(database_url)
        try:
            return list(await conn.fetch(sql))
        finally:
            await conn.close()

    return asyncio.run(fetch())


def wait_for_book(database_url: str, simulator: Simulator, timeout: float = 60.0) -> list[Fill]:
    """The venue's fills for fixgate once the book has them all, nothing is pending and nothing has
    moved for a second (a count that matches for a moment while resends still arrive is not the end)."""
    deadline = time.monotonic() + timeout
    last: tuple[int, int] | None = None
    stable_since = time.monotonic()
    while True:
        venue_fills = [f for f in simulator.record.fills if f.owner.endswith("->FIXGATE")]
        booked = book_rows(database_url, "SELECT count(*) AS n FROM executions")[0]["n"]
        pending = book_rows(database_url, "SELECT count(*) AS n FROM orders WHERE status LIKE 'PENDING%'")[0]["n"]
        now = (len(venue_fills), booked)
        if now != last:
            last, stable_since = now, time.monotonic()
        trades = book_rows(database_url, "SELECT count(*) AS n FROM executions WHERE kind = 'TRADE'")[0]["n"]
        quiet = time.monotonic() - stable_since >= 1.0
        if (trades == len(venue_fills) and pending == 0 and quiet) or time.monotonic() > deadline:
            return venue_fills
        time.sleep(0.2)


@dataclass
class Held:
    """A position folded from fills with the book's arithmetic (``domain.positions.after_fill``): what
    the book must hold for them."""

    quantity: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)

    def apply_fill(self, side: Side, qty: Decimal, price: Decimal) -> None:
        self.quantity, self.cost, self.realized_pnl = after_fill(self.quantity, self.cost, self.realized_pnl,
                                                                 side, qty, price)

    @property
    def avg_price(self) -> Decimal:
        return average_price(self.quantity, self.cost)


def bus_events(url: str, instance: str, raw: bool = False) -> list[tuple[str, Any, Any]]:
    """Every message of an instance's stream on the bus at ``url``, in order: (subject, its
    Nats-Msg-Id, its event decoded; or with ``raw``, its bytes). None if there is no stream yet."""
    import nats
    from nats.js.api import ConsumerConfig, DeliverPolicy

    from bus.events import decode, stream_name, subject
    from bus.publisher import MSG_ID

    async def fetch() -> list[tuple[str, Any, Any]]:
        nc = await nats.connect(url, allow_reconnect=False)
        try:
            js = nc.jetstream()
            try:
                last = (await js.stream_info(stream_name(instance))).state.last_seq
            except nats.js.errors.NotFoundError:
                return []
            out: list[tuple[str, Any, Any]] = []
            if not last:
                return out
            sub = await js.pull_subscribe(subject(instance, ">"), stream=stream_name(instance),
                                          config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL))
            while len(out) < last:
                for msg in await sub.fetch(min(1000, last - len(out)), timeout=5):
                    msg_id = (msg.headers or {}).get(MSG_ID)
                    out.append((msg.subject, msg_id, msg.data if raw else decode(msg.data)))
                    await msg.ack()
            await sub.unsubscribe()
            return out
        finally:
            await nc.close()

    return asyncio.run(fetch())


def running(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, which init reaps soon, does not)."""
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False


def fixgate_argv(*args: str) -> list[str]:
    """The command line of the real ``fixgate`` command (the installed console script, else its module)."""
    import sys

    script = Path(sys.executable).parent / "fixgate"
    return [str(script), *args] if script.is_file() else [sys.executable, "-m", "fixgate.cli", *args]


@functools.cache
def _fix50sp2_dictionaries() -> tuple[Any, Any]:
    """FIXT11.xml and FIX50SP2.xml, read once (about a second each)."""
    import sys

    import quickfix as fix

    specs = Path(sys.prefix) / "share" / "quickfix"
    return fix.DataDictionary(str(specs / "FIXT11.xml")), fix.DataDictionary(str(specs / "FIX50SP2.xml"))


def validate_fix50sp2(message: Any, sender: str = "FIXGATE", target: str = "CLIENT1") -> None:
    """Raise (QuickFIX's own exception, naming the tag) unless ``message``, a ``quickfix.Message`` built
    without its session header, is a valid FIX 5.0 SP2 message over FIXT.1.1: the header a FIXT.1.1
    session writes is added, then the whole is read and checked with the FIXT11.xml transport
    dictionary and the FIX50SP2.xml application one, as a FIXT.1.1 counterparty does."""
    import quickfix as fix

    transport, application = _fix50sp2_dictionaries()
    header = message.getHeader()
    for tag, value in ((8, "FIXT.1.1"), (49, sender), (56, target), (34, "2"), (52, "20250101-00:00:00.000")):
        header.setField(tag, value)
    parsed = fix.Message(message.toString(), transport, application, True)
    if header.getField(35) in ("0", "1", "2", "3", "4", "5", "A"):  # session messages: FIXT.1.1's own
        transport.validate(parsed)
    else:
        fix.DataDictionary.validate(parsed, transport, application)


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """URL of a new database on ``admin_url``'s server, migrated to head (so every run also checks the
    migrations); dropped after."""
    name = f"fixgate_test_{uuid.uuid4().hex[:16]}"
    url = create_database(admin_url, name)
    try:
        upgrade(url)
        yield url
    finally:
        drop_database(admin_url, name)
