"""Routing: which venue an order goes to, and whether that venue's session is up.

An instrument may trade on several venues (``Instrument.listings``, each with its fees). A client's
ExDestination (100) names the venue itself: the order goes there unchanged, or is refused when that
venue does not list the symbol or is not connected. Otherwise the router ranks the instrument's
connected venues and sends the order to the first:

1. a venue with a quote on the side the order takes (the offer for a buy, the bid for a sell) before
   one without;
2. the lowest expected cost per unit (for a sell, the highest proceeds): the quoted price, plus the
   venue's fee per unit (``Listing.fee_per_unit``), plus what transaction cost analysis says the venue
   costs beyond its price (``VenueCost.penalty_bps``: its slippage beyond the other venues', its
   adverse markout and its reject rate, scored live by the TCA process and fed in by ``set_scores``)
   in bps of that price;
3. at an equal cost, the venue with fewer scored fills (so that a venue nobody has traded yet is
   tried, and scored, rather than never chosen);
4. the order of ``instruments.toml``.

The same quotes and scores always give the same venue. Each decision is recorded with its inputs,
as JSON (``Route.decision``, kept as ``orders.route``).

Quotes arrive on each venue's QuickFIX thread (through the OMS, under its lock) and scores on the
REST server's; ``route`` runs under the OMS lock. Each is a whole-value swap of one dict entry or of
the whole score map, atomic under the GIL: a reader sees either value, both valid.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from domain.model import Instrument, NewOrder, Side

_BPS = Decimal(10_000)
_ZERO = Decimal(0)

MIN_SCORED_FILLS = 10
"""Fills a venue's markout must be scored on before its score counts: until then it is taken at no
cost beyond its price (and, at an equal price, tried first: rule 3)."""

REJECT_PENALTY_BPS = Decimal(10)
"""What a venue that rejects every order it is sent costs, in bps (scaled by its reject rate)."""


@dataclass(frozen=True, slots=True)
class VenueCost:
    """What transaction cost analysis says one venue costs in one symbol beyond its quoted price, as
    exponentially weighted means over ``fills`` scored fills: the slippage of its fills against the
    arrival mid (bps, positive: a cost), their markout (bps, positive: the price moved against fixgate
    after the fill), and the share of orders sent there that it rejected."""

    slippage_bps: Decimal | None
    markout_bps: Decimal | None
    reject_rate: Decimal | None
    fills: int

    @property
    def scored(self) -> bool:
        return self.fills >= MIN_SCORED_FILLS

    def penalty_bps(self, least_slippage_bps: Decimal) -> Decimal:
        """The cost the router adds to the venue's price, in bps of it: its slippage beyond the least
        of the venues' (``least_slippage_bps``: the half spread every venue's taker pays is no venue's
        fault; what is left is a venue filling worse than it quoted), its adverse markout (a favourable
        one counts as none: the router does not chase it) and ``REJECT_PENALTY_BPS`` x its reject rate;
        none before ``MIN_SCORED_FILLS``."""
        if not self.scored:
            return _ZERO
        slippage = max((self.slippage_bps or _ZERO) - least_slippage_bps, _ZERO)
        markout = max(self.markout_bps or _ZERO, _ZERO)
        return slippage + markout + REJECT_PENALTY_BPS * (self.reject_rate or _ZERO)


_NO_COST = VenueCost(None, None, None, 0)


class Route(NamedTuple):
    """Where an order goes (``reason`` None) or why it cannot (``reason``); ``decision`` is the
    decision and its inputs as JSON, for the book."""

    venue: str
    reason: str | None
    decision: str


class Router:
    """Maps an order to a venue of its instrument; knows which venue sessions are logged on, each
    venue's top of book and TCA's venue scores."""

    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self._instruments = instruments
        self._up: set[str] = set()
        self._quotes: dict[tuple[str, str], tuple[Decimal | None, Decimal | None]] = {}  # (venue, symbol)
        self._scores: Mapping[tuple[str, str], VenueCost] = {}  # (venue, symbol); replaced whole

    def set_venue_up(self, venue: str, up: bool) -> None:
        # set.add/discard are atomic under the GIL; readers see either state, both valid.
        if up:
            self._up.add(venue)
        else:
            self._up.discard(venue)

    def quoted(self, venue: str, symbol: str, bid: Decimal | None, offer: Decimal | None) -> None:
        """``venue``'s best bid and offer of ``symbol`` now (its market data)."""
        self._quotes[(venue, symbol)] = (bid, offer)

    def set_scores(self, scores: Mapping[tuple[str, str], VenueCost]) -> None:
        """TCA's venue scores, by (venue, symbol): the whole map, replacing the last."""
        self._scores = dict(scores)

    def symbols_at(self, venue: str) -> list[str]:
        """The symbols traded at ``venue`` (what fixgate asks its market data for)."""
        return sorted(symbol for symbol, i in self._instruments.items() if venue in i.venues)

    def venue_is_up(self, venue: str) -> bool:
        return venue in self._up

    @property
    def venues_up(self) -> frozenset[str]:
        return frozenset(self._up)

    def route(self, order: NewOrder) -> Route:
        """The venue ``order`` goes to now, or why it cannot go anywhere."""
        instrument = self._instruments.get(order.symbol)
        if instrument is None:
            return Route("", f"no venue for unknown symbol {order.symbol}", "")
        if order.ex_destination is not None:
            return self._destination(instrument, order.ex_destination)
        return self._best(instrument, order.side)

    def _destination(self, instrument: Instrument, venue: str) -> Route:
        decision = _destination_decision(venue)
        if instrument.listing(venue) is None:
            return Route(venue, f"ExDestination (100) {venue} is not a venue of {instrument.symbol}"
                                f" ({', '.join(instrument.venues)})", decision)
        if venue not in self._up:
            return Route(venue, f"venue {venue} for {instrument.symbol} is not connected", decision)
        return Route(venue, None, decision)

    def _best(self, instrument: Instrument, side: Side) -> Route:
        up = self._up
        if len(instrument.listings) == 1:  # nothing to choose: the common case costs one lookup
            venue = instrument.venue
            decision = _only_decision(venue)
            if venue not in up:
                return Route(venue, f"venue {venue} for {instrument.symbol} is not connected", decision)
            return Route(venue, None, decision)
        symbol = instrument.symbol
        scores = self._scores
        costs = {listing.venue: scores.get((listing.venue, symbol), _NO_COST)
                 for listing in instrument.listings if listing.venue in up}
        least_slippage = min((c.slippage_bps for c in costs.values() if c.scored and c.slippage_bps is not None),
                             default=_ZERO)
        buy = side is Side.BUY
        best: tuple[bool, Decimal, int, int] | None = None
        venue = instrument.venue
        considered = []  # each venue's inputs, as JSON objects (formatted by hand: json.dumps costs 4x)
        for index, listing in enumerate(instrument.listings):
            name = listing.venue
            cost = costs.get(name)
            if cost is None:
                considered.append(f'{{"venue": "{name}", "up": false}}')
                continue
            bid, offer = self._quotes.get((name, symbol), (None, None))
            touch = offer if buy else bid
            price = instrument.reference_price if touch is None else touch
            fee = listing.fee_per_unit(price)
            penalty_bps = cost.penalty_bps(least_slippage)
            penalty = price * penalty_bps / _BPS if penalty_bps else _ZERO
            expected = price + fee + penalty if buy else price - fee - penalty
            key = (touch is None, expected if buy else -expected, cost.fills, index)  # a sell: most proceeds first
            if best is None or key < best:
                best, venue = key, name
            considered.append(
                f'{{"venue": "{name}", "up": true, "touch": {_json(touch)}, "fee": "{fee}",'
                f' "slippage_bps": {_json(cost.slippage_bps)}, "markout_bps": {_json(cost.markout_bps)},'
                f' "reject_rate": {_json(cost.reject_rate)}, "scored_fills": {cost.fills},'
                f' "penalty_bps": "{penalty_bps}", "expected": "{expected}"}}')
        venues = ", ".join(considered)
        if best is None:
            return Route(venue, f"no venue of {symbol} is connected ({', '.join(instrument.venues)})",
                         f'{{"policy": "best_price", "venue": null, "venues": [{venues}]}}')
        return Route(venue, None, f'{{"policy": "best_price", "venue": "{venue}", "venues": [{venues}]}}')


@functools.cache
def _only_decision(venue: str) -> str:
    return json.dumps({"policy": "only_venue", "venue": venue})


@functools.cache
def _destination_decision(venue: str) -> str:
    return json.dumps({"policy": "ex_destination", "venue": venue})


def _json(value: Decimal | None) -> str:
    """A decimal as a JSON string (exact: never a JSON number, which readers take as a float), or null."""
    return "null" if value is None else f'"{value}"'
