"""The OMS's counters over REST (``GET /metrics/oms``), moved by real FIX traffic through the gateway,
and by reports a venue should never send: a second end of an order already ended (an illegal
lifecycle transition), a report resent under an ExecID already applied, one for no order at all."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import httpx
import quickfix as fix
from fastapi.testclient import TestClient

from api.app import create_app
from fixgate.app import Fixgate
from fixgate.fixclient import FixClient, Message
from oms.manager import OmsCounters
from simulator.matching import ExecutionEvent, OrderAccepted, OrderCanceled, OrderView
from simulator.venue import Simulator, execution_report
from tests.acceptance.conftest import API_TOKEN
from tests.acceptance.test_lifecycle import book_order, cancel, rest_a_buy
from tests.support import eventually, order_fields

Connect = Callable[..., FixClient]


def counters(rest: httpx.Client) -> dict[str, int]:
    response = rest.get("/metrics/oms")
    assert response.status_code == 200, response.text
    body: dict[str, int] = response.json()
    return body


def moved(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """The counters that changed, by how much."""
    return {name: after[name] - before[name] for name in after if after[name] != before[name]}


def test_counters_move_with_real_traffic(connect: Connect, rest: httpx.Client) -> None:
    before = counters(rest)
    # Every counter the OMS keeps is served, and nothing else.
    assert set(before) == {f.name for f in dataclasses.fields(OmsCounters)}
    client = connect("CLIENT1", "FIX.4.2")
    rest_a_buy(client, "n-1")  # venue NEW
    cancel(client, "n-2", "n-1")  # PendingCancel (the gateway's), then the venue's Canceled
    client.expect("8", where={11: "n-2", 39: "4"})
    client.send("D", order_fields("n-3", 6000, "189.00"))  # over the AAPL max order qty: risk rejects
    client.expect("8", where={11: "n-3", 39: "8"})
    cancel(client, "n-4", "never")  # the gateway's own cancel reject
    client.expect("9", where={11: "n-4"})
    # Counters move before the client's report is sent (same thread), so these are settled already.
    assert moved(before, counters(rest)) == {"orders": 2, "rejected": 1, "reports_applied": 2, "cancel_rejects": 1}


def _from_venue(event: ExecutionEvent) -> None:
    """Send a report on the simulator's own FIX session to the gateway, over the real socket: what a
    venue with a bug would do (the simulator itself never sends these)."""
    if not fix.Session.sendToTarget(execution_report(event, "FIX.4.4"), fix.SessionID("FIX.4.4", "SIM", "FIXGATE")):
        raise AssertionError("the simulator's session to the gateway is not logged on")


def test_reports_a_venue_should_never_send_are_counted_and_not_applied(
    connect: Connect, rest: httpx.Client, gateway: Fixgate, simulator: Simulator
) -> None:
    client = connect("CLIENT1", "FIX.4.4")
    new = rest_a_buy(client, "x-1")
    cancel(client, "x-2", "x-1")
    client.expect("8", where={11: "x-2", 39: "6"})
    done: Message = client.expect("8", where={11: "x-2", 39: "4"})
    order = book_order(rest, new[37], "CANCELED")
    history = [e["exec_id"] for e in order["executions"]]
    before = counters(rest)
    venue_order = simulator.record.order(f"FG{new[37]}", "FIXGATE")
    assert isinstance(venue_order, OrderView)

    # The order is CANCELED; a second Canceled under a new ExecID would move CANCELED -> CANCELED.
    _from_venue(OrderCanceled("SIM-BUG-1", venue_order, "canceled twice"))
    after = eventually(lambda: counters(rest), lambda c: c["illegal_transitions"] > before["illegal_transitions"])
    assert moved(before, after) == {"illegal_transitions": 1}
    # The venue's NEW again under its own ExecID: a repeat, skipped (QuickFIX delivers at least once).
    venue_new_exec_id = new[17].removeprefix(f"SIM-{new[37]}-")
    _from_venue(OrderAccepted(venue_new_exec_id, venue_order))
    after = eventually(lambda: counters(rest), lambda c: c["duplicate_reports"] > before["duplicate_reports"])
    # A report for a ClOrdID the gateway never gave out.
    _from_venue(OrderAccepted("SIM-BUG-2", dataclasses.replace(venue_order, cl_ord_id="FG999999", orig_cl_ord_id=None)))
    after = eventually(lambda: counters(rest), lambda c: c["unknown_reports"] > before["unknown_reports"])
    assert moved(before, after) == {"illegal_transitions": 1, "duplicate_reports": 1, "unknown_reports": 1}

    # None of them changed the book or reached the client.
    client.expect_nothing("8", within=0.3)
    assert gateway.writer is not None and gateway.writer.flush()
    order = rest.get(f"/orders/{new[37]}").json()
    assert (order["status"], order["cl_ord_id"]) == ("CANCELED", "x-2")
    assert [e["exec_id"] for e in order["executions"]] == history
    assert done[17] in history


def test_oms_counters_need_the_token_and_a_gateway(gateway: Fixgate, database_url: str) -> None:
    assert gateway.rest is not None
    assert httpx.get(f"{gateway.rest.url}/metrics/oms").status_code == 401
    # The REST API without a gateway (as `create_app` alone builds it) has no OMS to ask.
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    with TestClient(create_app(database_url, api_token=API_TOKEN)) as api:
        response = api.get("/metrics/oms", headers=auth)
    assert response.status_code == 503
    assert response.json() == {"detail": "OMS counters are not available: this API runs without a gateway"}
