"""Routing: which venue an order goes to, and whether that venue's session is up.

An instrument may trade on several venues (``Instrument.listings``, each with its fees). A client's
ExDestination (100) names the venue itself: the order goes there unchanged, or is refused when that
venue does not list the symbol or is not connected. Otherwise the router ranks the instrument's
connected venues and sends the order to the first:

1. a venue with a quote on the side the order takes (the offer for a buy, the bid for a sell) before
   one without;
2. the lowest expected cost per unit (for a sell, the highest proceeds): the quoted price, plus the
   venue's fee per unit (``Listing.fee_per_unit``), plus what transaction cost analysis says the venue
   costs beyond its price, in bps of that price (``_penalties``, from the scores TCA keeps live and
   ``set_scores`` hands in);
3. at an equal cost, the venue TCA has seen fewer orders at (so that a venue nobody has traded yet is
   tried, and scored, rather than never chosen);
4. the order of ``instruments.toml``.

The same quotes and scores always give the same venue. Each decision is recorded with its inputs,
as JSON (``Route.decision``, kept as ``orders.route``).

An order bigger than what the first venue displays at its touch is split (``plan``): the venues are
swept in that same ranking, each taking at most the size it displays (MDEntrySize 271) with an IOC
child, while its touch is within the order's limit; what is left is posted at the first venue with the
order's own time in force (an IOC order posts nothing). An order the first venue's displayed size
covers, or whose marketable venues are that one alone, goes whole: one venue, no children. ExDestination,
FOK orders and instruments of one venue are never split. The legs are recorded in the decision.

A venue whose cost grows with the size it is sent gets smaller children (``_size_cap``): when TCA's
scores of a bigger size band at that venue (``VenueCost.sizes``) cost more than ``SIZE_STEP_BPS``
beyond its cheapest smaller band, no child there is sized into that band or above: the venue takes
at most the largest lot below it, and the rest goes to the next venues of the ranking. Each venue
is ranked at what it costs at the size it would be sent (its band's score, once scored; else its
score over all sizes), so a venue that is cheap in small sizes keeps its small flow. What no venue
takes within its cap is posted at the first venue whose cap admits it (else the first venue); an
IOC order instead sweeps beyond the caps, up to what each venue displays: the cap decides who
takes an order, never whether it fills.

Quotes arrive on each venue's QuickFIX thread, scores on the REST server's event loop; ``route``
runs on a client's thread under the OMS lock. Each write is a whole-value swap of one dict entry or of
the whole score map with its size bands (one tuple), atomic under the GIL: a reader sees either
value, both valid.
"""

from __future__ import annotations

import bisect
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import NamedTuple

from domain.model import Instrument, NewOrder, OrdType, Side, TimeInForce

_BPS = Decimal(10_000)
_ZERO = Decimal(0)

MIN_OBSERVATIONS = 10
"""Observations a score needs before it counts (fills for slippage and markout, orders for the reject
rate): until then the venue is taken at no cost beyond its price for that score."""

REJECT_PENALTY_BPS = Decimal(10)
"""What a venue that rejects every order it is sent costs, in bps (scaled by its reject rate)."""

SIZE_STEP_BPS = Decimal("0.5")
"""How much more a venue's bigger size band must cost (slippage or markout, bps) than its cheapest
smaller one before its children are kept below that band: less is within what tens of fills
measure of the same cost."""


@dataclass(frozen=True, slots=True)
class VenueCost:
    """What transaction cost analysis says of one venue in one symbol: exponentially weighted means of
    its fills' slippage against the arrival mid and their markout (bps, positive: a cost; each
    counted from the fill price, so each includes the half spread and how much worse than its quote
    the venue filled), over how many fills, and the share of the orders sent there it rejected, over
    how many orders."""

    slippage_bps: Decimal | None
    slippage_fills: int
    markout_bps: Decimal | None
    markout_fills: int
    reject_rate: Decimal | None
    orders: int
    # The same by the size of the orders sent there: (the least quantity of the band, its cost), the
    # bands in ascending order; empty when TCA keeps none.
    sizes: tuple[tuple[Decimal, VenueCost], ...] = ()

    @property
    def slippage(self) -> Decimal | None:
        return self.slippage_bps if self.slippage_fills >= MIN_OBSERVATIONS else None

    @property
    def markout(self) -> Decimal | None:
        return self.markout_bps if self.markout_fills >= MIN_OBSERVATIONS else None

    @property
    def rejects(self) -> Decimal:
        rate = self.reject_rate if self.orders >= MIN_OBSERVATIONS else None
        return _ZERO if rate is None else rate

    def at_size(self, quantity: Decimal) -> tuple[VenueCost, Decimal | None]:
        """What the venue costs for an order of ``quantity``: its slippage, and its markout, in that
        size's band where each counts there, else over all sizes (the reject rate and orders always
        over all sizes: an approximation, as is weighing one venue's band against another's scores
        over all sizes when its band has none yet); and the band's least quantity, None when nothing
        of the band's is used."""
        band = None
        for floor, cost in self.sizes:
            if floor > quantity:
                break
            band = (floor, cost)
        if band is None:
            return self, None
        cost = band[1]
        slippage = cost.slippage is not None
        markout = cost.markout is not None
        if not slippage and not markout:
            return self, None
        return VenueCost(cost.slippage_bps if slippage else self.slippage_bps,
                         cost.slippage_fills if slippage else self.slippage_fills,
                         cost.markout_bps if markout else self.markout_bps,
                         cost.markout_fills if markout else self.markout_fills,
                         self.reject_rate, self.orders), band[0]


