"""The venue's durable record: every client order and fill, and the venue's side of each, as JSON lines.

One append-only file per venue (``<data-dir>/<venue>/record.jsonl``), one JSON object per line:
``{"type": "order", ...}`` each time an order changes (the latest line of an ``order_id`` is its
state) and ``{"type": "fill", ...}`` for each fill. A restarted venue reads the file back, so the
record covers every run; its books start empty, so orders of an earlier run that were still open
show their last state (with their ``run``).

What it holds: every state of every client order (rejected ones too) and every client fill; and, for
each trade between a client and the venue's own participants (seeded liquidity, market maker,
takers), the participant's fill and the participant order's state after it (``venue_participant``
true, ``client`` the participant's owner, e.g. ``SIM-LIQUIDITY``). Not in it: participant orders that
never traded with a client, and trades among participants: the living market would grow the record
without bound, and no client can disagree with them.

Decimals are written as strings. A line is appended and flushed before the FIX reports of the same
engine call are sent, so the record never lacks a fill a client was told about (short of an OS crash:
like QuickFIX's FileStore, it does not fsync).
"""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from simulator.matching import Fill, OrderView

__all__ = ["VenueJournal", "client_comp_id", "fill_entry", "is_client", "order_entry"]


def is_client(owner: str) -> bool:
    """Whether an owner is a FIX session (``FIX.4.4:SIM->CLIENT1``) rather than the venue's own trader."""
    return "->" in owner


def client_comp_id(owner: str) -> str:
    """The client's CompID of a session-string owner (what follows the arrow)."""
    return owner.rpartition("->")[2]


def _dec(value: object) -> str | None:
    return None if value is None else str(value)


def order_entry(order: OrderView, run: str) -> dict[str, Any]:
    """The JSON object of one order state."""
    return {
        "type": "order",
        "run": run,
        "order_id": order.order_id,
        "client": client_comp_id(order.owner),
        "session": order.owner,
        "venue_participant": not is_client(order.owner),
        "cl_ord_id": order.cl_ord_id,
        "orig_cl_ord_id": order.orig_cl_ord_id,
        "cl_ord_ids": list(order.cl_ord_ids),
        "symbol": order.symbol,
        "side": order.side.value,
        "ord_type": None if order.ord_type is None else order.ord_type.value,
        "price": _dec(order.price),
        "quantity": _dec(order.quantity),
        "time_in_force": None if order.time_in_force is None else order.time_in_force.value,
        "status": order.status.value,
        "cum_qty": _dec(order.cum_qty),
        "leaves_qty": _dec(order.leaves_qty),
        "avg_px": _dec(order.avg_px),
        "text": order.text,
        "created_ns": order.created_ns,
        "updated_ns": order.updated_ns,
    }


def fill_entry(fill: Fill, commission: Decimal | None, run: str) -> dict[str, Any]:
    """The JSON object of one fill (``commission`` is the fee charged on it)."""
    return {
        "type": "fill",
        "run": run,
        "exec_id": fill.exec_id,
        "match_id": fill.match_id,
        "order_id": fill.order_id,
        "cl_ord_id": fill.cl_ord_id,
        "client": client_comp_id(fill.owner),
        "session": fill.owner,
        "venue_participant": not is_client(fill.owner),
        "symbol": fill.symbol,
        "side": fill.side.value,
        "quantity": _dec(fill.quantity),
        "price": _dec(fill.price),
        "commission": _dec(commission),
        "aggressor": fill.aggressor,
        "counterparty_order_id": fill.counterparty_order_id,
        "ts_ns": fill.ts_ns,
    }


class VenueJournal:
    """The record file of one venue, and its contents in memory for readers on other threads.

    ``path`` None keeps the record in memory only.
    """

    def __init__(self, path: Path | None, run: str) -> None:
        self.path = path
        self.run = run
        self._lock = threading.Lock()  # readers (the HTTP thread) against the writer
        self._orders: dict[str, dict[str, Any]] = {}  # insertion order = first appearance
        self._fills: list[dict[str, Any]] = []
        self._pending: list[dict[str, Any]] = []
        self._file: IO[str] | None = None
        if path is not None and path.is_file():
            self._load(path)

    def _load(self, path: Path) -> None:
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    # A line cut short by a kill mid-write: everything before it is intact.
                    continue
                self._apply(entry)

    def _apply(self, entry: dict[str, Any]) -> None:
        if entry.get("type") == "order":
            self._orders[entry["order_id"]] = entry
        elif entry.get("type") == "fill":
            self._fills.append(entry)

    def open(self) -> None:
        """Open the file for appending (a line cut short by a crash is ended first)."""
        if self.path is None or self._file is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        needs_newline = (
            self.path.is_file()
            and self.path.stat().st_size > 0
            and not self.path.read_bytes().endswith(b"\n")
        )
        self._file = self.path.open("a", encoding="utf-8")
        if needs_newline:
            self._file.write("\n")
            self._file.flush()

    def close(self) -> None:
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None

    def order(self, order: OrderView) -> None:
        """Note an order's new state (written by ``flush``)."""
        self._pending.append(order_entry(order, self.run))

    def fill(self, fill: Fill, commission: Decimal | None) -> None:
        """Note a fill (written by ``flush``)."""
        self._pending.append(fill_entry(fill, commission, self.run))

    def flush(self) -> None:
        """Append what was noted since the last flush, and make it visible to readers."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        if self._file is not None:
            self._file.write("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in pending))
            self._file.flush()
        with self._lock:
            for entry in pending:
                self._apply(entry)

    def orders(self, client: str | None = None) -> list[dict[str, Any]]:
        """The latest state of every recorded order (of one ``client`` if given), oldest first.

        ``client`` is a client's CompID, or a participant's owner such as ``SIM-LIQUIDITY``.
        """
        with self._lock:
            return [o for o in self._orders.values() if client is None or o["client"] == client]

    def fills(self, client: str | None = None) -> list[dict[str, Any]]:
        """Every recorded fill (of one ``client`` if given, as in ``orders``), in the order they happened."""
        with self._lock:
            return [f for f in self._fills if client is None or f["client"] == client]
