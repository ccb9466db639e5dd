"""What the router is handed of TCA's venue scores, read from PostgreSQL as ``feed_router`` reads them:
each venue's score per symbol over all sizes, with its scores per size bucket by each bucket's least
quantity, smallest first; other instances' rows, all-symbol rows and unknown buckets left out."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

from sqlalchemy.ext.asyncio import create_async_engine

from book.database import async_url
from book.tables import tca_venue_scores
from oms.router import VenueCost
from tca.feedback import read_costs
from tca.measures import ALL, EwMean, ScoreKey, VenueScore
from tca.store import score_row


def row(instance: str, venue: str, symbol: str, bucket: str, slippage: str, fills: int) -> dict[str, object]:
    score = VenueScore(ScoreKey(venue, symbol, bucket),
                       {"slippage_bps": EwMean(D(slippage) * fills, D(fills), fills),
                        "reject_rate": EwMean(D(0), D(3), 3)}, 1)
    return score_row(instance, score)


def test_the_router_gets_each_venues_scores_with_its_size_buckets(database_url: str) -> None:
    rows = [
        row("fg", "SIM", "AAPL", ALL, "1.05", 20),
        row("fg", "SIM", "AAPL", "100-999", "1.58", 10),  # stored before the smaller bucket: sorted on read
        row("fg", "SIM", "AAPL", "1-99", "0.53", 10),
        row("fg", "SIM", "AAPL", "5-7", "9", 10),  # a bucket this version does not know: left out
        row("fg", "SIM", ALL, ALL, "1.05", 20),  # over all symbols: not the router's
        row("other", "SIM", "AAPL", "1-99", "7", 10),  # another instance's
        row("fg", "SIM2", "AAPL", ALL, "0.53", 12),
    ]

    async def read() -> dict[tuple[str, str], VenueCost]:
        engine = create_async_engine(async_url(database_url))
        try:
            async with engine.begin() as conn:
                await conn.execute(tca_venue_scores.insert(), rows)
            async with engine.connect() as conn:
                return await read_costs(conn, "fg")
        finally:
            await engine.dispose()

    costs = asyncio.run(read())
    assert set(costs) == {("SIM", "AAPL"), ("SIM2", "AAPL")}
    sim = costs[("SIM", "AAPL")]
    assert (sim.slippage_bps, sim.slippage_fills, sim.reject_rate, sim.orders) == (D("1.05"), 20, D(0), 3)
    assert [(floor, band.slippage_bps, band.slippage_fills) for floor, band in sim.sizes] == [
        (D(0), D("0.53"), 10), (D(100), D("1.58"), 10)]
    assert costs[("SIM2", "AAPL")].sizes == ()
