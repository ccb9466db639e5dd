"""Two gateway instances on one book of record (docs/SCALING.md): each with its own data folder, FIX
sessions, venue session and book writer process, both writing one PostgreSQL database. Their order ids
(so their venue ClOrdIDs and execution ids) never collide, and the book holds both instances' orders,
fills and positions, each once.

Both run in this one process, where QuickFIX keeps one registry of sessions (``Session.sendToTarget``
finds a session by its SessionID alone): two gateways here must not share a SessionID. So each has a
config folder of its own, as a deployment would: its clients.cfg lists only its own clients (a client,
and so its accounts, trades through one instance), and its venues.cfg logs on to its venue with a
SenderCompID of its own (two instances at one real venue need that anyway: one logon per session)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal as D
from pathlib import Path

import pytest

from bench.procs import one_venue_config
from bus.server import EmbeddedNats
from domain.model import Side
from fixgate.app import Fixgate
from fixgate.config import Settings
from fixgate.fixclient import FixClient
from simulator.config import load_config
from simulator.venue import Simulator
from tests.support import Held, book_rows, bus_events, eventually, free_port, order_fields

REPO = Path(__file__).resolve().parents[2]
SLOTS = 2
#: Each instance's name, order id slot, the client that trades through it and its CompID at its venue.
INSTANCES = {"east": (0, "CLIENT1", "FG_EAST"), "west": (1, "CLIENT2", "FG_WEST")}
#: (ClOrdID suffix, symbol, side, quantity, limit price, final OrdStatus). The simulator rests 100 at
#: each tick from reference + 0.01 up and from reference - 0.01 down (AAPL 190.00, MSFT 420.00):
#: crossing orders fill, some over two levels; the 189.00 buy rests (NEW).
ORDERS = [
    ("a", "AAPL", "1", 30, "190.05", "2"),
    ("b", "AAPL", "1", 100, "190.05", "2"),  # 70 @ 190.01, 30 @ 190.02
    ("c", "AAPL", "2", 20, "189.90", "2"),
    ("d", "AAPL", "1", 10, "189.00", "0"),
    ("e", "MSFT", "1", 5, "420.05", "2"),
    ("f", "MSFT", "2", 120, "419.90", "2"),  # 100 @ 419.99, 20 @ 419.98
]


@dataclass
class Instance:
    """One running gateway with its own venue simulator and its FIX client."""

    name: str
    slot: int
    comp_id: str
    venue_comp_id: str
    app: Fixgate
    simulator: Simulator
    client: FixClient | None = None
    order_ids: dict[str, int] = field(default_factory=dict)  # ClOrdID -> fixgate's OrderID (37)
    fills: list[tuple[int, D, D]] = field(default_factory=list)  # (OrderID, LastQty, LastPx) as reported
    held: dict[str, Held] = field(default_factory=dict)  # symbol -> what the fills add up to

    @property
    def session(self) -> str:
        return f"FIX.4.4:FIXGATE->{self.comp_id}"


def instance_config(tmp_path: Path, name: str, client: str, venue_comp_id: str) -> tuple[Path, Path]:
    """A copy of the shipped config for one instance: only ``client``'s FIX sessions (every FIX version),
    the venue session as ``venue_comp_id``; and a simulator config that lets that CompID log on and
    numbers its ExecIDs from 1, so the two venues give the same ExecIDs to different fills."""
    config = tmp_path / f"config-{name}"
    one_venue_config(config)
    sessions = config / "fix_sessions"
    blocks = (sessions / "clients.cfg").read_text().split("\n[SESSION]\n")
    kept = [b for b in blocks[1:] if f"TargetCompID={client}\n" in b]
    assert len(kept) == 3, f"clients.cfg: expected {client}'s FIX 4.4, 4.2 and 5.0 SP2 (FIXT.1.1) sessions"
    (sessions / "clients.cfg").write_text("\n[SESSION]\n".join([blocks[0], *kept]))
    venues = sessions / "venues.cfg"
    venues.write_text(venues.read_text().replace("SenderCompID=FIXGATE\n", f"SenderCompID={venue_comp_id}\n"))
    simulator = config / "simulator.toml"
    simulator.write_text(simulator.read_text().replace(
        'target_comp_ids = ["FIXGATE", "CLIENT1", "CLIENT2", "BENCH"]', f'target_comp_ids = ["{venue_comp_id}"]')
        + "\n[venues.dialect]\nrestart_exec_ids = true\n")
    return config, simulator


@pytest.fixture
def instances(tmp_path: Path, database_url: str) -> Iterator[dict[str, Instance]]:
    """East and west: two simulators, two gateways on one database and one bus, a client logged on to each."""
    started: dict[str, Instance] = {}
    bus = EmbeddedNats(tmp_path / "bus").start()
    try:
        for name, (slot, comp_id, venue_comp_id) in INSTANCES.items():
            config, sim_config = instance_config(tmp_path, name, comp_id, venue_comp_id)
            sim = Simulator(load_config(sim_config), tmp_path / f"sim-{name}", port=free_port())
            sim.start()
            app = Fixgate(Settings(
                config_dir=config, data_dir=tmp_path / name, instance=name, order_id_slot=slot,
                order_id_slots=SLOTS, client_port=free_port(), sim_port=sim.port, rest_port=free_port(),
                database_url=database_url, api_token=f"two-instances-{name}-token", nats_url=bus.url,
            ))
            started[name] = Instance(name, slot, comp_id, venue_comp_id, app, sim)
            app.start()
            assert app.wait_for_venues({"SIM"}), f"{name}'s SIM venue session did not log on"
        for instance in started.values():
            client = FixClient.connect("127.0.0.1", instance.app.settings.client_port,
                                       sender_comp_id=instance.comp_id, target_comp_id="FIXGATE")
            instance.client = client
            client.logon()
        yield started
    finally:
        for instance in started.values():
            if instance.client is not None:
                instance.client.logout(timeout=2)
            instance.app.stop()
            instance.simulator.stop(force=True)
        bus.stop()


def send(instance: Instance, suffix: str, symbol: str, side: str, qty: int, price: str) -> str:
    assert instance.client is not None
    cl_ord_id = f"{instance.name}-{suffix}"
    instance.client.send("D", order_fields(cl_ord_id, qty, price, symbol=symbol, side=side))
    return cl_ord_id


def settle(instance: Instance, cl_ord_id: str, symbol: str, side: str, final_status: str) -> None:
    """Take the order's execution reports up to the one with ``final_status``, noting its id and fills."""
    assert instance.client is not None
    while True:
        report = instance.client.expect("8", where={11: cl_ord_id})
        assert report[39] != "8", f"{cl_ord_id} rejected: {report.get(58)}"
        instance.order_ids[cl_ord_id] = int(report[37])
        if report[150] == "F":
            qty, px = report.decimal(32), report.decimal(31)
            instance.fills.append((int(report[37]), qty, px))
            instance.held.setdefault(symbol, Held()).apply_fill(Side.BUY if side == "1" else Side.SELL, qty, px)
        if report[39] == final_status:
            return


