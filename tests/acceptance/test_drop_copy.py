"""Drop copy sessions (``DropCopy=Y`` in clients.cfg): a read-only copy of what covered clients are sent.

The gateway runs with the shipped config plus the README's example: DROPCOPY in FIX 4.4 covering CLIENT1
and CLIENT2, and in FIX 4.2 covering CLIENT1; BENCH is covered by none."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import pytest
import quickfix as fix

from bench.procs import one_venue_config
from fixgate.app import Fixgate
from fixgate.config import Settings
from fixgate.fixclient import FixClient, Message
from simulator.venue import Simulator
from tests.acceptance.conftest import API_TOKEN, REPO
from tests.support import eventually, free_port
from tests.support import order_fields as new_order

Connect = Callable[..., FixClient]


def readme_example() -> str:
    """The ``clients.cfg`` blocks of the README's "Drop copy" section: the tests run what it shows."""
    section = (REPO / "README.md").read_text().split("\n## Drop copy\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```ini\n(.*?)```", section, re.DOTALL)
    assert found is not None, "README: no ini block in the Drop copy section"
    return found.group(1)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """The shipped config with the README's drop copy sessions appended to clients.cfg."""
    config = tmp_path / "config"
    one_venue_config(config)
    clients = config / "fix_sessions" / "clients.cfg"
    clients.write_text(clients.read_text() + "\n" + readme_example())
    return config


@pytest.fixture
def gateway(config_dir: Path, tmp_path: Path, database_url: str, simulator: Simulator) -> Iterator[Fixgate]:
    """The acceptance gateway (conftest's), with the README's drop copy sessions."""
    app = Fixgate(Settings(data_dir=tmp_path / "gw", client_port=free_port(), sim_port=simulator.port,
                           rest_port=free_port(), database_url=database_url, api_token=API_TOKEN,
                           config_dir=config_dir))
    app.start()
    try:
        assert app.wait_for_venues({"SIM"}), "the gateway's SIM venue session did not log on"
        yield app
    finally:
        app.stop()

# What a copy must repeat of the client's message: type, ids, status, quantities, Text.
_SAME = (35, 11, 41, 37, 17, 150, 39, 1, 55, 54, 38, 44, 32, 31, 14, 151, 6, 58, 434, 102)


def sync(client: FixClient) -> None:
    """Wait until the gateway has answered a TestRequest: everything it sent before is in."""
    test_id = f"sync-{time.monotonic_ns()}"
    client.send("1", {112: test_id})
    eventually(lambda: any(m.get(35) == "0" and m.get(112) == test_id for m in client.received), bool)


def reports(client: FixClient) -> list[Message]:
    """The ExecutionReports and OrderCancelRejects a session received, in order."""
    return [m for m in client.received if m.get(35) in ("8", "9")]


def seen(message: Message, tags: tuple[int, ...] = _SAME) -> tuple[str | None, ...]:
    return tuple(message.get(tag) for tag in tags)


def logged_on(begin_string: str, comp_id: str) -> bool:
    session = fix.Session.lookupSession(fix.SessionID(begin_string, "FIXGATE", comp_id))
    return session is not None and bool(session.isLoggedOn())


def cancel(cl_ord_id: str, orig: str) -> dict[int, str | int]:
    return {11: cl_ord_id, 41: orig, 55: "AAPL", 54: "1", 60: "20260101-00:00:00", 38: 10}


