"""Positions and P&L end to end: orders over FIX against the simulator, numbers read back over REST
and recomputed from the book's executions."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from book.database import async_url, run_sync
from domain.model import Side
from fixgate.app import Fixgate
from fixgate.fixclient import FixClient, Message, utc_timestamp
from tests.support import Held, order_fields

Connect = Callable[..., FixClient]

# Seeded books, 100 each level: AAPL asks 190.01 .. 190.05, bids 189.99 .. 189.95;
# MSFT asks 420.01 .. 420.05, bids 419.99 .. 419.95. Fills trade at the resting price.
A, B = "CLIENT1-A", "CLIENT1-B"  # accounts CLIENT1 is entitled to (clients.cfg)


def trade(
    client: FixClient, cl_ord_id: str, side: str, qty: int, price: str, account: str = A, symbol: str = "AAPL"
) -> list[tuple[D, D]]:
    """Send a limit order and wait until it is filled; its fills as (qty, price)."""
    client.send("D", order_fields(cl_ord_id, qty, price, symbol=symbol, side=side, t1=account))
    return fills_until(client, cl_ord_id, "2")


def fill_exec_type(begin_string: str, ord_status: str) -> str:
    """The ExecType (150) a fill must carry: F in FIX 4.4; in FIX 4.2 1 (partial) or 2 (full), as 39."""
    if begin_string == "FIX.4.4":
        return "F"
    assert ord_status in ("1", "2"), f"a fill leaves OrdStatus 1 or 2, not {ord_status}"
    return ord_status


def fills_until(client: FixClient, cl_ord_id: str, ord_status: str) -> list[tuple[D, D]]:
    fills = []
    while True:
        report: Message = client.expect("8", where={11: cl_ord_id})
        assert report[39] != "8", report.get(58)
        if 32 in report:  # LastQty: only fills carry it
            assert report[150] == fill_exec_type(client.begin_string, report[39]), str(report)
            fills.append((report.decimal(32), report.decimal(31)))
        else:
            assert report[150] not in ("F", "1", "2"), f"a fill without LastQty (32): {report}"
        if report[39] == ord_status:
            return fills


def position(rest: httpx.Client, account: str, symbol: str) -> dict[str, Any]:
    [found] = rest.get("/positions", params={"account": account, "symbol": symbol}).json()
    return found  # type: ignore[no-any-return]


def numbers(p: dict[str, Any]) -> tuple[D, D, D, D, D | None, D]:
    """quantity, cost, avg_price, realized, mark, unrealized."""
    mark = None if p["mark_price"] is None else D(p["mark_price"])
    return (D(p["quantity"]), D(p["cost"]), D(p["avg_price"]), D(p["realized_pnl"]), mark,
            D(p["unrealized_pnl"]))


def flushed(gateway: Fixgate) -> None:
    assert gateway.writer is not None and gateway.writer.flush()


def run_scenario(client: FixClient, rest: httpx.Client, gateway: Fixgate) -> None:
    """Buys, sells, a flip through zero, partial fills, two accounts, two symbols; checked on the way."""
    # 1. A buys 150 AAPL limit 190.02: 100 @ 190.01 and 50 @ 190.02 (one order, two fills).
    #    avg = (100 * 190.01 + 50 * 190.02) / 150 = 28502 / 150 = 190.013333... -> 190.01333333
    assert trade(client, "b1", "1", 150, "190.02") == [(D(100), D("190.01")), (D(50), D("190.02"))]
    #    cost = 19001 + 9501 = 28502 (exact; the average is only shown rounded)
    # 2. A sells 100 limit 189.99: 100 @ 189.99 closes 100 of the 150, whose share of the cost is
    #    28502 * 100 / 150 = 19001.333..., rounded to 19001.33333333; the cost keeps the rest.
    #    realized = 18999 - 19001.33333333 = -2.33333333; cost = 9500.66666667
    assert trade(client, "s1", "2", 100, "189.99") == [(D(100), D("189.99"))]
    flushed(gateway)
    assert numbers(position(rest, A, "AAPL")) == (
        D(50), D("9500.66666667"), D("190.01333333"), D("-2.33333333"), D("189.99"),
        D(50) * D("189.99") - D("9500.66666667"),  # = -1.16666667 against the last fill
    )  # fmt: skip
    # 3. A sells 120 limit 189.97: 100 @ 189.98 then 20 @ 189.97, through zero.
    #    The first fill closes the 50 long, all of its cost: realized += 9499 - 9500.66666667
    #    = -1.66666667 -> -4: exactly what the 150 sold for minus what they cost, 28498 - 28502;
    #    the other 50 open short at the fill price: cost -9499.
    #    The second fill adds to the short: cost = -9499 - 3799.4 = -13298.4, avg 189.97714286
    assert trade(client, "s2", "2", 120, "189.97") == [(D(100), D("189.98")), (D(20), D("189.97"))]
    flushed(gateway)
    assert numbers(position(rest, A, "AAPL")) == (
        D(-70), D("-13298.4"), D("189.97714286"), D(-4), D("189.97"),
        D("0.5"),  # -70 * 189.97 + 13298.4: a short gains as the price falls
    )  # fmt: skip
    # 4. A buys 70 limit 190.03: 50 @ 190.02 (what step 1 left there) and 20 @ 190.03, to flat.
    #    50 close -13298.4 * 50 / 70 = -9498.857142... -> -9498.85714286 of the cost:
    #    realized += -9501 + 9498.85714286 = -2.14285714 -> -6.14285714; cost -3799.54285714
    #    the last 20 close the rest: realized += -3800.6 + 3799.54285714 -> -7.2, exactly
    #    sells 18999 + 18998 + 3799.4 minus buys 19001 + 9501 + 9501 + 3800.6
    assert trade(client, "b2", "1", 70, "190.03") == [(D(50), D("190.02")), (D(20), D("190.03"))]
    flushed(gateway)
    assert numbers(position(rest, A, "AAPL")) == (D(0), D(0), D(0), D("-7.2"), D("190.03"), D(0))
    # 5. A buys 30 limit 190.03: 30 @ 190.03 (80 left there). A is long 30 @ 190.03.
    assert trade(client, "b3", "1", 30, "190.03") == [(D(30), D("190.03"))]
    # 6. B sells 10 limit 189.97: 10 @ 189.97 (80 left there after step 3). AAPL's mark is now 189.97.
    assert trade(client, "s3", "2", 10, "189.97", account=B) == [(D(10), D("189.97"))]
    # 7. A buys 200 MSFT limit 420.01: 100 @ 420.01, the other 100 rest (partly filled), then cancelled.
    client.send("D", order_fields("m1", 200, "420.01", symbol="MSFT", t1=A))
    assert fills_until(client, "m1", "1") == [(D(100), D("420.01"))]
    client.send("F", {41: "m1", 11: "m1-x", 55: "MSFT", 54: "1", 38: 200, 60: utc_timestamp()})
    canceled = client.expect("8", where={11: "m1-x", 39: "4"})
    assert canceled.decimal(14) == D(100)
    # 8. A sells 40 MSFT limit 419.99: 40 @ 419.99. realized = 16799.6 - 42001 * 40 / 100 = -0.80
    assert trade(client, "m2", "2", 40, "419.99", symbol="MSFT") == [(D(40), D("419.99"))]
    flushed(gateway)


@pytest.mark.parametrize("begin_string", ["FIX.4.4", "FIX.4.2"])
def test_pnl_across_buys_sells_a_flip_and_partial_fills(
    begin_string: str, connect: Connect, rest: httpx.Client, gateway: Fixgate
) -> None:
    run_scenario(connect("CLIENT1", begin_string), rest, gateway)

    # Final positions, marked at the last fill of each symbol (AAPL 189.97, MSFT 419.99):
    #   A AAPL  30 @ 190.03 (cost 5700.9),   realized -7.2, unrealized 30 * 189.97 - 5700.9 = -1.80
    #   A MSFT  60 @ 420.01 (cost 25200.6),  realized -0.8, unrealized 60 * 419.99 - 25200.6 = -1.20
    #   B AAPL -10 @ 189.97 (cost -1899.7),  realized 0,    unrealized -10 * 189.97 + 1899.7 = 0
    assert numbers(position(rest, A, "AAPL")) == (
        D(30), D("5700.9"), D("190.03"), D("-7.2"), D("189.97"), D("-1.8"))
    assert numbers(position(rest, A, "MSFT")) == (
        D(60), D("25200.6"), D("420.01"), D("-0.8"), D("419.99"), D("-1.2"))
    assert numbers(position(rest, B, "AAPL")) == (D(-10), D("-1899.7"), D("189.97"), D(0), D("189.97"), D(0))

    # A: realized -7.2 - 0.8 = -8; unrealized -1.80 - 1.20 = -3; total -11. B: all zero. The firm is A + B.
    pnl = rest.get("/pnl").json()
    assert pnl == {
        "accounts": [
            {"account": A, "realized_pnl": "-8", "unrealized_pnl": "-3", "total_pnl": "-11"},
            {"account": B, "realized_pnl": "0", "unrealized_pnl": "0", "total_pnl": "0"},
        ],
        "total": {"realized_pnl": "-8", "unrealized_pnl": "-3", "total_pnl": "-11"},
    }


def book_rows(database_url: str, sql: str) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        engine = create_async_engine(async_url(database_url), poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                return [dict(m) for m in (await conn.execute(text(sql))).mappings()]
        finally:
            await engine.dispose()

    return run_sync(run)


def test_every_position_recomputes_from_the_fills_in_order(
    connect: Connect, rest: httpx.Client, gateway: Fixgate
) -> None:
    run_scenario(connect("CLIENT1", "FIX.4.4"), rest, gateway)
    url = gateway.database_url

    fills = book_rows(
        url,
        "SELECT o.account, o.symbol, o.side, e.last_qty, e.last_px FROM executions e"
        " JOIN orders o ON o.order_id = e.order_id WHERE e.kind = 'TRADE' ORDER BY e.seq",
    )
    assert len(fills) == 11  # 2 + 1 + 2 + 2 + 1 + 1 + 1 + 1: the scenario's fills, each once
    recomputed: dict[tuple[str, str], Held] = {}
    for f in fills:
        recomputed.setdefault((f["account"], f["symbol"]), Held()).apply_fill(Side(f["side"]), f["last_qty"],
                                                                               f["last_px"])
    stored = book_rows(url, "SELECT account, symbol, quantity, cost, avg_price, realized_pnl FROM positions")
    assert {
        (r["account"], r["symbol"]): (r["quantity"], r["cost"], r["avg_price"], r["realized_pnl"])
        for r in stored
    } == {key: (p.quantity, p.cost, p.avg_price, p.realized_pnl) for key, p in recomputed.items()}
    assert set(recomputed) == {(A, "AAPL"), (A, "MSFT"), (B, "AAPL")}

    # Each symbol's mark is its last fill in the book's order.
    last_px = {f["symbol"]: f["last_px"] for f in fills}
    marks = book_rows(url, "SELECT symbol, price FROM marks")
    assert {m["symbol"]: m["price"] for m in marks} == last_px == {"AAPL": D("189.97"), "MSFT": D("419.99")}


def test_a_non_terminating_average_leaks_into_no_pnl(
    connect: Connect, rest: httpx.Client, gateway: Fixgate
) -> None:
    client = connect("CLIENT1", "FIX.4.4")
    # A buys 150: 100 @ 190.01 and 50 @ 190.02. Cost 28502; the average, 190.01333..., never ends.
    assert trade(client, "n1", "1", 150, "190.02") == [(D(100), D("190.01")), (D(50), D("190.02"))]
    # B buys 100 at up to 190.03: 50 @ 190.02 and 50 @ 190.03, which marks AAPL at 190.03.
    assert trade(client, "n2", "1", 100, "190.03", account=B) == [(D(50), D("190.02")), (D(50), D("190.03"))]
    flushed(gateway)
    # A's unrealized is 150 * 190.03 - 28502 = 2.5 exactly (from the rounded average: 2.5000005);
    # B's 100 * 190.03 - 19002.5 = 0.5.
    assert numbers(position(rest, A, "AAPL")) == (
        D(150), D(28502), D("190.01333333"), D(0), D("190.03"), D("2.5"))
    assert rest.get("/pnl").json()["total"] == {"realized_pnl": "0", "unrealized_pnl": "3", "total_pnl": "3"}
    # Risk counts the same, exact P&L toward the daily loss limits.
    assert rest.get("/risk/status").json()["firm"]["daily_pnl"] == "3"

    # A sells the 150: 100 @ 189.99 and 50 @ 189.98, 28498 for what cost 28502: realized -4 exactly.
    assert trade(client, "n3", "2", 150, "189.98") == [(D(100), D("189.99")), (D(50), D("189.98"))]
    flushed(gateway)
    assert numbers(position(rest, A, "AAPL")) == (D(0), D(0), D(0), D(-4), D("189.98"), D(0))
    # B, long 100 at cost 19002.5, marked at 189.98: 18998 - 19002.5 = -4.5.
    assert rest.get("/pnl").json()["total"] == {
        "realized_pnl": "-4", "unrealized_pnl": "-4.5", "total_pnl": "-8.5"}
    assert rest.get("/risk/status").json()["firm"]["daily_pnl"] == "-8.5"


def test_the_exact_cost_survives_a_restart(connect: Connect, rest: httpx.Client, gateway: Fixgate) -> None:
    from tests.acceptance.test_risk_restart import logon, restarted

    client = connect("CLIENT1", "FIX.4.4")
    assert trade(client, "c1", "1", 150, "190.02") == [(D(100), D("190.01")), (D(50), D("190.02"))]
    # 100 of the 150 close: their share of 28502 is 19001.333..., rounded; the cost keeps the rest.
    assert trade(client, "c2", "2", 100, "189.99") == [(D(100), D("189.99"))]
    client.logout()
    with restarted(gateway) as (app, api):
        assert numbers(position(api, A, "AAPL"))[:4] == (D(50), D("9500.66666667"), D("190.01333333"),
                                                         D("-2.33333333"))
        client = logon(app, "CLIENT1")
        # The last 50 close the whole remaining cost: realized is exactly 28498 - 28502.
        assert trade(client, "c3", "2", 50, "189.98") == [(D(50), D("189.98"))]
        assert app.writer is not None and app.writer.flush()
        assert numbers(position(api, A, "AAPL"))[:4] == (D(0), D(0), D(0), D(-4))
        client.logout()
