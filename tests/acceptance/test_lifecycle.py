"""Every order from entry to its end through fixgate, in FIX 4.2, 4.4 and 5.0 SP2 (over FIXT.1.1): cancel,
replace, status, mass cancel (not in FIX 4.2, which has no 35=q), cancel on disconnect, unsolicited venue events
(IOC remainders, expiry, DoneForDay), duplicates and resends. Refusals only the venue makes (its own
tick and lot rules) are in test_venue_rules.py."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D

import httpx
import pytest

from fixgate.app import Fixgate
from fixgate.fixclient import FixClient, Message, utc_timestamp
from simulator.venue import DayEnd, Simulator
from tests.support import eventually, order_fields

Connect = Callable[..., FixClient]
VERSIONS = ["FIX.4.4", "FIX.4.2", "FIXT.1.1"]

# Seeded book: bids 189.99 .. 189.95, asks 190.01 .. 190.05, 100 each. A buy at 189.00 rests.


def rest_a_buy(client: FixClient, cl_ord_id: str, qty: int = 100, price: str = "189.00",
               symbol: str = "AAPL") -> Message:
    client.send("D", order_fields(cl_ord_id, qty, price, symbol=symbol))
    return client.expect("8", where={11: cl_ord_id, 39: "0"})


def cancel(client: FixClient, cl_ord_id: str, orig: str, symbol: str = "AAPL", qty: int = 100) -> None:
    client.send("F", {41: orig, 11: cl_ord_id, 55: symbol, 54: "1", 38: qty, 60: utc_timestamp()})


def replace(client: FixClient, cl_ord_id: str, orig: str, qty: int, price: str) -> None:
    client.send("G", {41: orig, 11: cl_ord_id, 21: "1", 55: "AAPL", 54: "1", 38: qty, 40: "2", 44: price,
                      60: utc_timestamp()})


def book_order(rest: httpx.Client, order_id: str, status: str) -> dict:  # type: ignore[type-arg]
    return eventually(lambda: rest.get(f"/orders/{order_id}").json(), lambda o: o.get("status") == status)  # type: ignore[no-any-return]


@pytest.mark.parametrize("begin_string", VERSIONS)
def test_cancel_goes_pending_then_canceled_with_the_clients_ids(
    begin_string: str, connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    client = connect("CLIENT1", begin_string)
    new = rest_a_buy(client, "c-1")
    cancel(client, "c-2", "c-1")
    pending = client.expect("8", where={11: "c-2", 39: "6"})
    assert (pending[41], pending[150], pending[37]) == ("c-1", "6", new[37])
    done = client.expect("8", where={11: "c-2", 39: "4"})
    assert (done[41], done[150], done.decimal(151), done.decimal(14)) == ("c-1", "4", D(0), D(0))
    order = book_order(rest, new[37], "CANCELED")
    assert order["cl_ord_id"] == "c-2"
    assert [e["kind"] for e in order["executions"]] == ["NEW", "PENDING_CANCEL", "CANCELED"]
    [venue_order] = simulator.record.orders_from("FIXGATE")
    assert venue_order.status == "CANCELED"


@pytest.mark.parametrize("begin_string", VERSIONS)
def test_cancel_of_unknown_or_filled_order_gets_a_cancel_reject(
    begin_string: str, connect: Connect
) -> None:
    client = connect("CLIENT1", begin_string)
    cancel(client, "x-2", "nope")
    unknown = client.expect("9", where={11: "x-2"})
    assert (unknown[41], unknown[434], unknown[102], unknown[37]) == ("nope", "1", "1", "NONE")
    assert unknown[58] == "unknown order OrigClOrdID nope"

    client.send("D", order_fields("f-1", 10, "190.05"))
    filled = client.expect("8", where={11: "f-1", 39: "2"})
    cancel(client, "f-2", "f-1", qty=10)
    late = client.expect("9", where={11: "f-2"})
    assert (late[39], late[102], late[37]) == ("2", "0", filled[37])
    assert late[58] == f"order {filled[37]} is already FILLED"


@pytest.mark.parametrize("begin_string", VERSIONS)
def test_replace_changes_quantity_and_price_and_keeps_the_order(
    begin_string: str, connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    client = connect("CLIENT1", begin_string)
    new = rest_a_buy(client, "r-1")
    replace(client, "r-2", "r-1", 200, "189.50")
    pending = client.expect("8", where={11: "r-2", 39: "E"})
    assert (pending[41], pending[150]) == ("r-1", "E")
    replaced = client.expect("8", where={11: "r-2", 150: "5"})
    assert (replaced[41], replaced[39], replaced[37]) == ("r-1", "0", new[37])
    assert (replaced.decimal(38), replaced.decimal(44), replaced.decimal(151)) == (D(200), D("189.5"), D(200))
    order = book_order(rest, new[37], "NEW")
    assert (order["cl_ord_id"], D(order["quantity"]), D(order["price"])) == ("r-2", D(200), D("189.5"))
    venue_order = simulator.record.orders_from("FIXGATE")[0]
    assert (venue_order.quantity, venue_order.price) == (D(200), D("189.50"))

    # A replace that crosses the spread trades at once: 200 @ 190.01 takes the 100 there and rests.
    replace(client, "r-3", "r-2", 200, "190.01")
    client.expect("8", where={11: "r-3", 150: "5"})
    fill = client.expect("8", where={11: "r-3", 39: "1"})
    assert (fill.decimal(32), fill.decimal(31), fill.decimal(151)) == (D(100), D("190.01"), D(100))


@pytest.mark.parametrize("begin_string", VERSIONS)
def test_replace_that_breaks_a_limit_is_refused_before_the_venue(
    begin_string: str, connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    client = connect("CLIENT1", begin_string)
    new = rest_a_buy(client, "q-1")
    replace(client, "q-2", "q-1", 6000, "189.00")
    refused = client.expect("9", where={11: "q-2"})
    assert (refused[41], refused[434], refused[39]) == ("q-1", "2", "0")
    assert refused[58] == "order qty 6000 > max 5000 for AAPL"
    assert simulator.record.orders_from("FIXGATE")[0].quantity == D(100)
    # The order works on unchanged and can still be cancelled by its old id.
    cancel(client, "q-3", "q-1")
    client.expect("8", where={11: "q-3", 39: "4"})
    assert book_order(rest, new[37], "CANCELED")["quantity"] == "100"


@pytest.mark.parametrize("begin_string", VERSIONS)
def test_replace_to_no_more_than_the_filled_quantity_is_refused_before_the_venue(
    begin_string: str, connect: Connect, simulator: Simulator
) -> None:
    # The venue would refuse it too (new qty <= filled qty); fixgate's OMS refuses it first, so this
    # never reaches the venue: the venue's own OrderCancelReject is tested in test_venue_rules.py.
    client = connect("CLIENT1", begin_string)
    client.send("D", order_fields("pf-1", 150, "190.01"))  # 100 trade at 190.01, 50 rest
    partial = client.expect("8", where={11: "pf-1", 39: "1"})
    replace(client, "pf-2", "pf-1", 100, "190.01")
    refused = client.expect("9", where={11: "pf-2"})
    assert (refused[41], refused[37], refused[39], refused[434]) == ("pf-1", partial[37], "1", "2")
    assert refused[58] == "new quantity 100 is not above the 100 already filled"
    [venue_order] = simulator.record.orders_from("FIXGATE")
    assert len(venue_order.cl_ord_ids) == 1  # no replace ever reached the venue


@pytest.mark.parametrize("begin_string", VERSIONS)
def test_order_status_is_answered_from_the_book(begin_string: str, connect: Connect) -> None:
    client = connect("CLIENT1", begin_string)
    new = rest_a_buy(client, "s-1")
    client.send("H", {11: "s-1", 55: "AAPL", 54: "1"})
    status = client.expect("8", where={11: "s-1", 37: new[37]})
    if begin_string == "FIX.4.2":
        assert (status[20], status[150]) == ("3", "0")
    else:
        assert status[150] == "I" and 20 not in status  # ExecTransType is FIX 4.2's only
    assert (status[39], status.decimal(151)) == ("0", D(100))
    client.send("H", {11: "never", 55: "AAPL", 54: "1"})
    unknown = client.expect("8", where={11: "never"})
    assert (unknown[39], unknown[58]) == ("8", "unknown order ClOrdID never")


@pytest.mark.parametrize("begin_string", ["FIX.4.4", "FIXT.1.1"])
def test_mass_cancel_by_symbol_then_all(begin_string: str, connect: Connect, rest: httpx.Client) -> None:
    client = connect("CLIENT1", begin_string)
    aapl = rest_a_buy(client, "m-1")
    msft = rest_a_buy(client, "m-2", price="400.00", symbol="MSFT")
    client.send("q", {11: "mc-1", 530: "1", 55: "AAPL", 60: utc_timestamp()})
    report = client.expect("r", where={11: "mc-1"})
    assert (report[531], report[533]) == ("1", "1")
    # FIX 5.0 SP2 requires a MassActionReportID (1369) that FIX 4.4 does not define.
    assert report.get(1369) == (report[37] if begin_string == "FIXT.1.1" else None)
    client.expect("8", where={11: "m-1", 39: "4"})
    assert book_order(rest, msft[37], "NEW")["status"] == "NEW"
    book_order(rest, aapl[37], "CANCELED")
    client.send("q", {11: "mc-2", 530: "7", 60: utc_timestamp()})
    assert client.expect("r", where={11: "mc-2"})[533] == "1"
    client.expect("8", where={11: "m-2", 39: "4"})
    client.send("q", {11: "mc-3", 530: "3", 60: utc_timestamp()})
    bad = client.expect("r", where={11: "mc-3"})
    assert (bad[531], bad[532]) == ("0", "5")


def test_mass_cancel_does_not_exist_in_fix_42(connect: Connect, rest: httpx.Client) -> None:
    # OrderMassCancelRequest (35=q) came with FIX 4.3: a FIX 4.2 session refuses the message type, and
    # the order works on.
    client = connect("CLIENT1", "FIX.4.2")
    new = rest_a_buy(client, "m42-1")
    client.send("q", {11: "mc42", 530: "7", 60: utc_timestamp()})
    refused = client.expect(where={45: str(client.next_seq_out - 1)})
    # A session Reject by the FIX 4.2 data dictionary: SessionRejectReason 11, invalid MsgType.
    assert (refused.msg_type, refused[372], refused[373]) == ("3", "q", "11")
    client.expect_nothing("r", within=0.3)
    assert book_order(rest, new[37], "NEW")["status"] == "NEW"


@pytest.mark.parametrize("begin_string", VERSIONS)
@pytest.mark.parametrize("how", ["dropped", "logout"])
def test_cancel_on_disconnect_cancels_working_orders_at_the_venue(
    begin_string: str, how: str, connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    client = connect("CLIENT2", begin_string)  # CLIENT2's sessions have CancelOnDisconnect=Y
    new = rest_a_buy(client, "d-1")
    # Open the REST connection (and its database connection) now, not after the Logout: QuickFIX
    # 1.16's ThreadedSocketConnection closes its socket at a clean Logout, runs onLogout (here the
    # cancel sweep), then selects and reads that descriptor number once more; a socket this process
    # opens in between gets the number, and its bytes can go to QuickFIX (seen as a REST response
    # cut short). The gateway has the same exposure; see the report of this change.
    book_order(rest, new[37], "NEW")
    if how == "dropped":
        client.close()  # drop the connection without a Logout
    else:
        assert client.logout() is not None  # a clean Logout, answered
    order = book_order(rest, new[37], "CANCELED")
    assert [e["kind"] for e in order["executions"]] == ["NEW", "PENDING_CANCEL", "CANCELED"]
    eventually(lambda: simulator.record.orders_from("FIXGATE")[0].status, lambda s: s == "CANCELED")


def test_without_cancel_on_disconnect_orders_stay(
    connect: Connect, rest: httpx.Client, gateway: Fixgate
) -> None:
    client = connect("CLIENT1", "FIX.4.4")
    new = rest_a_buy(client, "k-1")
    client.close()
    other = connect("CLIENT1", "FIX.4.2")  # a round trip through the gateway after the drop
    rest_a_buy(other, "k-2")
    assert gateway.writer is not None and gateway.writer.flush()
    assert rest.get(f"/orders/{new[37]}").json()["status"] == "NEW"


@pytest.mark.parametrize("begin_string", VERSIONS)
def test_unsolicited_venue_cancel_and_expiry_reach_book_and_client(
    begin_string: str, connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    client = connect("CLIENT1", begin_string)
    # IOC for 150 at 190.01: 100 trade, the venue cancels the rest on its own.
    client.send("D", order_fields("ioc-1", 150, "190.01", t59="3"))
    canceled = client.expect("8", where={11: "ioc-1", 39: "4"})
    assert (canceled.decimal(14), canceled.decimal(151)) == (D(100), D(0))
    order = book_order(rest, canceled[37], "CANCELED")
    assert D(order["cum_qty"]) == D(100)
    # A Day order expires when the venue ends the day.
    day = rest_a_buy(client, "day-1")
    assert simulator.venue().expire_day_orders() == 1
    client.expect("8", where={11: "day-1", 39: "C"})
    book_order(rest, day[37], "EXPIRED")


@pytest.mark.parametrize("begin_string", VERSIONS)
def test_duplicate_live_cl_ord_id_is_rejected(begin_string: str, connect: Connect, simulator: Simulator) -> None:
    client = connect("CLIENT1", begin_string)
    rest_a_buy(client, "dup-1")
    client.send("D", order_fields("dup-1", 5, "189.00"))
    reject = client.expect("8", where={11: "dup-1", 39: "8"})
    assert reject[58].startswith("duplicate ClOrdID dup-1: order ")
    assert len(simulator.record.orders_from("FIXGATE")) == 1


def oms_orders(rest: httpx.Client) -> int:
    """How many new orders the gateway's OMS has taken (``GET /metrics/oms``)."""
    return int(rest.get("/metrics/oms").json()["orders"])


