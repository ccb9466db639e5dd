"""The pre-trade check: returns ``None`` to pass or a reason naming the limit and the values."""

from __future__ import annotations

from collections.abc import Mapping

from oms.model import Instrument, NewOrder, OrdType
from risk.limits import RiskConfig


class PreTradeRisk:
    """Pure, in-memory, O(1) checks of one order against its instrument's limits."""

    def __init__(self, instruments: Mapping[str, Instrument], config: RiskConfig) -> None:
        self._instruments = instruments
        self._config = config

    def check(self, order: NewOrder) -> str | None:
        """Return ``None`` when the order may go to its venue, else why it may not."""
        instrument = self._instruments.get(order.symbol)
        if instrument is None:
            return f"unknown symbol {order.symbol}"
        if order.quantity <= 0:
            return f"order qty {order.quantity} must be positive"
        limits = self._config.for_symbol(order.symbol)
        if limits.max_order_qty is not None and order.quantity > limits.max_order_qty:
            return f"order qty {order.quantity} > max {limits.max_order_qty} for {order.symbol}"
        if limits.max_order_notional is not None:
            # A market order has no price of its own: value it at the reference price.
            price = order.price if order.ord_type is OrdType.LIMIT and order.price is not None \
                else instrument.reference_price
            notional = order.quantity * price
            if notional > limits.max_order_notional:
                return (
                    f"order notional {notional} > max {limits.max_order_notional} for {order.symbol}"
                    f" ({order.quantity} @ {price})"
                )
        return None
