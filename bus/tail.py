"""``fixgate events tail``: an instance's events as they are published, one readable line each.

It reads the instance's stream through an ephemeral ordered consumer (nothing is left on the server
when it ends), from now on, or ``--from-start`` from the stream's first event. A fill's record carries
no side or symbol: those come from the order's own event, which the OMS journals in the same frame
(just after the fill), so lines are printed a frame at a time, and for fills the tail reads every
kind, showing only the fills.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import nats
import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from bus.events import check_instance, decode, stream_name, subject
from bus.server import read_url, servers, url_file

DEFAULT_INSTANCE = "fixgate"
_FRAME_WAIT_S = 0.05  # a frame's events come together: this long without one, the frame is complete
_KNOWN_ORDERS = 100_000  # orders whose side and symbol are remembered


class NoBus(Exception):
    """No NATS server to read from: the message says where one was looked for."""


def resolve_url(nats_url: str | None, data_dir: Path | None) -> str:
    """--nats-url, else NATS_URL, else the embedded server's URL in ``<data dir>/nats/url``."""
    if nats_url:
        return nats_url
    if os.environ.get("NATS_URL"):
        return os.environ["NATS_URL"]
    directory = data_dir or Path(os.environ.get("FIXGATE_DATA_DIR", ".fixgate"))
    url = read_url(directory)
    if url is None:
        raise NoBus(f"no bus found: give --nats-url or NATS_URL, or the data folder of a running fixgate"
                    f" (--data-dir; {url_file(directory)} does not exist)")
    return url


def _when(body: dict[str, Any], fallback: datetime) -> str:
    data = body.get("data") or {}
    for name in ("received_ns", "updated_ns", "at_ns", "applied_ns", "decided_ns"):
        if isinstance(data.get(name), int):
            return datetime.fromtimestamp(data[name] / 1e9, UTC).strftime("%H:%M:%S.%f")[:-3]
    return fallback.astimezone(UTC).strftime("%H:%M:%S.%f")[:-3]


def _fill(d: dict[str, Any], order: tuple[str, str] | None) -> str:
    side, symbol = order if order is not None else ("?", "?")
    return f"{side} {d['last_qty']} {symbol} @ {d['last_px']}  {d['status']}, cum {d['cum_qty']} ({d['exec_id']})"


def _order(d: dict[str, Any]) -> str:
    price = f" @ {d['price']}" if d.get("price") is not None else ""
    return (f"{d['side']} {d['quantity']} {d['symbol']} {d['ord_type']}{price} {d['time_in_force']}"
            f"  {d['status']}, cum {d['cum_qty']} ({d['account']}, {d['cl_ord_id']})")


_SUMMARIES: dict[str, Callable[[dict[str, Any]], str]] = {
    "orders": _order,
    "executions": lambda d: f"{d['kind']} {d['status']}, cum {d['cum_qty']} leaves {d['leaves_qty']} {d['text']}",
    "positions": lambda d: (f"{d['account']} {d['symbol']} {d['quantity']} @ {d['avg_price']},"
                            f" realized {d['realized_pnl']}"),
    "marks": lambda d: f"{d['symbol']} {d['price']}",
    "risk": lambda d: (f"{d['account'] or 'firm'} {d['state']}: {d['reason']}" if "state" in d
                       else f"{d['action']} {d['scope']} {d['value']} by {d['by']} {d['reason']}".rstrip()),
    "sent": lambda d: f"{d['session']} {d['ref']}",
    "hops": lambda d: (f"decided in {_us(d['decided_ns'] - d['received_ns'])}, "
                       + ("not sent" if d["venue_sent_ns"] is None
                          else f"sent in {_us(d['venue_sent_ns'] - d['received_ns'])}")
                       if "received_ns" in d
                       else f"{d['exec_id']} to the client in {_us(d['client_sent_ns'] - d['applied_ns'])}"),
}


def _us(ns: int) -> str:
    return f"{ns / 1000:.0f}us"


def summary(body: dict[str, Any], order: tuple[str, str] | None = None) -> str:
    """A short readable account of an event (``order``: its order's side and symbol, for a fill)."""
    d = body["data"]
    kind = body["kind"]
    if kind == "fills":
        return _fill(d, order)
    if kind == "client":
        if body["type"] == "ClientReport":
            return f"{d['session']} {d['kind']} {d['status']} {d['cl_ord_id']} ({d['exec_id']})"
        return f"{d['session']} cancel reject {d['cl_ord_id']}: {d['text']}"
    make = _SUMMARIES.get(kind)
    try:
        return make(d) if make is not None else _fields(d)
    except KeyError:  # a record type this build does not know (a newer gateway's): show it whole
        return _fields(d)


def _fields(d: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in d.items())


def line(body: dict[str, Any], when: datetime, order: tuple[str, str] | None = None) -> str:
    order_id = body.get("order_id")
    who = f"order {order_id}" if order_id is not None else "-"
    return f"{_when(body, when)} {body['kind']:<10} {who:<12} {summary(body, order)}"


