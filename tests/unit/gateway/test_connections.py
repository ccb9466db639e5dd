"""The client port's guard on real sockets of this process: a client that does not read is closed
after SendStallTimeout; one whose send queue is full, after SendBlockTimeout once a send is held up.

The passes are given made-up times (``check(now)``), so only the sockets' states are real: each
connection is first left until the kernel has nothing more to acknowledge."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator

import pytest

from gateway.connections import _TCPI_BYTES_ACKED, ConnectionGuard


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    yield server
    server.close()


@pytest.fixture
def pairs() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


def _acked(sock: socket.socket) -> int:
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCPI_BYTES_ACKED + 8)
    return int(struct.unpack_from("<Q", info, _TCPI_BYTES_ACKED)[0])


def _unread(listener: socket.socket, pairs: list[socket.socket], *, full: bool) -> tuple[socket.socket, socket.socket]:
    """(the gateway's end, the client's end) of a connection whose client read what it was first sent
    (so it counts as logged on) and then stopped reading, with bytes waiting in the gateway's send
    queue: ``full``, till a send would block; else with plenty of room left."""
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    client.connect(listener.getsockname())
    served, _ = listener.accept()
    pairs += [served, client]
    served.sendall(b"logon")
    assert client.recv(16) == b"logon"
    served.setblocking(False)
    if full:
        try:
            while True:
                served.send(b"x" * 4096)
        except BlockingIOError:
            pass
    else:
        served.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        served.send(b"x" * 65536)
    last, deadline = -1, time.monotonic() + 10
    while _acked(served) != last and time.monotonic() < deadline:  # until nothing more is acknowledged
        last = _acked(served)
        time.sleep(0.3)
    return served, client


def _guard(listener: socket.socket, blocked_since: list[float | None]) -> ConnectionGuard:
    return ConnectionGuard(listener.getsockname()[1], logon_timeout=60, max_per_address=10, send_stall_timeout=5,
                           send_block_timeout=1, send_blocked_since=lambda: blocked_since[0])


def _closed(client: socket.socket) -> bool:
    """Whether the gateway's end was shut down: the client, reading at last, comes to the end."""
    client.setblocking(True)
    client.settimeout(5)
    try:
        while client.recv(1 << 20):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    return True


def test_a_client_that_does_not_read_is_closed_after_the_stall_timeout(
    listener: socket.socket, pairs: list[socket.socket],
) -> None:
    _, client = _unread(listener, pairs, full=True)
    guard = _guard(listener, [None])
    t0 = time.monotonic()
    guard.check(t0)  # seen, and logged on (it acknowledged the logon)
    guard.check(t0 + 0.2)  # bytes waiting, none acknowledged: the wait starts
    guard.check(t0 + 5.1)
    assert guard.closed_for_stall == 0
    guard.check(t0 + 5.3)
    assert (guard.closed_for_stall, guard.closed_for_block) == (1, 0)
    assert _closed(client)


def test_a_send_held_up_shortens_the_wait_for_the_client_whose_queue_is_full(
    listener: socket.socket, pairs: list[socket.socket],
) -> None:
    _, stuck = _unread(listener, pairs, full=True)
    _, slow = _unread(listener, pairs, full=False)  # unread too, but with room in its queue
    blocked_since: list[float | None] = [None]
    guard = _guard(listener, blocked_since)
    t0 = time.monotonic()
    guard.check(t0)
    guard.check(t0 + 0.2)
    guard.check(t0 + 1.5)  # a second and more unread, but no send is held up
    assert guard.closed_for_stall == 0
    blocked_since[0] = t0 + 1.0
    guard.check(t0 + 1.7)  # held up for 0.7 s: not yet
    assert guard.closed_for_stall == 0
    guard.check(t0 + 2.1)
    assert (guard.closed_for_stall, guard.closed_for_block) == (1, 1)
    assert _closed(stuck)
    guard.check(t0 + 5.3)  # the slow one keeps the longer wait
    assert (guard.closed_for_stall, guard.closed_for_block) == (2, 1)
    assert _closed(slow)


def test_a_held_up_send_closes_no_client_that_reads(listener: socket.socket, pairs: list[socket.socket]) -> None:
    served, client = _unread(listener, pairs, full=True)
    guard = _guard(listener, [0.0])  # some send has been held up for ever
    client.setblocking(False)
    t0 = time.monotonic()
    for step in range(20):  # the client reads between passes half a second apart, 10 s in all
        try:
            while client.recv(1 << 16):
                pass
        except BlockingIOError:
            pass
        try:
            while True:
                served.send(b"y" * 4096)
        except BlockingIOError:
            pass
        time.sleep(0.02)  # what the client made room for is acknowledged
        guard.check(t0 + 0.5 * step)
    assert guard.closed_for_stall == 0
