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

import pytest

from domain.model import ClientReport, ExecKind
from fixgate.fixclient import FixClient, Message, utc_timestamp
from gateway.clients import ClientApplication
from simulator.venue import Simulator
from tests.support import order_fields

Connect = Callable[..., FixClient]
WINDOW_S = 1.0  # how long the client thread holds its PendingCancel: time for the fill to come


def test_a_fill_that_comes_while_a_cancel_is_answered_reaches_the_client_after_the_pending_cancel(
    connect: Connect, simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    answering = threading.Event()
    send_report = ClientApplication.send_report

    def slow_pending(self: ClientApplication, report: ClientReport, **kwargs: Any) -> None:
        if report.kind is ExecKind.PENDING_CANCEL and not answering.is_set():
            answering.set()
            time.sleep(WINDOW_S)
        send_report(self, report, **kwargs)

    monkeypatch.setattr(ClientApplication, "send_report", slow_pending)
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
