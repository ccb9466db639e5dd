"""The measures of transaction cost analysis: pure functions of Decimals, no I/O.

Sign conventions (one for every measure, so a number reads the same everywhere): **positive is a
cost**, for buys and sells alike. ``side`` is +1 for a buy and -1 for a sell; a basis point (bps) is
1/10,000 of the price the measure is taken against.

- slippage: ``side * (fill price - arrival mid) / arrival mid`` in bps. A buy above the arrival mid,
  or a sell below it, is a positive (a cost).
- effective spread: ``2 * side * (fill price - mid at the fill)``, in price and in bps of that mid:
  what a round trip at this fill's distance from the mid costs. Positive when the fill is on the far
  side of the mid (the normal case for a taker).
- markout at horizon h: ``side * (fill price - mid at fill time + h) / fill price`` in bps. Positive
  means the price moved against us after the fill: a buy whose mid h later is below what we paid, a
  sell whose mid is above what we got. It includes the half spread paid at the fill; a venue whose
  prices move against its takers after their fills (informed flow) shows markouts that grow with h.
- implementation shortfall of an order (Perold): what the fills cost against the arrival mid, plus
  the fees, plus the opportunity cost of the part not filled: ``side * unfilled * (end mid - arrival
  mid)``, where the end mid is the mid when the order ended (or now, for one still working). In money,
  and in bps of the order's paper notional (``quantity * arrival mid``).

The consolidated mid of a symbol is the mid of the best bid over all venues and the best offer over
all venues (each venue's top of book as its market data last said). When only one side is quoted
anywhere, or the best bid is at or above the best offer (a crossed or locked consolidated book,
which a mid would misstate), there is no mid and measures that need one are left empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

BPS = Decimal(10_000)
TWO = Decimal(2)
ZERO = Decimal(0)
BPS_PLACES = Decimal("0.0001")  # measures in bps are kept to 1/10,000 of a basis point
HORIZONS_S: tuple[int, ...] = (1, 5, 30, 60)
"""Markout horizons, seconds after the fill."""


def side_sign(side: str) -> int:
    """+1 for ``BUY``, -1 for ``SELL``."""
    if side == "BUY":
        return 1
    if side == "SELL":
        return -1
    raise ValueError(f"side {side!r}: BUY or SELL")


def bps(amount: Decimal, of: Decimal) -> Decimal:
    """``amount`` in basis points of ``of``, to 1/10,000 bps."""
    return (amount / of * BPS).quantize(BPS_PLACES)


@dataclass(frozen=True, slots=True)
class TopQuote:
    """One venue's best bid and offer of a symbol (either may be missing)."""

    bid: Decimal | None
    offer: Decimal | None


def consolidated_mid(quotes: Iterable[TopQuote]) -> Decimal | None:
    """The mid of the best bid and best offer over all venues; ``None`` when a side is missing or the
    consolidated book is locked or crossed."""
    bids = [q.bid for q in quotes if q.bid is not None]
    offers = [q.offer for q in quotes if q.offer is not None]
    if not bids or not offers:
        return None
    best_bid, best_offer = max(bids), min(offers)
    if best_bid >= best_offer:
        return None
    return (best_bid + best_offer) / TWO


def slippage_bps(side: str, price: Decimal, arrival_mid: Decimal) -> Decimal:
    """Slippage of a fill at ``price`` against the arrival mid, in bps; positive is a cost."""
    return bps(side_sign(side) * (price - arrival_mid), arrival_mid)


def effective_spread(side: str, price: Decimal, mid: Decimal) -> Decimal:
    """Effective spread of a fill in price: twice its signed distance from the mid at the fill."""
    return TWO * side_sign(side) * (price - mid)


def markout_bps(side: str, price: Decimal, later_mid: Decimal) -> Decimal:
    """Markout of a fill at ``price`` against the mid some time later, in bps of the fill price;
    positive means the price moved against us."""
    return bps(side_sign(side) * (price - later_mid), price)


@dataclass(frozen=True, slots=True)
class Shortfall:
    """An order's implementation shortfall, in money and in bps of its paper notional."""

    execution_cost: Decimal  # the fills against the arrival mid
    fees: Decimal
    opportunity_cost: Decimal  # the unfilled part, from the arrival mid to the end mid
    total: Decimal
    total_bps: Decimal


