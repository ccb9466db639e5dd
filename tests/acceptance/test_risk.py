"""Pre-trade risk on a running gateway: the kill switch over REST cancels working orders at the venue
and halts its scope until resumed; limits change live; a daily loss breach leaves only reducing orders,
whether a fill or the market (a trade between other members of the venue) caused it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from fixgate.app import Fixgate
from fixgate.fixclient import FixClient, Message
from simulator.venue import Simulator
from tests.acceptance.conftest import as_operator
from tests.support import eventually, order_fields

Connect = Callable[..., FixClient]

# Seeded book: bids 189.99 .. 189.95, asks 190.01 .. 190.05, 100 each. A buy at 189.00 rests.


def rest_a_buy(client: FixClient, cl_ord_id: str, symbol: str = "AAPL", price: str = "189.00",
               **extra: str) -> Message:
    client.send("D", order_fields(cl_ord_id, 100, price, symbol=symbol, **extra))
    return client.expect("8", where={11: cl_ord_id, 39: "0"})


def rejected(client: FixClient, cl_ord_id: str, qty: int = 100, price: str = "189.00", side: str = "1",
             **extra: str) -> str:
    """Send an order that risk must refuse; the Text of the reject."""
    client.send("D", order_fields(cl_ord_id, qty, price, side=side, **extra))
    return client.expect("8", where={11: cl_ord_id, 39: "8"})[58]


def canceled_everywhere(client: FixClient, rest: httpx.Client, simulator: Simulator, new: Message) -> None:
    """The client saw PendingCancel then Canceled; the venue and the book hold the order CANCELED."""
    client.expect("8", where={11: new[11], 39: "6"})
    client.expect("8", where={11: new[11], 39: "4"})
    venue_id = f"FG{new[37]}"
    eventually(lambda: simulator.record.order(venue_id), lambda o: o is not None and o.status == "CANCELED")
    # The book is written behind the FIX flow: until its writer has the order, the API answers 404.
    eventually(lambda: rest.get(f"/orders/{new[37]}").json(), lambda o: o.get("status") == "CANCELED")


def still_working(simulator: Simulator, new: Message) -> bool:
    order = simulator.record.order(f"FG{new[37]}")
    return order is not None and order.status == "NEW"


def trade_elsewhere(simulator: Simulator, cl_ord_id: str, qty: int, price: str, side: str) -> None:
    """Another member of the venue trades, without fixgate: only market data tells the gateway.
    Each call is a new connection that starts its sequence numbers afresh (141=Y)."""
    with FixClient.connect("127.0.0.1", simulator.port, sender_comp_id="CLIENT2", target_comp_id="SIM") as other:
        other.logon(reset_seq_num=True)
        other.send("D", order_fields(cl_ord_id, qty, price, side=side))
        other.expect("8", where={11: cl_ord_id, 39: "2"})


def kill(rest: httpx.Client, scope: str, value: str = "", reason: str = "test", by: str | None = None) -> Any:
    headers = as_operator(by) if by else {}
    response = rest.post("/risk/kill", json={"scope": scope, "value": value, "reason": reason}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def resume(rest: httpx.Client, scope: str, value: str = "") -> Any:
    response = rest.post("/risk/resume", json={"scope": scope, "value": value})
    assert response.status_code == 200, response.text
    return response.json()


def test_kill_switch_on_an_account_cancels_its_orders_at_the_venue_and_halts_it_until_resumed(
    connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    one, two = connect("CLIENT1"), connect("CLIENT2")
    mine = rest_a_buy(one, "k-1")
    other_account = rest_a_buy(one, "k-2", t1="CLIENT1-A")
    other_client = rest_a_buy(two, "k-3")

    body = kill(rest, "account", "CLIENT1", "runaway algo", by="alice")
    assert body["cancels_sent"] == 1
    assert (body["halt"]["scope"], body["halt"]["value"], body["halt"]["by"]) == ("account", "CLIENT1", "alice")
    canceled_everywhere(one, rest, simulator, mine)
    assert still_working(simulator, other_account) and still_working(simulator, other_client)

    assert rejected(one, "k-4") == "trading halted for account CLIENT1 by alice: runaway algo"
    rest_a_buy(one, "k-5", t1="CLIENT1-A")  # the same session, another account: passes
    rest_a_buy(two, "k-6")
    status = rest.get("/risk/status").json()
    assert [(h["scope"], h["value"], h["by"]) for h in status["halts"]] == [("account", "CLIENT1", "alice")]
    assert {name: n for name, n in status["rejections"].items() if n} == {"kill_switch": 1}

    assert resume(rest, "account", "CLIENT1")["lifted"]["reason"] == "runaway algo"
    rest_a_buy(one, "k-7")
    assert rest.get("/risk/status").json()["halts"] == []
    events = rest.get("/risk/events").json()
    assert [(e["action"], e["scope"], e["value"], e["by"]) for e in events] == [
        ("RESUME", "account", "CLIENT1", "api"), ("KILL", "account", "CLIENT1", "alice")]
    assert events[1]["details"] == {"reason": "runaway algo", "cancels_sent": 1}


def test_kill_switch_on_a_session_covers_both_fix_versions_then_symbol_and_firm(
    connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    fix44, fix42, two = connect("CLIENT1", "FIX.4.4"), connect("CLIENT1", "FIX.4.2"), connect("CLIENT2")
    a, b = rest_a_buy(fix44, "s-1"), rest_a_buy(fix42, "s-2")
    c, d = rest_a_buy(two, "s-3"), rest_a_buy(two, "s-4", symbol="MSFT", price="415.00")

    assert kill(rest, "session", "CLIENT1", "session gone wild")["cancels_sent"] == 2
    canceled_everywhere(fix44, rest, simulator, a)
    canceled_everywhere(fix42, rest, simulator, b)
    assert still_working(simulator, c) and still_working(simulator, d)
    assert rejected(fix42, "s-5") == "trading halted for session CLIENT1 by api: session gone wild"

    assert kill(rest, "symbol", "MSFT")["cancels_sent"] == 1
    canceled_everywhere(two, rest, simulator, d)
    assert still_working(simulator, c)
    assert rejected(two, "s-6", 10, "415.00", symbol="MSFT") == "trading halted for symbol MSFT by api: test"
    rest_a_buy(two, "s-7")  # AAPL still trades

    assert kill(rest, "firm", reason="market-wide")["cancels_sent"] == 2  # s-3 and s-7
    canceled_everywhere(two, rest, simulator, c)
    assert rejected(two, "s-8") == "trading halted for the firm by api: market-wide"

    resume(rest, "firm")
    rest_a_buy(two, "s-9")
    assert rejected(fix44, "s-10").startswith("trading halted for session CLIENT1")  # its own halt stays
    resume(rest, "session", "CLIENT1")
    resume(rest, "symbol", "MSFT")
    rest_a_buy(fix44, "s-11")
    rest_a_buy(fix42, "s-12", symbol="MSFT", price="415.00")


def test_limits_change_live_and_the_change_is_in_the_audit_trail(
    gateway: Fixgate, connect: Connect, rest: httpx.Client
) -> None:
    limits = rest.get("/risk/limits").json()
    assert limits["instruments"]["AAPL"]["max_order_qty"] == "5000"
    limits["instruments"]["AAPL"]["max_order_qty"] = "150"
    put = rest.put("/risk/limits", json=limits, headers=as_operator("carol"))
    assert put.status_code == 200, put.text

    client = connect("CLIENT1")
    assert rejected(client, "l-1", 151) == "order qty 151 > max 150 for AAPL"
    client.send("D", order_fields("l-2", 150, "189.00"))
    client.expect("8", where={11: "l-2", 39: "0"})

    [event] = rest.get("/risk/events", params={"action": "LIMITS"}).json()
    assert event["by"] == "carol"
    assert event["details"]["old"]["instruments"]["AAPL"]["max_order_qty"] == "5000"
    assert event["details"]["new"]["instruments"]["AAPL"]["max_order_qty"] == "150"

    bad = rest.put("/risk/limits", json={**limits, "firm": {"max_order_qty": "lots"}})
    assert (bad.status_code, bad.json()) == (422, {"detail": "limits: firm.max_order_qty = 'lots' is not a number"})
    assert rest.get("/risk/limits").json() == limits
    rejections = rest.get("/risk/status").json()["rejections"]
    assert {name: n for name, n in rejections.items() if n} == {"max_order_qty": 1}


def test_a_daily_loss_breach_leaves_the_account_only_reducing_orders(
    connect: Connect, rest: httpx.Client
) -> None:
    limits = rest.get("/risk/limits").json()
    limits["accounts"]["CLIENT1"].update(max_daily_loss="0.3", daily_loss_action="REDUCING")
    assert rest.put("/risk/limits", json=limits).status_code == 200
    client = connect("CLIENT1")
    client.send("D", order_fields("d-1", 20, "190.05"))  # fills 20 @ 190.01
    client.expect("8", where={11: "d-1", 39: "2"})
    assert rest.get("/risk/status").json()["account_states"] == {}
    # Sell 10 @ 189.99: realized 10 x -0.02 and the other 10 marked at 189.99: a loss of 0.40 > 0.3.
    client.send("D", order_fields("d-2", 10, "189.95", side="2"))
    client.expect("8", where={11: "d-2", 39: "2"})

    status = eventually(lambda: rest.get("/risk/status").json(),
                        lambda s: s["account_states"] == {"CLIENT1": "REDUCING"})
    [account] = [a for a in status["accounts"] if a["account"] == "CLIENT1"]
    assert account["state"] == "REDUCING" and account["daily_pnl"] == "-0.4"
    assert {"limit": "max_daily_loss", "used": "0.4", "max": "0.3", "percent": "133.33"} in account["limits"]

    # The Text names the state, the limit and the loss that set it, then why this order fails it.
    assert rejected(client, "d-3", 1) == (
        "account CLIENT1 REDUCING: daily loss 0.40 > max 0.3; BUY 1 AAPL would not reduce the position 10"
        " (working on that side 0)")
    client.send("D", order_fields("d-4", 5, "191.00", side="2"))  # rests on the ask side; reduces
    client.expect("8", where={11: "d-4", 39: "0"})
    assert rejected(client, "d-5", 6, "191.00", side="2").startswith(
        "account CLIENT1 REDUCING: daily loss 0.40 > max 0.3; SELL 6 AAPL")
    client.send("D", order_fields("d-7", 1, "189.00", t1="CLIENT1-A"))  # another account: not reducing-only
    client.expect("8", where={11: "d-7", 39: "0"})
    resume(rest, "account", "CLIENT1")
    client.send("D", order_fields("d-8", 1, "189.00"))
    client.expect("8", where={11: "d-8", 39: "0"})


def test_a_falling_market_moves_a_holder_to_reducing_without_a_fill_of_its_own(
    connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    limits = rest.get("/risk/limits").json()
    limits["accounts"]["CLIENT1"].update(max_daily_loss="1", daily_loss_action="REDUCING")
    assert rest.put("/risk/limits", json=limits).status_code == 200
    client = connect("CLIENT1")
    client.send("D", order_fields("f-1", 100, "190.01"))  # takes the seeded ask: long 100 @ 190.01
    client.expect("8", where={11: "f-1", 39: "2"})
    assert rest.get("/risk/status").json()["account_states"] == {}

    trade_elsewhere(simulator, "elsewhere-f", 10, "189.99", side="2")  # marks CLIENT1 at 189.99: -2.00

    status = eventually(lambda: rest.get("/risk/status").json(),
                        lambda s: s["account_states"] == {"CLIENT1": "REDUCING"})
    [account] = [a for a in status["accounts"] if a["account"] == "CLIENT1"]
    assert account["daily_pnl"] == "-2"
    assert rejected(client, "f-2", 1, "189.99") == (
        "account CLIENT1 REDUCING: daily loss 2.00 > max 1; BUY 1 AAPL would not reduce the position 100"
        " (working on that side 0)")
    [event] = eventually(lambda: rest.get("/risk/events", params={"action": "BREACH"}).json(), bool)
    assert (event["by"], event["scope"], event["value"]) == ("risk", "account", "CLIENT1")
    assert event["details"] == {"state": "REDUCING", "reason": "daily loss 2.00 > max 1", "daily_loss": "2.00",
                                "max_daily_loss": "1"}
