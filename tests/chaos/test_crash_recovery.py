"""Chaos: fixgate SIGKILLed at random moments while a client trades through it; nothing lost, nothing
counted twice.

The gateway runs as a subprocess (``fixgate serve``) against the in-process simulator and a real
PostgreSQL. A client sends at least 1,000 orders that cross each other at the simulator (sells and
buys of random size at one price, so most fill in parts); at random moments the gateway is killed
with SIGKILL and started again on the same data folder, and the client reconnects continuing its
FIX session (and resends what the gateway asks for, PossDup, as a FIX engine does). At other random
moments the book writer process is SIGKILLed (the gateway's supervisor starts it again), and the bus
(a NATS server of the test's own, which the gateway reaches by NATS_URL) is SIGKILLed and started
again a moment later. At the end:

- every fill the venue made for fixgate is in the book exactly once, with its quantity, price and
  side, on the order the venue filled;
- every order's cumulative quantity in the book is the sum of the venue's fills of it, and its
  status and quantity are the venue's (one order in seven gets a cancel request and one in eleven a
  replace to one more, on their way at a kill or not);
- every cancel and replace request was answered (Canceled or Replaced, or an OrderCancelReject);
- every order the venue knows from fixgate is in the book;
- every order the client sent is in the book exactly once, and the client got a report of it;
- positions equal those recomputed from the venue's own fills;
- the client has received an ExecutionReport for every execution in the book, and one it received
  twice carried PossDupFlag (QuickFIX's resend) or PossResend (owed at logon) the second time;
- the bus holds every event once, in journal order (so in order per order): every execution in the
  book is there once, and each order's last order event says what its row says.

The randomness comes from a seed printed at the start (``FIXGATE_CHAOS_SEED`` replays one).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx

from bus.events import EventId
from bus.server import EmbeddedNats
from domain.model import Side
from fixgate.fixclient import FieldValue, FixClient, utc_timestamp
from simulator.venue import Simulator
from tests.support import Held, bus_events, eventually, free_port, one_venue_config_dir, wait_for_book
from tests.support import book_rows as rows

REPO = Path(__file__).resolve().parents[2]
TOKEN = "chaos-token"
ORDERS = 1000
KILLS = 5
WRITER_KILLS = 4  # of the book writer process, between the gateway's
BUS_KILLS = 3  # of the NATS server
CANCEL_EVERY = 7  # one cancel request per this many orders
REPLACE_EVERY = 11  # one replace request (one more to buy or sell) per this many orders


class GatewayProcess:
    """``fixgate serve`` as a child process on fixed ports and one data folder, killable."""

    def __init__(self, data_dir: Path, database_url: str, sim_port: int, nats_url: str | None = None) -> None:
        self.data_dir = data_dir
        self.client_port = free_port()
        self.rest_port = free_port()
        self.env = {**os.environ, "DATABASE_URL": database_url, "FIXGATE_API_TOKEN": TOKEN}
        if nats_url is not None:
            self.env["NATS_URL"] = nats_url
        self.args = [
            sys.executable, "-m", "fixgate.cli", "serve", "--data-dir", str(data_dir),
            "--client-port", str(self.client_port), "--venue-port", str(sim_port),
            "--rest-port", str(self.rest_port), "--config-dir", str(one_venue_config_dir()),
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        log = (self.data_dir / f"gateway-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(self.args, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.starts += 1
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, f"gateway exited with {self.proc.returncode}; see {log.name}"
            try:
                if httpx.get(f"http://127.0.0.1:{self.rest_port}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "gateway did not come up in 60 s"
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def kill_child(self, marker: str) -> int:
        """SIGKILL the gateway's child process whose command line holds ``marker``; its pid."""
        assert self.proc is not None
        deadline = time.monotonic() + 30
        while True:
            for pid in children(self.proc.pid):
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                if marker in cmdline:
                    os.kill(pid, signal.SIGKILL)
                    return pid
            assert time.monotonic() < deadline, f"no child process {marker} of the gateway in 30 s"
            time.sleep(0.05)  # between a crash and its restart

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux: every thread's children)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


