"""Pre-trade risk: pure checks on an in-memory view. Never imports quickfix."""

from risk.checks import PreTradeRisk
from risk.limits import InstrumentLimits, RiskConfig, load_risk_config

__all__ = ["InstrumentLimits", "PreTradeRisk", "RiskConfig", "load_risk_config"]
