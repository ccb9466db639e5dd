"""Pre-trade risk: pure checks on an in-memory view of exposure. Never imports quickfix."""

from domain.model import Breach, Halt, TradingState
from risk.checks import PreTradeRisk
from risk.limits import (
    ExposureLimits,
    FlowLimits,
    OrderLimits,
    RiskConfig,
    RiskConfigError,
    load_risk_config,
    risk_config_from_mapping,
    risk_config_to_mapping,
)

__all__ = [
    "Breach",
    "ExposureLimits",
    "FlowLimits",
    "Halt",
    "OrderLimits",
    "PreTradeRisk",
    "RiskConfig",
    "RiskConfigError",
    "TradingState",
    "load_risk_config",
    "risk_config_from_mapping",
    "risk_config_to_mapping",
]
