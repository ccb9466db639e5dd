"""Market data over FIX from the venue simulator: snapshot, incremental refreshes, unsubscribe, rejects."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from fixgate.fixclient import FieldValue, FixClient, Message, utc_timestamp
from simulator import SimulatorConfig
from simulator.venue import Simulator
from tests.support import eventually, free_port

D = Decimal
ClientFactory = Callable[..., FixClient]
Book = dict[tuple[str, Decimal], Decimal]  # (MDEntryType, price) -> size


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    simulator = Simulator(SimulatorConfig(), tmp_path / "sim", port=free_port())
    simulator.start()
    yield simulator
    simulator.stop(force=True)


@pytest.fixture
def connect(sim: Simulator) -> Iterator[ClientFactory]:
    clients: list[FixClient] = []

    def factory(sender: str = "CLIENT1", begin_string: str = "FIX.4.4") -> FixClient:
        client = FixClient.connect(
            "127.0.0.1", sim.port, sender_comp_id=sender, target_comp_id="SIM", begin_string=begin_string
        )
        clients.append(client)
        client.logon()
        return client

    yield factory
    for client in clients:
        if client.connected:
            client.logout(timeout=2.0)


def md_request(
    req_id: str,
    symbols: tuple[str, ...] = ("AAPL",),
    *,
    depth: int = 2,
    request_type: str = "1",
    entry_types: tuple[str, ...] = ("0", "1", "2"),
    update_type: str | None = "1",
) -> list[tuple[int, FieldValue]]:
    fields: list[tuple[int, FieldValue]] = [(262, req_id), (263, request_type), (264, depth)]
    if update_type is not None:
        fields.append((265, update_type))
    fields.append((267, len(entry_types)))
    fields += [(269, t) for t in entry_types]
    fields.append((146, len(symbols)))
    fields += [(55, s) for s in symbols]
    return fields


def entries(message: Message) -> list[dict[int, str]]:
    """The NoMDEntries (268) group of a W or X, one dict per entry."""
    delimiter = 269 if message.msg_type == "W" else 279
    result: list[dict[int, str]] = []
    inside = False
    for tag, value in message.fields:
        if tag == 268:
            inside = True
        elif tag == 10:
            break
        elif inside:
            if tag == delimiter:
                result.append({})
            result[-1][tag] = value
    assert len(result) == int(message[268]), f"268={message[268]} but {len(result)} entries in {message}"
    return result


def book_of(snapshot: Message) -> Book:
    return {(e[269], D(e[270])): D(e[271]) for e in entries(snapshot) if e[269] in ("0", "1")}


def apply(book: Book, incremental: Message) -> list[tuple[Decimal, Decimal]]:
    """Apply an X to ``book``; returns the trades it carried as (price, size)."""
    trades = []
    for e in entries(incremental):
        key = (e[269], D(e[270]))
        if e[269] == "2":
            trades.append((D(e[270]), D(e[271])))
        elif e[279] == "2":
            assert key in book, f"delete of a level the subscriber does not have: {e}"
            del book[key]
        elif e[279] == "0":
            assert key not in book, f"new level the subscriber already has: {e}"
            book[key] = D(e[271])
        else:
            assert key in book, f"change of a level the subscriber does not have: {e}"
            book[key] = D(e[271])
    return trades


def venue_top(sim: Simulator, symbol: str, depth: int) -> Book:
    bids, asks = sim.venue().depth(symbol)
    book = {("0", p): q for p, q in bids[:depth]}
    book.update({("1", p): q for p, q in asks[:depth]})
    return book


def new_order(
    client: FixClient, cl_ord_id: str, side: str, qty: int, price: str, symbol: str = "AAPL"
) -> None:
    client.send(
        "D",
        {
            11: cl_ord_id,
            21: "1",
            55: symbol,
            54: side,
            38: qty,
            40: "2",
            44: price,
            59: "0",
            60: utc_timestamp(),
        },
    )


@pytest.mark.parametrize("begin_string", ["FIX.4.4", "FIX.4.2"])
def test_snapshot_of_top_levels_then_incrementals_after_a_trade(
    sim: Simulator, connect: ClientFactory, begin_string: str
) -> None:
    watcher = connect("CLIENT2", begin_string=begin_string)
    watcher.send("V", md_request("md-1", depth=2))
    snapshot = watcher.expect("W", where={262: "md-1"})
    assert snapshot[55] == "AAPL"
    # Best first per side, seeded 100 a level one tick apart around 190.00.
    assert [(e[269], e[270], e[271]) for e in entries(snapshot)] == [
        ("0", "189.99", "100"),
        ("0", "189.98", "100"),
        ("1", "190.01", "100"),
        ("1", "190.02", "100"),
    ]
    book = book_of(snapshot)

    # A buy of 150 at 190.01 takes the best offer and rests 50 as the new best bid.
    trader = connect("CLIENT1")
    new_order(trader, "b1", "1", 150, "190.01")
    trader.expect("8", where={11: "b1", 150: "F"})

    update = watcher.expect("X", where={262: "md-1"})
    assert trades_and_levels(update) == {
        ("0", "2", "190.01", "100"),  # trade 100 @ 190.01
        ("2", "1", "190.01", None),  # the 190.01 offer is gone
        ("0", "1", "190.03", "100"),  # 190.03 enters the top two offers
        ("0", "0", "190.01", "50"),  # the resting remainder is the new best bid
        ("2", "0", "189.98", None),  # 189.98 drops out of the top two bids
    }
    assert all(e[55] == "AAPL" for e in entries(update))
    assert apply(book, update) == [(D("190.01"), D(100))]
    assert book == venue_top(sim, "AAPL", 2)

    # A cancel changes the book again: the bid at 190.01 leaves, 189.98 comes back.
    trader.send("F", {41: "b1", 11: "b1-x", 55: "AAPL", 54: "1", 38: 150, 60: utc_timestamp()})
    trader.expect("8", where={150: "4"})
    apply(book, watcher.expect("X", where={262: "md-1"}))
    assert book == venue_top(sim, "AAPL", 2)


def trades_and_levels(update: Message) -> set[tuple[str, str, str, str | None]]:
    return {(e[279], e[269], e[270], e.get(271)) for e in entries(update)}


def test_a_size_change_at_a_level_is_a_change_update(sim: Simulator, connect: ClientFactory) -> None:
    watcher = connect("CLIENT2")
    watcher.send("V", md_request("md-c", depth=1, entry_types=("0", "1")))
    book = book_of(watcher.expect("W"))
    trader = connect("CLIENT1")
    new_order(trader, "s1", "2", 30, "190.01")  # joins the best offer
    trader.expect("8", where={11: "s1", 150: "0"})
    update = watcher.expect("X")
    assert trades_and_levels(update) == {("1", "1", "190.01", "130")}
    apply(book, update)
    assert book == venue_top(sim, "AAPL", 1)


def test_several_symbols_in_one_request_get_one_snapshot_each(sim: Simulator, connect: ClientFactory) -> None:
    watcher = connect()
    watcher.send("V", md_request("md-2", ("AAPL", "MSFT"), depth=1))
    snapshots = {m[55]: m for m in (watcher.expect("W"), watcher.expect("W"))}
    assert set(snapshots) == {"AAPL", "MSFT"}
    assert [e[270] for e in entries(snapshots["MSFT"])] == ["419.99", "420.01"]
    new_order(watcher, "m1", "2", 10, "420.00", symbol="MSFT")
    update = watcher.expect("X")
    assert {(e[55], e[279], e[269], e[270]) for e in entries(update)} == {
        ("MSFT", "2", "1", "420.01"),
        ("MSFT", "0", "1", "420"),
    }


def test_snapshot_only_request_gets_no_updates(sim: Simulator, connect: ClientFactory) -> None:
    watcher = connect()
    watcher.send("V", md_request("snap", request_type="0", depth=0))
    snapshot = watcher.expect("W", where={262: "snap"})
    assert len(entries(snapshot)) == 10  # depth 0 = full book: 5 levels a side
    new_order(watcher, "o1", "1", 10, "190.00")
    watcher.expect("8", where={11: "o1"})
    # Ask for a new snapshot: anything the first request caused would have come before its answer.
    watcher.send("V", md_request("snap2", request_type="0", depth=1, entry_types=("0",)))
    second = watcher.expect("W", where={262: "snap2"})
    assert [(e[269], e[270], e[271]) for e in entries(second)] == [("0", "190", "10")]
    assert [m for m in watcher.drain() if m.msg_type == "X"] == []


def test_unsubscribe_stops_updates(sim: Simulator, connect: ClientFactory) -> None:
    watcher = connect()
    watcher.send("V", md_request("md-u"))
    watcher.expect("W", where={262: "md-u"})
    watcher.send("V", md_request("md-u", request_type="2"))
    trader = connect("CLIENT2")
    new_order(trader, "t1", "1", 10, "190.00")
    trader.expect("8", where={11: "t1"})
    # The new subscription's snapshot shows the order, so any update it caused was sent before it.
    watcher.send("V", md_request("md-v"))
    snapshot = watcher.expect("W", where={262: "md-v"})
    assert ("0", "190", "10") in [(e[269], e[270], e[271]) for e in entries(snapshot)]
    assert [m for m in watcher.drain() if m.get(262) == "md-u"] == []
    # Unsubscribing what is not subscribed is refused with a reason.
    watcher.send("V", md_request("md-u", request_type="2"))
    reject = watcher.expect("Y", where={262: "md-u"})
    assert "no subscription with MDReqID md-u" in reject[58]


@pytest.mark.parametrize("begin_string", ["FIX.4.4", "FIX.4.2"])
def test_unknown_symbol_and_duplicate_request_are_rejected(
    sim: Simulator, connect: ClientFactory, begin_string: str
) -> None:
    watcher = connect(begin_string=begin_string)
    watcher.send("V", md_request("bad", ("AAPL", "NOPE")))
    reject = watcher.expect("Y", where={262: "bad"})
    assert reject[281] == "0"
    assert "unknown symbol NOPE" in reject[58]

    watcher.send("V", md_request("dup"))
    watcher.expect("W", where={262: "dup"})
    watcher.send("V", md_request("dup"))
    duplicate = watcher.expect("Y", where={262: "dup"})
    assert duplicate[281] == "1"

    watcher.send("V", md_request("odd", entry_types=("0", "4")))
    unsupported = watcher.expect("Y", where={262: "odd"})
    assert unsupported[281] == "8" and "unsupported MDEntryType 4" in unsupported[58]


def test_full_refresh_subscription_gets_a_new_snapshot_on_each_change(
    sim: Simulator, connect: ClientFactory
) -> None:
    watcher = connect()
    watcher.send("V", md_request("full", depth=1, update_type="0"))
    watcher.expect("W", where={262: "full"})
    new_order(watcher, "s1", "2", 40, "190.00")
    watcher.expect("8", where={11: "s1"})
    refreshed = watcher.expect("W", where={262: "full"})
    assert [(e[269], e[270], e[271]) for e in entries(refreshed)] == [
        ("0", "189.99", "100"),
        ("1", "190", "40"),
    ]
    new_order(watcher, "b1", "1", 40, "190.00")
    watcher.expect("8", where={11: "b1", 150: "F"})
    after_trade = watcher.expect("W", where={262: "full"})
    assert [(e[269], e[270], e[271]) for e in entries(after_trade)] == [
        ("0", "189.99", "100"),
        ("1", "190.01", "100"),
        ("2", "190", "40"),  # the last trade
    ]
    assert [m.msg_type for m in watcher.drain() if m.get(262) == "full"] == []


def test_subscriptions_end_with_the_session(sim: Simulator, connect: ClientFactory) -> None:
    watcher = connect()
    watcher.send("V", md_request("md-s"))
    watcher.expect("W")
    assert len(sim.venue().market_data.subscriptions()) == 1
    watcher.logout()
    eventually(sim.venue().market_data.subscriptions, lambda subscriptions: subscriptions == [])
