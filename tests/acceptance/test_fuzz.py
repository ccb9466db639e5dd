"""Hostile input, seeded: mutated orders, cancels, replaces and status requests over real FIX; then the
book must hold exactly what the venue did, and the gateway must have logged no traceback.

Three clients (CLIENT1 in FIX 4.4, CLIENT2 in FIX 4.2, BENCH in FIX 5.0 SP2 over FIXT.1.1) send valid
messages with, one time in two, one or two mutations (and in 5.0 SP2 now and then an ApplVerID, 1128,
of its own or another version): a field's value replaced by hostile bytes (0xFF, NUL, UTF-8, control characters,
300 characters, numbers out of range, another client's account), a field dropped, repeated, or an
undefined or misplaced tag added; now and then a garbled frame. At the end:

- every order the venue has from fixgate is in the book, with the venue's status, quantity and
  cumulative quantity;
- every venue fill is in the book exactly once, with its quantity and price, on the order it filled;
- every position equals the one recomputed from the venue's fills (account and symbol of each
  order as booked);
- nothing is left pending in the book, and every order the book holds for a venue was sent there;
- no log record of the gateway carries a traceback.

``FIXGATE_FUZZ_SEED`` replays a run; ``FIXGATE_FUZZ_MESSAGES`` sets its length (the CI run is bounded:
``bench/README.md`` has the command of a long one).
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from domain.model import Side
from fixgate.app import Fixgate
from fixgate.fixclient import FieldValue, FixClient, utc_timestamp
from simulator.venue import Simulator
from tests.support import Held, book_rows, wait_for_book

MESSAGES = int(os.environ.get("FIXGATE_FUZZ_MESSAGES", "1500"))

HOSTILE: list[FieldValue | bytes] = [
    b"\xff", b"A\xffB", b"\x80abc", b"\x00", b"x\x00y", "\u00e9t\u00e9", b"\x7f", b"\x1b[31m", "",
    " ", "-5", "0", "-0", "1e9", "1E+20000000", "99999999999999999999999999999", "NaN", "Infinity",
    "1.0000000001", " 10", "10 ", "0x10", "x" * 300, "CLIENT2", "CLIENT1", "BENCH", "ZZZZ", "'; DROP TABLE orders;--",
    "190.005", "-190", "1", "2", "3", "7", "Z",
]
MUTABLE = {
    "D": [11, 1, 21, 55, 54, 38, 40, 44, 59, 60, 100, 58, 18, 110],
    "F": [11, 41, 1, 55, 54, 38, 60, 37],
    "G": [11, 41, 1, 21, 55, 54, 38, 40, 44, 59, 60],
    "H": [11, 1, 55, 54, 37],
    "q": [11, 530, 55, 60],
}


class Fuzzer:
    """One client session that sends mutated messages and reconnects whenever the gateway drops it."""

    def __init__(self, port: int, comp_id: str, begin_string: str, rng: random.Random) -> None:
        self.port, self.comp_id, self.begin_string, self.rng = port, comp_id, begin_string, rng
        self.history: dict[int, tuple[str, list[tuple[int, FieldValue]], str]] = {}
        self.next_out = self.next_in = 1
        self.missing_in: set[int] = set()
        self.ids: list[str] = []
        self.fix: FixClient | None = None
        self.reconnects = 0

    def connect(self) -> FixClient:
        if self.fix is not None and self.fix.connected:
            return self.fix
        if self.fix is not None:
            self.fix.close()
            self.next_out, self.next_in = self.fix.next_seq_out, self.fix.next_seq_in
            self.missing_in = set(self.fix.missing_in)
            self.reconnects += 1
        self.fix = FixClient.connect(
            "127.0.0.1", self.port, sender_comp_id=self.comp_id, target_comp_id="FIXGATE",
            begin_string=self.begin_string, next_seq_out=self.next_out, next_seq_in=self.next_in,
            missing_in=self.missing_in, app_history=self.history, heartbeat_interval=30,
        )
        self.fix.logon(timeout=10)
        return self.fix

    def message(self, n: int) -> tuple[str, list[tuple[int, FieldValue | bytes]]]:
        rng = self.rng
        kind = rng.choices(["D", "F", "G", "H", "q"], [60, 15, 12, 8, 0 if self.begin_string == "FIX.4.2" else 5])[0]
        cl_ord_id = f"{self.comp_id[-1]}{n}"
        symbol = rng.choice(["AAPL", "AAPL", "MSFT"])
        ref = Decimal("190.00") if symbol == "AAPL" else Decimal("420.00")
        side = rng.choice("12")
        qty = rng.randint(1, 300)
        price = ref + Decimal(rng.randint(-20, 20)) / 100
        target = rng.choice(self.ids) if self.ids and kind != "D" else f"nope{n}"
        fields: list[tuple[int, FieldValue | bytes]]
        if kind == "D":
            fields = [(11, cl_ord_id), (21, "1"), (55, symbol), (54, side), (38, qty), (40, "2"), (44, price),
                      (59, rng.choice("0013")), (60, utc_timestamp())]
            if rng.random() < 0.2:
                fields[5:7] = [(40, "1")]
            if rng.random() < 0.3:
                fields.insert(1, (1, self.comp_id))
            self.ids.append(cl_ord_id)
        elif kind == "F":
            fields = [(41, target), (11, cl_ord_id), (55, symbol), (54, side), (38, qty), (60, utc_timestamp())]
        elif kind == "G":
            fields = [(41, target), (11, cl_ord_id), (21, "1"), (55, symbol), (54, side), (38, qty + 1), (40, "2"),
                      (44, price), (60, utc_timestamp())]
            self.ids.append(cl_ord_id)
        elif kind == "H":
            fields = [(11, target), (55, symbol), (54, side)]
        else:
            fields = [(11, cl_ord_id), (530, rng.choice("17")), (55, symbol), (60, utc_timestamp())]
        if self.begin_string == "FIX.4.2" and kind in "DFG":
            fields = [(t, v) for t, v in fields if t != 60]
            fields.append((60, utc_timestamp().split(".")[0]))
        if rng.random() < 0.5:
            for _ in range(rng.randint(1, 2)):
                self.mutate(kind, fields)
        return kind, fields

    def mutate(self, kind: str, fields: list[tuple[int, FieldValue | bytes]]) -> None:
        rng = self.rng
        what = rng.choices(["value", "drop", "repeat", "unknown tag", "misplaced tag"], [70, 10, 8, 6, 6])[0]
        if what == "value":
            tag = rng.choice(MUTABLE[kind])
            value = rng.choice(HOSTILE)
            for i, (t, _) in enumerate(fields):
                if t == tag:
                    fields[i] = (tag, value)
                    return
            fields.append((tag, value))
        elif what == "drop" and fields:
            fields.pop(rng.randrange(len(fields)))
        elif what == "repeat" and fields:
            fields.append(rng.choice(fields))
        elif what == "unknown tag":
            fields.append((rng.choice([5999, 9999, 20000, 0]), "x"))
        else:
            fields.append((rng.choice([150, 39, 17, 14, 6]), "0"))

    def send(self, n: int) -> None:
        kind, fields = self.message(n)
        try:
            fix = self.connect()
            if self.rng.random() < 0.01:
                fix.send_raw(self.rng.choice([b"8=FIX.4.4\x019=5\x0135=D\x0110=000\x01", b"\xff" * 40,
                                              b"8=FIX.4.4\x019=999\x01"]))
            header = None
            if self.begin_string == "FIXT.1.1" and self.rng.random() < 0.05:
                header = {1128: self.rng.choice(["9", "7", "8", "X", ""])}  # only 9 is taken
            fix.send(kind, fields, header=header)  # type: ignore[arg-type]
        except (OSError, ConnectionError, TimeoutError):
            pass  # kept in the history: asked for again after the reconnect

    def sync(self, timeout: float = 30.0) -> None:
        """Every message sent so far has been taken by the gateway (it answers a TestRequest in sequence)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                fix = self.connect()
                test_id = f"sync-{time.monotonic_ns()}"
                fix.send("1", {112: test_id})
                end = min(deadline, time.monotonic() + 10)
                while time.monotonic() < end and fix.connected:
                    if any(m.get(35) == "0" and m.get(112) == test_id for m in fix.received):
                        return
                    time.sleep(0.05)
            except (OSError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, f"{self.comp_id}: the gateway did not answer a TestRequest"

    def close(self) -> None:
        if self.fix is not None:
            self.fix.close()


def history(database_url: str, order_ids: list[int]) -> list[tuple[object, ...]]:
    """What the book holds of these orders' executions, in the order applied (for a failure)."""
    rows = book_rows(database_url, "SELECT order_id, kind, status, text, venue_exec_id FROM executions ORDER BY seq")
    return [tuple(r) for r in rows if r["order_id"] in order_ids]


class Tracebacks(logging.Handler):
    """Every log record that carries an exception (a traceback in the gateway's log)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or "Traceback" in record.getMessage():
            self.records.append(record)


@pytest.fixture
def tracebacks() -> Iterator[Tracebacks]:
    handler = Tracebacks()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def test_mutated_messages_leave_the_book_exactly_as_the_venue(
    gateway: Fixgate, simulator: Simulator, database_url: str, tracebacks: Tracebacks, tmp_path: Path
) -> None:
    seed = int(os.environ.get("FIXGATE_FUZZ_SEED", random.randrange(1 << 32)))
    print(f"fuzz seed {seed} (FIXGATE_FUZZ_SEED={seed} replays it), {MESSAGES} messages")
    rng = random.Random(seed)
    port = gateway.settings.client_port
    clients = [Fuzzer(port, "CLIENT1", "FIX.4.4", rng), Fuzzer(port, "CLIENT2", "FIX.4.2", rng),
               Fuzzer(port, "BENCH", "FIXT.1.1", rng)]
    try:
        for n in range(MESSAGES):
            rng.choice(clients).send(n)
            if n % 25 == 0:
                time.sleep(0.01)  # a steady flow, not one burst
        for client in clients:
            # (A long run's garbled frames swallow messages: gaps, resends of thousands, reconnects.)
            client.sync(timeout=max(30.0, MESSAGES / 2000))
    finally:
        transcripts = [f"-- {c.comp_id}: {c.reconnects} reconnects" for c in clients]
        for c in clients:
            if c.fix is not None:
                transcripts += [str(m) for m in c.fix.received]
            c.close()
        (tmp_path / "fuzz-transcript.txt").write_text("\n".join(transcripts))
    # (After the logouts: CLIENT2 cancels on disconnect, and those cancels must reach the book too.)
    venue_fills = wait_for_book(database_url, simulator)

    book_orders = book_rows(database_url, """
        SELECT order_id, account, symbol, side, status, quantity, cum_qty, venue_cl_ord_id, venue_order_id
        FROM orders""")
    by_venue_id = {r["venue_order_id"]: r for r in book_orders if r["venue_order_id"] is not None}
    # Every order the venue has from fixgate is in the book, as the venue has it.
    venue_orders = simulator.record.orders_from("FIXGATE")
    assert venue_orders, "no order reached the venue: the fuzz run tested nothing"
    # (By any ClOrdID the venue knows the order by: the book keeps the one the venue took last.)
    booked_ids = {r["venue_cl_ord_id"] for r in book_orders}
    hidden = [o for o in venue_orders if not set(o.cl_ord_ids) & booked_ids]
    assert not hidden, f"{len(hidden)} venue orders missing from the book, e.g. {hidden[:3]}"
    differ = {
        o.order_id: ((r["status"], r["quantity"], r["cum_qty"]) if r else None, (str(o.status), o.quantity, o.cum_qty))
        for o in venue_orders
        for r in [by_venue_id.get(o.order_id)]
        if r is None or (r["status"], r["quantity"], r["cum_qty"]) != (str(o.status), o.quantity, o.cum_qty)
    }
    assert not differ, (f"{len(differ)} orders (book, venue) differ, e.g. {sorted(differ.items())[:3]}; their"
                        f" history: {history(database_url, [by_venue_id[k]['order_id'] for k in differ if k in by_venue_id][:3])}")
    # Every venue fill exactly once, on the order it filled.
    book_fills = book_rows(database_url, """
        SELECT e.venue_exec_id, e.last_qty, e.last_px, o.venue_order_id
        FROM executions e JOIN orders o USING (order_id) WHERE e.kind = 'TRADE'""")
    booked = sorted((r["venue_exec_id"], r["last_qty"], r["last_px"], r["venue_order_id"]) for r in book_fills)
    at_venue = sorted((f.exec_id, f.quantity, f.price, f.order_id) for f in venue_fills)
    assert booked == at_venue
    # Positions are the venue's fills folded per account and symbol, in the venue's order.
    expected: dict[tuple[str, str], Held] = {}
    for f in venue_fills:
        order = by_venue_id[f.order_id]
        key = (order["account"], order["symbol"])
        expected.setdefault(key, Held()).apply_fill(Side(str(f.side)), f.quantity, f.price)
    positions = {
        (r["account"], r["symbol"]): (r["quantity"], r["realized_pnl"])
        for r in book_rows(database_url, "SELECT account, symbol, quantity, realized_pnl FROM positions")
    }
    assert positions == {k: (p.quantity, p.realized_pnl) for k, p in expected.items()}
    # No order the book holds for a venue is missing there, and nothing is left pending.
    venue_cl_ord_ids = {c for o in venue_orders for c in o.cl_ord_ids}
    sent = [r for r in book_orders if r["venue_order_id"] is not None]
    assert all(r["venue_cl_ord_id"] in venue_cl_ord_ids for r in sent)
    stuck = [r["order_id"] for r in book_orders if r["status"].startswith("PENDING")]
    assert stuck == []
    print(f"fuzz: {MESSAGES} messages, {sum(c.reconnects for c in clients)} reconnects; {len(book_orders)} orders"
          f" in the book, {len(venue_orders)} at the venue, {len(venue_fills)} fills, {len(positions)} positions:"
          " all as the venue has them")
    # And the gateway never failed on what it was sent.
    assert not tracebacks.records, (
        f"{len(tracebacks.records)} tracebacks logged, the first: "
        f"{tracebacks.records[0].getMessage()} {tracebacks.records[0].exc_info!r}"
    )
