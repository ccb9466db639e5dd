"""One order's reports reach its client in the order the OMS made them, whichever thread sends each:
its own session's thread (a PendingCancel) or a venue's (a fill). Each OMS call about a session's
orders and the sending of what it returned are one turn of that session (``gateway.dispatch.Turns``).

The race is microseconds wide in a real gateway: the test widens it by slowing the client thread's
sending of its PendingCancel (the gateway's own code, over real sockets), while a seller at the venue
fills the order. Without turns, the venue thread sends the fill (CumQty 30) first, and then the
PendingCancel says CumQty 0."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import httpx
import pytest

from domain.model import ClientReport, ExecKind
from fixgate.fixclient import FixClient, Message, utc_timestamp
from gateway.clients import ClientApplication
from simulator.venue import Simulator
from tests.support import eventually, order_fields

Connect = Callable[..., FixClient]
WINDOW_S = 1.0  # how long the first report of a kind is held before it is sent: time for the other


def hold_the_first(kind: ExecKind, monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Hold the gateway's first client report of ``kind`` for ``WINDOW_S`` before sending it, on the
    thread that sends it (inside its turn); the event is set when it is reached."""
    reached = threading.Event()
    send_report = ClientApplication.send_report

    def held(self: ClientApplication, report: ClientReport, **kwargs: Any) -> None:
        if report.kind is kind and not reached.is_set():
            reached.set()
            time.sleep(WINDOW_S)
        send_report(self, report, **kwargs)

    monkeypatch.setattr(ClientApplication, "send_report", held)
    return reached


def test_a_fill_that_comes_while_a_cancel_is_answered_reaches_the_client_after_the_pending_cancel(
    connect: Connect, simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    answering = hold_the_first(ExecKind.PENDING_CANCEL, monkeypatch)
    client = connect("CLIENT1")
    client.send("D", order_fields("ro-1", 100, "190.00"))  # between the seeded 189.99 bid and 190.01 ask
    new = client.expect("8", where={11: "ro-1", 39: "0"})
    client.send("F", {41: "ro-1", 11: "ro-2", 55: "AAPL", 54: "1", 38: 100, 60: utc_timestamp()})
    assert answering.wait(10), "the cancel never reached the gateway's PendingCancel"
    with FixClient.connect("127.0.0.1", simulator.port, sender_comp_id="CLIENT2", target_comp_id="SIM") as seller:
        seller.logon()
        seller.send("D", order_fields("ro-sell", 30, "190.00", side="2"))
        seller.expect("8", where={11: "ro-sell", 39: "2"})

    reports: list[Message] = []
    while not reports or reports[-1][39] != "4":
        got = client.expect("8", timeout=10)
        if got[37] == new[37]:
            reports.append(got)
    # The fill says what the venue said (39=1: the cancel had not left the gateway when it filled).
    assert [(r[150], r[39]) for r in reports] == [("6", "6"), ("F", "1"), ("4", "4")]
    cum = [r.decimal(14) for r in reports]
    assert cum == [D(0), D(30), D(30)], cum  # never going back


def test_a_client_that_logs_out_while_a_venue_thread_reports_to_it_is_cancelled_without_a_deadlock(
    connect: Connect, simulator: Simulator, rest: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QuickFIX calls onLogout holding the client session's lock, which a venue thread in the session's
    turn needs to send the client its fill. CLIENT2 (CancelOnDisconnect=Y) logs out while the venue
    thread holds the turn (held 1 s before sending here): had onLogout waited for the turn, each would
    wait for the other for ever. The sweep runs on a thread of its own, after the fill."""
    reporting = hold_the_first(ExecKind.TRADE, monkeypatch)
    client = connect("CLIENT2")
    client.send("D", order_fields("lo-1", 100, "190.00"))
    new = client.expect("8", where={11: "lo-1", 39: "0"})
    with FixClient.connect("127.0.0.1", simulator.port, sender_comp_id="CLIENT2", target_comp_id="SIM") as seller:
        seller.logon()
        seller.send("D", order_fields("lo-sell", 30, "190.00", side="2"))
        seller.expect("8", where={11: "lo-sell", 39: "2"})
    assert reporting.wait(10), "the fill never reached the gateway"
    # The REST connection opened before the Logout (QuickFIX 1.16 reads a logged-out connection's
    # descriptor number once more: test_lifecycle's cancel-on-disconnect test says why).
    assert rest.get(f"/orders/{new[37]}").status_code == 200
    assert client.logout(timeout=5) is not None  # the gateway answers while its venue thread waits
    order = eventually(lambda: rest.get(f"/orders/{new[37]}").json(), lambda o: o.get("status") == "CANCELED")
    assert order["cum_qty"] == "30"
    assert [e["kind"] for e in order["executions"]] == ["NEW", "TRADE", "PENDING_CANCEL", "CANCELED"]
    [at_venue] = simulator.record.orders_from("FIXGATE")
    assert at_venue.status == "CANCELED"
