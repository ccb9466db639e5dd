"""The client port's guard on real sockets of this process: a client that does not read is closed
after SendStallTimeout, or after SendBlockTimeout once a send to it holds up a thread of fixgate's."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from gateway.connections import ConnectionGuard


@pytest.fixture
def unread() -> Iterator[tuple[int, socket.socket, socket.socket]]:
    """(port, the gateway's end, the client's end) of a connection whose client has read what it was
    first sent (so it counts as logged on) and then stopped reading, with both buffers full."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    client.connect(("127.0.0.1", port))
    served, _ = listener.accept()
    listener.close()
    served.sendall(b"logon")
    assert client.recv(16) == b"logon"
    served.setblocking(False)
    try:
        while True:
            served.send(b"x" * 4096)
    except BlockingIOError:
        pass
    time.sleep(0.3)  # what was in flight is acknowledged: from here on nothing is
    yield port, served, client
    served.close()
    client.close()


def _guard(port: int, blocked_since: list[float | None]) -> ConnectionGuard:
    return ConnectionGuard(port, logon_timeout=60, max_per_address=10, send_stall_timeout=5,
                           send_block_timeout=1, send_blocked_since=lambda: blocked_since[0])


def _closed(client: socket.socket) -> bool:
    """Whether the gateway's end was shut down: the client, reading at last, comes to the end."""
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
    unread: tuple[int, socket.socket, socket.socket],
) -> None:
    port, _, client = unread
    guard = _guard(port, [None])
    t0 = time.monotonic()
    guard.check(t0)  # seen, and logged on (it acknowledged the logon)
    guard.check(t0 + 0.2)  # bytes waiting: the wait starts
    guard.check(t0 + 5.1)
    assert guard.closed_for_stall == 0
    guard.check(t0 + 5.3)
    assert guard.closed_for_stall == 1
    assert _closed(client)


def test_a_send_held_up_shortens_the_wait_to_the_block_timeout(
    unread: tuple[int, socket.socket, socket.socket],
) -> None:
    port, _, client = unread
    blocked_since: list[float | None] = [None]
    guard = _guard(port, blocked_since)
    t0 = time.monotonic()
    guard.check(t0)
    guard.check(t0 + 0.2)
    guard.check(t0 + 1.5)  # a second and more unread, but no send is held up
    assert guard.closed_for_stall == 0
    blocked_since[0] = t0 + 1.0
    guard.check(t0 + 1.7)  # held up for 0.7 s: not yet
    assert guard.closed_for_stall == 0
    guard.check(t0 + 2.1)
    assert guard.closed_for_stall == 1
    assert _closed(client)


def test_a_held_up_send_closes_no_client_that_reads(
    unread: tuple[int, socket.socket, socket.socket],
) -> None:
    port, served, client = unread
    guard = _guard(port, [time.monotonic() - 10])  # some send is held up, and this client reads
    client.setblocking(False)
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        try:
            while client.recv(1 << 16):
                pass
        except BlockingIOError:
            pass
        try:
            served.send(b"y" * 4096)
        except BlockingIOError:
            pass
        guard.check(time.monotonic())
        time.sleep(0.05)
    assert guard.closed_for_stall == 0