def _size_cap(cost: VenueCost, lot: Decimal) -> Decimal | None:
    """The most a child at this venue is sent: the largest lot below the first size band whose
    slippage or markout is ``SIZE_STEP_BPS`` more than the least of the same measure in the bands
    below it (each measure compared with itself, where it counts in both: markouts settle later than
    slippage); None: no such band, or no lot fits below it (the venue is then not capped)."""
    least_slippage: Decimal | None = None
    least_markout: Decimal | None = None
    for floor, band in cost.sizes:
        slippage, markout = band.slippage, band.markout
        if ((slippage is not None and least_slippage is not None and slippage - least_slippage > SIZE_STEP_BPS)
                or (markout is not None and least_markout is not None and markout - least_markout > SIZE_STEP_BPS)):
            cap = ((floor / lot).to_integral_value(ROUND_CEILING) - 1) * lot
            return cap if cap > 0 else None
        if slippage is not None:
            least_slippage = slippage if least_slippage is None else min(least_slippage, slippage)
        if markout is not None:
            least_markout = markout if least_markout is None else min(least_markout, markout)
    return None


_NO_COST = VenueCost(None, 0, None, 0, None, 0)
_BEST_PRICE = '{"policy":"best_price","venue":'  # how a best-price decision begins (``plan`` swaps its venue)
_NO_QUOTE: tuple[None, None, None, None] = (None, None, None, None)
# A venue as the best-price policy ranked it: (rank key, venue, touch, size displayed at the touch,
# the most a child there is sent: None, no cap).
_Ranked = tuple[tuple[bool, Decimal, int, int], str, Decimal | None, Decimal | None, Decimal | None]
# What the scores make of a venue for orders of one size band: (orders TCA saw there, penalty in bps,
# its scores as JSON members, its size cap).
_Scoring = tuple[int, Decimal, str, Decimal | None]


def _penalties(costs: Mapping[str, VenueCost]) -> dict[str, Decimal]:
    """What each venue costs beyond its price, in bps: the more of how much its fills' slippage and
    how much their markout exceed the least of the venues' (the half spread every taker pays is no
    venue's fault; a venue filling worse than it quotes shows in both, a price moving against its
    takers after the fill in the markout: the larger is taken, so nothing counts twice; a venue
    better than the others costs nothing, it is not chased), plus ``REJECT_PENALTY_BPS`` x its reject
    rate. A score counts once it has ``MIN_OBSERVATIONS``."""
    slippages = [s for c in costs.values() if (s := c.slippage) is not None]
    markouts = [m for c in costs.values() if (m := c.markout) is not None]
    least_slippage = min(slippages, default=_ZERO)
    least_markout = min(markouts, default=_ZERO)
    penalties = {}
    for venue, cost in costs.items():
        slippage, markout = cost.slippage, cost.markout
        worse = max(_ZERO if slippage is None else slippage - least_slippage,
                    _ZERO if markout is None else markout - least_markout, _ZERO)
        rejects = cost.rejects
        penalties[venue] = worse + REJECT_PENALTY_BPS * rejects if rejects else worse
    return penalties


class Route(NamedTuple):
    """Where an order goes (``reason`` None) or why it cannot (``reason``); ``decision`` is the
    decision and its inputs as JSON, for the book."""

    venue: str
    reason: str | None
    decision: str