@pytest.mark.parametrize("begin_string", ["FIX.4.4", "FIX.4.2"])
def test_a_drop_copy_gets_a_covered_clients_fills_and_cancel_rejects_in_order_and_no_one_elses(
    begin_string: str, connect: Connect
) -> None:
    drop = connect("DROPCOPY", begin_string)
    client = connect("CLIENT1", "FIX.4.4")
    bench = connect("BENCH", "FIX.4.4")
    # 150 at 190.02 takes 100 @ .01 and 50 @ .02 of the simulator's book: New, partial, fill.
    client.send("D", new_order("dc-1", 150, "190.02"))
    client.expect("8", where={11: "dc-1", 39: "2"})
    bench.send("D", new_order("bench-1", 10, "190.05"))  # BENCH is not covered: no copy of this
    bench.expect("8", where={11: "bench-1", 39: "2"})
    client.send("F", cancel("dc-1-x", "dc-1"))  # too late: the order is filled
    client.expect("9", where={11: "dc-1-x"})
    client.send("F", cancel("nope-x", "nope"))  # unknown order
    client.expect("9", where={11: "nope-x"})
    client.send("D", new_order("dc-2", 10, "190.05"))
    client.expect("8", where={11: "dc-2", 39: "2"})
    last_exec_id = [m for m in reports(client) if m.get(11) == "dc-2"][-1][17]
    drop.expect("8", where={17: last_exec_id})  # the last copy is in: so is every copy before it
    sync(drop)

    mine = reports(client)
    copies = reports(drop)
    assert [m.get(35) for m in mine].count("9") == 2 and len(mine) == 7
    # Same ids, same order; each in the drop copy's FIX version (4.2 has no ExecType F: a fill is 1 or 2).
    tags = _SAME if begin_string == "FIX.4.4" else tuple(tag for tag in _SAME if tag != 150)
    assert [seen(m, tags) for m in copies] == [seen(m, tags) for m in mine]
    if begin_string == "FIX.4.2":
        assert [m.get(150) for m in copies if m.get(35) == "8"] == ["0", "1", "2", "0", "2"]
    assert all(m.get(128) == "CLIENT1" for m in copies)
    # 797 is a field of the ExecutionReport from FIX 4.4 on; FIX 4.2 has no such tag, and no version
    # defines it for an OrderCancelReject.
    expected_797 = "Y" if begin_string == "FIX.4.4" else None
    assert {m.get(797) for m in copies if m.get(35) == "8"} == {expected_797}
    assert {m.get(797) for m in copies if m.get(35) == "9"} == {None}
    assert all(m.get(97) is None and m.get(43) is None for m in copies)  # live, not resent
    assert not any(m.get(11, "").startswith("bench") for m in drop.received)
    assert drop.protocol_errors == []


def test_orders_refused_before_a_venue_are_copied(connect: Connect, simulator: Simulator) -> None:
    drop = connect("DROPCOPY")
    client = connect("CLIENT2")
    client.send("D", new_order("big-1", 5001, "190.00"))  # risk: over AAPL's max order quantity
    risk = client.expect("8", where={11: "big-1"})
    client.send("D", {**new_order("acct-1", 10, "190.00"), 1: "CLIENT1"})  # CLIENT2 may not trade CLIENT1
    entitled = client.expect("8", where={11: "acct-1"})
    client.send("D", new_order("zz-1", 10, "1.00", symbol="ZZZZ"))  # unknown symbol
    unknown = client.expect("8", where={11: "zz-1"})
    for refused in (risk, entitled, unknown):
        assert (refused[39], refused[150]) == ("8", "8")
        copy = drop.expect("8", where={11: refused[11]})
        assert seen(copy) == seen(refused)
        assert (copy[797], copy[128]) == ("Y", "CLIENT2")
    assert (risk[58], entitled[58]) == ("order qty 5001 > max 5000 for AAPL",
                                        "account CLIENT1 is not entitled to session CLIENT2")
    assert simulator.record.orders_from("FIXGATE") == ()


