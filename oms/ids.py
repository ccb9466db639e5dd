"""Order ids that never repeat, across restarts and whatever the book lost."""

from __future__ import annotations

from collections.abc import Callable

ORDER_ID_BLOCK = 1000  # ids reserved per durable write: one write per this many orders


def _nowhere(limit: int) -> None:
    """No durable reservation (tests, benchmarks that start from an empty book each time)."""


class OrderIds:
    """Hands out order ids from blocks reserved durably before their first id is used.

    ``reserve(limit)`` must make "no id below ``limit`` is free" survive the process (see
    ``book.order_ids``) before it returns; an id is only handed out below the last limit reserved.
    A restart starts at the reserved limit, so an order the book lacks (a record the writer set aside,
    a row deleted) can never have its id, nor its venue ClOrdID ``FG<id>``, given again. A restart
    skips the rest of its block: ids are unique and increasing, not dense. Not thread-safe: the OMS
    calls it under its lock."""

    def __init__(self, start: int = 1, reserve: Callable[[int], None] = _nowhere,
                 block: int = ORDER_ID_BLOCK, *, slot: int = 0, slots: int = 1) -> None:
        if start < 1 or block < 1:
            raise ValueError(f"order ids start at {start} in blocks of {block}: both must be at least 1")
        if not 0 <= slot < slots:
            raise ValueError(f"order id slot {slot} of {slots}: must be at least 0 and below {slots}")
        self._next = start
        self._limit = start  # nothing reserved by this process yet
        self._reserve = reserve
        self._block = block
        # Instances sharing one book each take the ids equal to their slot modulo the slots, so
        # their ids (and venue ClOrdIDs) never collide without asking each other (docs/SCALING.md).
        self._slot = slot
        self._slots = slots

    def take(self) -> int:
        """The next order id, reserving a new block first when this one is used up."""
        order_id = self._next + (self._slot - self._next) % self._slots
        if order_id >= self._limit:
            # Reserve first: an id handed out before its reservation is durable could come again.
            limit = order_id + self._block * self._slots
            self._reserve(limit)
            self._limit = limit
        self._next = order_id + 1
        return order_id

    def above(self, order_id: int) -> None:
        """Never hand out ``order_id`` or below (an order restored from the book)."""
        self._next = max(self._next, order_id + 1)

    @property
    def next(self) -> int:
        """The id :meth:`take` gives next."""
        return self._next + (self._slot - self._next) % self._slots
