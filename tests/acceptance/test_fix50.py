"""FIX 5.0 SP2 over FIXT.1.1 at the client edge, where it differs from FIX 4.4: the application version
a Logon and a message name, the tags 5.0 SP2 makes optional that fixgate needs, and malformed messages.
(Orders, cancels, replaces, status, mass cancel, cancel on disconnect and resends in 5.0 SP2 are in
test_lifecycle.py and test_order_flow.py, parametrised over the versions; strict validation and text
fields in test_client_edge.py.)

Each bad message gets a reject naming the tag and never reaches the OMS: the venue's record and the
book show only the good orders sent after it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from fixgate.app import Fixgate
from fixgate.fixclient import FixClient, FixSessionError, Message, utc_timestamp
from gateway.credentials import hash_password
from simulator.venue import Simulator
from tests.acceptance.test_client_edge import gateway_with
from tests.support import eventually, order_fields

Connect = Callable[..., FixClient]
FIX50 = "FIXT.1.1"


def fix50_client(gateway: Fixgate) -> FixClient:
    return FixClient.connect("127.0.0.1", gateway.settings.client_port, sender_comp_id="CLIENT1",
                             target_comp_id="FIXGATE", begin_string=FIX50)


def test_a_logon_that_names_another_application_version_or_none_is_refused(gateway: Fixgate) -> None:
    for version in ("7", "8", "FIX.4.4"):  # FIX 4.4, FIX 5.0 SP1, a BeginString where a code belongs
        with fix50_client(gateway) as client:
            with pytest.raises(FixSessionError) as refused:
                client.logon(fields={1137: version})
            assert str(refused.value) == (f"logon refused: Rejected Logon Attempt: DefaultApplVerID (1137) {version}"
                                          " not supported: use 9 (FIX.5.0SP2)")
            assert client.wait_closed(10)
    # A FIXT.1.1 Logon without DefaultApplVerID (required by the FIXT.1.1 dictionary) logs nobody on:
    # QuickFIX hangs up on a Logon its dictionary refuses, unanswered.
    with fix50_client(gateway) as client:
        client.send("A", {98: 0, 108: 30})
        assert client.wait_closed(10), "the gateway did not hang up"
        assert [m.msg_type for m in client.received] == []
    # DefaultApplVerID 9 is the session's own: the logon stands.
    with fix50_client(gateway) as client:
        assert client.logon()[1137] == "9"


def test_logon_credentials_are_asked_of_a_fix50_session_as_of_a_fix44_one(
    tmp_path: Path, database_url: str, simulator: Simulator
) -> None:
    (tmp_path / "client1.hash").write_text(hash_password("pw one") + "\n")
    block = "BeginString=FIXT.1.1\nTargetCompID=CLIENT1\n"
    app = gateway_with(tmp_path, database_url, simulator, block,
                       f"{block}Username=alice\nPasswordHashFile={tmp_path / 'client1.hash'}\n")
    try:
        for fields, why in [({}, "Username (553) and Password (554) are required"),
                            ({553: "alice", 554: "pw two"}, "wrong Username (553) or Password (554)")]:
            with fix50_client(app) as client:
                with pytest.raises(FixSessionError) as refused:
                    client.logon(fields=fields)
                assert str(refused.value) == f"logon refused: Rejected Logon Attempt: {why}"
        with fix50_client(app) as client:
            client.logon(fields={553: "alice", 554: "pw one"})
            client.send("D", order_fields("cred-1", 10, "189.00"))
            client.expect("8", where={11: "cred-1", 39: "0"})
    finally:
        app.stop()


def test_a_message_that_names_another_application_version_gets_a_session_reject(
    connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    client = connect("CLIENT1", FIX50)
    # Without fixgate's check QuickFIX would validate these against no dictionary at all: it has one
    # for FIX 5.0 SP2 only. A 4.4-only field (ExecTransType) rides along to show nothing checked it.
    for version in ("7", "6", "X"):
        fields = [*order_fields(f"v-{version}", 10, "189.00").items(), (20, "0")]
        seq = client.send("D", fields, header={1128: version})
        reject = client.expect("3", where={45: seq})
        assert (reject[371], reject[372], reject[373]) == ("1128", "D", "5")
        if version != "X":  # X is no ApplVerID at all: QuickFIX's own check refuses it first
            assert reject[58] == f"ApplVerID (1128) {version} not supported: this session speaks 9 (FIX.5.0SP2)"
    seq = client.send("F", {11: "v-c", 41: "v-7", 55: "AAPL", 54: "1", 60: utc_timestamp()}, header={1128: "7"})
    assert client.expect("3", where={45: seq})[371] == "1128"
    # ApplVerID 9, said outright, is the session's own version.
    client.send("D", order_fields("v-9", 10, "189.00"), header={1128: "9"})
    new = client.expect("8", where={11: "v-9", 39: "0"})
    only_at_venue_and_in_book(rest, simulator, {"v-9": new})


def test_tags_fix50_leaves_optional_that_fixgate_needs_get_a_business_reject_naming_them(
    connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    client = connect("CLIENT1", FIX50)
    client.send("D", order_fields("o-1", 100, "189.00"))
    new = client.expect("8", where={11: "o-1", 39: "0"})
    # FIX 5.0 SP2 lets a cancel or replace name its order by OrderID (37) alone, and a status request
    # leave out ClOrdID: fixgate finds a client's orders by ClOrdID.
    without_orig = {11: "o-2", 37: new[37], 55: "AAPL", 54: "1", 60: utc_timestamp()}
    reject = client.expect("j", where={45: client.send("F", without_orig)})
    assert (reject[372], reject[380], reject[379]) == ("F", "5", "o-2")
    assert reject[58] == "OrigClOrdID (41) is required: fixgate finds the order by it"
    replace = {**without_orig, 11: "o-3", 38: 200, 40: "2", 44: "189.50"}
    reject = client.expect("j", where={45: client.send("G", replace)})
    assert (reject[372], reject[380], reject[58]) == ("G", "5", "OrigClOrdID (41) is required: fixgate finds the order by it")
    reject = client.expect("j", where={45: client.send("H", {37: new[37], 55: "AAPL", 54: "1"})})
    assert (reject[372], reject[380], reject[58]) == ("H", "5", "ClOrdID (11) is required: fixgate finds the order by it")
    # The order works on unchanged, and the same requests with their ids are taken.
    client.send("H", {11: "o-1", 55: "AAPL", 54: "1"})
    status = client.expect("8", where={11: "o-1", 150: "I"})
    assert (status[39], status[38]) == ("0", "100")
    client.send("F", {**without_orig, 41: "o-1", 11: "o-4"})
    client.expect("8", where={11: "o-4", 39: "4"})
    [at_venue] = simulator.record.orders_from("FIXGATE")
    assert (at_venue.status, at_venue.quantity) == ("CANCELED", 100)


def test_malformed_fix50_messages_get_session_rejects_and_the_session_stays_up(
    connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    client = connect("CLIENT1", FIX50)
    cases: list[tuple[int, int, str]] = []  # (tag, its position: which field to spoil, SessionRejectReason)
    # Required by the FIX 5.0 SP2 dictionary: Side, TransactTime, OrdType.
    for tag in (54, 60, 40):
        fields = order_fields(f"miss-{tag}", 10, "189.00")
        del fields[tag]
        cases.append((client.send("D", fields), tag, "1"))
    # A value of the wrong type, one outside the field's values, a tag with no value, a tag twice.
    for cl_ord_id, tag, value, reason in (("fmt", 38, "ten", "6"), ("enum", 54, "Q", "5"),
                                          ("empty", 44, "", "4")):
        fields = order_fields(f"bad-{cl_ord_id}", 10, "189.00")
        fields[tag] = value
        cases.append((client.send("D", fields), tag, reason))
    twice = [*order_fields("bad-twice", 10, "189.00").items(), (38, 10)]
    cases.append((client.send("D", twice), 38, "13"))
    for seq, tag, reason in cases:
        reject = client.expect("3", where={45: seq})
        assert (reject[371], reject[373]) == (str(tag), reason), reject
    # A frame whose checksum is wrong is dropped unanswered (QuickFIX ignores a garbled message) ...
    garbled = client.sent[-1].replace(b"bad-twice", b"bad-garbl")
    client.send_raw(garbled)
    client.expect_nothing("3", within=0.5)
    # ... and a Symbol the dictionary leaves optional (inside Instrument) is asked for by name.
    fields = order_fields("miss-55", 10, "189.00")
    del fields[55]
    reject = client.expect("j", where={45: client.send("D", fields)})
    assert (reject[380], reject[372]) == ("5", "D") and "(55)" in reject[58]
    # The session is up, its sequence numbers in step, and only the good order reaches venue and book.
    client.send("D", order_fields("good-1", 10, "189.00"))
    new = client.expect("8", where={11: "good-1", 39: "0"})
    only_at_venue_and_in_book(rest, simulator, {"good-1": new})


def test_a_risk_limit_refuses_a_fix50_order_as_a_fix44_one(
    connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    answers = {}
    for version in ("FIX.4.4", FIX50):
        client = connect("CLIENT1", version)
        client.send("D", order_fields(f"big-{version}", 5001, "190.00"))
        reject = client.expect("8", where={11: f"big-{version}"})
        answers[version] = (reject[150], reject[39], reject[58])
    assert answers[FIX50] == answers["FIX.4.4"] == ("8", "8", "order qty 5001 > max 5000 for AAPL")
    assert simulator.record.orders_from("FIXGATE") == ()
    orders = eventually(lambda: rest.get("/orders", params={"status": "REJECTED"}).json(), lambda b: len(b) == 2)
    assert {o["session"] for o in orders} == {"FIX.4.4:FIXGATE->CLIENT1", "FIXT.1.1:FIXGATE->CLIENT1"}


def only_at_venue_and_in_book(rest: httpx.Client, simulator: Simulator, taken: dict[str, Message]) -> None:
    """The venue and the book hold exactly the orders in ``taken`` (ClOrdID -> its New report)."""
    assert sorted(o.cl_ord_id for o in simulator.record.orders_from("FIXGATE")) == sorted(
        f"FG{new[37]}" for new in taken.values())
    orders = eventually(lambda: rest.get("/orders").json(), lambda body: len(body) >= len(taken))
    assert sorted(o["cl_ord_id"] for o in orders) == sorted(taken)