@pytest.mark.parametrize("begin_string", ["FIX.4.4", "FIX.4.2"])
def test_a_drop_copy_is_read_only(
    begin_string: str, connect: Connect, gateway: Fixgate, simulator: Simulator
) -> None:
    drop = connect("DROPCOPY", begin_string)
    client = connect("CLIENT1", "FIX.4.4")
    client.send("D", new_order("rest-1", 10, "180.00"))  # rests: something the drop copy could name
    client.expect("8", where={11: "rest-1", 39: "0"})
    asks = [("D", new_order("dc-own-1", 10, "190.05")), ("F", cancel("dc-c-1", "rest-1")),
            ("G", {**cancel("dc-r-1", "rest-1"), 40: "2", 44: "181.00", 21: "1"}),
            ("H", {11: "rest-1", 55: "AAPL", 54: "1"})]
    if begin_string == "FIX.4.4":
        asks.append(("q", {11: "dc-mc-1", 530: "7", 60: "20260101-00:00:00"}))
    names = {"D": "NewOrderSingle", "F": "OrderCancelRequest", "G": "OrderCancelReplaceRequest",
             "H": "OrderStatusRequest", "q": "OrderMassCancelRequest"}
    for msg_type, fields in asks:
        seq = drop.send(msg_type, fields)
        refused = drop.expect("j", where={45: str(seq)})
        assert refused[372] == msg_type and refused[380] == ("6" if begin_string == "FIX.4.4" else "0")
        assert refused[58] == f"{names[msg_type]} refused: session DROPCOPY is a drop copy session (read-only)"
    sync(drop)
    assert not any(m.get(35) in ("8", "9", "r") for m in drop.received if m.get(11, "").startswith("dc-"))
    # Nothing reached the OMS or the venue: one order taken (CLIENT1's), still resting, no request on it.
    assert gateway.controls is not None
    counters = gateway.controls.oms_counters()
    assert counters["orders"] == 1
    [at_venue] = simulator.record.orders_from("FIXGATE")
    assert (at_venue.quantity, at_venue.cum_qty) == (D(10), D(0))
    client.send("H", {11: "rest-1", 55: "AAPL", 54: "1"})
    assert client.expect("8", where={11: "rest-1", 150: "I"})[39] == "0"  # not canceled, not replaced


def test_a_spoofed_drop_copy_logon_is_refused(gateway: Fixgate) -> None:
    client = FixClient.connect("127.0.0.1", gateway.settings.client_port,
                               sender_comp_id="DROPCOPY2", target_comp_id="FIXGATE")
    try:
        with pytest.raises(ConnectionError):
            client.logon(timeout=3)
        assert client.wait_closed(3)
    finally:
        client.close()


@pytest.mark.parametrize("reset_seq_num", [False, True])
def test_a_drop_copy_disconnected_during_trading_gets_what_it_missed_on_reconnect(
    reset_seq_num: bool, connect: Connect, gateway: Fixgate
) -> None:
    drop = connect("DROPCOPY")
    client = connect("CLIENT1")
    client.send("D", new_order("before", 10, "190.05"))
    client.expect("8", where={11: "before", 39: "2"})
    drop.expect("8", where={11: "before", 39: "2"})
    drop.close()  # dropped, no Logout
    eventually(lambda: logged_on("FIX.4.4", "DROPCOPY"), lambda up: not up)
    for n in range(3):
        client.send("D", new_order(f"away-{n}", 10, "190.05"))
        client.expect("8", where={11: f"away-{n}", 39: "2"})
    missed = [m for m in reports(client) if m.get(11, "").startswith("away")]
    # The venue's thread sends the copies right after the client's reports; BENCH's order, acknowledged
    # on that thread after them, says they are handed over (else one could go live after the logon).
    bench = connect("BENCH")
    bench.send("D", new_order("after", 1, "175.00"))
    bench.expect("8", where={11: "after", 150: "0"})

    # Back: keeping its sequence numbers, QuickFIX resends the gap (PossDup); after a new-day logon
    # (141=Y), which empties QuickFIX's store of the session, fixgate sends them again (PossResend).
    again = FixClient.connect("127.0.0.1", gateway.settings.client_port, sender_comp_id="DROPCOPY",
                              target_comp_id="FIXGATE",
                              next_seq_out=1 if reset_seq_num else drop.next_seq_out,
                              next_seq_in=1 if reset_seq_num else drop.next_seq_in)
    try:
        again.logon(reset_seq_num=reset_seq_num)
        again.expect("8", where={17: missed[-1][17]}, timeout=10)
        sync(again)
        copies = [m for m in reports(again) if m.get(11, "").startswith("away")]
        again.logout(timeout=2)
    finally:
        again.close()
    assert [seen(m) for m in copies] == [seen(m) for m in missed]
    assert {(m.get(797), m.get(128)) for m in copies} == {("Y", "CLIENT1")}
    flag = 97 if reset_seq_num else 43
    assert {m.get(flag) for m in copies} == {"Y"}


