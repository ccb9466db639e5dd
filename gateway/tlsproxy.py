"""The TLS terminator: ``python -m gateway.tlsproxy --config <data dir>/tls/routes.json --ready FILE``.

A child process of the gateway (supervised: restarted if it dies; the FIX sessions it carried
reconnect), one asyncio loop for every route (``gateway.tls.TlsRoute``):

- ``accept`` (clients in): a connection is let in only from an allowed address and while that
  address has fewer than ``max_per_address`` connections here (the gateway's own guard sees every
  relayed client as this host, so the cap per real address is kept here); the TLS handshake must
  end within ``handshake_timeout``; only then is the plain connection to the session's internal
  QuickFIX port opened (with ``comp_id_in_certificate``, once the client's first message names as
  its SenderCompID (49) a name its certificate carries: its common name or a DNS name). A plaintext client, a wrong or expired certificate, or a silent peer is
  closed here and never reaches the FIX engine. Once relayed, QuickFIX and the gateway's guard see
  the connection: the logon timeout and the stalled-reader check go on working on it.
- ``connect`` (venues out): the venue initiator connects to a local port; the terminator connects
  to the venue over TLS and verifies it; a failed handshake closes the local connection, and
  QuickFIX reconnects after its ``ReconnectInterval``.

Bytes are copied as they come, never held beyond one read (64 KiB) and the transport's write buffer
(asyncio's high-water mark, 64 KiB): a side that does not read stops the copying from the other
(``drain``), so a slow reader fills the gateway's send queue and its guard sees the stall. An end of
stream is passed on as a half-close where the other side can take one (TCP); TLS cannot half-close,
so that side is closed. Plain text is never a fallback: there is no route that does not do TLS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import ssl
import sys
from collections import Counter
from pathlib import Path

from gateway.tls import TlsRoute, load_routes

log = logging.getLogger("gateway.tlsproxy")

_CHUNK = 65536


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until the end of stream, then pass the end on (half-close, or close where TLS cannot)."""
    while data := await reader.read(_CHUNK):
        writer.write(data)
        await writer.drain()  # the bound: wait while the other side has not taken what it was given
    if writer.can_write_eof():
        writer.write_eof()
    else:
        writer.close()