def test_two_instances_share_one_book_without_colliding(instances: dict[str, Instance], database_url: str) -> None:
    east, west = instances["east"], instances["west"]
    # Interleaved: east's and west's orders are in flight together, each on its own gateway.
    for suffix, symbol, side, qty, price, final in ORDERS:
        ids = {i.name: send(i, suffix, symbol, side, qty, price) for i in (east, west)}
        for i in (east, west):
            settle(i, ids[i.name], symbol, side, final)
    for i in (east, west):
        assert i.app.writer is not None and i.app.writer.flush(timeout=30.0), f"{i.name}'s book is behind"

    # Order ids: each instance's in its own slot, so none is given twice and no ClOrdID FG<id> is
    # sent to a venue twice.
    for i in (east, west):
        assert len(i.order_ids) == len(ORDERS)
        assert all(order_id % SLOTS == i.slot for order_id in i.order_ids.values()), (i.name, i.order_ids)
    assert not set(east.order_ids.values()) & set(west.order_ids.values())

    # Every order of both, under its own session, its own client's ClOrdID and its own venue ClOrdID.
    rows = {r["order_id"]: r for r in book_rows(
        database_url, "SELECT order_id, session, cl_ord_id, account, status, venue_cl_ord_id FROM orders")}
    assert len(rows) == 2 * len(ORDERS)
    for i in (east, west):
        for cl_ord_id, order_id in i.order_ids.items():
            row = rows[order_id]
            assert (row["session"], row["cl_ord_id"], row["account"], row["venue_cl_ord_id"]) == (
                i.session, cl_ord_id, i.comp_id, f"FG{order_id}")
        assert {rows[o]["status"] for o in i.order_ids.values()} == {"FILLED", "NEW"}

    # Every fill once: the book's trades are exactly what each client was told and what each venue did.
    trades = book_rows(database_url, "SELECT exec_id, order_id, venue_exec_id, last_qty, last_px FROM executions"
                                     " WHERE kind = 'TRADE'")
    assert len({t["exec_id"] for t in trades}) == len(trades)
    booked = Counter((t["order_id"], D(t["last_qty"]), D(t["last_px"])) for t in trades)
    assert booked == Counter(east.fills + west.fills)
    for i in (east, west):
        venue = {(int(f.cl_ord_id.removeprefix("FG")), f.exec_id, f.quantity, f.price)
                 for f in i.simulator.record.fills if f.owner.endswith(f"->{i.venue_comp_id}")}
        mine = {(t["order_id"], t["venue_exec_id"], D(t["last_qty"]), D(t["last_px"]))
                for t in trades if t["order_id"] in i.order_ids.values()}
        assert mine == venue and len(venue) == len(i.fills)
    # Both venues gave some of the same ExecIDs: fixgate's execution ids hold its order id, so they
    # stay apart in one table.
    assert {t["venue_exec_id"] for t in trades if t["order_id"] % SLOTS == 0} & {
        t["venue_exec_id"] for t in trades if t["order_id"] % SLOTS == 1}

    # Positions of both accounts, each as its instance's fills add up.
    positions = {(p["account"], p["symbol"]): p for p in book_rows(database_url, "SELECT * FROM positions")}
    assert set(positions) == {(i.comp_id, s) for i in (east, west) for s in i.held}
    for i in (east, west):
        for symbol, held in i.held.items():
            p = positions[(i.comp_id, symbol)]
            assert (D(p["quantity"]), D(p["cost"]), D(p["realized_pnl"])) == (held.quantity, held.cost,
                                                                             held.realized_pnl), (i.name, symbol)

    # One book writer position per instance, each on its own journal segment.
    writers = {r["consumer"]: r for r in book_rows(database_url, "SELECT * FROM book_positions")}
    assert set(writers) == {"book:east", "book:west"}
    for i in (east, west):
        assert i.app.journal is not None
        row = writers[f"book:{i.name}"]
        assert (row["segment"], row["byte_offset"] > 0) == (i.app.journal.segment, True)

    # One bus: each instance's events on its own stream, ids never shared, each event once, and each
    # instance's fills on the bus exactly the executions it booked.
    assert east.app.bus_url == west.app.bus_url
    url = east.app.bus_url or ""
    all_ids: list[str] = []
    for i in (east, west):
        mine = {t["exec_id"] for t in trades if t["order_id"] in i.order_ids.values()}
        events = eventually(lambda i=i: bus_events(url, i.name),
                            lambda e, mine=mine: {x["data"]["exec_id"] for _, _, x in e if x["kind"] == "fills"}
                            >= mine, timeout=30)
        ids = [msg_id for _, msg_id, _ in events]
        assert all(msg_id.startswith(f"{i.name}:") for msg_id in ids) and len(set(ids)) == len(ids)
        assert all(subject_.startswith(f"fixgate.{i.name}.") for subject_, _, _ in events)
        fills = [x["data"]["exec_id"] for _, _, x in events if x["kind"] == "fills"]
        assert sorted(fills) == sorted(mine)
        all_ids += ids
    assert len(set(all_ids)) == len(all_ids)


