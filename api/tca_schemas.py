"""Response bodies of the TCA endpoints (``tca.measures`` defines each measure and its sign: positive
is a cost). Decimals are JSON strings of exact decimals; a measure is ``null`` when there was no
consolidated mid to take it against, or (a markout) it is not due yet."""

from __future__ import annotations

from datetime import datetime

from api.schemas import DecimalString, _Schema


class TcaMarkout(_Schema):
    """A fill's markout at one horizon: the consolidated mid then, and the markout in bps of the fill
    price (positive: the price moved against us). ``settled``: false until it is due."""

    horizon_s: int
    mid: DecimalString | None
    markout_bps: DecimalString | None
    settled: bool


class TcaFill(_Schema):
    """What one fill cost."""

    exec_id: str
    venue: str
    quantity: DecimalString
    price: DecimalString
    fee: DecimalString | None  # Commission (12), when the venue reported it
    fill_ns: int
    fill_at: datetime
    arrival_mid: DecimalString | None
    slippage_bps: DecimalString | None
    mid_at_fill: DecimalString | None
    effective_spread: DecimalString | None
    effective_spread_bps: DecimalString | None
    markouts: list[TcaMarkout]


class TcaOrder(_Schema):
    """What one order cost: implementation shortfall (fills against the arrival mid, fees, and the
    unfilled part from the arrival mid to the end mid), fill rate, time to complete, venues used; and
    each of its fills. The order-level measures are ``null`` while it works."""

    order_id: int
    symbol: str
    side: str
    account: str
    venue: str
    quantity: DecimalString
    status: str
    created_at: datetime
    arrival_mid: DecimalString | None
    filled_qty: DecimalString
    avg_price: DecimalString | None
    fees: DecimalString
    venues: list[str]
    ended_ns: int | None
    end_mid: DecimalString | None
    execution_cost: DecimalString | None
    opportunity_cost: DecimalString | None
    shortfall: DecimalString | None
    shortfall_bps: DecimalString | None
    fill_rate: DecimalString | None
    time_to_complete_ns: int | None
    venue_rejected: bool
    fills: list[TcaFill]


class TcaVenueScore(_Schema):
    """A venue's exponentially weighted scores (overall: ``symbol`` and ``size_bucket`` "*"; or one
    symbol; or one symbol and order size). Each observation's weight halves every ``half_life`` newer
    ones; ``*_count``: how many observations went in. ``instance``: the gateway instance whose TCA process
    measured them."""

    instance: str
    venue: str
    symbol: str
    size_bucket: str
    slippage_bps: DecimalString | None
    markout_bps: DecimalString | None  # at 5 s
    reject_rate: DecimalString | None
    fill_rate: DecimalString | None
    slippage_bps_count: int
    markout_bps_count: int
    reject_rate_count: int
    fill_rate_count: int
    half_life: int
    updated_ns: int


class TcaVenueSummary(_Schema):
    """One venue's fills and orders in the window: fills by fill time, orders by arrival (ended ones)."""

    venue: str
    fills: int
    quantity: DecimalString
    notional: DecimalString
    fees: DecimalString | None
    slippage_bps: DecimalString | None  # quantity-weighted mean
    effective_spread_bps: DecimalString | None
    markout_1s_bps: DecimalString | None
    markout_5s_bps: DecimalString | None
    markout_30s_bps: DecimalString | None
    markout_60s_bps: DecimalString | None
    orders: int
    rejected: int
    shortfall: DecimalString | None  # the sum, in money
    shortfall_bps: DecimalString | None  # mean weighted by paper notional
    fill_rate: DecimalString | None  # filled quantity / ordered quantity
    time_to_complete_ns: int | None  # mean


class TcaSummary(_Schema):
    """Transaction cost per venue over a window, for a symbol or venue if asked."""

    from_ns: int | None
    to_ns: int | None
    symbol: str | None
    venue: str | None
    venues: list[TcaVenueSummary]
