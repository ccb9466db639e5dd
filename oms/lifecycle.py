"""The order lifecycle as one transition table over FIX OrdStatus."""

from __future__ import annotations

from domain.model import OrderStatus as S


class IllegalTransition(Exception):
    """A report would move an order between two states the lifecycle does not connect."""

    def __init__(self, order_id: int, current: S, reported: S) -> None:
        super().__init__(f"order {order_id}: illegal transition {current} -> {reported}")
        self.order_id = order_id
        self.current = current
        self.reported = reported


_WORKING = {S.NEW, S.PARTIALLY_FILLED}
_FILLING = {S.PARTIALLY_FILLED, S.FILLED}
_ENDING = {S.CANCELED, S.EXPIRED, S.DONE_FOR_DAY}

# from status -> the statuses it may move to. A status missing as a key is final. An order keeps its
# identity through a replace (its ClOrdID chain grows), so REPLACED is never an order's own status:
# a venue's OrdStatus=5 is read as the working status the replaced order has.
TRANSITIONS: dict[S, frozenset[S]] = {
    S.PENDING_NEW: frozenset({S.PENDING_NEW, S.NEW, S.REJECTED, S.PENDING_CANCEL} | _FILLING | _ENDING),
    S.NEW: frozenset({S.NEW, S.PENDING_CANCEL, S.PENDING_REPLACE} | _FILLING | _ENDING),
    S.PARTIALLY_FILLED: frozenset({S.PENDING_CANCEL, S.PENDING_REPLACE} | _FILLING | _ENDING),
    # A cancel or replace may be refused (back to working), overtaken by fills, or succeed; one
    # asked for before the venue's ack may meet the order's own rejection, which ends it.
    S.PENDING_CANCEL: frozenset({S.PENDING_CANCEL, S.CANCELED, S.REJECTED} | _WORKING | _FILLING | _ENDING),
    S.PENDING_REPLACE: frozenset({S.PENDING_REPLACE, S.REJECTED} | _WORKING | _FILLING | _ENDING),
    # DoneForDay: a GTC order can come back the next day (and fill, in full too), or end.
    S.DONE_FOR_DAY: frozenset(
        {S.DONE_FOR_DAY, S.NEW, S.PENDING_CANCEL, S.CANCELED, S.EXPIRED} | _FILLING
    ),
}

# Moves only fixgate's own request bookkeeping makes, never a venue's report: a replace asked before
# the venue's ack or of a GTC order done for the day; a cancel chained on a pending replace (and
# undone when it fails); a request that fails before the venue acknowledged the order.
REQUEST_MOVES: dict[S, frozenset[S]] = {
    S.PENDING_NEW: frozenset({S.PENDING_REPLACE}),
    S.DONE_FOR_DAY: frozenset({S.PENDING_REPLACE}),
    S.PENDING_REPLACE: frozenset({S.PENDING_CANCEL, S.PENDING_NEW}),
    S.PENDING_CANCEL: frozenset({S.PENDING_REPLACE, S.PENDING_NEW}),
}


def allowed(current: S, new: S, *, request: bool = False) -> bool:
    """Whether the table allows ``current -> new`` (``request``: a move of a request's own)."""
    if new in TRANSITIONS.get(current, frozenset()):
        return True
    return request and new in REQUEST_MOVES.get(current, frozenset())


def check_transition(order_id: int, current: S, reported: S, *, request: bool = False) -> None:
    """Raise ``IllegalTransition`` unless the table allows ``current -> reported``."""
    if not allowed(current, reported, request=request):
        raise IllegalTransition(order_id, current, reported)
