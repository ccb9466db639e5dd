"""Venues that refuse or acknowledge in ways the simulator's default manners never do (its dialects,
``simulator.config.VenueDialect``): a session-level Reject of an order, a BusinessMessageReject of a
cancel, replace, status or market data request, a cancel acknowledged under the order's original
ClOrdID. No order is left pending and every client request gets exactly one answer.
Real sockets, a real PostgreSQL."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from decimal import Decimal as D
from pathlib import Path

import httpx
import pytest
import quickfix as fix

from fixgate.app import Fixgate
from fixgate.fixclient import FixClient
from simulator.config import SimulatorConfig, VenueDialect, load_config
from simulator.venue import Simulator
from tests.acceptance.conftest import REPO
from tests.acceptance.test_lifecycle import book_order, cancel, replace, rest_a_buy
from tests.support import eventually, free_port, order_fields

Connect = Callable[..., FixClient]


@pytest.fixture
def dialect() -> VenueDialect:
    """The venue's manners; each test parametrizes this fixture with the dialect it needs."""
    return VenueDialect()


@pytest.fixture
def simulator(tmp_path: Path, dialect: VenueDialect) -> Iterator[Simulator]:
    (venue,) = load_config(REPO / "config" / "simulator.toml").only("SIM").venues
    config = SimulatorConfig((dataclasses.replace(venue, dialect=dialect),))
    sim = Simulator(config, tmp_path / "sim", port=free_port())
    sim.start()
    yield sim
    sim.stop(force=True)


def _working_qty(gateway: Fixgate, account: str = "CLIENT1") -> D:
    assert gateway.controls is not None
    return gateway.controls.risk.view.exposure(account, "AAPL").open_buy_qty


# -- 35=3: a session-level Reject of a NewOrderSingle -------------------------------------------------


@pytest.mark.parametrize("dialect", [VenueDialect(session_reject_ord_types=("1",))])
@pytest.mark.parametrize("begin_string", ["FIX.4.4", "FIX.4.2"])
def test_an_order_the_venue_refuses_at_the_session_level_is_rejected_to_the_client(
    begin_string: str, connect: Connect, rest: httpx.Client, gateway: Fixgate, simulator: Simulator
) -> None:
    client = connect("CLIENT1", begin_string)
    client.send("D", order_fields("sr-1", 100, None))  # a market order: OrdType 1, refused by the venue
    reject = client.expect("8", where={11: "sr-1", 39: "8"})
    assert reject[150] == "8"
    assert reject[58] == (
        "venue SIM rejected the order: tag 40 value is incorrect (out of range) for this tag: "
        "OrdType (40) 1 is not accepted by venue SIM"
    )
    order = book_order(rest, reject[37], "REJECTED")
    assert order["text"] == reject[58]
    assert [(e["kind"], e["venue"]) for e in order["executions"]] == [("REJECTED", "SIM")]
    assert _working_qty(gateway) == 0  # risk no longer counts it
    assert simulator.record.orders_from("FIXGATE") == ()  # it never reached the venue's book
    # The venue takes the order types it does not refuse.
    rest_a_buy(client, "sr-2")
    assert _working_qty(gateway) == D(100)


# -- 35=j: a BusinessMessageReject of a cancel, replace, status or market data request ----------------


@pytest.mark.parametrize("dialect", [VenueDialect(business_reject=("F", "G"))])
@pytest.mark.parametrize("begin_string", ["FIX.4.4", "FIX.4.2"])
def test_a_cancel_or_replace_the_venue_refuses_with_a_business_reject_ends_at_once(
    begin_string: str, connect: Connect, rest: httpx.Client, gateway: Fixgate
) -> None:
    client = connect("CLIENT1", begin_string)
    new = rest_a_buy(client, "bj-1")
    cancel(client, "bj-2", "bj-1")
    client.expect("8", where={11: "bj-2", 39: "6"})
    refused = client.expect("9", where={11: "bj-2"})
    assert (refused[41], refused[37], refused[39], refused[434]) == ("bj-1", new[37], "0", "1")
    assert refused[58] == "venue SIM: MsgType F is not supported by venue SIM"
    order = book_order(rest, new[37], "NEW")
    assert order["cl_ord_id"] == "bj-1"

    replace(client, "bj-3", "bj-1", 200, "189.50")
    client.expect("8", where={11: "bj-3", 39: "E"})
    refused = client.expect("9", where={11: "bj-3"})
    assert (refused[41], refused[39], refused[434]) == ("bj-1", "0", "2")
    assert refused[58] == "venue SIM: MsgType G is not supported by venue SIM"
    order = book_order(rest, new[37], "NEW")
    assert (order["cl_ord_id"], D(order["quantity"])) == ("bj-1", D(100))
    assert _working_qty(gateway) == D(100)  # back to the old order's exposure
    # Nothing is pending: a second cancel is sent (and refused again), not refused as already pending.
    cancel(client, "bj-4", "bj-1")
    refused = client.expect("9", where={11: "bj-4"})
    assert refused[58] == "venue SIM: MsgType F is not supported by venue SIM"


