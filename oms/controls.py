"""Operators' controls beside the OMS: the kill switch, its resume, and cancelling one order.

What an operator does over REST acts on risk (halts and states) and on the OMS (the orders of a scope),
in that order, and its effects go out through the same dispatcher as every other OMS call's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

from domain.model import CancelRejectReason, Carried, Control, Effect, Halt, Refusal, VenueChange
from oms.manager import OrderManager

log = logging.getLogger(__name__)


class Halts(Protocol):
    """Risk's kill switches (``risk.PreTradeRisk``)."""

    def kill(self, scope: str, value: str, by: str, reason: str) -> Halt: ...

    def resume(self, scope: str, value: str, by: str) -> Halt | None: ...


H = TypeVar("H", bound=Halts)

# Carries out effects (``gateway.dispatch.Dispatcher.carry_out``).
Dispatch = Callable[[Sequence[Effect]], Carried]


class TradingControls(Generic[H]):
    """The kill switch, resume and an operator's cancel, over the OMS and ``risk``."""

    def __init__(self, oms: OrderManager, risk: H, dispatch: Dispatch,
                 record: Callable[[Sequence[Control]], None] | None = None) -> None:
        self._oms = oms
        self.risk = risk  # read by the REST API too (limits, status)
        self._dispatch = dispatch
        self._record = record  # the journal's append: kills and resumes become events

    def kill(self, scope: str, value: str, by: str, reason: str) -> tuple[Halt, int]:
        """Halt new orders in a scope (firm, account, session = client CompID, symbol), then cancel
        every working order in it at its venue. The halt comes first, so no order of the scope is
        accepted once the sweep has begun; one that passed its check just before and is still on its
        way to the venue (PENDING_NEW) gets its cancel when the venue acknowledges it, so the cancel
        cannot overtake it on the wire. Returns the halt and how many cancels were sent now."""
        halt = self.risk.kill(scope, value, by, reason)
        value = halt.value
        if self._record is not None:
            self._record((Control("KILL", scope, value, by, halt.at_ns, reason),))
        effects = self._oms.cancel_orders(
            account=value if scope == "account" else None,
            comp_id=value if scope == "session" else None,
            symbol=value if scope == "symbol" else None,
            defer_unacknowledged=True,
        )
        sent = self._dispatch(effects).sent
        log.warning("kill switch %s %s by %s: %d of %d cancels sent", scope, value or "-", by, sent,
                    sum(isinstance(e, VenueChange) for e in effects))
        return halt, sent

    def resume(self, scope: str, value: str, by: str) -> Halt | None:
        """Lift a kill switch (and a state the daily loss limit set in that scope); the halt lifted."""
        lifted = self.risk.resume(scope, value, by)
        if lifted is not None and self._record is not None:
            self._record((Control("RESUME", scope, value, by, time.time_ns()),))
        return lifted

    def cancel_order(self, order_id: int) -> Refusal | None:
        """An operator's cancel of one order: ``None`` when the request went to the venue, else why not."""
        effects = self._oms.cancel_order(order_id)
        if isinstance(effects, Refusal):
            return effects
        carried = self._dispatch(effects)
        return Refusal(CancelRejectReason.OTHER, carried.failed[0]) if carried.failed else None

    def oms_counters(self) -> dict[str, int]:
        """The OMS's counters since start (``GET /metrics/oms``: ``OrderManager.counters``)."""
        return self._oms.counter_values()
