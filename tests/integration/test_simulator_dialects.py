"""The simulator's venue dialects on the wire (``[venues.dialect]``): a session-level Reject of chosen
OrdTypes, BusinessMessageRejects of unsupported message types, cancels acknowledged under the
original ClOrdID, a toxic venue's quotes moving against its takers. Real sockets, any FIX client (here the test client), FIX 4.2 and 4.4."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest

from fixgate.fixclient import FixClient, utc_timestamp
from simulator.config import ConfigError, SimulatorConfig, VenueConfig, VenueDialect
from simulator.venue import Simulator
from tests.integration.test_simulator_marketdata import apply, book_of, md_request, venue_top
from tests.support import free_port, order_fields

VERSIONS = ["FIX.4.4", "FIX.4.2"]
DIALECT = VenueDialect(session_reject_ord_types=("1",), business_reject=("G", "H", "V"),
                       cancel_ack_original_id=True)


def _venue(dialect: VenueDialect, data_dir: Path) -> Iterator[Simulator]:
    """The shipped venue speaking ``dialect``, on a free port, while the fixture lasts."""
    simulator = Simulator(SimulatorConfig((VenueConfig(dialect=dialect),)), data_dir, port=free_port())
    simulator.start()
    yield simulator
    simulator.stop(force=True)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    yield from _venue(DIALECT, tmp_path / "sim")


@pytest.fixture(params=VERSIONS)
def client(request: pytest.FixtureRequest, sim: Simulator) -> Iterator[FixClient]:
    with FixClient.connect("127.0.0.1", sim.port, sender_comp_id="CLIENT1", target_comp_id="SIM",
                           begin_string=request.param) as fix_client:
        fix_client.logon()
        yield fix_client


def test_an_ord_type_the_dialect_refuses_gets_a_session_reject_and_never_reaches_the_book(
    client: FixClient, sim: Simulator
) -> None:
    seq = client.send("D", order_fields("m-1", 10, None))  # market
    reject = client.expect("3")
    assert (reject[45], reject[371], reject[372], reject[373]) == (str(seq), "40", "D", "5")
    assert reject[58] == "OrdType (40) 1 is not accepted by venue SIM"
    assert not sim.record.saw("m-1")
    client.send("D", order_fields("l-1", 10, "189.00"))  # a limit order is taken
    client.expect("8", where={11: "l-1", 39: "0"})


def test_message_types_the_dialect_refuses_get_a_business_reject_naming_the_request(
    client: FixClient, sim: Simulator
) -> None:
    client.send("D", order_fields("l-1", 10, "189.00"))
    client.expect("8", where={11: "l-1", 39: "0"})
    seq = client.send("G", {41: "l-1", 11: "l-2", 21: "1", 55: "AAPL", 54: "1", 38: 20, 40: "2", 44: "189.00",
                            60: utc_timestamp()})
    refused = client.expect("j")
    assert (refused[45], refused[372], refused[379], refused[380]) == (str(seq), "G", "l-2", "3")
    assert refused[58] == "MsgType G is not supported by venue SIM"
    client.send("H", {11: "l-1", 55: "AAPL", 54: "1"})
    assert (client.expect("j")[372], sim.record.order("l-1").quantity) == ("H", 10)  # type: ignore[union-attr]
    client.send("V", {262: "md-1", 263: "1", 264: "1", 146: 1, 55: "AAPL", 267: 1, 269: "0"})
    assert client.expect("j", where={372: "V"})[379] == "md-1"


def test_a_cancel_is_acknowledged_under_the_original_cl_ord_id_without_41(
    client: FixClient, sim: Simulator
) -> None:
    client.send("D", order_fields("c-1", 10, "189.00"))
    client.expect("8", where={11: "c-1", 39: "0"})
    client.send("F", {41: "c-1", 11: "c-2", 55: "AAPL", 54: "1", 38: 10, 60: utc_timestamp()})
    canceled = client.expect("8", where={39: "4"})
    assert (canceled[11], canceled[150], 41 in canceled) == ("c-1", "4", False)
    assert sim.record.order("c-2").status == "CANCELED"  # type: ignore[union-attr]


# -- A TOXIC VENUE -----------------------------------------------------------------------------------


@pytest.fixture
def toxic(tmp_path: Path) -> Iterator[Simulator]:
    yield from _venue(VenueDialect(toxic_markout_ticks=3), tmp_path / "toxic")


@pytest.mark.parametrize(("side", "price", "after"), [
    # A buy of 100 takes the 190.01 offer; the quotes then fall 3 ticks: offers 190.02.. become
    # 189.99.., bids 189.99.. become 189.96..
    ("1", "190.01", {("0", D("189.96")): D(100), ("1", D("189.99")): D(100)}),
    # A sell of 100 takes the 189.99 bid; the quotes rise 3 ticks: bids 189.98.. become 190.01..,
    # offers 190.01.. become 190.04..
    ("2", "189.99", {("0", D("190.01")): D(100), ("1", D("190.04")): D(100)}),
])
def test_a_toxic_venue_moves_its_quotes_against_the_taker_after_a_fill(
    toxic: Simulator, side: str, price: str, after: dict[tuple[str, D], D]
) -> None:
    with FixClient.connect("127.0.0.1", toxic.port, sender_comp_id="CLIENT2", target_comp_id="SIM") as watcher, \
            FixClient.connect("127.0.0.1", toxic.port, sender_comp_id="CLIENT1", target_comp_id="SIM") as taker:
        watcher.logon()
        taker.logon()
        watcher.send("V", md_request("md-1", depth=1))
        book = book_of(watcher.expect("W"))
        assert book == {("0", D("189.99")): D(100), ("1", D("190.01")): D(100)}  # mid 190.00
        taker.send("D", {**order_fields("t-1", 100, price, side=side), 59: "3"})  # IOC
        fill = taker.expect("8", where={11: "t-1", 39: "2"})
        assert fill.decimal(31) == D(price)
        trades = apply(book, watcher.expect("X"))  # the trade, and the book it left
        assert trades == [(D(price), D(100))]
        apply(book, watcher.expect("X"))  # then the venue's quotes move
        assert book == after
        assert book == venue_top(toxic, "AAPL", 1)


def test_a_resting_order_of_a_client_is_not_moved_and_not_crossed(toxic: Simulator) -> None:
    with FixClient.connect("127.0.0.1", toxic.port, sender_comp_id="CLIENT2", target_comp_id="SIM") as maker, \
            FixClient.connect("127.0.0.1", toxic.port, sender_comp_id="CLIENT1", target_comp_id="SIM") as taker:
        maker.logon()
        taker.logon()
        maker.send("D", order_fields("offer-1", 10, "190.00", side="2"))  # the best offer, inside the venue's
        maker.expect("8", where={11: "offer-1", 39: "0"})
        taker.send("D", order_fields("sell-1", 10, "189.99", side="2"))  # takes the venue's 189.99 bid
        taker.expect("8", where={11: "sell-1", 39: "2"})
        # The venue's quotes rise 3 ticks, except bids that would reach the client's 190.00 offer:
        # 189.99 (+3 = 190.02), 189.98 (190.01) and 189.97 (190.00) stay; 189.96 and 189.95 move to
        # 189.99 and 189.98. Its offers 190.01.. move to 190.04..; the client's offer stays at 190.00.
        bids, asks = toxic.venue().depth("AAPL")
        assert bids == [(D("189.99"), D(190)), (D("189.98"), D(200)), (D("189.97"), D(100))]
        assert asks[:2] == [(D("190.00"), D(10)), (D("190.04"), D(100))]


# -- LAST LOOK ---------------------------------------------------------------------------------------


@pytest.fixture
def fading(tmp_path: Path) -> Iterator[Simulator]:
    yield from _venue(VenueDialect(last_look_ticks=2), tmp_path / "fading")


@pytest.mark.parametrize(("side", "limit", "price"), [
    ("1", "190.10", "190.03"),  # the 190.01 offer, 2 ticks away by the time the buy is matched
    ("2", "189.90", "189.97"),  # the 189.99 bid, 2 ticks lower
])
def test_a_venue_with_last_look_fills_worse_than_it_quoted_and_quotes_as_before(
    fading: Simulator, side: str, limit: str, price: str
) -> None:
    with FixClient.connect("127.0.0.1", fading.port, sender_comp_id="CLIENT2", target_comp_id="SIM") as watcher, \
            FixClient.connect("127.0.0.1", fading.port, sender_comp_id="CLIENT1", target_comp_id="SIM") as taker:
        watcher.logon()
        taker.logon()
        watcher.send("V", md_request("md-1", depth=1))
        book = book_of(watcher.expect("W"))
        assert book == {("0", D("189.99")): D(100), ("1", D("190.01")): D(100)}
        taker.send("D", {**order_fields("t-1", 10, limit, side=side), 59: "3"})  # IOC
        fill = taker.expect("8", where={11: "t-1", 39: "2"})
        assert fill.decimal(31) == D(price)
        # The quotes are back where they were, the best level the fill took 10 short.
        bids, asks = fading.venue().depth("AAPL")
        best_bid, best_ask = (D(100), D(90)) if side == "1" else (D(90), D(100))
        assert bids == [(D("189.99"), best_bid)] + [(D("189.99") - D("0.01") * i, D(100)) for i in range(1, 5)]
        assert asks == [(D("190.01"), best_ask)] + [(D("190.01") + D("0.01") * i, D(100)) for i in range(1, 5)]


def test_last_look_does_not_touch_a_clients_resting_order_nor_a_day_order(fading: Simulator) -> None:
    with FixClient.connect("127.0.0.1", fading.port, sender_comp_id="CLIENT1", target_comp_id="SIM") as client:
        client.logon()
        client.send("D", order_fields("rest-1", 10, "189.50"))
        client.expect("8", where={11: "rest-1", 39: "0"})
        client.send("D", order_fields("rest-2", 10, "189.60"))
        client.expect("8", where={11: "rest-2", 39: "0"})
        bids, asks = fading.venue().depth("AAPL")
        assert (D("189.50"), D(10)) in bids and (D("189.60"), D(10)) in bids
        assert (bids[0], asks[0]) == ((D("189.99"), D(100)), (D("190.01"), D(100)))
        # A DAY limit order that takes liquidity is matched as quoted: only market, IOC and FOK
        # orders (which never rest where the quotes must move back) meet the last look.
        client.send("D", order_fields("day-1", 10, "190.01"))
        assert client.expect("8", where={11: "day-1", 39: "2"}).decimal(31) == D("190.01")


def test_last_look_from_a_size_on_fills_small_orders_as_quoted_and_larger_ones_worse(tmp_path: Path) -> None:
    """``last_look_min_qty``: a venue whose cost grows with the size sent there."""
    with pytest.raises(ConfigError, match="last_look_min_qty"):
        VenueDialect(last_look_ticks=2, last_look_min_qty=-1)
    for simulator in _venue(VenueDialect(last_look_ticks=2, last_look_min_qty=50), tmp_path / "sized"):
        with FixClient.connect("127.0.0.1", simulator.port, sender_comp_id="CLIENT1", target_comp_id="SIM") as client:
            client.logon()
            for cl_ord_id, quantity, price in (("small", 40, "190.01"), ("large", 50, "190.03"), ("again", 10, "190.01")):
                client.send("D", {**order_fields(cl_ord_id, quantity, "190.10"), 59: "3"})  # IOC buys
                fill = client.expect("8", where={11: cl_ord_id, 39: "2"})
                assert (fill.decimal(31), fill.decimal(14)) == (D(price), D(quantity)), cl_ord_id
