"""What a restarted TCA process takes back from the book (``tca.store.load``): the split orders'
children that may still trade, each with its venue, the size its venue was sent, what it has filled
and whether its venue has answered it; never a parent, an unsplit order or an ended child."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

from sqlalchemy.ext.asyncio import create_async_engine

from book.database import async_url
from book.rows import order_row
from book.tables import orders
from domain.model import OrderRecord, OrderStatus, OrdType, Side, TimeInForce
from tca.engine import ChildOrder
from tca.measures import HORIZONS_S
from tca.store import Stored, load


def order(order_id: int, status: OrderStatus, venue: str, qty: int, cum: int = 0,
          parent_id: int | None = None) -> OrderRecord:
    return OrderRecord(
        order_id=order_id, session="" if parent_id else "FIX.4.4:FIXGATE->CLIENT1", cl_ord_id=f"C{order_id}",
        account="ACC1", symbol="MSFT", side=Side.BUY, ord_type=OrdType.LIMIT, time_in_force=TimeInForce.DAY,
        quantity=D(qty), price=D("410.00"), venue=venue, venue_cl_ord_id=f"FG{order_id}", venue_order_id=None,
        status=status, cum_qty=D(cum), leaves_qty=D(qty - cum), avg_px=D("410.00") if cum else D(0), text="",
        created_ns=1, updated_ns=2, parent_id=parent_id,
    )


def test_a_restarted_tca_takes_back_the_live_children_from_the_book(database_url: str) -> None:
    rows = [order_row(o) for o in (
        order(1, OrderStatus.PARTIALLY_FILLED, "", 300, cum=30),  # the parent: TCA keeps its own
        order(2, OrderStatus.PARTIALLY_FILLED, "SIM", 99, cum=30, parent_id=1),
        order(3, OrderStatus.PENDING_NEW, "SIM2", 101, parent_id=1),  # no venue has answered it
        order(4, OrderStatus.DONE_FOR_DAY, "SIM2", 100, parent_id=1),  # may trade again
        order(5, OrderStatus.REJECTED, "SIM", 50, parent_id=1),  # ended
        order(6, OrderStatus.NEW, "SIM", 10),  # not split
    )]

    async def read() -> Stored:
        engine = create_async_engine(async_url(database_url))
        try:
            async with engine.begin() as conn:
                await conn.execute(orders.insert(), rows)
            async with engine.connect() as conn:
                return await load(conn, "fg", HORIZONS_S)
        finally:
            await engine.dispose()

    assert sorted(asyncio.run(read()).children, key=lambda c: c.order_id) == [
        ChildOrder(2, "SIM", "MSFT", D(99), D(30), reached_venue=True),
        ChildOrder(3, "SIM2", "MSFT", D(101), D(0), reached_venue=False),
        ChildOrder(4, "SIM2", "MSFT", D(100), D(0), reached_venue=True),
    ]
