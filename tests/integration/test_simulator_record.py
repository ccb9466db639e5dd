"""The simulator's durable side: resends after a restart, and its record (file and HTTP endpoint)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fixgate.fixclient import FixClient, Message, utc_timestamp
from simulator import SimulatorConfig, cli
from simulator.record_http import RecordServer
from simulator.venue import Simulator, SimulatorError
from tests.support import eventually, free_port, free_ports_in_a_row

D = Decimal
REPO = Path(__file__).resolve().parents[2]


def new_order(client: FixClient, cl_ord_id: str, side: str, qty: int, price: str, tif: str = "0") -> None:
    client.send(
        "D",
        {
            11: cl_ord_id,
            21: "1",
            55: "AAPL",
            54: side,
            38: qty,
            40: "2",
            44: price,
            59: tif,
            60: utc_timestamp(),
        },
    )


def get(url: str | urllib.request.Request) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def post(url: str, headers: dict[str, str] | None = None) -> Any:
    """POST with the action header the record endpoint asks for (``headers`` instead, when given)."""
    if headers is None:
        headers = {"X-Simulator-Action": url.rsplit("/", 1)[-1]}
    request = urllib.request.Request(url, data=b"", method="POST", headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_after_a_restart_the_venue_resends_the_real_fills_and_gap_fills_market_data(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "sim"
    first = Simulator(SimulatorConfig(), data_dir, port=port)
    first.start()
    try:
        client = FixClient.connect("127.0.0.1", port, sender_comp_id="CLIENT1", target_comp_id="SIM")
        client.logon()
        new_order(client, "b1", "1", 150, "190.02")
        originals = [client.expect("8", where={11: "b1"}) for _ in range(3)]
        assert [m[150] for m in originals] == ["0", "F", "F"]
        client.send("V", [(262, "md"), (263, "0"), (264, 1), (267, 1), (269, "0"), (146, 1), (55, "AAPL")])
        snapshot = client.expect("W")
        client.logout()
    finally:
        first.stop(force=True)
    seq_out, seq_in = client.next_seq_out, client.next_seq_in

    second = Simulator(SimulatorConfig(), data_dir, port=port)
    second.start()
    try:
        # The client comes back with its old numbers, as if it had lost everything from the order on.
        again = FixClient.connect(
            "127.0.0.1",
            port,
            sender_comp_id="CLIENT1",
            target_comp_id="SIM",
            next_seq_out=seq_out,
            next_seq_in=seq_in,
            auto_resend_request=False,
        )
        logon = again.logon()
        assert logon.seq_num == seq_in  # the venue kept its numbering across the restart
        again.send("2", {7: originals[0].seq_num, 16: 0})
        resent = [again.expect("8", where={11: "b1"}) for _ in range(3)]
        for original, copy in zip(originals, resent, strict=True):
            assert copy.poss_dup and copy.get(122) == original[52]  # OrigSendingTime = first sending
            for tag in (34, 17, 37, 150, 39, 32, 31, 14, 151):
                assert copy.get(tag) == original.get(tag), f"tag {tag}: {copy} vs {original}"

        # Stale market data is not resent: its sequence number is covered by a gap fill.
        def gap_fills() -> list[Message]:
            return [m for m in list(again.received) if m.msg_type == "4" and m.get(123) == "Y"]

        # The reader thread takes admin messages; wait for the gap fill that ends the resend.
        eventually(gap_fills, lambda fills: any(g.seq_num <= snapshot.seq_num < int(g[36]) for g in fills))
        assert [m for m in again.drain() if m.msg_type == "W"] == []
        assert again.protocol_errors == []

        # The record still has the fills of the first run; the books started afresh.
        fills = second.venue().journal.fills("CLIENT1")
        assert [f["exec_id"] for f in fills] == [originals[1][17], originals[2][17]]
        assert not second.record.saw("b1")
        again.logout()
    finally:
        second.stop(force=True)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    simulator = Simulator(SimulatorConfig(), tmp_path / "sim", port=free_port(), record_port=0)
    simulator.start()
    yield simulator
    simulator.stop(force=True)


def test_record_endpoint_lists_each_fill_with_what_a_book_comparison_needs(sim: Simulator) -> None:
    with FixClient.connect("127.0.0.1", sim.port, sender_comp_id="FIXGATE", target_comp_id="SIM") as gateway:
        gateway.logon()
        new_order(gateway, "g1", "1", 150, "190.02")
        reports = [gateway.expect("8", where={11: "g1"}) for _ in range(3)]
        new_order(gateway, "g2", "2", 5, "191.00")  # rests
        gateway.expect("8", where={11: "g2"})
    with FixClient.connect("127.0.0.1", sim.port, sender_comp_id="CLIENT1", target_comp_id="SIM") as other:
        other.logon()
        new_order(other, "c1", "2", 1, "189.99")
        other.expect("8", where={11: "c1", 150: "F"})

    record = get(f"{sim.record_url}/record?client=FIXGATE")["venues"]["SIM"]
    assert [(f["exec_id"], f["order_id"], f["cl_ord_id"], f["client"]) for f in record["fills"]] == [
        (reports[1][17], reports[1][37], "g1", "FIXGATE"),
        (reports[2][17], reports[2][37], "g1", "FIXGATE"),
    ]
    assert [(f["side"], f["symbol"], D(f["quantity"]), D(f["price"])) for f in record["fills"]] == [
        ("BUY", "AAPL", D(100), D("190.01")),
        ("BUY", "AAPL", D(50), D("190.02")),
    ]
    assert [(o["cl_ord_id"], o["status"], D(o["cum_qty"])) for o in record["orders"]] == [
        ("g1", "FILLED", D(150)),
        ("g2", "NEW", D(0)),
    ]
    # The whole record also holds the venue's side of each of those trades: here the seeded liquidity
    # (SIM-LIQUIDITY), one fill per client fill, same match_id, opposite side, no commission.
    everyone = get(f"{sim.record_url}/venues/SIM/fills")["fills"]
    clients = [f for f in everyone if not f["venue_participant"]]
    venue_side = [f for f in everyone if f["venue_participant"]]
    assert {f["client"] for f in clients} == {"FIXGATE", "CLIENT1"}
    assert {f["client"] for f in venue_side} == {"SIM-LIQUIDITY"}
    by_match = {f["match_id"]: f for f in venue_side}
    assert sorted(by_match) == sorted(f["match_id"] for f in clients)
    for fill in clients:
        other = by_match[fill["match_id"]]
        assert other["order_id"] == fill["counterparty_order_id"]
        assert other["counterparty_order_id"] == fill["order_id"]
        assert (other["quantity"], other["price"], other["commission"]) == (fill["quantity"], fill["price"], None)
        assert other["side"] != fill["side"] and other["aggressor"] is not fill["aggressor"]
    liquidity = get(f"{sim.record_url}/venues/SIM/orders?client=SIM-LIQUIDITY")["orders"]
    assert {o["order_id"] for o in liquidity} == {f["order_id"] for f in venue_side}
    assert all(o["venue_participant"] for o in liquidity)

    book = get(f"{sim.record_url}/venues/SIM/book/AAPL")
    assert book["asks"][0] == ["190.02", "50"] and book["bids"][0] == ["189.99", "99"]
    venues = get(f"{sim.record_url}/venues")["venues"]
    assert [(v["name"], v["port"], v["symbols"]) for v in venues] == [("SIM", sim.port, ["AAPL", "MSFT"])]
    with pytest.raises(urllib.error.HTTPError) as missing:
        get(f"{sim.record_url}/venues/NOPE/fills")
    assert missing.value.code == 404


def test_end_of_day_expires_day_orders_and_tells_their_owner(sim: Simulator) -> None:
    with FixClient.connect("127.0.0.1", sim.port, sender_comp_id="CLIENT1", target_comp_id="SIM") as client:
        client.logon()
        new_order(client, "day", "1", 10, "189.00")
        new_order(client, "gtc", "1", 10, "189.00", tif="1")
        client.expect("8", where={11: "day"})
        client.expect("8", where={11: "gtc"})
        # The seeded liquidity is GTC too, but it has no session: only the client's order is counted.
        assert post(f"{sim.record_url}/venues/SIM/expire-day-orders") == {"expired": 1, "done_for_day": 1}
        expired = client.expect("8", where={150: "C"})
        assert (expired[11], expired[39]) == ("day", "C")
        done = client.expect("8", where={150: "3"})
        assert (done[11], done[39], done[151]) == ("gtc", "3", "10")
        statuses = {o["cl_ord_id"]: o["status"] for o in get(f"{sim.record_url}/venues/SIM/orders")["orders"]}
        assert statuses == {"day": "EXPIRED", "gtc": "DONE_FOR_DAY"}
        # The next day the GTC order is still in the book and trades.
        assert get(f"{sim.record_url}/venues/SIM/book/AAPL")["bids"][-1] == ["189.00", "10"]
        new_order(client, "hit", "2", 510, "189.00")  # through the five seeded bids to it
        filled = client.expect("8", where={11: "gtc", 39: "2"})
        assert (filled.decimal(32), filled.decimal(31)) == (Decimal(10), Decimal(189))


def test_end_of_day_needs_the_action_header_and_a_loopback_host(sim: Simulator) -> None:
    with FixClient.connect("127.0.0.1", sim.port, sender_comp_id="CLIENT1", target_comp_id="SIM") as client:
        client.logon()
        new_order(client, "day", "1", 10, "189.00")
        client.expect("8", where={11: "day"})
        url = f"{sim.record_url}/venues/SIM/expire-day-orders"
        # What a web page of another origin can send (no custom header), and a DNS-rebound Host.
        for headers in ({}, {"Content-Type": "text/plain"},
                        {"X-Simulator-Action": "expire-day-orders", "Host": "evil.example:80"}):
            with pytest.raises(urllib.error.HTTPError) as refused:
                post(url, headers)
            assert refused.value.code == 403, headers
        with pytest.raises(urllib.error.HTTPError) as rebound:
            get(urllib.request.Request(f"{sim.record_url}/record", headers={"Host": "evil.example"}))
        assert rebound.value.code == 403
        orders = get(f"{sim.record_url}/venues/SIM/orders")["orders"]
        assert {o["cl_ord_id"]: o["status"] for o in orders} == {"day": "NEW"}
        assert post(url) == {"expired": 1, "done_for_day": 0}
    with pytest.raises(ValueError, match="binds a loopback address only"):
        RecordServer({}, "0.0.0.0", 0)


def test_record_file_survives_a_restart_and_a_torn_last_line(tmp_path: Path) -> None:
    port = free_port()
    for run, cl_ord_id in enumerate(("first", "second")):
        simulator = Simulator(SimulatorConfig(), tmp_path, port=port, record_port=0)
        simulator.start()
        try:
            client = FixClient.connect(
                "127.0.0.1", port, sender_comp_id="BENCH", target_comp_id="SIM", next_seq_out=1, next_seq_in=1
            )
            client.logon(reset_seq_num=True)
            new_order(client, cl_ord_id, "2", 10, "189.99")
            client.expect("8", where={11: cl_ord_id, 150: "F"})
            client.logout()
            fills = get(f"{simulator.record_url}/venues/SIM/fills?client=BENCH")["fills"]
            assert [f["cl_ord_id"] for f in fills] == ["first", "second"][: run + 1]
            assert len({f["run"] for f in fills}) == run + 1
        finally:
            simulator.stop(force=True)
        if run == 0:
            with (tmp_path / "SIM" / "record.jsonl").open("a") as fh:
                fh.write('{"type": "fill", "exec_id": "torn')  # a kill in the middle of a write
    lines = (tmp_path / "SIM" / "record.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["type"] == "fill"


def test_command_line_serves_the_record(tmp_path: Path) -> None:
    port = free_ports_in_a_row(2)  # config/simulator.toml: SIM on --port, SIM2 on the next
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path),
            "--record-port",
            "0",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("venue SIM ")
        assert process.stdout.readline().startswith("venue SIM2 ")
        line = process.stdout.readline()
        assert line.startswith("record on http://127.0.0.1:"), line
        url = line.split()[-1]
        assert get(url) == {"venues": {"SIM": {"orders": [], "fills": []}, "SIM2": {"orders": [], "fills": []}}}
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0


def test_the_command_line_serves_the_record_on_its_default_port_unless_taken_or_turned_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The default port is patched to a free one: the real 9879 may be held by a simulator running here.
    default = free_port()
    monkeypatch.setattr(cli, "DEFAULT_RECORD_PORT", default)
    assert cli.build_parser().parse_args([]).record_port is None  # None = the default port
    first = Simulator(SimulatorConfig(), tmp_path / "a", port=free_port())
    second = Simulator(SimulatorConfig(), tmp_path / "b", port=free_port())
    first.start()
    second.start()
    try:
        assert cli.start_record(first, None) == f"http://127.0.0.1:{default}"
        assert get(f"http://127.0.0.1:{default}/venues")["venues"][0]["port"] == first.port
        # A second simulator on the machine runs on without the endpoint, and says so...
        assert cli.start_record(second, None) is None and second.record_server is None
        assert f"record endpoint cannot listen on port {default}" in caplog.text
        # ...but a port asked for explicitly must be had.
        with pytest.raises(SimulatorError, match=f"port {default}"):
            cli.start_record(second, default)
        assert cli.start_record(second, 0, disabled=True) is None and second.record_server is None
    finally:
        first.stop(force=True)
        second.stop(force=True)


def test_without_the_record_endpoint_sigusr1_still_ends_the_day(tmp_path: Path) -> None:
    port = free_ports_in_a_row(2)  # config/simulator.toml: SIM on --port, SIM2 on the next
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", str(port), "--data-dir", str(tmp_path), "--no-record-http"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("venue SIM ")
        assert process.stdout.readline().startswith("venue SIM2 ")
        assert process.stdout.readline() == f"end of day (expire Day orders): kill -USR1 {process.pid}\n"
        with FixClient.connect("127.0.0.1", port, sender_comp_id="CLIENT2", target_comp_id="SIM") as client:
            client.logon()
            new_order(client, "day", "1", 10, "189.00")
            client.expect("8", where={11: "day", 150: "0"})
            process.send_signal(signal.SIGUSR1)
            expired = client.expect("8", where={150: "C"}, timeout=10)
            assert (expired[11], expired[39]) == ("day", "C")
        assert process.stdout.readline() == "end of day on SIM: 1 Day order(s) expired\n"
        assert process.stdout.readline() == "end of day on SIM2: 0 Day order(s) expired\n"
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0
