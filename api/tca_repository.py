"""All SQL of the TCA endpoints: read-only queries on the tables the TCA process writes (``tca.store``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from book.tables import tca_fills, tca_orders, tca_venue_scores
from tca.measures import HORIZONS_S


def _weighted(column: Any, weight: Any) -> Any:
    """The ``weight``-weighted mean of ``column`` over the rows where it is not NULL (NULL when none)."""
    return func.sum(column * weight) / func.nullif(func.sum(weight).filter(column.isnot(None)), 0)


class TcaRepository:
    """Queries on one connection (the request's read-only snapshot)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def order(self, order_id: int) -> RowMapping | None:
        result = await self._conn.execute(select(tca_orders).where(tca_orders.c.order_id == order_id))
        return result.mappings().first()

    async def fills_of_order(self, order_id: int) -> Sequence[RowMapping]:
        query = select(tca_fills).where(tca_fills.c.order_id == order_id).order_by(tca_fills.c.fill_ns,
                                                                                 tca_fills.c.exec_id)
        return (await self._conn.execute(query)).mappings().all()

    async def venue_scores(self, instance: str | None, venue: str | None, symbol: str | None,
                           size_bucket: str | None) -> Sequence[RowMapping]:
        query = select(tca_venue_scores)
        for column, value in ((tca_venue_scores.c.instance, instance), (tca_venue_scores.c.venue, venue),
                              (tca_venue_scores.c.symbol, symbol), (tca_venue_scores.c.size_bucket, size_bucket)):
            if value is not None:
                query = query.where(column == value)
        order = (tca_venue_scores.c.instance, tca_venue_scores.c.venue, tca_venue_scores.c.symbol,
                 tca_venue_scores.c.size_bucket)
        return (await self._conn.execute(query.order_by(*order))).mappings().all()

    async def fill_summary(self, from_ns: int | None, to_ns: int | None, symbol: str | None, venue: str | None,
                           accounts: Collection[str] | None) -> Sequence[RowMapping]:
        """Per venue, over the fills at ``from_ns <= fill_ns < to_ns``: their count, quantity and
        notional, and the quantity-weighted means of slippage, effective spread and each markout."""
        f = tca_fills.c
        columns: list[Any] = [
            f.venue, func.count().label("fills"), func.sum(f.quantity).label("quantity"),
            func.sum(f.quantity * f.price).label("notional"), func.sum(f.fee).label("fees"),
            _weighted(f.slippage_bps, f.quantity).label("slippage_bps"),
            _weighted(f.effective_spread_bps, f.quantity).label("effective_spread_bps"),
        ]
        columns += [_weighted(f[f"markout_{h}s_bps"], f.quantity).label(f"markout_{h}s_bps") for h in HORIZONS_S]
        query = select(*columns).where(*self._fill_filters(from_ns, to_ns, symbol, venue))
        if accounts is not None:
            query = query.join(tca_orders, tca_orders.c.order_id == f.order_id).where(
                tca_orders.c.account.in_(accounts))
        return (await self._conn.execute(query.group_by(f.venue).order_by(f.venue))).mappings().all()

    async def order_summary(self, from_ns: int | None, to_ns: int | None, symbol: str | None, venue: str | None,
                            accounts: Collection[str] | None) -> Sequence[RowMapping]:
        """Per venue, over the orders that arrived at ``from_ns <= created_ns < to_ns``, reached the venue
        (one refused by risk says nothing of a venue) and have ended:
        their count, the notional-weighted mean shortfall in bps, the share of quantity filled, and the
        mean time to complete."""
        o = tca_orders.c
        paper = o.quantity * o.arrival_mid
        query = select(
            o.venue, func.count().label("orders"),
            _weighted(o.shortfall_bps, paper).label("shortfall_bps"), func.sum(o.shortfall).label("shortfall"),
            (func.sum(o.filled_qty) / func.nullif(func.sum(o.quantity), 0)).label("fill_rate"),
            func.avg(o.time_to_complete_ns).label("time_to_complete_ns"),
            func.count().filter(o.venue_rejected).label("rejected"),
        ).where(o.ended_ns.isnot(None), o.reached_venue, *self._order_filters(from_ns, to_ns, symbol, venue))
        if accounts is not None:
            query = query.where(o.account.in_(accounts))
        return (await self._conn.execute(query.group_by(o.venue).order_by(o.venue))).mappings().all()

    @staticmethod
    def _fill_filters(from_ns: int | None, to_ns: int | None, symbol: str | None, venue: str | None
                      ) -> list[ColumnElement[bool]]:
        f = tca_fills.c
        return _filters(f.fill_ns, f.symbol, f.venue, from_ns, to_ns, symbol, venue)

    @staticmethod
    def _order_filters(from_ns: int | None, to_ns: int | None, symbol: str | None, venue: str | None
                       ) -> list[ColumnElement[bool]]:
        o = tca_orders.c
        return _filters(o.created_ns, o.symbol, o.venue, from_ns, to_ns, symbol, venue)


def _filters(time: Any, symbol_column: Any, venue_column: Any, from_ns: int | None, to_ns: int | None,
             symbol: str | None, venue: str | None) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if from_ns is not None:
        filters.append(time >= from_ns)
    if to_ns is not None:
        filters.append(time < to_ns)
    if symbol is not None:
        filters.append(symbol_column == symbol)
    if venue is not None:
        filters.append(venue_column == venue)
    return [and_(*filters)] if filters else []
