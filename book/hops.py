"""Per-hop timestamps of the gateway, as book records: written onto the order's or execution's row
after the fact (the last hop, the send, happens after the OMS has handed the row to the book).

Diagnostics, not facts: they ride with the journal's next frame (``Journal.later``), so a crash can
lose the timings of the last moments (never an order or a fill)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OrderHops:
    """When the gateway received a client's order, decided on it (OMS + risk + journal) and sent it
    on to the venue (None: it never went to a venue). Wall-clock nanoseconds."""

    order_id: int
    received_ns: int
    decided_ns: int
    venue_sent_ns: int | None


@dataclass(frozen=True, slots=True)
class ReportHops:
    """When the OMS had applied a venue report and when its client report was handed to QuickFIX
    (received is the execution's ``received_ns``). Keyed by the execution's ``exec_id``."""

    exec_id: str
    applied_ns: int
    client_sent_ns: int


HopRecord = OrderHops | ReportHops
