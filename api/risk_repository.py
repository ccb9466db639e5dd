"""All SQL of the risk endpoints: the ``risk_events`` audit trail."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import RowMapping, select
from sqlalchemy.ext.asyncio import AsyncConnection

from book.risk_events import insert_event
from book.rows import Row
from book.tables import risk_events


class RiskEventRepository:
    """Writes and reads audit rows on one connection; the caller commits."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def record(self, row: Row) -> int:
        """Append one operator action (a row of ``book.risk_events.event_row``); its id."""
        result = await self._conn.execute(insert_event().returning(risk_events.c.id), row)
        return int(result.scalar_one())

    async def list(self, *, action: str | Sequence[str] | None = None, limit: int = 100) -> Sequence[RowMapping]:
        """The newest ``limit`` actions, newest first, of one kind (or of several), or all."""
        query = select(risk_events).order_by(risk_events.c.id.desc()).limit(limit)
        if isinstance(action, str):
            query = query.where(risk_events.c.action == action)
        elif action is not None:
            query = query.where(risk_events.c.action.in_(action))
        return (await self._conn.execute(query)).mappings().all()
