"""Risk limits: per instrument, per account, per client session and firm-wide, and their config file.

Every limit is optional (``None`` turns that check off). A per-order limit may be set at the firm,
on an account and on an instrument; the tightest one set applies.
"""

from __future__ import annotations

import reprlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any

from domain.model import TradingState


class RiskConfigError(ValueError):
    """A risk config is malformed: the message names the key and the value."""


@dataclass(frozen=True, slots=True)
class OrderLimits:
    """Limits on one order and on the position in its symbol."""

    max_order_qty: Decimal | None = None
    max_order_notional: Decimal | None = None
    price_collar_pct: Decimal | None = None  # a limit price within this % of the reference price
    price_collar_ticks: int | None = None  # ... and within this many ticks of it
    max_position: Decimal | None = None  # |position + open orders on one side| per account and symbol
    allow_market_orders: bool | None = None
    check_tick_lot: bool | None = None

    def tightest(self, other: OrderLimits) -> OrderLimits:
        """Both sets at once: the smaller of two numbers, False over True, a set value over None."""
        merged: dict[str, Any] = {}
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if a is None or b is None:
                merged[f.name] = b if a is None else a
            elif isinstance(a, bool):
                merged[f.name] = a and b
            else:
                merged[f.name] = min(a, b)
        return OrderLimits(**merged)


@dataclass(frozen=True, slots=True)
class ExposureLimits:
    """Limits on everything an account (or the firm) holds and has working."""

    max_gross_notional: Decimal | None = None
    max_net_notional: Decimal | None = None
    credit_limit: Decimal | None = None  # buying power: cost of long positions + working buys
    max_daily_loss: Decimal | None = None  # realized + unrealized since the day began
    daily_loss_action: TradingState = TradingState.HALTED  # REDUCING or HALTED on breach


@dataclass(frozen=True, slots=True)
class FlowLimits:
    """Limits on the flow of orders from one client session, both judged at arrival: by when the
    client sent each order (its SendingTime), not by when the gateway got round to it."""

    max_orders_per_second: int | None = None
    # How long an order may wait between the client sending it and the gateway taking it (over the
    # least wait of the last minute, so the clocks' offset does not count). Past it, the session
    # sends faster than the gateway takes its orders: its orders are refused at once until it has
    # caught up, and while a venue answers that late, sessions sending more than their fair share.
    max_backlog_ms: int | None = None


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """Every limit fixgate enforces before an order leaves."""

    firm_orders: OrderLimits = OrderLimits()
    firm: ExposureLimits = ExposureLimits()
    flow: FlowLimits = FlowLimits()  # per session, unless the session has its own
    duplicate_window_ms: int | None = None  # same account, symbol, side, qty and price within it
    restricted_symbols: frozenset[str] = frozenset()
    instruments: Mapping[str, OrderLimits] = field(default_factory=dict)
    account_orders: Mapping[str, OrderLimits] = field(default_factory=dict)
    accounts: Mapping[str, ExposureLimits] = field(default_factory=dict)
    sessions: Mapping[str, FlowLimits] = field(default_factory=dict)  # by client CompID

    def order_limits(self, account: str, symbol: str) -> OrderLimits:
        """The per-order limits that apply to ``account`` trading ``symbol`` (tightest of the three)."""
        limits = self.firm_orders
        account_limits = self.account_orders.get(account)
        if account_limits is not None:
            limits = limits.tightest(account_limits)
        instrument_limits = self.instruments.get(symbol)
        if instrument_limits is not None:
            limits = limits.tightest(instrument_limits)
        return limits

    def account_limits(self, account: str) -> ExposureLimits:
        return self.accounts.get(account, ExposureLimits())

    def session_flow(self, comp_id: str) -> FlowLimits:
        return self.sessions.get(comp_id, self.flow)


# -- CONFIG FILE -------------------------------------------------------------------------------------