@pytest.fixture
def settings(config_dir: Path, tmp_path: Path, database_url: str, simulator: Simulator) -> Settings:
    return Settings(data_dir=tmp_path / "gw", client_port=free_port(), sim_port=simulator.port,
                    rest_port=free_port(), database_url=database_url, api_token=API_TOKEN, config_dir=config_dir)


@pytest.fixture
def run(settings: Settings) -> Iterator[Callable[[], Fixgate]]:
    """Start a gateway on ``settings``' data folder (a restart, the second time); each stopped at the end."""
    apps: list[Fixgate] = []

    def _run() -> Fixgate:
        for app in apps:
            app.stop()
        app = Fixgate(replace(settings, client_port=free_port(), rest_port=free_port()))
        apps.append(app)
        app.start()
        assert app.wait_for_venues({"SIM"})
        return app

    yield _run
    for app in apps:
        app.stop()


def logon(app: Fixgate, comp_id: str, *, reset_seq_num: bool = True) -> FixClient:
    client = FixClient.connect("127.0.0.1", app.settings.client_port, sender_comp_id=comp_id,
                               target_comp_id="FIXGATE")
    client.logon(reset_seq_num=reset_seq_num, timeout=10)
    return client


def test_after_a_restart_a_drop_copy_gets_what_the_journal_owed_it_once(run: Callable[[], Fixgate]) -> None:
    app = run()
    drop = logon(app, "DROPCOPY")
    client = logon(app, "CLIENT1")
    client.send("D", new_order("had", 10, "190.05"))
    client.expect("8", where={11: "had", 39: "2"})
    drop.expect("8", where={11: "had", 39: "2"})
    sync(drop)
    drop.logout(timeout=2)
    eventually(lambda: logged_on("FIX.4.4", "DROPCOPY"), lambda up: not up)
    client.send("D", new_order("owed-0", 10, "190.05"))  # filled
    client.expect("8", where={11: "owed-0", 39: "2"})
    client.send("D", new_order("owed-1", 10, "180.00"))  # rests, then canceled
    client.expect("8", where={11: "owed-1", 39: "0"})
    client.send("F", cancel("owed-x", "owed-1"))
    client.expect("8", where={11: "owed-x", 39: "4"})
    sync(client)
    client_had = reports(client)
    owed = [m for m in client_had if m.get(11, "").startswith("owed")]
    client.logout(timeout=2)

    app = run()  # a restart: what the journal holds that DROPCOPY never had is owed to it
    client = logon(app, "CLIENT1")
    drop = logon(app, "DROPCOPY")  # a new day (141=Y): nothing from QuickFIX's store, only what is owed
    drop.expect("8", where={11: "owed-x", 39: "4"}, timeout=10)
    sync(drop)
    sync(client)
    got = reports(drop)
    assert [seen(m) for m in got] == [seen(m) for m in owed]  # in order, nothing it had
    assert len(got) == 5  # owed-0: New, Fill; owed-1: New, PendingCancel, Canceled
    assert {(m.get(97), m.get(128), m.get(797)) for m in got} == {("Y", "CLIENT1", "Y")}
    assert reports(client) == []  # CLIENT1 had everything: nothing owed to it
    drop.logout(timeout=2)
    client.logout(timeout=2)

    app = run()  # and the next start knows DROPCOPY has them now
    drop = logon(app, "DROPCOPY")
    sync(drop)
    assert reports(drop) == []
    drop.logout(timeout=2)
