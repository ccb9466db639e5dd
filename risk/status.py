"""What ``GET /risk/status`` shows: states, kill switches, each exposure limit's utilization, denials.

Read from another thread than the one the checks run on (the REST server's), without the OMS lock:
every collection is copied in one C-level call before it is walked, so a concurrent order or fill
can make a number one update old but never break the walk. Nothing here writes to the view.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from domain.model import Halt, TradingState
from risk.checks import CHECKS, PreTradeRisk, client_comp_id
from risk.exposure import ZERO, Totals
from risk.limits import ExposureLimits

_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class LimitUse:
    """One exposure limit: how much of it is used (``percent`` = used / limit x 100, 2 places)."""

    limit: str
    used: Decimal
    max: Decimal
    percent: Decimal


@dataclass(frozen=True, slots=True)
class ExposureUse:
    """An account's (``account=None``: the firm's) exposure now, and the use of each limit set on it.

    ``worst_case_net_notional`` is what ``max_net_notional`` is checked against: the net notional if
    every working order on the heavier side filled. ``daily_loss`` is ``max(-daily_pnl, 0)``.
    """

    account: str | None
    state: TradingState
    gross_notional: Decimal
    net_notional: Decimal
    worst_case_net_notional: Decimal
    credit_used: Decimal
    daily_pnl: Decimal
    limits: tuple[LimitUse, ...]


@dataclass(frozen=True, slots=True)
class PositionUse:
    """``max_position`` of one account in one symbol: the worst-case position (every working order on
    the heavier side filled, as the check counts it) against the limit."""

    account: str
    symbol: str
    position: Decimal
    worst_case: Decimal
    max: Decimal
    percent: Decimal


@dataclass(frozen=True, slots=True)
class RateUse:
    """``max_orders_per_second`` of one client session: the orders of the last second against it."""

    session: str
    orders_last_second: int
    max: int
    percent: Decimal


@dataclass(frozen=True, slots=True)
class RiskStatus:
    """Everything the risk interceptor holds that an operator wants to see at once."""

    firm: ExposureUse
    accounts: tuple[ExposureUse, ...]  # every account with exposure limits, by name
    account_states: dict[str, TradingState]  # accounts not ACTIVE
    halts: tuple[Halt, ...]  # kill switches in force, oldest first
    rejections: dict[str, int]  # denials per check name since start, every check (0 for none)
    positions: tuple[PositionUse, ...] = ()  # exposed (account, symbol) pairs with a max_position
    order_rates: tuple[RateUse, ...] = ()  # sessions with an order rate limit that sent orders


def risk_status(risk: PreTradeRisk) -> RiskStatus:
    """A snapshot of ``risk`` for operators."""
    config = risk.config
    view = risk.view
    states = dict(risk.account_states)
    # Past UTC midnight with no fill yet, the view has not started the new day (the first fill
    # does): nothing is realized today yet.
    new_day = risk.wall_clock_ns() >= view.day_end_ns
    accounts = tuple(
        _use(account, states.get(account, TradingState.ACTIVE), view.accounts.get(account),
             view.daily_pnl(account, day_ended=new_day), limits)
        for account, limits in sorted(config.accounts.items())
        if _has_limits(limits)
    )
    firm = _use(None, risk.firm_state, view.firm, view.daily_pnl(None, day_ended=new_day), config.firm)
    halts = tuple(sorted(risk.halts.values(), key=lambda h: h.at_ns))  # copied in C first
    rejections = {name: 0 for name in CHECKS} | dict(risk.rejections)
    positions = []
    for (account, symbol), e in sorted(dict(view.symbols).items()):
        limit = config.order_limits(account, symbol).max_position
        if limit is None or (e.position == 0 and e.open_buy_qty == 0 and e.open_sell_qty == 0):
            continue
        worst = max(abs(e.position + e.open_buy_qty), abs(e.position - e.open_sell_qty))
        positions.append(PositionUse(account, symbol, e.position, worst, limit, _percent(worst, limit)))
    rates = []
    for session, count in sorted(risk.orders_in_last_second().items()):
        most = config.session_flow(client_comp_id(session)).max_orders_per_second
        if most is not None:
            rates.append(RateUse(session, count, most, _percent(Decimal(count), Decimal(most))))
    return RiskStatus(firm, accounts, states, halts, rejections, tuple(positions), tuple(rates))


def _percent(used: Decimal, limit: Decimal) -> Decimal:
    return (used * _HUNDRED / limit).quantize(_CENT, ROUND_HALF_UP)


def _has_limits(limits: ExposureLimits) -> bool:
    return any(v is not None for v in (limits.max_gross_notional, limits.max_net_notional,
                                       limits.credit_limit, limits.max_daily_loss))


def _use(account: str | None, state: TradingState, totals: Totals | None, daily_pnl: Decimal,
         limits: ExposureLimits) -> ExposureUse:
    t = totals or Totals()
    net = t.position_net
    worst_net = max(abs(net + t.open_buy_notional), abs(net - t.open_sell_notional))
    uses = []
    for name, used, limit in (
        ("max_gross_notional", t.gross, limits.max_gross_notional),
        ("max_net_notional", worst_net, limits.max_net_notional),
        ("credit_limit", t.credit_used, limits.credit_limit),
        ("max_daily_loss", max(-daily_pnl, ZERO), limits.max_daily_loss),
    ):
        if limit is not None:
            uses.append(LimitUse(name, used, limit, _percent(used, limit)))
    return ExposureUse(account, state, t.gross, net, worst_net, t.credit_used, daily_pnl, tuple(uses))


__all__ = ["ExposureUse", "LimitUse", "PositionUse", "RateUse", "RiskStatus", "risk_status"]