async def _splice(a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                  b: tuple[asyncio.StreamReader, asyncio.StreamWriter], name: str) -> None:
    """Both directions until both have ended, or either fails; then both connections are closed."""
    pumps = [asyncio.ensure_future(_pump(a[0], b[1])), asyncio.ensure_future(_pump(b[0], a[1]))]
    try:
        done, pending = await asyncio.wait(pumps, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if task.exception() is not None:
                log.info("%s: connection ended: %s", name, task.exception())
        for task in pending:
            task.cancel()
    finally:
        for _, writer in (a, b):
            writer.close()
        for task in pumps:
            with contextlib.suppress(BaseException):
                await task


class Terminator:
    """Serves every route until stopped; each refusal is logged with its reason."""

    def __init__(self, routes: tuple[TlsRoute, ...]) -> None:
        self.routes = routes
        self._contexts = {r.listen_port: r.context() for r in routes}
        self._per_address: Counter[tuple[int, str]] = Counter()
        self._servers: list[asyncio.Server] = []
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Bind every route's port (raises if one cannot be bound)."""
        for route in self.routes:
            server = await asyncio.start_server(
                self._handle,
                route.listen_host, route.listen_port, reuse_address=True, limit=_CHUNK,
            )
            self._servers.append(server)
            log.info("%s: %s on %s:%d -> %s:%d", route.name, "TLS in" if route.side == "accept" else "TLS out",
                     route.listen_host, route.listen_port, route.target_host, route.target_port)

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=2)

    def _route(self, writer: asyncio.StreamWriter) -> TlsRoute:
        port = writer.get_extra_info("sockname")[1]
        return next(r for r in self.routes if r.listen_port == port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection accepted on a route's port, until it ends or the terminator stops."""
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
            task.add_done_callback(self._connections.discard)
        route = self._route(writer)
        try:
            if route.side == "accept":
                await self._accept(route, reader, writer)
            else:
                await self._connect_out(route, reader, writer)
        except asyncio.CancelledError:
            writer.transport.abort()  # stopping: ended here, not left to asyncio's stream callback
        except Exception:
            log.exception("%s: connection failed", route.name)
            writer.transport.abort()

    async def _accept(self, route: TlsRoute, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A client connection: address checks, the handshake, then the plain leg to QuickFIX."""
        peer = str(writer.get_extra_info("peername")[0]).removeprefix("::ffff:")
        if route.allowed is not None and not _allowed(peer, route.allowed):
            log.warning("%s: connection from %s refused: not in TLSAllowedRemoteAddresses", route.name, peer)
            writer.close()
            return
        key = (route.listen_port, peer)
        if self._per_address[key] >= route.max_per_address:
            log.warning("%s: connection from %s refused: over %d connections from that address", route.name, peer,
                        route.max_per_address)
            writer.close()
            return
        self._per_address[key] += 1
        try:
            try:
                await writer.start_tls(self._contexts[route.listen_port],
                                       ssl_handshake_timeout=route.handshake_timeout)
            except (TimeoutError, ssl.SSLError, OSError) as exc:
                log.warning("%s: TLS handshake with %s failed: %s", route.name, peer, _reason(exc))
                writer.transport.abort()
                return
            first = b""
            if route.comp_id_in_certificate:  # before QuickFIX is connected to: a refusal never reaches it
                first, comp_id = await _first_sender(reader, route.handshake_timeout)
                names = _certificate_names(writer)
                if comp_id is None or comp_id not in names:
                    log.warning("%s: %s refused: its first message's SenderCompID is %r, its certificate names %s",
                                route.name, peer, comp_id, sorted(names))
                    writer.close()
                    return
            try:
                backend = await asyncio.wait_for(
                    asyncio.open_connection(route.target_host, route.target_port, limit=_CHUNK), 5.0)
            except (TimeoutError, OSError) as exc:
                log.error("%s: FIX port %s:%d does not answer: %s", route.name, route.target_host,
                          route.target_port, exc)
                writer.close()
                return
            subject = _subject(writer)
            log.info("%s: %s%s relayed to port %d", route.name, peer, f" ({subject})" if subject else "",
                     route.target_port)
            if first:
                backend[1].write(first)  # what was read to find the SenderCompID goes on first
            await _splice((reader, writer), backend, f"{route.name} {peer}")
            log.info("%s: %s disconnected", route.name, peer)
        finally:
            self._per_address[key] -= 1
            if self._per_address[key] <= 0:
                del self._per_address[key]

    async def _connect_out(self, route: TlsRoute, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> None:
        """The venue initiator's connection: TLS to the venue, then relay."""
        try:
            # Bounded as a whole: a venue address that drops the SYN would hold each of QuickFIX's
            # reconnects (one a second) for the kernel's two minutes.
            venue = await asyncio.wait_for(asyncio.open_connection(
                route.target_host, route.target_port, ssl=self._contexts[route.listen_port],
                server_hostname=route.server_name, ssl_handshake_timeout=route.handshake_timeout, limit=_CHUNK,
            ), 2 * route.handshake_timeout)
        except (TimeoutError, ssl.SSLError, OSError) as exc:
            log.warning("%s: TLS connection to %s:%d failed: %s", route.name, route.target_host, route.target_port,
                        _reason(exc))
            writer.transport.abort()
            return
        await _splice((reader, writer), venue, route.name)


def _allowed(peer: str, allowed: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address == ipaddress.ip_address(a) for a in allowed)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate refused: {exc.verify_message}"
    if isinstance(exc, TimeoutError) or "taking longer than" in str(exc):  # asyncio's handshake timeout
        return "no handshake in time"
    return str(exc) or type(exc).__name__


_SENDER = b"\x0149="
_FIRST_MESSAGE_MAX = 4096  # a Logon is far smaller: a client that sends more without a 49 is refused


async def _first_sender(reader: asyncio.StreamReader, timeout: float) -> tuple[bytes, str | None]:
    """The bytes read until the first message's SenderCompID (49) was whole, and that CompID (None if
    it did not come within ``timeout`` and ``_FIRST_MESSAGE_MAX`` bytes)."""
    seen = b""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(seen) < _FIRST_MESSAGE_MAX:
        start = seen.find(_SENDER)
        if start >= 0:
            end = seen.find(b"\x01", start + len(_SENDER))
            if end >= 0:
                return seen, seen[start + len(_SENDER):end].decode("ascii", "replace")
        try:
            chunk = await asyncio.wait_for(reader.read(_FIRST_MESSAGE_MAX - len(seen)),
                                           max(0.0, deadline - loop.time()))
        except (TimeoutError, OSError):
            return seen, None
        if not chunk:
            return seen, None
        seen += chunk
    return seen, None


def _certificate_names(writer: asyncio.StreamWriter) -> set[str]:
    """The common name and DNS names of the peer's (verified) certificate."""
    cert = writer.get_extra_info("peercert") or {}
    names = {value for rdn in cert.get("subject", ()) for key, value in rdn if key == "commonName"}
    names.update(value for kind, value in cert.get("subjectAltName", ()) if kind == "DNS")
    return names


def _subject(writer: asyncio.StreamWriter) -> str:
    cert = writer.get_extra_info("peercert")
    if not cert:
        return ""
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return f"CN={value}"
    return ""


async def _serve(config: Path, ready: Path | None) -> None:
    terminator = Terminator(load_routes(config))
    await terminator.start()
    if ready is not None:
        tmp = ready.with_suffix(".tmp")
        tmp.write_text(str(os.getpid()))
        tmp.replace(ready)  # the gateway starts its engines once every port is bound
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await terminator.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.tlsproxy", description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, required=True, help="the routes (gateway.tls.TlsPlan.write)")
    parser.add_argument("--ready", type=Path, help="a file written with this pid once every port is bound")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(args.config, args.ready))
    return 0


if __name__ == "__main__":
    sys.exit(main())
