"""The venue's own background traders: a market maker around a random-walk mid, and takers.

Pure domain: ``LivingMarket.step`` acts once on a ``MatchingEngine`` and returns the events it caused;
the venue calls it from a thread of its own, at a bounded rate, under the venue lock, and reports the
events (a taker may fill a client's resting order). Everything random comes from one
``random.Random(seed)``, so the same seed against the same book makes the same orders.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable
from decimal import Decimal

from simulator.config import ParticipantsConfig, SimInstrument
from simulator.matching import (
    CancelRequest,
    ExecutionEvent,
    MatchingEngine,
    NewOrderRequest,
    OrdType,
    Side,
    TimeInForce,
)

__all__ = ["MAKER_OWNER", "TAKER_OWNER", "LivingMarket"]

MAKER_OWNER = "SIM-MAKER"
TAKER_OWNER = "SIM-TAKER"


class LivingMarket:
    """A market maker per instrument quoting around a random-walk mid, and takers that hit it."""

    def __init__(self, instruments: Iterable[SimInstrument], config: ParticipantsConfig) -> None:
        self.config = config
        self._instruments = list(instruments)
        self._rng = random.Random(config.seed)
        self._ids = itertools.count(1)
        # Mid in ticks, starting at the reference price.
        self._mid: dict[str, int] = {
            i.symbol: int(i.reference_price / i.tick_size) for i in self._instruments
        }
        self._quotes: dict[str, list[str]] = {i.symbol: [] for i in self._instruments}

    def mid(self, symbol: str) -> Decimal:
        """The maker's current mid price of ``symbol``."""
        instrument = next(i for i in self._instruments if i.symbol == symbol)
        return self._mid[symbol] * instrument.tick_size

    def shift(self, symbol: str, ticks: int) -> None:
        """Move the maker's mid by ``ticks`` (its next quotes follow; a toxic venue's price after a fill)."""
        floor = self.config.half_spread_ticks + self.config.maker_levels + 1
        self._mid[symbol] = max(floor, self._mid[symbol] + ticks)

    def start(self, engine: MatchingEngine) -> list[ExecutionEvent]:
        """Put the first quotes on every book."""
        events: list[ExecutionEvent] = []
        for instrument in self._instruments:
            events += self._requote(engine, instrument, move=False)
        return events

    def step(self, engine: MatchingEngine) -> list[ExecutionEvent]:
        """One action: a taker order, or the maker moving its mid and requoting one instrument."""
        if not self._instruments:
            return []
        instrument = self._rng.choice(self._instruments)
        if self._rng.randrange(100) < self.config.taker_percent:
            return self._take(engine, instrument)
        return self._requote(engine, instrument, move=True)

    def _cl_ord_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def _requote(
        self, engine: MatchingEngine, instrument: SimInstrument, *, move: bool
    ) -> list[ExecutionEvent]:
        config = self.config
        symbol = instrument.symbol
        if move:
            step = self._rng.randint(-config.step_ticks, config.step_ticks)
            # Keep every bid of the ladder at a positive price.
            floor = config.half_spread_ticks + config.maker_levels + 1
            self._mid[symbol] = max(floor, self._mid[symbol] + step)
        events: list[ExecutionEvent] = []
        for cl_ord_id in self._quotes[symbol]:
            order = engine.find(MAKER_OWNER, cl_ord_id)
            if order is not None and not order.status.is_terminal:
                events += engine.cancel(CancelRequest(MAKER_OWNER, self._cl_ord_id("MMX"), cl_ord_id))
        self._quotes[symbol] = []
        mid = self._mid[symbol]
        for level in range(config.maker_levels):
            offset = config.half_spread_ticks + level
            for side, ticks in ((Side.BUY, mid - offset), (Side.SELL, mid + offset)):
                cl_ord_id = self._cl_ord_id("MM")
                self._quotes[symbol].append(cl_ord_id)
                events += engine.submit(
                    NewOrderRequest(
                        owner=MAKER_OWNER,
                        cl_ord_id=cl_ord_id,
                        symbol=symbol,
                        side=side,
                        quantity=config.maker_qty,
                        ord_type=OrdType.LIMIT,
                        price=ticks * instrument.tick_size,
                        time_in_force=TimeInForce.GTC,
                    )
                )
        return events

    def _take(self, engine: MatchingEngine, instrument: SimInstrument) -> list[ExecutionEvent]:
        config = self.config
        side = self._rng.choice((Side.BUY, Side.SELL))
        lots = int(config.taker_max_qty / instrument.lot_size)
        quantity = self._rng.randint(1, max(1, lots)) * instrument.lot_size
        # An IOC limit just past the maker's ladder: it takes the quotes, never sweeps a thin book.
        reach = config.half_spread_ticks + config.maker_levels
        mid = self._mid[instrument.symbol]
        ticks = mid + reach if side is Side.BUY else max(1, mid - reach)
        return engine.submit(
            NewOrderRequest(
                owner=TAKER_OWNER,
                cl_ord_id=self._cl_ord_id("TK"),
                symbol=instrument.symbol,
                side=side,
                quantity=quantity,
                ord_type=OrdType.LIMIT,
                price=ticks * instrument.tick_size,
                time_in_force=TimeInForce.IOC,
            )
        )