class Client:
    """CLIENT1's FIX session across gateway restarts: sequence numbers and sent messages carried over."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.history: dict[int, tuple[str, list[tuple[int, FieldValue]], str]] = {}
        self.next_out = self.next_in = 1
        self.missing_in: set[int] = set()
        self.exec_ids: set[str] = set()
        self.answered: set[str] = set()  # ClOrdIDs with at least one report
        self.canceled: set[str] = set()  # ClOrdIDs of Canceled reports
        self.replaced: set[str] = set()  # ClOrdIDs of Replaced reports
        self.cancel_rejected: set[str] = set()  # ClOrdIDs of OrderCancelRejects
        self.unmarked_repeats: list[str] = []  # ExecIDs received again without PossDupFlag or PossResend
        self.fix: FixClient | None = None
        self.connections = 0
        self.transcript: list[str] = []  # every message received, per connection, for a failure

    def connect(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                self.fix = FixClient.connect(
                    "127.0.0.1", self.port, sender_comp_id="CLIENT1", target_comp_id="FIXGATE",
                    next_seq_out=self.next_out, next_seq_in=self.next_in, missing_in=self.missing_in,
                    app_history=self.history,
                    heartbeat_interval=5,
                )
                self.connections += 1
                self.fix.logon(timeout=10)
                return
            except (OSError, ConnectionError, TimeoutError):
                self.drop()
                assert time.monotonic() < deadline, "client could not log on again in 30 s"
                time.sleep(0.2)

    def send(self, fields: dict[int, FieldValue], msg_type: str = "D") -> None:
        assert self.fix is not None
        self.fix.send(msg_type, fields)

    def collect(self) -> None:
        if self.fix is not None:
            for message in self.fix.drain():
                if message.get(35) == "8" and 17 in message:
                    if message[17] in self.exec_ids and not (message.poss_dup or message.get(97) == "Y"):
                        self.unmarked_repeats.append(message[17])
                    self.exec_ids.add(message[17])
                    self.answered.add(message[11])
                    if message[39] == "4":
                        self.canceled.add(message[11])
                    elif message[150] == "5":
                        self.replaced.add(message[11])
                elif message.get(35) == "9":
                    self.cancel_rejected.add(message[11])

    def sync(self, timeout: float = 30.0) -> None:
        """Wait until the gateway has taken every message sent so far: it answers a TestRequest only
        in sequence, so after any gap in between is filled. (A gap can open without a kill: a
        ResendRequest the client sends while the gateway awaits a resend is taken out of order, and
        QuickFIX asks for that number only when a later message shows it missing.)"""
        assert self.fix is not None
        test_id = f"sync-{time.monotonic_ns()}"
        self.fix.send("1", {112: test_id})
        deadline = time.monotonic() + timeout
        while not any(m.get(35) == "0" and m.get(112) == test_id for m in self.fix.received):
            assert time.monotonic() < deadline, f"the gateway did not answer TestRequest {test_id} in {timeout} s"
            time.sleep(0.05)

    def drop(self) -> None:
        """The connection is gone (the gateway was killed): keep where the session stands."""
        if self.fix is None:
            return
        self.fix.close()  # joins the reader: after this nothing more is read or counted
        self.collect()
        self.transcript.append(f"-- connection {self.connections}: {self.fix.protocol_errors}")
        self.transcript += [str(m) for m in self.fix.received]
        # Everything counted as received is collected; everything numbered was put on the wire.
        self.next_out, self.next_in = self.fix.next_seq_out, self.fix.next_seq_in
        self.missing_in = set(self.fix.missing_in)  # a resend the kill cut short: asked for again
        self.fix = None


def test_sigkill_at_random_moments_loses_nothing_and_counts_nothing_twice(
    tmp_path: Path, database_url: str, simulator: Simulator
) -> None:
    seed = int(os.environ.get("FIXGATE_CHAOS_SEED", random.randrange(1 << 32)))
    print(f"chaos seed {seed} (FIXGATE_CHAOS_SEED={seed} replays it)")
    rng = random.Random(seed)
    kill_after = sorted(rng.sample(range(50, ORDERS - 50), KILLS))
    writer_kill_after = sorted(rng.sample(sorted(set(range(30, ORDERS - 30)) - set(kill_after)), WRITER_KILLS))
    writer_kills = 0
    bus_kill_after = sorted(rng.sample(range(40, ORDERS - 40), BUS_KILLS))
    bus_kills = 0
    bus = EmbeddedNats(tmp_path / "bus").start()

    orders_sent: dict[str, dict[int, FieldValue]] = {}
    cancels: list[str] = []
    replaces: list[str] = []
    gateway = GatewayProcess(tmp_path / "gw", database_url, simulator.port, bus.url)
    gateway.data_dir.mkdir()
    gateway.start()
    client = Client(gateway.client_port)
    bus_down_until: int | None = None  # the order after which the killed bus starts again
    try:
        client.connect()
        for n in range(ORDERS):
            side = "2" if n % 2 == 0 else "1"
            fields: dict[int, FieldValue] = {
                11: f"o{n}", 21: "1", 55: "AAPL", 54: side, 38: rng.randint(1, 9), 40: "2", 44: "190.00",
                59: "0", 60: utc_timestamp(),
            }
            orders_sent[f"o{n}"] = fields
            try:
                client.send(fields)
                if n % CANCEL_EVERY == 3:  # a cancel of an order of a moment ago: filled, resting or in flight
                    target = orders_sent[f"o{n - 2}"]
                    cancels.append(f"x{n}")
                    client.send({41: target[11], 11: f"x{n}", 55: "AAPL", 54: target[54], 38: target[38],
                                 60: utc_timestamp()}, "F")
                if n % REPLACE_EVERY == 5:
                    target = orders_sent[f"o{n - 3}"]
                    replaces.append(f"r{n}")
                    client.send({41: target[11], 11: f"r{n}", 21: "1", 55: "AAPL", 54: target[54],
                                 38: int(target[38]) + 1, 40: "2", 44: "190.00", 60: utc_timestamp()}, "G")
            except OSError:
                pass  # kept in the history: the gateway asks for it again after the restart
            if n % 20 == 0:
                time.sleep(0.005)  # a steady flow, not one burst
                client.collect()
            if bus_kill_after and n == bus_kill_after[0]:
                bus_kill_after.pop(0)
                bus.kill()
                bus_kills += 1
                bus_down_until = n + rng.randint(1, 60)  # trading goes on while it is down
            if bus_down_until is not None and n >= bus_down_until:
                bus.start()
                bus_down_until = None
            if writer_kill_after and n == writer_kill_after[0]:
                writer_kill_after.pop(0)
                time.sleep(rng.uniform(0, 0.03))
                gateway.kill_child("book.follower")
                writer_kills += 1
            if kill_after and n == kill_after[0]:
                kill_after.pop(0)
                time.sleep(rng.uniform(0, 0.03))  # somewhere inside the processing of the last orders
                gateway.kill()
                client.drop()
                gateway.start()
                client.connect()

        if bus_down_until is not None:
            bus.start()
        # Quiet: the gateway has every message of the client, every fill the venue made for fixgate
        # reaches the book, and every report the client.
        client.sync()
        venue_fills = wait_for_book(database_url, simulator)
        book_exec_ids = {r["exec_id"] for r in rows(database_url, "SELECT exec_id FROM executions")}
        deadline = time.monotonic() + 30
        while not book_exec_ids <= client.exec_ids and time.monotonic() < deadline:
            time.sleep(0.2)
            client.collect()
        events = eventually(lambda: bus_events(bus.url, "fixgate"),
                            lambda e: {x["data"]["exec_id"] for _, _, x in e if x["kind"] in ("fills", "executions")}
                            >= book_exec_ids, timeout=60)
    finally:
        client.drop()
        gateway.stop()
        bus.stop()

    (tmp_path / "client-transcript.txt").write_text("\n".join(client.transcript))  # for a failure below
    assert gateway.starts == KILLS + 1 and writer_kills == WRITER_KILLS and bus_kills == BUS_KILLS
    # The bus: every event once, in journal order; every execution of the book once; each order's last
    # event its row in the book.
    ids = [EventId.parse(msg_id) for _, msg_id, _ in events]
    assert [x["id"] for _, _, x in events] == [str(i) for i in ids]
    positions = [i.position() for i in ids]
    assert positions == sorted(set(positions)), "an event twice, or out of journal order"
    bus_execs = [x["data"]["exec_id"] for _, _, x in events if x["kind"] in ("fills", "executions")]
    assert len(bus_execs) == len(set(bus_execs)) and set(bus_execs) == book_exec_ids
    last_order_event = {x["order_id"]: x["data"] for _, _, x in events if x["kind"] == "orders"}
    assert {k: (v["status"], Decimal(v["cum_qty"])) for k, v in last_order_event.items()} == {
        r["order_id"]: (r["status"], r["cum_qty"]) for r in rows(database_url, "SELECT order_id, status, cum_qty FROM orders")}
    book_fills = rows(database_url, """
        SELECT e.venue_exec_id, e.last_qty, e.last_px, o.side, o.venue_order_id
        FROM executions e JOIN orders o USING (order_id)
        WHERE e.kind = 'TRADE' ORDER BY e.seq""")
    # Every venue fill exactly once, with its quantity, price and side, on the order the venue
    # filled (the unique constraint on (venue, venue_exec_id) makes "at most once" structural; this
    # checks "at least once" and values: a fill booked on the wrong order would pass on qty and px).
    assert book_fills, "no fill at all: the flow did not trade"
    assert len(book_fills) == len({r["venue_exec_id"] for r in book_fills})
    booked = {
        r["venue_exec_id"]: (r["last_qty"], r["last_px"], r["side"], r["venue_order_id"]) for r in book_fills
    }
    # (By the venue's OrderID: a cancel that ends a partly filled order moves its ClOrdID on.)
    at_venue = {f.exec_id: (f.quantity, f.price, str(f.side), f.order_id) for f in venue_fills}
    differ = {k: (booked.get(k), at_venue.get(k)) for k in booked.keys() | at_venue.keys()
              if booked.get(k) != at_venue.get(k)}
    assert not differ, f"{len(differ)} fills (book, venue) differ, e.g. {sorted(differ.items())[:5]}"
    # Every order's cumulative quantity is what the venue filled of it (an order's row is written
    # apart from its fills, so this catches a replay or resend that updated one and not the other).
    filled: dict[str, Decimal] = {}
    for f in venue_fills:
        filled[f.order_id] = filled.get(f.order_id, Decimal(0)) + f.quantity
    book_cum = {r["venue_order_id"]: r["cum_qty"] for r in rows(
        database_url, "SELECT venue_order_id, cum_qty FROM orders WHERE venue_order_id IS NOT NULL")}
    wrong = {c: (q, filled.get(c, Decimal(0))) for c, q in book_cum.items() if q != filled.get(c, Decimal(0))}
    assert not wrong, f"{len(wrong)} orders' cum qty (book, venue) differs, e.g. {sorted(wrong.items())[:5]}"
    # Every order the client sent is in the book exactly once (a resend taken for a new order would
    # be booked, and sent to the venue, twice) and got at least one report.
    sent = {f"o{n}" for n in range(ORDERS)}
    # (A canceled order carries the cancel's ClOrdID x<n>, which asked for o<n-2>; a replaced one
    # the replace's r<n>, which asked for o<n-3>.)
    back = {"x": 2, "r": 3, "o": 0}
    client_orders = [
        f"o{int(c[1:]) - back[c[0]]}"
        for c in (r["cl_ord_id"] for r in rows(database_url, "SELECT cl_ord_id FROM orders"))
    ]
    assert len(client_orders) == ORDERS and set(client_orders) == sent
    assert client.answered >= sent, f"never answered: {sorted(sent - client.answered)[:5]}"
    # Every cancel and replace request was answered: Canceled or Replaced, or an OrderCancelReject.
    unanswered = [c for c in cancels if c not in client.canceled | client.cancel_rejected]
    unanswered += [r for r in replaces if r not in client.replaced | client.cancel_rejected]
    assert not unanswered, f"{len(unanswered)} requests never answered, e.g. {unanswered[:5]}"
    # Every order ended as it did at the venue, with its quantity (matched by the venue's OrderID).
    venue_status = {o.order_id: (str(o.status), o.quantity) for o in simulator.record.orders_from("FIXGATE")}
    book_status = {r["venue_order_id"]: (r["status"], r["quantity"]) for r in rows(
        database_url, "SELECT venue_order_id, status, quantity FROM orders WHERE venue_order_id IS NOT NULL")}
    differ = {v: (book_status.get(v), s) for v, s in venue_status.items() if book_status.get(v) != s}
    assert not differ, f"{len(differ)} orders' status (book, venue) differs, e.g. {sorted(differ.items())[:5]}"
    assert client.canceled & set(cancels), "no cancel took effect: the flow did not test one"
    assert client.replaced & set(replaces), "no replace took effect: the flow did not test one"
    # Every order the venue knows from fixgate is in the book.
    venue_orders = {o.cl_ord_id for o in simulator.record.orders_from("FIXGATE")}
    book_orders = {r["venue_cl_ord_id"] for r in rows(database_url, "SELECT venue_cl_ord_id FROM orders")}
    assert venue_orders <= book_orders
    # Positions equal those recomputed from the venue's own fills, in the venue's order.
    expected = Held()  # CLIENT1's AAPL
    for f in venue_fills:
        expected.apply_fill(Side(str(f.side)), f.quantity, f.price)
    [position] = rows(database_url, "SELECT quantity, avg_price, realized_pnl FROM positions")
    assert (position["quantity"], position["avg_price"], position["realized_pnl"]) == (
        expected.quantity, expected.avg_price, expected.realized_pnl
    )
    # The client got a report for every execution in the book (live, resent PossDup, or owed).
    # A report the client gets twice is marked as a possible duplicate (or resend) the second time.
    assert client.unmarked_repeats == []
    missing = book_exec_ids - client.exec_ids
    assert not missing, (f"{len(missing)} reports never reached the client, e.g. {sorted(missing)[:5]};"
                         f" transcript in {tmp_path / 'client-transcript.txt'}")
    # Nothing is left pending.
    stuck = rows(database_url, "SELECT order_id, status FROM orders WHERE status LIKE 'PENDING%'")
    assert stuck == []
