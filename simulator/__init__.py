"""fixgate's venue simulator: a FIX 4.2/4.4 exchange with price-time-priority order books.

``simulator.matching`` is the pure matching engine; ``simulator.venue`` puts it behind a QuickFIX
acceptor. Start one in-process with ``Simulator(config, data_dir, port=...)``; read what it did from
``Simulator.record``.
"""

from typing import TYPE_CHECKING

from simulator.config import (
    ConfigError,
    LiquidityConfig,
    SimInstrument,
    SimulatorConfig,
    VenueConfig,
    load_config,
)
from simulator.matching import SEED_OWNER, Fill, OrderStatus, OrderView

if TYPE_CHECKING:
    from simulator.venue import Simulator, SimulatorError, SimulatorRecord, Venue

_VENUE_NAMES = {"Simulator", "SimulatorError", "SimulatorRecord", "Venue"}


def __getattr__(name: str) -> object:
    # Lazy: importing the pure parts (simulator.matching, simulator.config) must not load quickfix.
    if name in _VENUE_NAMES:
        from simulator import venue

        return getattr(venue, name)
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")


__all__ = [
    "SEED_OWNER",
    "ConfigError",
    "Fill",
    "LiquidityConfig",
    "OrderStatus",
    "OrderView",
    "SimInstrument",
    "Simulator",
    "SimulatorConfig",
    "SimulatorError",
    "SimulatorRecord",
    "Venue",
    "VenueConfig",
    "load_config",
]