class Leg(NamedTuple):
    """One child order of a split: ``quantity`` at ``venue``; ``sweep``: IOC, capped at the size the
    venue displays (else posted with the parent's time in force)."""

    venue: str
    quantity: Decimal
    sweep: bool


class Plan(NamedTuple):
    """A routing decision: ``route`` as for the whole order and, when the order is split, its legs
    (empty: the order goes whole to ``route.venue``)."""

    route: Route
    legs: tuple[Leg, ...] = ()


class Router:
    """Maps an order to a venue of its instrument; knows which venue sessions are logged on, each
    venue's top of book and TCA's venue scores."""

    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self._instruments = instruments
        self._up: set[str] = set()
        # (venue, symbol) -> bid, offer, and the sizes displayed at each (None: not given)
        self._quotes: dict[tuple[str, str], tuple[Decimal | None, Decimal | None, Decimal | None, Decimal | None]] = {}
        # TCA's scores by (venue, symbol), and every size band's least quantity among them (ascending):
        # replaced whole, as one tuple, so a reader never pairs one map's bands with another's scores.
        self._scored: tuple[tuple[Decimal, ...], Mapping[tuple[str, str], VenueCost]] = ((), {})
        # What the scores make of each symbol's venues that are up, per size band of the order (by
        # its least quantity, None: below every band, or no bands) (``_scoring_of``), as of
        # ``_version``, which every change of the scores or of the venues up moves on.
        self._version = 0
        self._scoring: dict[tuple[str, Decimal | None], tuple[int, dict[str, _Scoring]]] = {}
        # Each configured venue's name as a JSON string (a config's name may hold any character).
        self._names = {v: json.dumps(v) for i in instruments.values() for v in i.venues}

    def set_venue_up(self, venue: str, up: bool) -> None:
        """A venue's session logged on or out: gone, its quotes go with it (a new logon's snapshot
        brings them back)."""
        # set.add/discard are atomic under the GIL; readers see either state, both valid.
        if up:
            self._up.add(venue)
        else:
            self._up.discard(venue)
            self.forget_quotes(venue)
        self._version += 1

    def quoted(self, venue: str, symbol: str, bid: Decimal | None, offer: Decimal | None,
               bid_size: Decimal | None = None, offer_size: Decimal | None = None) -> None:
        """``venue``'s best bid and offer of ``symbol`` now, with the size displayed at each (its market
        data; finite and positive, a size None when the venue gives none)."""
        self._quotes[(venue, symbol)] = (bid, offer, bid_size, offer_size)

    def forget_quotes(self, venue: str) -> None:
        """``venue``'s quotes are no longer known (logged out, or it refused market data)."""
        for key in [k for k in self._quotes if k[0] == venue]:
            self._quotes.pop(key, None)

    def set_scores(self, scores: Mapping[tuple[str, str], VenueCost]) -> None:
        """TCA's venue scores, by (venue, symbol): the whole map, replacing the last."""
        self._scored = (tuple(sorted({floor for cost in scores.values() for floor, _ in cost.sizes})), dict(scores))
        self._version += 1

    def size_cap(self, venue: str, symbol: str) -> Decimal | None:
        """The most a child of ``symbol`` at ``venue`` is sent now (``_size_cap``; None: no cap)."""
        instrument = self._instruments.get(symbol)
        if instrument is None:
            return None
        return _size_cap(self._scored[1].get((venue, symbol), _NO_COST), instrument.lot_size)

    def symbols_at(self, venue: str) -> list[str]:
        """The symbols traded at ``venue`` (what fixgate asks its market data for)."""
        return sorted(symbol for symbol, i in self._instruments.items() if venue in i.venues)

    def venue_is_up(self, venue: str) -> bool:
        return venue in self._up

    @property
    def venues_up(self) -> frozenset[str]:
        return frozenset(self._up)

    def route(self, order: NewOrder, exclude: frozenset[str] = frozenset()) -> Route:
        """The venue ``order`` goes to now, or why it cannot go anywhere; ``exclude``: venues not to
        use (they refused this order's children)."""
        return self._route(order, exclude)[0]

    def plan(self, order: NewOrder, exclude: frozenset[str] = frozenset()) -> Plan:
        """Where ``order`` goes: whole to one venue, or split into legs (the module's docstring)."""
        route, ranked = self._route(order, exclude)
        if route.reason is not None or len(ranked) < 2 or order.time_in_force is TimeInForce.FOK:
            return Plan(route)
        quantity = order.quantity
        _, _, touch, size, cap = ranked[0]
        if (touch is None or size is None or size >= quantity) and (cap is None or cap >= quantity):
            return Plan(route)  # the common case: the first venue shows enough (or shows no size)
        ranked.sort()
        buy = order.side is Side.BUY
        limit = order.price if order.ord_type is OrdType.LIMIT else None
        remaining = quantity
        legs: list[Leg] = []
        for _, venue, touch, size, cap in ranked:
            if touch is None or remaining <= 0:
                break  # ranked: the venues with a quote come first
            if size is None:
                continue  # a venue that shows no size cannot be swept capped at it
            if limit is not None and (touch > limit if buy else touch < limit):
                continue  # a later venue's touch may still be within the limit (its fee made it rank lower)
            take = min(remaining, size) if cap is None else min(remaining, size, cap)
            legs.append(Leg(venue, take, True))
            remaining -= take
        if remaining > 0 and order.time_in_force is TimeInForce.IOC:
            legs = _beyond_caps(legs, ranked, remaining)
        elif remaining > 0:
            post = next((venue for _, venue, _, _, cap in ranked if cap is None or cap >= remaining), route.venue)
            legs.append(Leg(post, remaining, False))
        if not legs:
            return Plan(route)  # an IOC order nothing displayed within its limit: whole, no children
        if all(leg.venue == legs[0].venue for leg in legs):  # one venue in the end: whole, there
            venue = legs[0].venue
            if venue == route.venue:
                return Plan(route)
            first = f'{_BEST_PRICE}{self._names[route.venue]},'
            return Plan(Route(venue, None, f'{_BEST_PRICE}{self._names[venue]},{route.decision[len(first):]}'))
        described = ",".join(f'{{"venue":{self._names[leg.venue]},"quantity":"{leg.quantity}",'
                             f'"tif":"{TimeInForce.IOC if leg.sweep else order.time_in_force}"}}' for leg in legs)
        decision = f'{route.decision[:-1]},"legs":[{described}]}}'
        return Plan(Route(route.venue, None, decision), tuple(legs))

    def _route(self, order: NewOrder, exclude: frozenset[str]) -> tuple[Route, list[_Ranked]]:
        """The route, and for the best-price policy the venues it ranked: (rank key, venue, touch, size
        at the touch), the route's venue first, the rest in no order."""
        instrument = self._instruments.get(order.symbol)
        if instrument is None:
            return Route("", f"no venue for unknown symbol {order.symbol}", ""), []
        if order.ex_destination is not None:
            return self._destination(instrument, order.ex_destination), []
        return self._best(instrument, order.side, order.quantity, exclude)

    def _destination(self, instrument: Instrument, venue: str) -> Route:
        if instrument.listing(venue) is None:  # the client's text: kept nowhere, no venue of the order
            return Route("", f"ExDestination (100) {venue} is not a venue of {instrument.symbol}"
                             f" ({', '.join(instrument.venues)})",
                         json.dumps({"policy": "ex_destination", "venue": venue}))
        decision = _decision("ex_destination", venue)
        if venue not in self._up:
            return Route(venue, f"venue {venue} for {instrument.symbol} is not connected", decision)
        return Route(venue, None, decision)

    def _best(self, instrument: Instrument, side: Side, quantity: Decimal,
              exclude: frozenset[str]) -> tuple[Route, list[_Ranked]]:
        up = self._up
        if len(instrument.listings) == 1:  # nothing to choose: the common case costs one lookup
            venue = instrument.venue
            decision = _decision("only_venue", venue)
            if venue not in up or venue in exclude:
                return Route(venue, f"venue {venue} for {instrument.symbol} is not connected"
                                    if venue not in up else f"venue {venue} refused the order", decision), []
            return Route(venue, None, decision), []
        symbol = instrument.symbol
        floors = self._scored[0]
        band = bisect.bisect_right(floors, quantity) - 1 if floors else -1
        scoring = self._scoring_of(instrument, floors[band] if band >= 0 else None)
        buy = side is Side.BUY
        ranked: list[_Ranked] = []
        best: _Ranked | None = None
        considered = []  # each venue's inputs, as JSON objects (formatted by hand: json.dumps costs 4x)
        for index, listing in enumerate(instrument.listings):
            name = self._names[listing.venue]
            scored = scoring.get(listing.venue)
            if scored is None or (exclude and listing.venue in exclude):
                considered.append(f'{{"venue":{name},"up":false}}' if scored is None
                                  else f'{{"venue":{name},"up":true,"refused":true}}')
                continue
            orders, penalty_bps, scores_json, cap = scored
            bid, offer, bid_size, offer_size = self._quotes.get((listing.venue, symbol), _NO_QUOTE)
            touch, size = (offer, offer_size) if buy else (bid, bid_size)
            price = instrument.reference_price if touch is None else touch
            fee = listing.fee_per_unit(price)
            penalty = price * penalty_bps / _BPS if penalty_bps else _ZERO
            expected = price + fee + penalty if buy else price - fee - penalty
            key = (touch is None, expected if buy else -expected, orders, index)  # a sell: most proceeds first
            entry = (key, listing.venue, touch, size, cap)
            if best is None or key < best[0]:
                best = entry
                ranked.insert(0, entry)
            else:
                ranked.append(entry)
            considered.append(f'{{"venue":{name},"up":true,"touch":{_json(touch)},"size":{_json(size)},'
                              f'"fee":"{fee}",{scores_json},"expected":"{expected}"}}')
        venues = ",".join(considered)
        if best is None:
            refused = [v for v in instrument.venues if v in exclude]
            why = (f"every venue of {symbol} that is connected refused the order ({', '.join(refused)})" if refused
                   else f"no venue of {symbol} is connected ({', '.join(instrument.venues)})")
            return Route(instrument.venue, why, f'{_BEST_PRICE}null,"venues":[{venues}]}}'), []
        venue = best[1]
        return Route(venue, None, f'{_BEST_PRICE}{self._names[venue]},"venues":[{venues}]}}'), ranked


    def _scoring_of(self, instrument: Instrument, band: Decimal | None) -> dict[str, _Scoring]:
        """Per venue of ``instrument`` that is up, for an order in the size band whose least quantity
        is ``band`` (None: below every band, or no bands): the orders TCA has seen there, its penalty
        (bps), its scores as JSON members and its size cap; worked out again only when the scores or
        the venues up changed."""
        version = self._version
        cached = self._scoring.get((instrument.symbol, band))
        if cached is not None and cached[0] == version:
            return cached[1]
        scores, up = self._scored[1], self._up
        # An order of the band's least quantity stands for the band: each venue costs what it does at
        # the size it would be sent (the order's, or its cap when less).
        quantity = _ZERO if band is None else band
        sized: dict[str, tuple[VenueCost, Decimal | None, Decimal | None]] = {}
        for venue in instrument.venues:
            if venue in up:
                cost = scores.get((venue, instrument.symbol), _NO_COST)
                cap = _size_cap(cost, instrument.lot_size)
                at_size, floor = cost.at_size(quantity if cap is None else min(quantity, cap))
                sized[venue] = (at_size, floor, cap)
        penalties = _penalties({venue: cost for venue, (cost, _, _) in sized.items()})
        scoring = {
            venue: (cost.orders, penalties[venue],
                    (f'"slippage_bps":{_json(cost.slippage_bps)},"slippage_fills":{cost.slippage_fills},'
                     f'"markout_bps":{_json(cost.markout_bps)},"markout_fills":{cost.markout_fills},'
                     f'"reject_rate":{_json(cost.reject_rate)},"orders":{cost.orders},'
                     + ('' if floor is None else f'"size_band":"{floor}",')
                     + ('' if cap is None else f'"size_cap":"{cap}",')
                     + f'"penalty_bps":"{penalties[venue]}"'),
                    cap)
            for venue, (cost, floor, cap) in sized.items()
        }
        self._scoring[(instrument.symbol, band)] = (version, scoring)  # a change meanwhile bumped the version
        return scoring


def _beyond_caps(legs: list[Leg], ranked: list[_Ranked], remaining: Decimal) -> list[Leg]:
    """An IOC order's sweep legs grown past their venues' size caps, in ranking order, up to what each
    venue displays, until ``remaining`` is placed (or nothing displayed is left)."""
    displayed = {venue: size for _, venue, _, size, _ in ranked}
    grown = []
    for leg in legs:
        more = min(remaining, (displayed[leg.venue] or _ZERO) - leg.quantity)
        if more > 0:
            leg = Leg(leg.venue, leg.quantity + more, True)
            remaining -= more
        grown.append(leg)
    return grown


@functools.cache
def _decision(policy: str, venue: str) -> str:
    """The decision of a policy with no inputs but the venue (configured venues only: bounded)."""
    return json.dumps({"policy": policy, "venue": venue})


def _json(value: Decimal | None) -> str:
    """A decimal as a JSON string (exact: never a JSON number, which readers take as a float), or null."""
    return "null" if value is None else f'"{value}"'
