"""The loop closed: TCA's venue scores, read back into the router.

The TCA process (``tca.service``) scores every venue per symbol (and per size bucket) and keeps the scores in
``tca_venue_scores``. The gateway's REST server reads them there every second (``feed_router``, a task
of its event loop, never the hot path's threads) and hands the router the whole map at once
(``oms.router.Router.set_scores``), so the next order is routed with what the last fills cost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from book.tables import tca_venue_scores
from oms.router import VenueCost
from tca.measures import ALL, BUCKET_FLOORS

log = logging.getLogger(__name__)

FEED_INTERVAL_S = 1.0

Costs = Mapping[tuple[str, str], VenueCost]


async def read_costs(conn: AsyncConnection, instance: str) -> dict[tuple[str, str], VenueCost]:
    """``instance``'s venue scores per (venue, symbol), as the router weighs them: over all sizes, with
    the same per size bucket (``VenueCost.sizes``, by each bucket's least quantity)."""
    c = tca_venue_scores.c
    rows = await conn.execute(
        select(c.venue, c.symbol, c.size_bucket, c.slippage_bps, c.slippage_bps_count, c.markout_bps,
               c.markout_bps_count, c.reject_rate, c.reject_rate_count)
        .where(c.instance == instance, c.symbol != ALL))
    overall: dict[tuple[str, str], VenueCost] = {}
    sizes: dict[tuple[str, str], list[tuple[Decimal, VenueCost]]] = {}
    for r in rows:
        cost = VenueCost(r.slippage_bps, r.slippage_bps_count, r.markout_bps, r.markout_bps_count,
                         r.reject_rate, r.reject_rate_count)
        if r.size_bucket == ALL:
            overall[(r.venue, r.symbol)] = cost
        elif (floor := BUCKET_FLOORS.get(r.size_bucket)) is not None:  # a bucket this version knows
            sizes.setdefault((r.venue, r.symbol), []).append((floor, cost))
    return {key: dataclasses.replace(cost, sizes=tuple(sorted(sizes.get(key, ()), key=lambda band: band[0])))
            for key, cost in overall.items()}


async def feed_router(engine: AsyncEngine, instance: str, sink: Callable[[Costs], None],
                      interval_s: float = FEED_INTERVAL_S) -> None:
    """Forever: read the scores and give them to ``sink`` (the router's ``set_scores``) when they
    changed. A database that is away is said once; the router keeps the last scores meanwhile."""
    last: Costs | None = None
    failing = False
    while True:
        try:
            async with engine.connect() as conn:
                costs = await read_costs(conn, instance)
            if costs != last:
                sink(costs)
                last = costs
            if failing:
                log.info("venue scores read again")
            failing = False
        except asyncio.CancelledError:
            raise
        except (OSError, SQLAlchemyError) as exc:  # the database away
            if not failing:
                log.warning("venue scores not read (%s): the router keeps the last ones", exc)
            failing = True
        except Exception:  # a bug: said loudly, and the feed goes on (it must not die silently)
            if not failing:
                log.exception("venue scores not read: the router keeps the last ones")
            failing = True
        await asyncio.sleep(interval_s)
