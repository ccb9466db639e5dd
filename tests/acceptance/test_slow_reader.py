"""A client that stops reading its reports must not stall the others: the venue thread sends every
client its reports, and a send to a connection whose buffers are full blocks that thread."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from bench.fixwire import NewOrderTemplate, OrderSpec, TimestampCache, encode
from fixgate.app import Fixgate
from fixgate.fixclient import FixClient
from tests.support import book_rows, order_fields

Connect = Callable[..., FixClient]


def test_a_client_that_stops_reading_is_disconnected_and_the_others_keep_trading(
    gateway: Fixgate, connect: Connect
) -> None:
    # BENCH (no flow limits) logs on, then sends resting orders and never reads a byte: their acknowledgements pile
    # up in its receive buffer (as small as the kernel allows) and then in the gateway's send buffer.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.connect(("127.0.0.1", gateway.settings.client_port))
    sock.sendall(encode("FIX.4.4", "A", "BENCH", "FIXGATE", 1, [(98, "0"), (108, "30"), (141, "Y")]))
    time.sleep(0.5)  # logged on (its Logon answer waits, unread, in the buffer)
    template = NewOrderTemplate("FIX.4.4", "BENCH", "FIXGATE",
                                OrderSpec(symbol="AAPL", side="1", quantity="1", price="175.00"))
    stamps = TimestampCache()
    orders = b"".join(template.encode(2 + i, b"slow-%d" % i, stamps.at(time.time_ns())) for i in range(8000))
    sock.sendall(orders)
    # Until the gateway has taken them all or stopped taking them (its reports to BENCH stuck).
    last, since = -1, time.monotonic()
    while time.monotonic() - since < 2 and last < 8000:
        time.sleep(0.25)
        now = len(book_rows(gateway.settings.database_url or "", "SELECT 1 FROM orders WHERE session LIKE '%BENCH'"))
        if now != last:
            last, since = now, time.monotonic()
    # Another client trades on: its order is answered (the venue thread is not stuck on BENCH). The
    # guard closes BENCH a second after a send to it is held up (SendBlockTimeout). With the venue
    # thread held for SendStallTimeout (5 s) instead, the venue's messages piled up unread, the kernel
    # dropped loopback segments and backed off its retransmissions, and this answer took over a minute
    # on a loaded machine; now it takes about a second there. Stuck, it would never come.
    client = connect("CLIENT1", "FIX.4.4")
    client.send("D", order_fields("fast-1", 1, "175.00"))
    assert client.expect("8", timeout=60, where={11: "fast-1"})[39] == "0"
    # BENCH was closed for holding up a send, at the shorter wait.
    assert gateway.gateway is not None and gateway.gateway.connection_guard.closed_for_block == 1
    # And the client that does not read is disconnected (the gateway closed its connection).
    sock.settimeout(30)
    deadline = time.monotonic() + 30
    try:
        while sock.recv(1 << 20):
            assert time.monotonic() < deadline, "the gateway kept the connection of a client that does not read"
    except ConnectionResetError:
        pass
    sock.close()