def assert_status_report(status: Message, begin_string: str, order_id: str) -> None:
    """An order-status answer (not a new order's ack) for a working, unfilled order."""
    assert status[37] == order_id
    if begin_string != "FIX.4.2":
        assert (status[150], status[39]) == ("I", "0")
    else:  # FIX 4.2 has no ExecType I: ExecTransType 3 (status) and ExecType repeating the status
        assert (status[20], status[150], status[39]) == ("3", "0", "0")


@pytest.mark.parametrize("begin_string", VERSIONS)
@pytest.mark.parametrize("resend", ["PossResend", "PossDup"])
def test_a_resend_of_an_accepted_order_is_answered_with_its_status_not_sent_twice(
    begin_string: str, resend: str, connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    client = connect("CLIENT1", begin_string)
    first_sent = utc_timestamp()
    new = rest_a_buy(client, "pd-1")
    taken = oms_orders(rest)
    # The same order again on a new sequence number, flagged as possibly sent before: an application
    # resend (PossResend 97) or a resend of the message itself (PossDupFlag 43 with OrigSendingTime).
    header = {97: "Y"} if resend == "PossResend" else {43: "Y", 122: first_sent}
    client.send("D", order_fields("pd-1", 100, "189.00"), header=header)
    assert_status_report(client.expect("8", where={11: "pd-1", 37: new[37]}), begin_string, new[37])
    assert oms_orders(rest) == taken  # not a new order
    # A round trip through the venue after the resend: had fixgate passed the resend on, the venue
    # would have seen it before this cancel, and it would be in its record.
    cancel(client, "pd-2", "pd-1")
    client.expect("8", where={11: "pd-2", 39: "4"})
    [venue_order] = simulator.record.orders_from("FIXGATE")
    assert venue_order.status == "CANCELED"


@pytest.mark.parametrize("begin_string", VERSIONS)
def test_gtc_order_done_for_day_stays_working_then_fills_or_cancels_the_next_day(
    begin_string: str, connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    client = connect("CLIENT1", begin_string)
    fills = rest_a_buy_gtc(client, "g-1", "189.00")
    cancels = rest_a_buy_gtc(client, "g-2", "188.00")
    day = rest_a_buy(client, "g-3", price="187.00")  # a Day order: it expires instead
    assert simulator.venue().end_of_day() == DayEnd(expired=1, done_for_day=2)
    for new in (fills, cancels):
        done = client.expect("8", where={11: new[11], 150: "3"})
        # ExecType and OrdStatus 3 in both versions; still open for the next day.
        assert (done[39], done[37], done.decimal(151), done.decimal(14)) == ("3", new[37], D(100), D(0))
        assert book_order(rest, new[37], "DONE_FOR_DAY")["leaves_qty"] == "100"
    client.expect("8", where={11: "g-3", 39: "C"})
    book_order(rest, day[37], "EXPIRED")

    # The next day: someone at the venue sells through the seeded bids (500) into the GTC buy.
    seller = FixClient.connect("127.0.0.1", simulator.port, sender_comp_id="CLIENT2", target_comp_id="SIM")
    seller.logon()
    seller.send("D", order_fields("s-1", 600, "189.00", side="2"))
    seller.expect("8", where={11: "s-1", 39: "2"})
    seller.close()  # not a Logout: see the cancel on disconnect test for what QuickFIX does after one
    filled = client.expect("8", where={11: "g-1", 39: "2"})
    assert filled[150] == ("2" if begin_string == "FIX.4.2" else "F")
    assert (filled.decimal(32), filled.decimal(31), filled.decimal(151)) == (D(100), D("189.00"), D(0))
    order = book_order(rest, fills[37], "FILLED")
    assert [e["kind"] for e in order["executions"]] == ["NEW", "DONE_FOR_DAY", "TRADE"]

    cancel(client, "g-2c", "g-2")
    client.expect("8", where={11: "g-2c", 39: "6"})
    client.expect("8", where={11: "g-2c", 39: "4"})
    order = book_order(rest, cancels[37], "CANCELED")
    assert [e["kind"] for e in order["executions"]] == ["NEW", "DONE_FOR_DAY", "PENDING_CANCEL", "CANCELED"]
    venue_order = simulator.record.order(f"FG{cancels[37]}")
    assert venue_order is not None and venue_order.status == "CANCELED"


def rest_a_buy_gtc(client: FixClient, cl_ord_id: str, price: str) -> Message:
    client.send("D", order_fields(cl_ord_id, 100, price, t59="1"))
    return client.expect("8", where={11: cl_ord_id, 39: "0"})