_ORDER_KEYS = {f.name for f in fields(OrderLimits)}
_EXPOSURE_KEYS = {f.name for f in fields(ExposureLimits)}
_FLOW_KEYS = {f.name for f in fields(FlowLimits)}
_TOP_KEYS = {"firm", "flow", "duplicate_window_ms", "restricted_symbols", "instruments", "accounts", "sessions"}


# Bounds on any limit: far above what a desk sets, far below what makes a number's text megabytes long
# (``1E+20000000`` is a finite Decimal) or a comparison meaningless.
MAX_LIMIT = Decimal("1e15")
MAX_PLACES = 8  # as many decimal places as a price or quantity in the book
MAX_INTEGER = 1_000_000_000  # orders per second, ticks, milliseconds


def _decimal(where: str, raw: object) -> Decimal:
    if isinstance(raw, float):
        raise RiskConfigError(f"{where} = {shown(raw)}: write it as a string or integer, not a float")
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise RiskConfigError(f"{where} = {shown(raw)} is not a number")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise RiskConfigError(f"{where} = {shown(raw)} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise RiskConfigError(f"{where} = {shown(raw)} must be a positive number")
    if value >= MAX_LIMIT or value != value.quantize(Decimal(1).scaleb(-MAX_PLACES)):
        raise RiskConfigError(f"{where} = {shown(raw)} must be below {MAX_LIMIT:f} with at most"
                              f" {MAX_PLACES} decimal places")
    return value


def _bounded_repr() -> reprlib.Repr:
    bounded = reprlib.Repr()
    bounded.maxlevel = 3
    bounded.maxstring = bounded.maxother = bounded.maxlong = 200
    return bounded


_REPR = _bounded_repr()


def shown(value: object, limit: int = 40) -> str:
    """A value as an error message shows it: its repr, at most ``limit`` characters. The value may be
    a client's, of any size or depth: the repr stops at a few levels and items, so it never recurses
    deep nor builds a long text to cut."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else f"{text[:limit]}..."


def _integer(where: str, raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw <= MAX_INTEGER:
        raise RiskConfigError(f"{where} = {shown(raw)} must be a positive integer up to {MAX_INTEGER}")
    return raw


def _boolean(where: str, raw: object) -> bool:
    if not isinstance(raw, bool):
        raise RiskConfigError(f"{where} = {shown(raw)} must be true or false")
    return raw


def _value(where: str, key: str, raw: object) -> object:
    if key in ("allow_market_orders", "check_tick_lot"):
        return _boolean(where, raw)
    if key in ("price_collar_ticks", "max_orders_per_second", "max_backlog_ms", "duplicate_window_ms"):
        return _integer(where, raw)
    if key == "daily_loss_action":
        if raw not in (TradingState.REDUCING, TradingState.HALTED):
            raise RiskConfigError(f"{where} = {shown(raw)} must be REDUCING or HALTED")
        return TradingState(str(raw))
    return _decimal(where, raw)


def _table(where: str, raw: object, allowed: set[str]) -> dict[str, object]:
    if not isinstance(raw, Mapping):
        raise RiskConfigError(f"{where}: expected a table, got {shown(raw)}")
    unknown = set(raw) - allowed
    if unknown:
        raise RiskConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(allowed)}")
    return {key: _value(f"{where}.{key}", key, value) for key, value in raw.items()}


def _split(values: dict[str, object]) -> tuple[OrderLimits, ExposureLimits]:
    orders = OrderLimits(**{k: v for k, v in values.items() if k in _ORDER_KEYS})  # type: ignore[arg-type]
    exposure = ExposureLimits(**{k: v for k, v in values.items() if k in _EXPOSURE_KEYS})  # type: ignore[arg-type]
    return orders, exposure


def risk_config_from_mapping(data: Mapping[str, Any], source: str = "risk config") -> RiskConfig:
    """Validate and build a ``RiskConfig`` from parsed TOML or JSON (the same shape)."""
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise RiskConfigError(f"{source}: unknown key(s) {sorted(unknown)}; known: {sorted(_TOP_KEYS)}")
    firm_orders, firm = _split(_table(f"{source}: firm", data.get("firm", {}), _ORDER_KEYS | _EXPOSURE_KEYS))
    flow = FlowLimits(**_table(f"{source}: flow", data.get("flow", {}), _FLOW_KEYS))  # type: ignore[arg-type]
    window = data.get("duplicate_window_ms")
    restricted = data.get("restricted_symbols", [])
    if not isinstance(restricted, list) or not all(isinstance(s, str) for s in restricted):
        raise RiskConfigError(f"{source}: restricted_symbols = {restricted!r} must be a list of symbols")
    instruments = {
        symbol: OrderLimits(**_table(f"{source}: instruments.{symbol}", table, _ORDER_KEYS))  # type: ignore[arg-type]
        for symbol, table in _table_of_tables(source, data, "instruments").items()
    }
    account_orders: dict[str, OrderLimits] = {}
    accounts: dict[str, ExposureLimits] = {}
    for account, table in _table_of_tables(source, data, "accounts").items():
        orders, exposure = _split(_table(f"{source}: accounts.{account}", table, _ORDER_KEYS | _EXPOSURE_KEYS))
        account_orders[account], accounts[account] = orders, exposure
    sessions = {
        comp_id: FlowLimits(**_table(f"{source}: sessions.{comp_id}", table, _FLOW_KEYS))  # type: ignore[arg-type]
        for comp_id, table in _table_of_tables(source, data, "sessions").items()
    }
    return RiskConfig(
        firm_orders=firm_orders,
        firm=firm,
        flow=flow,
        duplicate_window_ms=None if window is None else _integer(f"{source}: duplicate_window_ms", window),
        restricted_symbols=frozenset(restricted),
        instruments=instruments,
        account_orders=account_orders,
        accounts=accounts,
        sessions=sessions,
    )


def _table_of_tables(source: str, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise RiskConfigError(f"{source}: {key} must be a table of tables")
    return value


def load_risk_config(path: Path) -> RiskConfig:
    """Read limits from a TOML file (see config/risk.toml for every key)."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return risk_config_from_mapping(data, str(path))


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, StrEnum):
        return value.value
    return value


