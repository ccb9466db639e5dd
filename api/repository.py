"""All SQL of the API: read-only queries on the book of record."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import RowMapping, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from book.tables import executions, marks, orders, positions
from domain.model import ExecKind


class BookRepository:
    """Queries on one connection (the request's read-only snapshot)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def ping(self) -> None:
        """Round trip to the database."""
        await self._conn.execute(text("SELECT 1"))

    async def list_orders(
        self,
        *,
        statuses: Sequence[str] | None = None,
        symbol: str | None = None,
        account: str | None = None,
        accounts: Collection[str] | None = None,
        side: str | None = None,
        created_from_ns: int | None = None,
        created_to_ns: int | None = None,
        after: int | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> Sequence[RowMapping]:
        """Orders matching every given filter, by order id (``newest_first``: the highest first);
        ``after`` pages past an order id; ``accounts``: only orders of these accounts.

        Created time is ``created_from_ns <= created_ns < created_to_ns``.
        """
        query = select(orders).where(orders.c.parent_id.is_(None))  # a split order's children: ``children_of``
        if statuses:
            query = query.where(orders.c.status.in_(statuses))
        if symbol is not None:
            query = query.where(orders.c.symbol == symbol)
        if account is not None:
            query = query.where(orders.c.account == account)
        if accounts is not None:
            query = query.where(orders.c.account.in_(accounts))
        if side is not None:
            query = query.where(orders.c.side == side)
        if created_from_ns is not None:
            query = query.where(orders.c.created_ns >= created_from_ns)
        if created_to_ns is not None:
            query = query.where(orders.c.created_ns < created_to_ns)
        if after is not None:
            query = query.where(orders.c.order_id > after)
        by = orders.c.order_id.desc() if newest_first else orders.c.order_id
        result = await self._conn.execute(query.order_by(by).limit(limit))
        return result.mappings().all()

    async def get_order(self, order_id: int) -> RowMapping | None:
        """One order, or None."""
        result = await self._conn.execute(select(orders).where(orders.c.order_id == order_id))
        return result.mappings().one_or_none()

    async def children_of(self, order_id: int) -> Sequence[RowMapping]:
        """The child orders of a split order (none for an order routed whole), oldest first."""
        query = select(orders).where(orders.c.parent_id == order_id).order_by(orders.c.order_id)
        return (await self._conn.execute(query)).mappings().all()

    async def executions_of_order(self, order_id: int) -> Sequence[RowMapping]:
        """Every execution of one order, in the order the book applied them."""
        query = select(executions).where(executions.c.order_id == order_id).order_by(executions.c.seq)
        return (await self._conn.execute(query)).mappings().all()

    async def list_executions(
        self,
        *,
        order_id: int | None = None,
        account: str | None = None,
        accounts: Collection[str] | None = None,
        symbol: str | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> Sequence[RowMapping]:
        """Executions matching every given filter, in the order applied (account and symbol are the
        order's; ``accounts``: only of orders of these accounts); ``after``: only those with a greater
        ``seq``. A child order's executions only by its ``order_id``: its fills are its parent's too."""
        query = select(executions)
        if order_id is None:
            query = query.where(executions.c.order_id.not_in(select(orders.c.order_id).where(
                orders.c.parent_id.is_not(None))))
        if account is not None or accounts is not None or symbol is not None:
            query = query.join(orders, orders.c.order_id == executions.c.order_id)
            if account is not None:
                query = query.where(orders.c.account == account)
            if accounts is not None:
                query = query.where(orders.c.account.in_(accounts))
            if symbol is not None:
                query = query.where(orders.c.symbol == symbol)
        if order_id is not None:
            query = query.where(executions.c.order_id == order_id)
        if after is not None:
            query = query.where(executions.c.seq > after)
        query = query.order_by(executions.c.seq).limit(limit)
        return (await self._conn.execute(query)).mappings().all()

    async def list_positions(
        self,
        *,
        account: str | None = None,
        accounts: Collection[str] | None = None,
        symbol: str | None = None,
    ) -> Sequence[RowMapping]:
        """Positions matching every given filter with their symbol's mark (``mark_price``, or None),
        by account then symbol; ``accounts``: only these accounts'."""
        query = select(positions, marks.c.price.label("mark_price")).join(
            marks, marks.c.symbol == positions.c.symbol, isouter=True
        )
        if account is not None:
            query = query.where(positions.c.account == account)
        if accounts is not None:
            query = query.where(positions.c.account.in_(accounts))
        if symbol is not None:
            query = query.where(positions.c.symbol == symbol)
        query = query.order_by(positions.c.account, positions.c.symbol)
        return (await self._conn.execute(query)).mappings().all()

    async def latest_fills(
        self,
        *,
        account: str | None = None,
        accounts: Collection[str] | None = None,
        symbol: str | None = None,
        limit: int = 50,
    ) -> Sequence[RowMapping]:
        """The newest ``limit`` fills (TRADE executions), newest first, each with its order's account,
        symbol, side and ClOrdID, filtered like :meth:`list_executions`."""
        query = (
            select(executions, orders.c.account, orders.c.symbol, orders.c.side, orders.c.cl_ord_id)
            .join(orders, orders.c.order_id == executions.c.order_id)
            .where(executions.c.kind == ExecKind.TRADE.value, orders.c.parent_id.is_(None))
        )
        if account is not None:
            query = query.where(orders.c.account == account)
        if accounts is not None:
            query = query.where(orders.c.account.in_(accounts))
        if symbol is not None:
            query = query.where(orders.c.symbol == symbol)
        query = query.order_by(executions.c.seq.desc()).limit(limit)
        return (await self._conn.execute(query)).mappings().all()
