"""Small helpers shared by tests that run real servers."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (bind to 0, read it, close)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def eventually(fetch: Callable[[], Any], ok: Callable[[Any], bool], timeout: float = 10.0) -> Any:
    """Poll ``fetch`` until ``ok`` holds of its result: for state written asynchronously (the book).
    A deadline for correctness, not a speed assertion."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        time.sleep(0.05)


def order_fields(cl_ord_id: str, qty: int, price: str | None, symbol: str = "AAPL", side: str = "1",
                 **extra: str) -> dict[int, str | int]:
    """A NewOrderSingle body valid in FIX 4.2 and 4.4; ``extra`` as ``t59="3"`` (TimeInForce IOC)."""
    from fixgate.fixclient import utc_timestamp

    fields: dict[int, str | int] = {11: cl_ord_id, 21: "1", 55: symbol, 54: side, 60: utc_timestamp(),
                                    38: qty, 40: "2" if price else "1"}
    if price:
        fields[44] = price
    fields.update({int(k[1:]): v for k, v in extra.items()})
    return fields
