"""Risk limits and their config file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any


class RiskConfigError(ValueError):
    """The risk config file is malformed: the message names the key and the value."""


@dataclass(frozen=True, slots=True)
class InstrumentLimits:
    """Per-order limits of one instrument; ``None`` turns a check off."""

    max_order_qty: Decimal | None = None
    max_order_notional: Decimal | None = None


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """All limits: per instrument, with a default for instruments not listed."""

    default: InstrumentLimits = InstrumentLimits()
    instruments: dict[str, InstrumentLimits] = field(default_factory=dict)

    def for_symbol(self, symbol: str) -> InstrumentLimits:
        return self.instruments.get(symbol, self.default)


_KEYS = ("max_order_qty", "max_order_notional")


def _limits(where: str, table: dict[str, Any]) -> InstrumentLimits:
    unknown = set(table) - set(_KEYS)
    if unknown:
        raise RiskConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known: {list(_KEYS)}")
    values: dict[str, Decimal] = {}
    for key in _KEYS:
        if key not in table:
            continue
        raw = table[key]
        if isinstance(raw, float):
            raise RiskConfigError(f"{where}.{key} = {raw!r}: write it as a string or integer, not a float")
        try:
            value = Decimal(str(raw))
        except InvalidOperation:
            raise RiskConfigError(f"{where}.{key} = {raw!r} is not a number") from None
        if not value.is_finite() or value <= 0:
            raise RiskConfigError(f"{where}.{key} = {raw!r} must be a positive number")
        values[key] = value
    return InstrumentLimits(**values)


def load_risk_config(path: Path) -> RiskConfig:
    """Read limits from a TOML file with ``[default]`` and ``[instruments.SYMBOL]`` tables."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    unknown = set(data) - {"default", "instruments"}
    if unknown:
        raise RiskConfigError(f"{path}: unknown table(s) {sorted(unknown)}")
    default = _limits(f"{path}: default", data.get("default", {}))
    instruments = {
        symbol: _limits(f"{path}: instruments.{symbol}", table)
        for symbol, table in data.get("instruments", {}).items()
    }
    return RiskConfig(default=default, instruments=instruments)