@pytest.mark.parametrize("dialect", [VenueDialect(business_reject=("H",))])
def test_a_venue_that_refuses_status_requests_leaves_orders_as_they_are_at_logon(
    connect: Connect, rest: httpx.Client, gateway: Fixgate, caplog: pytest.LogCaptureFixture
) -> None:
    client = connect("CLIENT1", "FIX.4.4")
    first = rest_a_buy(client, "st-1")
    rest_a_buy(client, "st-2")
    assert gateway.router is not None
    # The venue session goes down and up: at its logon fixgate asks the status of both orders.
    ours = fix.Session.lookupSession(fix.SessionID("FIX.4.4", "FIXGATE", "SIM"))
    ours.logout()
    eventually(lambda: gateway.router.venue_is_up("SIM"), lambda up: not up)  # type: ignore[union-attr]
    caplog.clear()
    with caplog.at_level(logging.INFO):
        ours.logon()
        eventually(lambda: caplog.text, lambda text: "reconciliation is unavailable" in text)
        # The status requests went out in the logon callback, before the venue's first refusal was
        # read: an order sent now is answered after every refusal.
        rest_a_buy(client, "st-3")
    unavailable = [r for r in caplog.records if "reconciliation is unavailable" in r.getMessage()]
    assert len(unavailable) == 1
    assert unavailable[0].getMessage() == (
        "venue SIM refuses OrderStatusRequest (MsgType H is not supported by venue SIM): reconciliation "
        "is unavailable for that venue; its orders stay as the book has them"
    )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert book_order(rest, first[37], "NEW")["cl_ord_id"] == "st-1"
    # The orders work on: a cancel goes through.
    cancel(client, "st-4", "st-1")
    client.expect("8", where={11: "st-4", 39: "4"})


@pytest.mark.parametrize("dialect", [VenueDialect(business_reject=("V",))])
def test_a_venue_that_refuses_market_data_leaves_marks_on_the_reference_price(
    gateway: Fixgate, caplog: pytest.LogCaptureFixture
) -> None:
    assert gateway.gateway is not None and gateway.router is not None
    ours = fix.Session.lookupSession(fix.SessionID("FIX.4.4", "FIXGATE", "SIM"))
    ours.logout()
    eventually(lambda: gateway.router.venue_is_up("SIM"), lambda up: not up)  # type: ignore[union-attr]
    caplog.clear()
    with caplog.at_level(logging.INFO):
        ours.logon()
        eventually(lambda: caplog.text, lambda text: "refuses market data" in text)
    [refused] = [r for r in caplog.records if "refuses market data" in r.getMessage()]
    assert refused.getMessage() == (
        "venue SIM refuses market data (MsgType V is not supported by venue SIM): marks stay on the "
        "reference price and fixgate's own fills"
    )
    assert refused.levelno == logging.WARNING
    assert gateway.controls is not None and gateway.controls.risk.reference_price("AAPL") == D("190.00")


# -- A cancel acknowledged under the order's original ClOrdID, without OrigClOrdID --------------------


@pytest.mark.parametrize("dialect", [VenueDialect(cancel_ack_original_id=True)])
@pytest.mark.parametrize("begin_string", ["FIX.4.4", "FIX.4.2"])
def test_a_cancel_acknowledged_under_the_original_id_answers_the_cancel_once(
    begin_string: str, connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    client = connect("CLIENT1", begin_string)
    new = rest_a_buy(client, "ca-1")
    cancel(client, "ca-2", "ca-1")
    client.expect("8", where={11: "ca-2", 39: "6"})
    done = client.expect("8", where={39: "4"})
    assert (done[11], done[41], done[150], done[37]) == ("ca-2", "ca-1", "4", new[37])
    [venue_order] = simulator.record.orders_from("FIXGATE")
    assert venue_order.status == "CANCELED"
    order = book_order(rest, new[37], "CANCELED")
    assert order["cl_ord_id"] == "ca-2"
    assert [e["kind"] for e in order["executions"]] == ["NEW", "PENDING_CANCEL", "CANCELED"]
    # An order sent now is answered after anything the Canceled report made: no cancel reject came.
    rest_a_buy(client, "ca-3")
    client.expect_nothing("9", within=0)
    client.expect_nothing("8", within=0, where={11: "ca-1"})