def implementation_shortfall(
    side: str, quantity: Decimal, filled: Decimal, fill_notional: Decimal, fees: Decimal,
    arrival_mid: Decimal, end_mid: Decimal | None,
) -> Shortfall:
    """Implementation shortfall of an order of ``quantity`` of which ``filled`` filled for
    ``fill_notional`` (the sum of quantity x price over its fills). Without an end mid the unfilled part
    costs nothing (no price to measure it against)."""
    sign = side_sign(side)
    execution = sign * (fill_notional - filled * arrival_mid)
    unfilled = max(quantity - filled, ZERO)
    opportunity = ZERO if end_mid is None else sign * unfilled * (end_mid - arrival_mid)
    total = execution + fees + opportunity
    return Shortfall(execution, fees, opportunity, total, bps(total, quantity * arrival_mid))


def fill_rate(filled: Decimal, quantity: Decimal) -> Decimal:
    """The share of an order's quantity that filled, 0..1."""
    return ZERO if quantity <= 0 else filled / quantity


SIZE_BUCKETS: tuple[tuple[Decimal, str], ...] = (
    (Decimal(100), "1-99"),
    (Decimal(1_000), "100-999"),
    (Decimal(10_000), "1000-9999"),
)
LARGEST_BUCKET = "10000+"
ALL = "*"  # a score's symbol or size bucket when it covers all of them
BUCKET_FLOORS: dict[str, Decimal] = {
    name: floor for (name, floor) in zip(
        [name for _, name in SIZE_BUCKETS] + [LARGEST_BUCKET], [Decimal(0)] + [bound for bound, _ in SIZE_BUCKETS],
        strict=True)
}
"""Each size bucket's least quantity (the first's 0: any size below the next)."""


def size_bucket(quantity: Decimal) -> str:
    """The size bucket of an order's quantity: 1-99, 100-999, 1000-9999, 10000+."""
    for bound, name in SIZE_BUCKETS:
        if quantity < bound:
            return name
    return LARGEST_BUCKET


# -- SCORES ------------------------------------------------------------------------------------------

HALF_LIFE = 50
"""Observations after which one counts half as much in a score: a venue's score follows its last
hundred or so fills (or orders), and a venue that turns bad shows it within tens."""


def decay(half_life: int) -> Decimal:
    """The weight an observation keeps at each newer one: 0.5 ** (1 / half_life)."""
    if half_life < 1:
        raise ValueError(f"half life {half_life}: at least 1 observation")
    return Decimal("0.5") ** (Decimal(1) / Decimal(half_life))


@dataclass(frozen=True, slots=True)
class EwMean:
    """An exponentially weighted mean: ``weighted`` sum of observations and ``weight`` their weights,
    each observation's weight halving every ``HALF_LIFE`` newer ones. Its value is the ratio, so the
    first observation is the mean itself (no start value drags it)."""

    weighted: Decimal = ZERO
    weight: Decimal = ZERO
    count: int = 0

    def add(self, value: Decimal, keep: Decimal) -> EwMean:
        """With one more observation; ``keep`` is :func:`decay` of the half-life."""
        return EwMean(self.weighted * keep + value, self.weight * keep + 1, self.count + 1)

    @property
    def value(self) -> Decimal | None:
        return None if self.weight == 0 else self.weighted / self.weight


METRICS: tuple[str, ...] = ("slippage_bps", "markout_bps", "reject_rate", "fill_rate")
"""What a venue is scored on: slippage of its fills (bps), their markout at ``SCORED_HORIZON_S``
(bps), and per order sent there, whether it rejected it (0 or 1) and the share that filled."""
SCORED_HORIZON_S = 5


@dataclass(frozen=True, slots=True)
class ScoreKey:
    """Whose score: a venue, overall (symbol and size bucket ``*``), per symbol, or per symbol and size."""

    venue: str
    symbol: str = ALL
    size_bucket: str = ALL


def score_keys(venue: str, symbol: str, quantity: Decimal) -> tuple[ScoreKey, ...]:
    """The three scores an observation of an order of ``quantity`` at ``venue`` counts in."""
    return (ScoreKey(venue), ScoreKey(venue, symbol), ScoreKey(venue, symbol, size_bucket(quantity)))


@dataclass(frozen=True, slots=True)
class VenueScore:
    """The exponentially weighted scores of one venue (or one of its symbols, or sizes)."""

    key: ScoreKey
    means: Mapping[str, EwMean]  # by metric (``METRICS``)
    updated_ns: int

    def value(self, metric: str) -> Decimal | None:
        mean = self.means.get(metric)
        return None if mean is None else mean.value

    def observe(self, metric: str, value: Decimal, keep: Decimal, now_ns: int) -> VenueScore:
        means = dict(self.means)
        means[metric] = means.get(metric, EwMean()).add(value, keep)
        return VenueScore(self.key, means, max(self.updated_ns, now_ns))
