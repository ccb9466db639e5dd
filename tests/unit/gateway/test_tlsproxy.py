"""The TLS terminator's relaying, over real sockets (no FIX): an end of stream passed on each way, and
a reader that stops reading stops the copying (nothing buffered without bound)."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixgate.devcerts import Authority
from gateway.tls import TlsRoute
from gateway.tlsproxy import Terminator
from tests.support import free_port


class _Running:
    """A terminator on its own loop and thread, serving one ``accept`` route to ``backend``."""

    def __init__(self, route: TlsRoute) -> None:
        self.terminator = Terminator((route,))
        self._loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self.terminator.start())
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        assert started.wait(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.terminator.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[tuple[int, socket.socket, ssl.SSLContext]]:
    """(the TLS port, the backend's listening socket, a client context that trusts the terminator)."""
    authority = Authority(tmp_path / "pki", "unit")
    server = authority.issue("relay", server=True)
    backend = socket.create_server(("127.0.0.1", 0))
    port = free_port()
    running = _Running(TlsRoute(
        side="accept", name="unit", listen_host="127.0.0.1", listen_port=port, target_host="127.0.0.1",
        target_port=backend.getsockname()[1], certificate=str(server.cert), key=str(server.key), ca=None,
        verify_peer=False,
    ))
    try:
        yield port, backend, ssl.create_default_context(cafile=str(authority.ca))
    finally:
        running.stop()
        backend.close()


def _connect(port: int, ctx: ssl.SSLContext) -> ssl.SSLSocket:
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="127.0.0.1")


def test_bytes_and_the_end_of_stream_go_through_both_ways(relay: tuple[int, socket.socket, ssl.SSLContext]) -> None:
    port, backend, ctx = relay
    client = _connect(port, ctx)
    client.sendall(b"8=FIX.4.4\x01hello")
    inner, _ = backend.accept()  # opened only after the handshake
    inner.settimeout(10)
    assert inner.recv(100) == b"8=FIX.4.4\x01hello"
    inner.sendall(b"answer")
    assert client.recv(100) == b"answer"
    # The backend ends its side: the client sees the end (TLS cannot half-close: closed).
    inner.shutdown(socket.SHUT_WR)
    assert client.recv(100) == b""
    client.close()
    assert inner.recv(100) == b""  # and the client's end reaches the backend
    inner.close()


def test_the_client_s_end_reaches_the_backend_as_a_half_close(relay: tuple[int, socket.socket, ssl.SSLContext]) -> None:
    port, backend, ctx = relay
    client = _connect(port, ctx)
    client.sendall(b"last words")
    inner, _ = backend.accept()
    inner.settimeout(10)
    # The end of the client's stream (a FIN; not close(), which would reset the connection while the
    # server's session tickets lie unread and take the last words with it).
    client.shutdown(socket.SHUT_WR)
    received = b""
    while chunk := inner.recv(100):
        received += chunk
    assert received == b"last words"
    inner.close()
    client.close()


def test_a_client_that_does_not_read_stops_the_backend_s_sends(relay: tuple[int, socket.socket, ssl.SSLContext]) -> None:
    port, backend, ctx = relay
    client = _connect(port, ctx)  # never reads
    client.sendall(b"x")
    inner, _ = backend.accept()
    inner.setblocking(False)
    sent, total, chunk = 0, 256 << 20, b"\0" * (1 << 16)
    last_progress = time.monotonic()
    while sent < total and time.monotonic() - last_progress < 2.0:
        try:
            sent += inner.send(chunk)
            last_progress = time.monotonic()
        except BlockingIOError:
            time.sleep(0.01)
    # What the kernel buffers on loopback (a few MiB each socket) plus the terminator's bounded
    # buffers; a relay that read ahead without bound would have taken all 256 MiB.
    assert sent < 32 << 20, f"{sent >> 20} MiB went into a relay whose client reads nothing"
    client.close()
    inner.close()