def _limits_dict(*limits: OrderLimits | ExposureLimits | FlowLimits) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in limits:
        for f in fields(item):
            value = getattr(item, f.name)
            # The action means something only with a daily loss limit; leave the default out alone.
            if value is None or (isinstance(item, ExposureLimits) and f.name == "daily_loss_action"
                                 and item.max_daily_loss is None):
                continue
            out[f.name] = _plain(value)
    return out


def risk_config_to_mapping(config: RiskConfig) -> dict[str, Any]:
    """The inverse of ``risk_config_from_mapping``: JSON-ready, decimals as strings."""
    out: dict[str, Any] = {
        "firm": _limits_dict(config.firm_orders, config.firm),
        "flow": _limits_dict(config.flow),
        "restricted_symbols": sorted(config.restricted_symbols),
        "instruments": {s: _limits_dict(limits) for s, limits in sorted(config.instruments.items())},
        "accounts": {
            a: _limits_dict(config.account_orders.get(a, OrderLimits()), config.accounts.get(a, ExposureLimits()))
            for a in sorted(set(config.accounts) | set(config.account_orders))
        },
        "sessions": {c: _limits_dict(limits) for c, limits in sorted(config.sessions.items())},
    }
    if config.duplicate_window_ms is not None:
        out["duplicate_window_ms"] = config.duplicate_window_ms
    return out


__all__ = [
    "ExposureLimits",
    "FlowLimits",
    "OrderLimits",
    "RiskConfig",
    "RiskConfigError",
    "TradingState",
    "load_risk_config",
    "risk_config_from_mapping",
    "risk_config_to_mapping",
    "shown",
]
