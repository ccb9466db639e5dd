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
from fixgate.app import Fixgate
from fixgate.fixclient import FixClient, Message, utc_timestamp
from oms.model import Side
from oms.positions import Position
from tests.support import order_fields

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


def numbers(p: dict[str, Any]) -> tuple[D, D, D, D | None, D]:
    mark = None if p["mark_price"] is None else D(p["mark_price"])
    return D(p["quantity"]), D(p["avg_price"]), D(p["realized_pnl"]), mark, D(p["unrealized_pnl"])


def flushed(gateway: Fixgate) -> None:
    assert gateway.writer is not None and gateway.writer.flush()


def run_scenario(client: FixClient, rest: httpx.Client, gateway: Fixgate) -> None:
    """Buys, sells, a flip through zero, partial fills, two accounts, two symbols; checked on the way."""
    # 1. A buys 150 AAPL limit 190.02: 100 @ 190.01 and 50 @ 190.02 (one order, two fills).
    #    avg = (100 * 190.01 + 50 * 190.02) / 150 = 28502 / 150 = 190.013333... -> 190.01333333
    assert trade(client, "b1", "1", 150, "190.02") == [(D(100), D("190.01")), (D(50), D("190.02"))]
    # 2. A sells 100 limit 189.99: 100 @ 189.99 closes 100 of the 150.
    #    realized = 100 * (189.99 - 190.01333333) = 100 * -0.02333333 = -2.333333
    assert trade(client, "s1", "2", 100, "189.99") == [(D(100), D("189.99"))]
    flushed(gateway)
    assert numbers(position(rest, A, "AAPL")) == (
        D(50), D("190.01333333"), D("-2.333333"), D("189.99"),
        D(50) * (D("189.99") - D("190.01333333")),  # = -1.1666665 against the last fill
    )  # fmt: skip
    # 3. A sells 120 limit 189.97: 100 @ 189.98 then 20 @ 189.97, through zero.
    #    The first fill closes the 50 long: realized += 50 * (189.98 - 190.01333333) = -1.6666665
    #    -> -3.9999995; the other 50 open short at the fill price, 189.98.
    #    The second fill adds to the short: avg = (50 * 189.98 + 20 * 189.97) / 70
    #    = (9499 + 3799.4) / 70 = 13298.4 / 70 = 189.977142857... -> 189.97714286
    assert trade(client, "s2", "2", 120, "189.97") == [(D(100), D("189.98")), (D(20), D("189.97"))]
    flushed(gateway)
    assert numbers(position(rest, A, "AAPL")) == (
        D(-70), D("189.97714286"), D("-3.9999995"), D("189.97"),
        D(-70) * (D("189.97") - D("189.97714286")),  # = 0.5000002: a short gains as the price falls
    )  # fmt: skip
    # 4. A buys 70 limit 190.03: 50 @ 190.02 (what step 1 left there) and 20 @ 190.03, to flat.
    #    realized += 50 * (189.97714286 - 190.02) = 50 * -0.04285714 = -2.142857 -> -6.1428565
    #    realized += 20 * (189.97714286 - 190.03) = 20 * -0.05285714 = -1.0571428 -> -7.1999993
    assert trade(client, "b2", "1", 70, "190.03") == [(D(50), D("190.02")), (D(20), D("190.03"))]
    flushed(gateway)
    assert numbers(position(rest, A, "AAPL")) == (D(0), D(0), D("-7.1999993"), D("190.03"), D(0))
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
    # 8. A sells 40 MSFT limit 419.99: 40 @ 419.99. realized = 40 * (419.99 - 420.01) = -0.80
    assert trade(client, "m2", "2", 40, "419.99", symbol="MSFT") == [(D(40), D("419.99"))]
    flushed(gateway)


@pytest.mark.parametrize("begin_string", ["FIX.4.4", "FIX.4.2"])
def test_pnl_across_buys_sells_a_flip_and_partial_fills(
    begin_string: str, connect: Connect, rest: httpx.Client, gateway: Fixgate
) -> None:
    run_scenario(connect("CLIENT1", begin_string), rest, gateway)

    # Final positions, marked at the last fill of each symbol (AAPL 189.97, MSFT 419.99):
    #   A AAPL  30 @ 190.03,   realized -7.1999993, unrealized 30 * (189.97 - 190.03) = -1.80
    #   A MSFT  60 @ 420.01,   realized -0.80,      unrealized 60 * (419.99 - 420.01) = -1.20
    #   B AAPL -10 @ 189.97,   realized 0,          unrealized -10 * (189.97 - 189.97) = 0
    assert numbers(position(rest, A, "AAPL")) == (D(30), D("190.03"), D("-7.1999993"), D("189.97"), D("-1.8"))
    assert numbers(position(rest, A, "MSFT")) == (D(60), D("420.01"), D("-0.8"), D("419.99"), D("-1.2"))
    assert numbers(position(rest, B, "AAPL")) == (D(-10), D("189.97"), D(0), D("189.97"), D(0))

    # A: realized -7.1999993 - 0.80 = -7.9999993; unrealized -1.80 - 1.20 = -3.00;
    #    total -10.9999993. B: all zero. The firm is A + B.
    pnl = rest.get("/pnl").json()
    assert pnl == {
        "accounts": [
            {"account": A, "realized_pnl": "-7.9999993", "unrealized_pnl": "-3", "total_pnl": "-10.9999993"},
            {"account": B, "realized_pnl": "0", "unrealized_pnl": "0", "total_pnl": "0"},
        ],
        "total": {"realized_pnl": "-7.9999993", "unrealized_pnl": "-3", "total_pnl": "-10.9999993"},
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
    recomputed: dict[tuple[str, str], Position] = {}
    for f in fills:
        key = (f["account"], f["symbol"])
        recomputed.setdefault(key, Position(*key)).apply_fill(Side(f["side"]), f["last_qty"], f["last_px"])
    stored = book_rows(url, "SELECT account, symbol, quantity, avg_price, realized_pnl FROM positions")
    assert {
        (r["account"], r["symbol"]): (r["quantity"], r["avg_price"], r["realized_pnl"]) for r in stored
    } == {key: (p.quantity, p.avg_price, p.realized_pnl) for key, p in recomputed.items()}
    assert set(recomputed) == {(A, "AAPL"), (A, "MSFT"), (B, "AAPL")}

    # Each symbol's mark is its last fill in the book's order.
    last_px = {f["symbol"]: f["last_px"] for f in fills}
    marks = book_rows(url, "SELECT symbol, price FROM marks")
    assert {m["symbol"]: m["price"] for m in marks} == last_px == {"AAPL": D("189.97"), "MSFT": D("419.99")}
