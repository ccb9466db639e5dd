"""The client-facing edge on real sockets: strict session-level validation, text fields that must be
printable ASCII and bounded, and entitlements (which accounts a session may trade).

Each bad message must be answered with a reject naming the tag and must never reach the OMS: the
venue's record and the book show only the good order sent after it (an order that went through
after the bad ones proves the bad ones were answered without being taken)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bench.procs import one_venue_config
from fixgate.app import Fixgate
from fixgate.config import Settings
from fixgate.fixclient import FixClient, FixSessionError, utc_timestamp
from simulator.venue import Simulator
from tests.acceptance.conftest import API_TOKEN, REPO
from tests.support import eventually, free_port, order_fields

Connect = Callable[..., FixClient]

# A group whose NumInGroup says two entries but holds one: the Parties block in 4.4 and 5.0 SP2, the
# allocation group in 4.2 (each part of NewOrderSingle in its version).
ONE_ENTRY_FOR_TWO = {
    "FIX.4.4": [(453, 2), (448, "P1"), (447, "D"), (452, 1)],
    "FIX.4.2": [(78, 2), (79, "ALLOC1"), (80, 10)],
    "FIXT.1.1": [(453, 2), (448, "P1"), (447, "D"), (452, 1)],
}
VERSIONS = ["FIX.4.4", "FIX.4.2", "FIXT.1.1"]


# FIX 4.2's Reject has no SessionRejectReason (373): QuickFIX says the reason in Text instead.
REASON_TEXT = {
    "0": "Invalid tag number",
    "2": "Tag not defined for this message type",
    "16": "Incorrect NumInGroup count for repeating group",
}


def session_reject(client: FixClient, seq: int, reason: str, tag: int) -> None:
    """The Reject (35=3) of message ``seq``: SessionRejectReason ``reason`` and RefTagID ``tag``."""
    reject = client.expect("3", where={45: seq})
    assert reject[371] == str(tag), reject
    if client.begin_string != "FIX.4.2":
        assert reject[373] == reason, reject
    else:
        assert reject[58] == REASON_TEXT[reason], reject


def good_order_only(client: FixClient, rest: httpx.Client, simulator: Simulator, cl_ord_id: str) -> None:
    """A good order goes through after the bad ones: the venue and the book hold it and nothing else."""
    client.send("D", order_fields(cl_ord_id, 10, "189.00"))
    new = client.expect("8", where={11: cl_ord_id, 39: "0"})
    assert [o.cl_ord_id for o in simulator.record.orders_from("FIXGATE")] == [f"FG{new[37]}"]
    orders = eventually(lambda: rest.get("/orders").json(), lambda body: len(body) >= 1)
    assert [o["cl_ord_id"] for o in orders] == [cl_ord_id]


@pytest.mark.parametrize("begin_string", VERSIONS)
def test_strict_validation_answers_unknown_tags_foreign_tags_and_bad_groups_with_a_session_reject(
    begin_string: str, connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    client = connect("CLIENT1", begin_string)
    # SessionRejectReason 0: a tag no dictionary defines (user-defined range, and below it).
    for tag in (9999, 4999):
        seq = client.send("D", [*order_fields(f"bad-{tag}", 10, "189.00").items(), (tag, "x")])
        session_reject(client, seq, "0", tag)
    # 2: a tag the dictionary defines, but not for a NewOrderSingle (ExecType).
    seq = client.send("D", [*order_fields("bad-150", 10, "189.00").items(), (150, "0")])
    session_reject(client, seq, "2", 150)
    # 16: NumInGroup does not match the entries that follow.
    group = ONE_ENTRY_FOR_TWO[begin_string]
    seq = client.send("D", [*order_fields("bad-group", 10, "189.00").items(), *group])
    session_reject(client, seq, "16", group[0][0])
    good_order_only(client, rest, simulator, "good-1")


def business_reject(client: FixClient, seq: int, tag: int) -> str:
    """The BusinessMessageReject (35=j) of message ``seq``; its Text, which must name ``tag``."""
    reject = client.expect("j", where={45: seq})
    assert f"({tag})" in reject[58], reject
    return reject[58]


@pytest.mark.parametrize("begin_string", VERSIONS)
def test_a_text_field_that_is_not_printable_ascii_or_too_long_is_rejected_naming_the_tag(
    begin_string: str, connect: Connect, rest: httpx.Client, simulator: Simulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = connect("CLIENT1", begin_string)
    bad_values: list[tuple[int, bytes]] = [
        (11, b"bad\xff1"), (1, b"CLIENT1\xff"), (55, b"AA\xffPL"), (11, b"nul\x00x"), (55, b"AAPL\x7f"),
        (11, b"x" * 65),
    ]
    for tag, value in bad_values:
        fields = order_fields(f"bad-{tag}", 10, "189.00")
        fields[tag] = value  # type: ignore[assignment]
        text = business_reject(client, client.send("D", fields), tag)
        if len(value) > 64:
            assert "65 characters" in text and "at most 64" in text, text
        else:
            assert "printable ASCII" in text, text
    # A cancel whose OrigClOrdID holds a byte that is not ASCII.
    cancel = {11: "cx-1", 41: b"orig\xff", 55: "AAPL", 54: "1", 38: 10, 60: utc_timestamp()}
    business_reject(client, client.send("F", cancel), 41)
    good_order_only(client, rest, simulator, "good-1")
    assert not [r for r in caplog.records if r.exc_info or r.levelname in ("ERROR", "CRITICAL")]


def refused(client: FixClient, cl_ord_id: str, account: str) -> str:
    """Send an order for ``account`` that must be refused; the Text of the ExecutionReport."""
    client.send("D", order_fields(cl_ord_id, 10, "189.00", t1=account))
    report = client.expect("8", where={11: cl_ord_id, 39: "8"})
    assert (report[150], report[37], report[1]) == ("8", "NONE", account)
    return report[58]


@pytest.mark.parametrize("begin_string", VERSIONS)
def test_a_session_trades_only_the_accounts_it_is_entitled_to(
    begin_string: str, connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    one, two = connect("CLIENT1", begin_string), connect("CLIENT2", begin_string)
    assert refused(one, "x-1", "CLIENT2") == "account CLIENT2 is not entitled to session CLIENT1"
    # CLIENT2 has no Accounts= in clients.cfg: its own CompID only.
    assert refused(two, "x-2", "CLIENT1") == "account CLIENT1 is not entitled to session CLIENT2"
    one.send("D", order_fields("ok-1", 10, "189.00", t1="CLIENT1-A"))  # listed in Accounts=
    mine = one.expect("8", where={11: "ok-1", 39: "0"})
    two.send("D", order_fields("ok-2", 10, "189.00"))  # no Account: the CompID's own
    two.expect("8", where={11: "ok-2", 39: "0", 1: "CLIENT2"})

    # A cancel, a replace and a status request that name a foreign account are refused too.
    one.send("F", {41: "ok-1", 11: "ok-1-x", 1: "CLIENT2", 55: "AAPL", 54: "1", 38: 10, 60: utc_timestamp()})
    reject = one.expect("9", where={11: "ok-1-x"})
    assert (reject[41], reject[434]) == ("ok-1", "1")
    assert reject[58] == "account CLIENT2 is not entitled to session CLIENT1"
    one.send("G", {41: "ok-1", 11: "ok-1-r", 1: "CLIENT2", 21: "1", 55: "AAPL", 54: "1", 38: 20, 40: "2",
                   44: "189.00", 60: utc_timestamp()})
    assert one.expect("9", where={11: "ok-1-r"})[434] == "2"
    one.send("H", {11: "ok-1", 1: "CLIENT2", 55: "AAPL", 54: "1"})
    status = one.expect("8", where={11: "ok-1", 39: "8"})
    assert status[58] == "account CLIENT2 is not entitled to session CLIENT1"

    # Only the entitled orders reached the venue and the book, and ok-1 works on unchanged.
    at_venue = sorted(o.cl_ord_id for o in simulator.record.orders_from("FIXGATE"))
    assert at_venue == sorted([f"FG{mine[37]}", "FG" + str(int(mine[37]) + 1)])
    assert simulator.record.order(f"FG{mine[37]}").status == "NEW"  # type: ignore[union-attr]
    orders = eventually(lambda: rest.get("/orders").json(), lambda body: len(body) == 2)
    assert sorted((o["cl_ord_id"], o["account"]) for o in orders) == [
        ("ok-1", "CLIENT1-A"), ("ok-2", "CLIENT2")]


def test_a_kill_switch_is_not_bypassed_by_another_account_or_another_session(
    connect: Connect, rest: httpx.Client
) -> None:
    one, bench = connect("CLIENT1"), connect("BENCH")
    response = rest.post("/risk/kill", json={"scope": "session", "value": "CLIENT1", "reason": "runaway"})
    assert response.status_code == 200, response.text
    # The halted session may not escape by naming another of its accounts ...
    one.send("D", order_fields("k-1", 10, "189.00", t1="CLIENT1-A"))
    assert one.expect("8", where={11: "k-1", 39: "8"})[58].startswith("trading halted for session CLIENT1")
    # ... nor its account by logging on as another session (BENCH may trade only BENCH).
    assert refused(bench, "k-2", "CLIENT1") == "account CLIENT1 is not entitled to session BENCH"
    response = rest.post("/risk/kill", json={"scope": "account", "value": "BENCH", "reason": "runaway"})
    assert response.status_code == 200, response.text
    assert refused(one, "k-3", "BENCH") == "account BENCH is not entitled to session CLIENT1"


def gateway_with(tmp_path: Path, database_url: str, simulator: Simulator, old: str, new: str) -> Fixgate:
    """A gateway (started) whose clients.cfg has its first ``old`` replaced by ``new``."""
    config = tmp_path / "config"
    one_venue_config(config)
    cfg = config / "fix_sessions" / "clients.cfg"
    text = cfg.read_text()
    assert old in text
    cfg.write_text(text.replace(old, new, 1))
    app = Fixgate(Settings(
        config_dir=config, data_dir=tmp_path / "gw", client_port=free_port(), sim_port=simulator.port,
        rest_port=free_port(), database_url=database_url, api_token=API_TOKEN,
    ))
    app.start()
    return app


def test_a_session_with_credentials_refuses_a_logon_without_the_right_username_and_password(
    tmp_path: Path, database_url: str, simulator: Simulator
) -> None:
    made = subprocess.run([sys.executable, "-m", "fixgate.cli", "hash-password"], input="pw one\n", cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=True)
    hashed = made.stdout.strip()
    assert hashed.startswith("scrypt$") and "pw one" not in hashed
    (tmp_path / "client1.hash").write_text(hashed + "\n")
    block = "TargetCompID=CLIENT1\nDataDictionary=${SPEC_DIR}/FIX44.xml\n"  # FIX 4.4 CLIENT1's
    app = gateway_with(tmp_path, database_url, simulator, block,
                       f"{block}Username=alice\nPasswordHashFile={tmp_path / 'client1.hash'}\n")
    try:
        port = app.settings.client_port

        def client1() -> FixClient:
            return FixClient.connect("127.0.0.1", port, sender_comp_id="CLIENT1", target_comp_id="FIXGATE")

        for fields, why in [
            ({}, "Username (553) and Password (554) are required"),
            ({553: "alice", 554: "pw two"}, "wrong Username (553) or Password (554)"),
            ({553: "bob", 554: "pw one"}, "wrong Username (553) or Password (554)"),
        ]:
            with client1() as c:
                with pytest.raises(FixSessionError) as refused_logon:
                    c.logon(fields=fields)
                assert str(refused_logon.value) == f"logon refused: Rejected Logon Attempt: {why}"
                assert c.wait_closed(10)  # and QuickFIX hangs up
        client = client1()
        client.logon(fields={553: "alice", 554: "pw one"})
        client.send("D", order_fields("cred-1", 10, "189.00"))
        client.expect("8", where={11: "cred-1", 39: "0"})
        client.logout()
        # CLIENT2 has no credentials configured: it logs on as before.
        with FixClient.connect("127.0.0.1", port, sender_comp_id="CLIENT2", target_comp_id="FIXGATE") as two:
            two.logon()
    finally:
        app.stop()


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the peer ends the connection (within a deadline for correctness, not speed)."""
    sock.settimeout(30)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_a_connection_that_does_not_log_on_in_time_is_closed(
    tmp_path: Path, database_url: str, simulator: Simulator
) -> None:
    app = gateway_with(tmp_path, database_url, simulator, "ConnectionLogonTimeout=5\n",
                       "ConnectionLogonTimeout=1\n")
    try:
        port = app.settings.client_port
        with socket.create_connection(("127.0.0.1", port)) as silent, \
                socket.create_connection(("127.0.0.1", port)) as garbled:
            garbled.sendall(b"8=FIX.4.4\x019=5")  # the start of a message that never ends
            client = FixClient.connect("127.0.0.1", port, sender_comp_id="CLIENT1", target_comp_id="FIXGATE")
            client.logon()
            assert closed_by_peer(silent) and closed_by_peer(garbled)
        # The client that logged on, older than the timeout by now, trades on.
        client.send("D", order_fields("t-1", 10, "189.00"))
        client.expect("8", where={11: "t-1", 39: "0"})
        client.logout()
        assert app.gateway is not None and app.gateway.connection_guard.closed_for_timeout == 2
    finally:
        app.stop()


def test_connections_over_the_cap_per_address_are_closed(
    tmp_path: Path, database_url: str, simulator: Simulator
) -> None:
    app = gateway_with(tmp_path, database_url, simulator, "MaxConnectionsPerAddress=10\n",
                       "MaxConnectionsPerAddress=2\nConnectionLogonTimeout=120\n")
    try:
        port = app.settings.client_port
        one = FixClient.connect("127.0.0.1", port, sender_comp_id="CLIENT1", target_comp_id="FIXGATE")
        one.logon()
        two = FixClient.connect("127.0.0.1", port, sender_comp_id="CLIENT2", target_comp_id="FIXGATE")
        two.logon()
        with socket.create_connection(("127.0.0.1", port)) as third:
            assert closed_by_peer(third)  # long before its logon timeout: over the cap
        for client, cl_ord_id in ((one, "c-1"), (two, "c-2")):  # the logged-on two are kept
            client.send("D", order_fields(cl_ord_id, 10, "189.00"))
            client.expect("8", where={11: cl_ord_id, 39: "0"})
            client.logout()
    finally:
        app.stop()