class _Printer:
    """Prints a frame's events once it is complete, knowing its orders' sides and symbols."""

    def __init__(self, kind: str | None, out: TextIO) -> None:
        self.kind = kind
        self.out = out
        self.orders: dict[int, tuple[str, str]] = {}
        self.frame: list[tuple[dict[str, Any], datetime]] = []

    def add(self, body: dict[str, Any], when: datetime) -> None:
        if self.frame and _frame_of(self.frame[0][0]) != _frame_of(body):
            self.flush()
        self.frame.append((body, when))

    def flush(self) -> None:
        for body, _ in self.frame:  # an order's own record first; a client report if there is none
            d = body["data"]
            if body["kind"] == "orders":
                self.orders[d["order_id"]] = (d["side"], d["symbol"])
            elif body["type"] == "ClientReport":
                self.orders.setdefault(d["order_id"], (d["side"], d["symbol"]))
        while len(self.orders) > _KNOWN_ORDERS:
            del self.orders[next(iter(self.orders))]
        for body, when in self.frame:
            if self.kind is None or body["kind"] == self.kind:
                print(line(body, when, self.orders.get(body.get("order_id") or -1)), file=self.out, flush=True)
        self.frame.clear()


def _frame_of(body: dict[str, Any]) -> str:
    return str(body["id"]).rsplit(":", 1)[0]


async def tail(url: str, instance: str, kind: str | None, from_start: bool, out: TextIO = sys.stdout) -> None:
    """Print the instance's events (of ``kind`` only, if given) until cancelled."""
    try:
        # The first connection is tried briefly (nats-py would try it for ever); once connected, the
        # client reconnects for as long as it takes.
        nc = await nats.connect(servers(url), connect_timeout=2, max_reconnect_attempts=1,
                                reconnect_time_wait=0.1, error_cb=_quiet)
    except (nats.errors.Error, OSError) as exc:
        raise NoBus(f"no NATS server at {url} ({type(exc).__name__}: {exc})") from None
    nc.options["max_reconnect_attempts"] = -1
    try:
        js = nc.jetstream()
        policy = DeliverPolicy.ALL if from_start else DeliverPolicy.NEW
        try:
            # Fills are shown with their orders' sides and symbols: those come with the other kinds.
            watched = subject(instance, ">" if kind in (None, "fills") else kind)
            sub = await js.subscribe(watched, stream=stream_name(instance), ordered_consumer=True,
                                     deliver_policy=policy)
        except nats.js.errors.NotFoundError:
            raise NoBus(f"no stream {stream_name(instance)} at {url}: has instance {instance!r} published yet?"
                        " (--instance)") from None
        shown = kind or "every kind"
        print(f"watching {subject(instance, kind or '>')} ({shown}) on {url}"
              f"{' from the start' if from_start else ''}", file=sys.stderr, flush=True)
        printer = _Printer(kind, out)
        while True:
            try:
                msg: Msg = await sub.next_msg(timeout=_FRAME_WAIT_S if printer.frame else 3600)
            except nats.errors.TimeoutError:
                printer.flush()
                continue
            body = _event_or_none(msg.data)
            if body is None:
                print(f"(a message on {msg.subject} that is not a fixgate event: skipped)", file=sys.stderr)
                continue
            printer.add(body, msg.metadata.timestamp)
    finally:
        await nc.close()


def _event_or_none(data: bytes | None) -> dict[str, Any] | None:
    """A message's event, or None if it is not one (someone else published on the subjects)."""
    try:
        body = decode(data or b"")
        if isinstance(body, dict) and {"id", "kind", "data"} <= body.keys() and isinstance(body["data"], dict):
            return body
    except ValueError:
        pass
    return None


async def _quiet(exc: Exception) -> None:
    pass  # reconnects are the client's business; a lasting outage simply shows no lines


def run(nats_url: str | None, data_dir: Path | None, instance: str | None, kind: str | None,
        from_start: bool) -> int:
    """``fixgate events tail``: 0 when interrupted, 2 if there is no bus to read."""
    name = instance or os.environ.get("FIXGATE_INSTANCE") or DEFAULT_INSTANCE
    try:
        check_instance(name)  # a subject token: "*" or ">" would watch other instances' events
    except ValueError as exc:
        print(f"fixgate: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(tail(resolve_url(nats_url, data_dir), name, kind, from_start))
    except NoBus as exc:
        print(f"fixgate: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


async def _recent(url: str, instance: str, kind: str | None, limit: int) -> list[str]:
    nc = await nats.connect(servers(url), connect_timeout=2, allow_reconnect=False)
    try:
        js = nc.jetstream()
        state = (await js.stream_info(stream_name(instance))).state
        out = io.StringIO()
        printer = _Printer(kind, out)
        # The last events only: enough of them for ``limit`` of one kind among the others.
        for seq in range(max(state.first_seq, state.last_seq - 50 * limit), state.last_seq + 1):
            try:
                msg = await js.get_msg(stream_name(instance), seq)
            except nats.js.errors.NotFoundError:
                continue
            body = _event_or_none(msg.data)
            if body is not None:
                printer.add(body, datetime.now(UTC))
        printer.flush()
        return out.getvalue().splitlines()[-limit:]
    finally:
        await nc.close()


def recent(url: str, instance: str, kind: str | None = None, limit: int = 10) -> list[str]:
    """The last ``limit`` events of the instance's stream (of ``kind`` only, if given) as ``events tail``
    prints them: for a short stream, such as the demo's (every event is read)."""
    return asyncio.run(_recent(url, instance, kind, limit))