# A restarted instance restores only its own orders (``book.writer.read_state`` by order id slot):
# else it would take the other's working orders as its own, ask its own venue for their status, hear
# "unknown order" and write them CANCELED while they work on at the other instance's venue.
def test_a_restarted_instance_leaves_the_other_instances_orders_alone(
    instances: dict[str, Instance], database_url: str
) -> None:
    east, west = instances["east"], instances["west"]
    resting = send(west, "rest", "AAPL", "1", 10, "189.00")
    settle(west, resting, "AAPL", "1", "0")
    order_id = west.order_ids[resting]
    assert west.app.writer is not None and west.app.writer.flush(timeout=30.0)

    assert east.client is not None
    east.client.logout(timeout=2)
    east.client = None
    east.app.stop()
    east.app = Fixgate(replace(east.app.settings, client_port=free_port(), rest_port=free_port()))
    east.app.start()
    assert east.app.wait_for_venues({"SIM"})
    assert east.app.oms is not None and east.app.oms.order(order_id) is None, "east took west's order as its own"

    # An order of east's own, through its venue and into the book: by then east's venue has answered
    # what east asked it at logon (the status requests go out in the logon callback, before a client
    # can log on and send this), and the book has east's answers.
    east.client = FixClient.connect("127.0.0.1", east.app.settings.client_port, sender_comp_id=east.comp_id,
                                    target_comp_id="FIXGATE")
    east.client.logon(reset_seq_num=True)
    after = send(east, "after", "AAPL", "1", 10, "190.05")
    settle(east, after, "AAPL", "1", "2")
    assert east.app.writer is not None and east.app.writer.flush(timeout=30.0)
    [row] = book_rows(database_url, f"SELECT status, text FROM orders WHERE order_id = {order_id}")
    assert (row["status"], row["text"]) == ("NEW", ""), "west's order, still working at west's venue"
