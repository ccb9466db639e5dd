"""``GET /sessions`` over real FIX sessions: the shipped config's client and venue sessions, a client
that logs on, trades, gets a reject and logs out, and the venue session to the simulator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from fixgate.app import Fixgate
from fixgate.fixclient import FixClient
from tests.support import eventually, order_fields

Connect = Callable[..., FixClient]
Session = dict[str, Any]

#: The schema the dashboard is built against: exactly these fields, no more.
FIELDS = {"session_id", "role", "begin_string", "sender_comp_id", "target_comp_id", "logged_on", "since",
          "next_sender_seq", "next_target_seq", "messages_in", "messages_out", "last_error"}


def sessions(rest: httpx.Client) -> dict[str, Session]:
    response = rest.get("/sessions")
    assert response.status_code == 200, response.text
    body: list[Session] = response.json()
    for s in body:
        assert set(s) == FIELDS, s
    return {s["session_id"]: s for s in body}


def since(session: Session) -> datetime:
    assert session["since"] is not None, session
    moment = datetime.fromisoformat(session["since"])
    assert moment.utcoffset() is not None and moment.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    return moment


def test_every_configured_session_is_listed_with_the_venue_logged_on(rest: httpx.Client) -> None:
    listed = rest.get("/sessions").json()
    # As configured in config/fix_sessions: nine client sessions (4.2, 4.4 and FIXT.1.1 of three clients), one venue.
    clients = [s["session_id"] for s in listed if s["role"] == "client"]
    assert clients == sorted(f"{v}:FIXGATE->{c}" for v in ("FIX.4.2", "FIX.4.4", "FIXT.1.1")
                             for c in ("BENCH", "CLIENT1", "CLIENT2"))
    assert [s["role"] for s in listed] == ["client"] * 9 + ["venue"]  # clients first
    client = sessions(rest)["FIX.4.4:FIXGATE->CLIENT1"]
    assert client == {
        "session_id": "FIX.4.4:FIXGATE->CLIENT1", "role": "client", "begin_string": "FIX.4.4",
        "sender_comp_id": "FIXGATE", "target_comp_id": "CLIENT1", "logged_on": False, "since": None,
        "next_sender_seq": 1, "next_target_seq": 1, "messages_in": 0, "messages_out": 0, "last_error": None,
    }
    venue = sessions(rest)["FIX.4.4:FIXGATE->SIM"]
    assert venue["role"] == "venue" and venue["target_comp_id"] == "SIM" and venue["logged_on"] is True
    assert since(venue) <= datetime.now(UTC)
    # A fresh store on both sides: every message counted is one the sequence numbers count.
    venue = eventually(lambda: sessions(rest)["FIX.4.4:FIXGATE->SIM"],
                       lambda v: v["next_sender_seq"] == v["messages_out"] + 1
                       and v["next_target_seq"] == v["messages_in"] + 1)
    assert venue["messages_out"] >= 1 and venue["messages_in"] >= 1  # at least the logons


def test_a_client_session_through_logon_order_reject_and_logout(
    connect: Connect, rest: httpx.Client, gateway: Fixgate
) -> None:
    client = connect("CLIENT1", "FIX.4.4")
    key = "FIX.4.4:FIXGATE->CLIENT1"
    on = sessions(rest)[key]
    assert on["logged_on"] is True
    logged_on_at = since(on)

    client.send("D", order_fields("s-1", 10, "190.02"))  # marketable at the simulator: New, then Filled
    client.expect("8", where={11: "s-1", 39: "2"})
    # What the client sent and got is what the gateway counted, and where its sequence numbers stand.
    state = eventually(lambda: sessions(rest)[key], lambda s: s["messages_out"] == client.next_seq_in - 1)
    assert state["messages_in"] == client.next_seq_out - 1 == 2  # Logon, NewOrderSingle
    assert state["next_target_seq"] == client.next_seq_out
    assert state["next_sender_seq"] == client.next_seq_in
    assert state["last_error"] is None

    # An order fixgate cannot take (a limit order without Price): a BusinessMessageReject, which
    # becomes the session's last error.
    no_price = order_fields("s-2", 10, "190.02")
    del no_price[44]
    client.send("D", no_price)
    reject = client.expect("j")
    state = sessions(rest)[key]
    assert state["last_error"] == f"BusinessMessageReject sent: {reject[58]}"
    assert state["messages_in"] == client.next_seq_out - 1

    client.logout(timeout=5)
    off = eventually(lambda: sessions(rest)[key], lambda s: not s["logged_on"])
    assert since(off) >= logged_on_at
    # Sequence numbers stay where the session left them (the store keeps them for the next logon).
    assert off["next_target_seq"] == client.next_seq_out
    # Another client's session moved not at all.
    assert sessions(rest)["FIX.4.4:FIXGATE->CLIENT2"]["messages_in"] == 0


def test_a_session_level_reject_is_the_last_error(connect: Connect, rest: httpx.Client) -> None:
    client = connect("CLIENT2", "FIX.4.4")
    # Tag 9999 is defined by no dictionary: QuickFIX rejects the message (35=3) before fixgate sees it.
    client.send("D", {**order_fields("r-1", 10, "190.02"), 9999: "x"})
    reject = client.expect("3")
    state = sessions(rest)["FIX.4.4:FIXGATE->CLIENT2"]
    assert state["last_error"] == f"Reject sent (RefSeqNum {reject[45]}): {reject[58]}"


def test_sessions_need_a_firm_reader(gateway: Fixgate) -> None:
    assert gateway.rest is not None
    assert httpx.get(f"{gateway.rest.url}/sessions", timeout=10).status_code == 401
