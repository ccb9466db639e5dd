"""A plain TCP byte relay: the least any extra hop between a client and a venue can cost.

Every connection accepted on ``--listen`` is paired with a new connection to ``--target``; bytes are
copied both ways as they arrive, unparsed. asyncio protocols on one thread, TCP_NODELAY both sides,
and the upstream paused when a side stops reading (so neither side buffers without bound). Run as
``python -m bench.relay --listen PORT --target HOST:PORT``; binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys


class _Side(asyncio.Protocol):
    """One end of a relayed connection; writes what it receives to its peer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self._pending: list[bytes] = []  # what arrived before the peer was connected

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def attach(self, peer: _Side) -> None:
        self.peer = peer
        if self._pending and peer.transport is not None:
            peer.transport.write(b"".join(self._pending))
            self._pending.clear()

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is None or peer.transport is None:
            self._pending.append(data)
        else:
            peer.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()

    # The peer's write buffer is full: stop reading this side until it drains.
    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


async def serve(listen_port: int, target_host: str, target_port: int, ready: asyncio.Event | None = None) -> None:
    """Relay until cancelled."""
    loop = asyncio.get_running_loop()

    def accept() -> _Side:
        downstream = _Side()

        async def connect() -> None:
            try:
                _, upstream = await loop.create_connection(_Side, target_host, target_port)
            except OSError:
                if downstream.transport is not None:
                    downstream.transport.close()
                return
            downstream.attach(upstream)
            upstream.attach(downstream)

        loop.create_task(connect())
        return downstream

    server = await loop.create_server(accept, "127.0.0.1", listen_port)
    if ready is not None:
        ready.set()
    print(f"relay 127.0.0.1:{listen_port} -> {target_host}:{target_port}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__)
    parser.add_argument("--listen", type=int, required=True, help="port to listen on (127.0.0.1)")
    parser.add_argument("--target", required=True, help="HOST:PORT to relay to")
    args = parser.parse_args(argv)
    host, _, port = args.target.rpartition(":")

    async def run() -> None:
        task = asyncio.ensure_future(serve(args.listen, host or "127.0.0.1", int(port)))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
