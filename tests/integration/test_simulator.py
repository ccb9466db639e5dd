"""The venue simulator over real sockets: a simplefix client logs on and trades against it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from fixgate.fixclient import FieldValue, FixClient, FixSessionError, Message, utc_timestamp
from simulator import OrderStatus, SimulatorConfig, VenueConfig, load_config
from simulator.venue import Simulator, SimulatorError
from tests.support import eventually, free_port, free_ports_in_a_row

D = Decimal
REPO = Path(__file__).resolve().parents[2]

ClientFactory = Callable[..., FixClient]


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    simulator = Simulator(SimulatorConfig(), tmp_path / "sim", port=free_port())
    simulator.start()
    yield simulator
    simulator.stop(force=True)


@pytest.fixture
def connect(sim: Simulator) -> Iterator[ClientFactory]:
    """Logged-on clients of ``sim``; logged out (or dropped) at the end of the test."""
    clients: list[FixClient] = []

    def factory(sender: str = "CLIENT1", begin_string: str = "FIX.4.4", logon: bool = True) -> FixClient:
        client = FixClient.connect(
            "127.0.0.1", sim.port, sender_comp_id=sender, target_comp_id="SIM", begin_string=begin_string
        )
        clients.append(client)
        if logon:
            client.logon()
        return client

    yield factory
    for client in clients:
        if client.connected:
            client.logout(timeout=2.0)


def new_order(
    client: FixClient,
    cl_ord_id: str,
    side: str,
    qty: int | str,
    price: str | None = None,
    *,
    symbol: str = "AAPL",
    tif: str = "0",
) -> None:
    fields: dict[int, str | int] = {11: cl_ord_id, 21: "1", 55: symbol, 54: side, 38: qty, 59: tif}
    fields[40] = "1" if price is None else "2"
    if price is not None:
        fields[44] = price
    fields[60] = utc_timestamp()
    client.send("D", fields)


def assert_report(message: Message, **expected: str) -> None:
    """Every tag named ``t<number>`` in ``expected`` has that value."""
    for key, value in expected.items():
        tag = int(key.lstrip("t"))
        assert message.get(tag) == value, f"tag {tag}: expected {value!r} in {message}"


# -- NEW ORDERS AND FILLS -----------------------------------------------------------------------------


def test_order_crossing_seeded_liquidity_gets_new_then_two_trades_fix44(
    sim: Simulator, connect: ClientFactory
) -> None:
    client = connect("CLIENT1")
    new_order(client, "buy-1", "1", 150, "190.02")

    new = client.expect("8", where={11: "buy-1"})
    assert_report(new, t150="0", t39="0", t55="AAPL", t54="1", t38="150", t40="2", t44="190.02", t59="0")
    assert_report(new, t14="0", t151="150", t6="0")
    assert new.get(37) and new.get(17) and new.get(60)

    first = client.expect("8", where={11: "buy-1"})
    assert_report(first, t150="F", t39="1", t32="100", t31="190.01", t14="100", t151="50", t6="190.01")
    assert_report(first, t851="2")  # the incoming order removed liquidity
    second = client.expect("8", where={11: "buy-1"})
    assert_report(second, t150="F", t39="2", t32="50", t31="190.02", t14="150", t151="0")
    assert second.decimal(6) == D("190.01333333")

    assert new[37] == first[37] == second[37]
    assert len({new[17], first[17], second[17]}) == 3
    assert all(m.get(20) is None for m in (new, first, second))  # no ExecTransType in FIX 4.4

    order = sim.record.order("buy-1")
    assert order is not None
    assert order.order_id == new[37]
    assert order.status is OrderStatus.FILLED
    assert order.owner == "FIX.4.4:SIM->CLIENT1"
    assert [f.exec_id for f in sim.record.fills_for(order.order_id)] == [first[17], second[17]]


def test_order_crossing_seeded_liquidity_fix42_uses_partial_fill_and_fill_exec_types(
    sim: Simulator, connect: ClientFactory
) -> None:
    client = connect("CLIENT2", begin_string="FIX.4.2")
    new_order(client, "b42", "1", 150, "190.02")

    new = client.expect("8", where={11: "b42"})
    assert new.get(8) == "FIX.4.2"
    assert_report(new, t20="0", t150="0", t39="0", t151="150")
    partial = client.expect("8", where={11: "b42"})
    assert_report(partial, t20="0", t150="1", t39="1", t32="100", t31="190.01", t14="100", t151="50")
    assert 851 not in partial  # LastLiquidityInd does not exist in FIX 4.2
    fill = client.expect("8", where={11: "b42"})
    assert_report(fill, t20="0", t150="2", t39="2", t32="50", t31="190.02", t14="150", t151="0")
    assert fill.decimal(6) == D("190.01333333")

    client.send("H", {11: "b42", 55: "AAPL", 54: "1"})
    status = client.expect("8", where={11: "b42", 20: "3"})
    assert_report(status, t150="2", t39="2", t14="150", t151="0", t37=new[37])
    assert sim.record.orders_from("CLIENT2")[0].owner == "FIX.4.2:SIM->CLIENT2"


def test_large_buy_partially_fills_and_rests_the_remainder(sim: Simulator, connect: ClientFactory) -> None:
    client = connect()
    new_order(client, "big", "1", 1000, "190.01")
    client.expect("8", where={11: "big", 150: "0"})
    trade = client.expect("8", where={11: "big", 150: "F"})
    assert_report(trade, t39="1", t32="100", t31="190.01", t14="100", t151="900")
    client.expect_nothing("8", within=0.3)
    bids, _ = sim.venue().depth("AAPL")
    assert bids[0] == (D("190.01"), D(900))

    client.send("H", {11: "big", 55: "AAPL", 54: "1", 790: "st-1"})
    status = client.expect("8", where={150: "I"})
    assert_report(status, t11="big", t39="1", t14="100", t151="900", t790="st-1")


def test_both_sides_get_their_trade_report_on_their_own_session(
    sim: Simulator, connect: ClientFactory
) -> None:
    seller = connect("CLIENT1")
    buyer = connect("CLIENT2", begin_string="FIX.4.2")
    new_order(seller, "s1", "2", 50, "190.00")  # inside the spread: rests
    seller.expect("8", where={11: "s1", 150: "0"})

    new_order(buyer, "b1", "1", 80, "190.00")
    buyer.expect("8", where={11: "b1", 150: "0"})
    buyer_trade = buyer.expect("8", where={11: "b1", 150: "1"})
    assert_report(buyer_trade, t32="50", t31="190", t14="50", t151="30")

    seller_trade = seller.expect("8", where={11: "s1", 150: "F"})
    assert_report(seller_trade, t39="2", t32="50", t31="190", t14="50", t151="0", t54="2", t851="1")
    assert seller_trade[17] != buyer_trade[17]
    assert sim.record.fills_for(seller_trade[37])[0].counterparty_order_id == buyer_trade[37]
    # The buyer's remainder rests at 190.00, ahead of the seeded bids.
    assert sim.venue().depth("AAPL")[0][0] == (D("190.00"), D(30))


# -- REJECTS ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({55: "AAPL", 38: 10, 44: "190.005"}, "tick size 0.01"),
        ({55: "AAPL", 38: "10.5", 44: "190.00"}, "lot size 1"),
        ({55: "NOPE", 38: 10, 44: "190.00"}, "unknown symbol NOPE"),
    ],
)
def test_invalid_orders_are_rejected_with_a_reason(
    sim: Simulator, connect: ClientFactory, fields: dict[int, FieldValue], fragment: str
) -> None:
    client = connect()
    body = {11: "bad", 54: "1", 40: "2", 59: "0", 60: utc_timestamp(), **fields}
    client.send("D", body)
    reject = client.expect("8", where={11: "bad"})
    assert_report(reject, t150="8", t39="8", t14="0", t151="0")
    assert fragment in reject[58]
    order = sim.record.order("bad")
    assert order is not None and order.status is OrderStatus.REJECTED
    assert sim.record.client_fills == ()


def test_unsupported_time_in_force_is_rejected_and_recorded(sim: Simulator, connect: ClientFactory) -> None:
    client = connect()
    new_order(client, "gtd", "1", 10, "190.00", tif="6")  # GoodTillDate: valid FIX, not supported here
    reject = client.expect("8", where={11: "gtd"})
    assert_report(reject, t150="8", t39="8", t58="unsupported TimeInForce 6")
    recorded = sim.record.order("gtd")
    assert recorded is not None and recorded.time_in_force is None


# -- CANCEL AND REPLACE -------------------------------------------------------------------------------


def test_cancel_of_an_unknown_order_gets_order_cancel_reject(sim: Simulator, connect: ClientFactory) -> None:
    client = connect()
    client.send("F", {41: "ghost", 11: "cx-1", 55: "AAPL", 54: "1", 38: 10, 60: utc_timestamp()})
    reject = client.expect("9")
    assert_report(reject, t11="cx-1", t41="ghost", t37="NONE", t39="8", t434="1", t102="1")
    assert "unknown order ghost" in reject[58]
    assert not sim.record.saw("ghost")


def test_cancel_of_a_resting_partially_filled_order(sim: Simulator, connect: ClientFactory) -> None:
    client = connect()
    new_order(client, "o1", "1", 1000, "190.01")
    client.expect("8", where={11: "o1", 150: "F"})
    client.send("F", {41: "o1", 11: "o1-cx", 55: "AAPL", 54: "1", 38: 1000, 60: utc_timestamp()})
    canceled = client.expect("8", where={150: "4"})
    assert_report(canceled, t11="o1-cx", t41="o1", t39="4", t14="100", t151="0")
    assert sim.venue().depth("AAPL")[0][0][0] == D("189.99")

    # Cancelling it again is too late.
    client.send("F", {41: "o1-cx", 11: "o1-cx2", 55: "AAPL", 54: "1", 38: 1000, 60: utc_timestamp()})
    reject = client.expect("9")
    assert_report(reject, t39="4", t102="0", t434="1", t37=canceled[37])


def test_replace_changes_quantity_and_rejects_below_filled(sim: Simulator, connect: ClientFactory) -> None:
    client = connect()
    new_order(client, "r1", "1", 1000, "190.01")
    client.expect("8", where={11: "r1", 150: "F"})

    replace: dict[int, FieldValue] = {
        41: "r1",
        11: "r2",
        55: "AAPL",
        54: "1",
        38: 500,
        40: "2",
        44: "190.01",
        60: utc_timestamp(),
    }
    client.send("G", replace)
    replaced = client.expect("8", where={150: "5"})
    assert_report(replaced, t11="r2", t41="r1", t38="500", t39="1", t14="100", t151="400")

    client.send("G", {**replace, 41: "r2", 11: "r3", 38: 100})
    reject = client.expect("9")
    assert_report(reject, t11="r3", t41="r2", t434="2", t102="99", t39="1")
    assert "new order qty 100 <= filled qty 100" in reject[58]
    order = sim.record.order("r2")
    assert order is not None and order.cl_ord_ids == ("r1", "r2") and order.leaves_qty == D(400)


# -- SESSIONS -----------------------------------------------------------------------------------------


def test_unknown_comp_id_cannot_log_on(sim: Simulator, connect: ClientFactory) -> None:
    client = connect("STRANGER", logon=False)
    with pytest.raises((ConnectionError, FixSessionError)):
        client.logon(timeout=3.0)
    assert not sim.venue().logged_on()


def test_test_request_is_answered_and_session_stays_up(sim: Simulator, connect: ClientFactory) -> None:
    client = connect()
    client.send("1", {112: "ping"})
    # The simulator's Heartbeat is consumed by the client's reader (admin), so check the transcript.
    new_order(client, "after", "1", 1, "189.00")
    client.expect("8", where={11: "after"})
    assert any(m.msg_type == "0" and m.get(112) == "ping" for m in client.received)
    assert sim.venue().wait_for_logon("CLIENT1", "FIX.4.4", timeout=1.0)


def test_sequence_numbers_and_unique_exec_ids_survive_a_restart(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "sim"
    first = Simulator(SimulatorConfig(), data_dir, port=port)
    first.start()
    try:
        client = FixClient.connect("127.0.0.1", port, sender_comp_id="CLIENT1", target_comp_id="SIM")
        client.logon()
        new_order(client, "before", "1", 10, "190.01")
        exec_ids = {client.expect("8")[17], client.expect("8")[17]}
        client.logout()
    finally:
        first.stop(force=True)
    seq_out, seq_in = client.next_seq_out, client.next_seq_in
    assert seq_in > 3

    second = Simulator(SimulatorConfig(), data_dir, port=port)
    second.start()
    try:
        again = FixClient.connect(
            "127.0.0.1",
            port,
            sender_comp_id="CLIENT1",
            target_comp_id="SIM",
            next_seq_out=seq_out,
            next_seq_in=seq_in,
        )
        logon = again.logon()
        assert logon.seq_num == seq_in  # the venue continued its numbering
        new_order(again, "after", "1", 10, "190.01")
        report = again.expect("8", where={11: "after"})
        assert report[17] not in exec_ids
        assert again.protocol_errors == []
        assert not second.record.saw("before")  # books are in memory only
        again.logout()
    finally:
        second.stop(force=True)


def test_fill_of_a_logged_out_client_is_delivered_when_it_returns(
    sim: Simulator, connect: ClientFactory
) -> None:
    resting = connect("CLIENT1")
    new_order(resting, "rest", "2", 20, "190.00")
    resting.expect("8", where={11: "rest", 150: "0"})
    resting.logout()
    seq_out, seq_in = resting.next_seq_out, resting.next_seq_in
    # Reconnect only once the venue has seen the logout: QuickFIX ignores a Logon for a session it
    # still counts as logged on.
    eventually(sim.venue().logged_on, lambda sessions: "FIX.4.4:SIM->CLIENT1" not in sessions)

    taker = connect("CLIENT2")
    new_order(taker, "take", "1", 20, "190.00")
    taker.expect("8", where={11: "take", 150: "F"})

    back = FixClient.connect(
        "127.0.0.1",
        sim.port,
        sender_comp_id="CLIENT1",
        target_comp_id="SIM",
        next_seq_out=seq_out,
        next_seq_in=seq_in,
    )
    try:
        back.logon()
        resent = back.expect("8", where={11: "rest", 150: "F"})
        assert resent.poss_dup
        assert_report(resent, t39="2", t32="20", t31="190")
    finally:
        back.logout()


def test_port_in_use_is_reported_on_start(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        simulator = Simulator(SimulatorConfig(), tmp_path, port=port)
        with pytest.raises(SimulatorError, match=f"port {port}"):
            simulator.start()
        assert not simulator.venue().running


def _client_from(source: str, port: int, sender: str) -> FixClient:
    # Any 127/8 source address other than 127.0.0.1 stands in for a remote peer: the venue sees a
    # peer address it must not admit, without needing a second machine.
    sock = socket.create_connection(("127.0.0.1", port), timeout=5.0, source_address=(source, 0))
    return FixClient(sock, sender_comp_id=sender, target_comp_id="SIM")


def test_default_venue_drops_a_logon_from_a_peer_that_is_not_local(sim: Simulator) -> None:
    client = _client_from("127.0.0.2", sim.port, "CLIENT1")
    with pytest.raises((ConnectionError, FixSessionError, TimeoutError)):
        client.logon(timeout=5.0)
    assert not [m for m in client.received if m.msg_type == "A"]  # the Logon was never answered
    assert sim.venue().logged_on() == set()
    client.close()
    local = _client_from("127.0.0.1", sim.port, "CLIENT1")
    assert local.logon().msg_type == "A"
    local.logout()


def test_a_venue_on_host_0_0_0_0_admits_any_peer(tmp_path: Path) -> None:
    simulator = Simulator(SimulatorConfig((VenueConfig(host="0.0.0.0", port=free_port()),)), tmp_path)
    simulator.start()
    try:
        client = _client_from("127.0.0.2", simulator.port, "CLIENT1")
        assert client.logon().msg_type == "A"
        client.logout()
    finally:
        simulator.stop(force=True)


def test_shipped_config_loads_and_describes_the_default_venue() -> None:
    config = load_config(REPO / "config" / "simulator.toml")
    venue = config.venue("SIM")
    assert (venue.host, venue.port) == ("127.0.0.1", 9880)
    assert set(venue.target_comp_ids) == {"FIXGATE", "CLIENT1", "CLIENT2", "BENCH"}
    assert {i.symbol: i.reference_price for i in venue.instruments} == {
        "AAPL": D("190.00"),
        "MSFT": D("420.00"),
    }
    assert (venue.liquidity.levels, venue.liquidity.level_qty) == (5, D(100))


def test_two_venues_run_side_by_side_with_their_own_books(tmp_path: Path) -> None:
    ports = {"SIM": free_port(), "SIM2": free_port()}
    config = SimulatorConfig(
        (VenueConfig(name="SIM", port=ports["SIM"]), VenueConfig(name="SIM2", port=ports["SIM2"]))
    )
    simulator = Simulator(config, tmp_path)
    simulator.start()
    try:
        # Both log on before either logs out: QuickFIX 1.16 reads a descriptor once more after a clean
        # Logout, and a connection opened in between can lose its Logon to it (docs/ARCHITECTURE.md).
        clients = {}
        for name in ("SIM", "SIM2"):
            clients[name] = FixClient.connect(
                "127.0.0.1", ports[name], sender_comp_id="FIXGATE", target_comp_id=name
            )
            clients[name].logon()
        for name, client in clients.items():
            new_order(client, f"on-{name}", "1", 10, "190.01")
            trade = client.expect("8", where={150: "F"})
            assert trade.get(49) == name and trade[17].startswith(f"{name}-")
        for client in clients.values():
            client.logout()
        assert simulator.venue("SIM").record.saw("on-SIM")
        assert not simulator.venue("SIM").record.saw("on-SIM2")
        assert simulator.venue("SIM2").record.saw("on-SIM2")
        with pytest.raises(SimulatorError):
            _ = simulator.record  # ambiguous with two venues
    finally:
        simulator.stop(force=True)


def test_command_line_runs_until_interrupted(tmp_path: Path) -> None:
    port = free_ports_in_a_row(2)  # the shipped config's SIM on --port, SIM2 on the next
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator",
            "--config",
            str(REPO / "config" / "simulator.toml"),
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert f"venue SIM on 127.0.0.1:{port}" in banner
        assert f"venue SIM2 on 127.0.0.1:{port + 1}" in process.stdout.readline()
        client = FixClient.connect("127.0.0.1", port, sender_comp_id="BENCH", target_comp_id="SIM")
        client.logon()
        new_order(client, "cli-1", "2", 100, "189.99")
        assert_report(client.expect("8", where={150: "F"}), t39="2", t31="189.99")
        client.logout()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        assert (tmp_path / "SIM" / "quickfix.cfg").is_file()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_command_line_reports_a_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[venues]]\nprot = 1\n")
    result = subprocess.run(
        [sys.executable, "-m", "simulator", "--config", str(bad), "--data-dir", str(tmp_path)],
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown key(s) prot" in result.stderr


def test_concurrent_clients_crossing_each_other_all_get_their_reports(
    sim: Simulator, connect: ClientFactory
) -> None:
    # Two sessions on two QuickFIX threads, each order hitting the other's: reports to the resting
    # side are sent from the aggressor's thread. This must neither deadlock nor lose a report.
    orders_each = 40
    seller = connect("CLIENT1")
    buyer = connect("CLIENT2", begin_string="FIX.4.2")

    def send_all(client: FixClient, side: str) -> None:
        for i in range(orders_each):
            new_order(client, f"{side}-{i}", side, 10, "190.00")

    threads = [
        threading.Thread(target=send_all, args=(seller, "2")),
        threading.Thread(target=send_all, args=(buyer, "1")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    def traded(client: FixClient) -> Decimal:
        total = D(0)
        while total < orders_each * 10:
            report = client.expect("8", timeout=10)
            if 32 in report:  # a fill: F in FIX 4.4; in FIX 4.2 1 (partial) or 2 (full), as OrdStatus
                expected = "F" if client.begin_string == "FIX.4.4" else report[39]
                assert report[150] == expected, str(report)
                total += report.decimal(32)
        return total

    assert traded(seller) == D(orders_each * 10)
    assert traded(buyer) == D(orders_each * 10)
    record = sim.record
    assert len(record.client_orders) == 2 * orders_each
    assert all(o.status is OrderStatus.FILLED for o in record.client_orders)
    assert sum(f.quantity for f in record.client_fills) == D(2 * orders_each * 10)
