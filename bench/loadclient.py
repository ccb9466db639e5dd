"""The FIX load client: NewOrderSingles at a fixed rate, NewOrderSingle -> first ExecutionReport timed.

One thread, one non-blocking socket, ``select`` with microsecond timeouts: no thread hand-offs inside
the client and no lock. Orders are encoded from a :class:`~bench.fixwire.NewOrderTemplate` with only
MsgSeqNum, ClOrdID and SendingTime patched in. When the client falls behind its schedule (the system
under test is slow to read, or the client was descheduled) it sends every order that is due at once;
latency is measured from each order's intended send time (see :mod:`bench.latency`).

Run as ``python -m bench.loadclient`` (the harness starts it in a process of its own so that nothing
else in the harness competes with it for the GIL); it writes its raw timings as JSON.
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import ssl
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.fixwire import (
    MessageSplitter,
    NewOrderTemplate,
    OrderSpec,
    TimestampCache,
    encode,
    field_value,
)
from bench.latency import NOT_ANSWERED, schedule

PATTERNS = ("rest", "cross")
"""``rest``: buys far below the market, each answered New and left resting (the book never empties).
``cross``: alternately a sell and a buy of 1 at the same price, so every pair trades with itself."""


def order_specs(pattern: str, symbol: str = "AAPL") -> list[OrderSpec]:
    """The orders of a pattern, sent round-robin."""
    if pattern == "rest":
        return [OrderSpec(symbol=symbol, side="1", quantity="1", price="175.00")]
    if pattern == "cross":
        # 190.00 is between the seeded bid (189.99) and ask (190.01): the sell rests, the buy takes it.
        return [OrderSpec(symbol=symbol, side="2", quantity="1", price="190.00"),
                OrderSpec(symbol=symbol, side="1", quantity="1", price="190.00")]
    raise ValueError(f"unknown pattern {pattern!r}: expected one of {', '.join(PATTERNS)}")


class SessionError(Exception):
    """The counterparty refused the logon or closed the connection."""


@dataclass(slots=True)
class RunResult:
    """Raw timings of one run; times are ns after the run's start (monotonic clock)."""

    tag: str
    rate: float
    count: int
    pattern: str
    start_unix_ns: int
    intended_ns: list[int]
    sent_ns: list[int]
    received_ns: list[int]
    rejected: int = 0
    reject_texts: list[str] = field(default_factory=list)
    session_rejects: int = 0
    elapsed_s: float = 0.0

    @property
    def answered(self) -> int:
        return sum(1 for r in self.received_ns if r != NOT_ANSWERED)

    def to_json(self) -> dict[str, object]:
        return {
            "tag": self.tag, "rate": self.rate, "count": self.count, "pattern": self.pattern,
            "start_unix_ns": self.start_unix_ns, "intended_ns": self.intended_ns,
            "sent_ns": self.sent_ns, "received_ns": self.received_ns, "rejected": self.rejected,
            "reject_texts": self.reject_texts, "session_rejects": self.session_rejects,
            "elapsed_s": self.elapsed_s,
        }

    @classmethod
    def from_json(cls, raw: dict[str, object]) -> RunResult:
        return cls(**raw)  # type: ignore[arg-type]


class LoadClient:
    """One FIX session to ``host:port`` as ``sender`` -> ``target``."""

    def __init__(self, host: str, port: int, *, sender: str = "BENCH", target: str = "SIM",
                 begin_string: str = "FIX.4.4", connect_timeout: float = 10.0,
                 tls: ssl.SSLContext | None = None) -> None:
        self.sender = sender
        self.target = target
        self.begin_string = begin_string
        self._seq = 1
        self._splitter = MessageSplitter()
        self._timestamps = TimestampCache()
        deadline = time.monotonic() + connect_timeout
        while True:
            try:
                self._sock = socket.create_connection((host, port), timeout=connect_timeout)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:  # the TLS gateway path: the handshake here, before the clock runs
            self._sock = tls.wrap_socket(self._sock, server_hostname=host)

    # -- SESSION --------------------------------------------------------------------------------------

    def _send_admin(self, msg_type: str, fields: list[tuple[int, str]]) -> None:
        self._sock.sendall(encode(self.begin_string, msg_type, self.sender, self.target, self._seq, fields))
        self._seq += 1

    def logon(self, timeout: float = 10.0) -> None:
        """Logon with ResetSeqNumFlag, so every run starts both sides at MsgSeqNum 1."""
        fields = [(98, "0"), (108, "30"), (141, "Y")]
        if self.begin_string == "FIXT.1.1":
            fields.append((1137, "9"))  # DefaultApplVerID FIX.5.0SP2
        self._send_admin("A", fields)
        reply = self._wait_for((b"A", b"5"), timeout)
        if field_value(reply, b"35") == b"5":
            raise SessionError(f"logon refused: {(field_value(reply, b'58') or b'').decode()}")

    def logout(self, timeout: float = 2.0) -> None:
        """Logout and close; a peer that just hangs up is fine."""
        try:
            self._send_admin("5", [])
            self._wait_for((b"5",), timeout)
        except (OSError, SessionError, TimeoutError):
            pass
        finally:
            self._sock.close()

    def _wait_for(self, msg_types: tuple[bytes, ...], timeout: float) -> bytes:
        self._sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self._sock.recv(65536)
            if not data:
                raise SessionError("connection closed by the counterparty")
            for message in self._splitter.feed(data):
                msg_type = field_value(message, b"35")
                if msg_type in msg_types:
                    return message
                if msg_type == b"1":
                    self._send_admin("0", [(112, (field_value(message, b"112") or b"").decode())])
        raise TimeoutError(f"no {msg_types} within {timeout}s")

    # -- THE RUN --------------------------------------------------------------------------------------

    def run(self, *, tag: str, rate: float, count: int, pattern: str = "rest", symbol: str = "AAPL",
            drain_timeout: float = 5.0) -> RunResult:
        """Send ``count`` orders at ``rate``/s; wait up to ``drain_timeout`` after the last for answers."""
        templates = [NewOrderTemplate(self.begin_string, self.sender, self.target, spec)
                     for spec in order_specs(pattern, symbol)]
        n_templates = len(templates)
        prefix = f"{tag}-".encode()
        prefix_len = len(prefix)
        cl_ord_ids = [prefix + b"%d" % i for i in range(count)]  # prepared before the clock runs
        intended = schedule(rate, count)
        sent = [NOT_ANSWERED] * count
        received = [NOT_ANSWERED] * count
        result = RunResult(tag, rate, count, pattern, 0, intended, sent, received)

        sock = self._sock
        tls = sock if isinstance(sock, ssl.SSLSocket) else None
        # A non-blocking TLS socket says "not now" with its own errors, and may hold decrypted bytes
        # that select cannot see (``pending``).
        not_now = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
        sock.setblocking(False)
        splitter = self._splitter
        timestamps = self._timestamps
        monotonic_ns = time.monotonic_ns
        time_ns = time.time_ns
        outbox = b""
        answered = 0
        next_order = 0
        # Start a little ahead so the first order is not already late.
        start = monotonic_ns() + 2_000_000
        result.start_unix_ns = time_ns() + 2_000_000
        last_due = start + intended[-1] if count else start
        drain_deadline = last_due + int(drain_timeout * 1e9)
        while answered < count:
            now = monotonic_ns()
            if next_order < count and start + intended[next_order] <= now:
                ts = timestamps.at(time_ns())
                batch = []
                seq = self._seq
                offset = now - start
                while next_order < count and start + intended[next_order] <= now:
                    batch.append(templates[next_order % n_templates].encode(seq, cl_ord_ids[next_order], ts))
                    sent[next_order] = offset
                    seq += 1
                    next_order += 1
                self._seq = seq
                outbox = outbox + b"".join(batch) if outbox else b"".join(batch)
            if outbox:
                try:
                    written = sock.send(outbox)
                    outbox = outbox[written:]
                except not_now:
                    pass
            if next_order < count:
                timeout = max(0.0, (start + intended[next_order] - monotonic_ns()) / 1e9)
            else:
                timeout = (drain_deadline - monotonic_ns()) / 1e9
                if timeout <= 0 and not outbox:
                    break
                timeout = max(0.0, timeout)
            if not (tls is not None and tls.pending()):
                readable, _, _ = select.select((sock,), (sock,) if outbox else (), (), timeout)
                if not readable:
                    continue
            try:
                data = sock.recv(1 << 20)
            except not_now:
                continue
            arrived = monotonic_ns() - start
            if not data:
                raise SessionError(f"connection closed after {answered} of {count} answers")
            for message in splitter.feed(data):
                msg_type = field_value(message, b"35")
                if msg_type == b"8":
                    cl_ord_id = field_value(message, b"11")
                    if cl_ord_id is None or not cl_ord_id.startswith(prefix):
                        continue
                    index = int(cl_ord_id[prefix_len:])
                    if received[index] == NOT_ANSWERED:
                        received[index] = arrived
                        answered += 1
                        if field_value(message, b"39") == b"8":
                            result.rejected += 1
                            if len(result.reject_texts) < 5:
                                result.reject_texts.append((field_value(message, b"58") or b"").decode())
                elif msg_type in (b"3", b"j"):  # session or business reject of an order
                    result.session_rejects += 1
                    if len(result.reject_texts) < 5:
                        result.reject_texts.append((field_value(message, b"58") or b"").decode())
                elif msg_type == b"1":
                    sock.setblocking(True)
                    self._send_admin("0", [(112, (field_value(message, b"112") or b"").decode())])
                    sock.setblocking(False)
        result.elapsed_s = (monotonic_ns() - start) / 1e9
        sock.setblocking(True)
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadclient", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", default="SIM", help="TargetCompID (SIM direct or via relay, FIXGATE)")
    parser.add_argument("--sender", default="BENCH")
    parser.add_argument("--begin-string", default="FIX.4.4", choices=("FIX.4.4", "FIX.4.2", "FIXT.1.1"),
                        help="the session's FIX version (FIXT.1.1: FIX 5.0 SP2)")
    parser.add_argument("--rate", type=float, required=True, help="orders per second")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--pattern", choices=PATTERNS, default="rest")
    parser.add_argument("--tag", required=True, help="ClOrdID prefix, unique per run")
    parser.add_argument("--drain-timeout", type=float, default=5.0)
    parser.add_argument("--out", type=Path, required=True, help="JSON file for the raw timings")
    parser.add_argument("--tls-ca", type=Path, help="connect over TLS, verifying the server against this CA")
    parser.add_argument("--tls-cert", type=Path, help="the client certificate to present (with --tls-key)")
    parser.add_argument("--tls-key", type=Path)
    args = parser.parse_args(argv)
    tls = None
    if args.tls_ca is not None:
        tls = ssl.create_default_context(cafile=str(args.tls_ca))
        if args.tls_cert is not None:
            tls.load_cert_chain(args.tls_cert, args.tls_key)
    client = LoadClient(args.host, args.port, sender=args.sender, target=args.target, begin_string=args.begin_string,
                        tls=tls)
    try:
        client.logon()
        result = client.run(tag=args.tag, rate=args.rate, count=args.count, pattern=args.pattern,
                            drain_timeout=args.drain_timeout)
    except (SessionError, OSError, TimeoutError) as exc:
        print(f"loadclient: {exc}", file=sys.stderr)
        return 1
    client.logout()
    args.out.write_text(json.dumps(result.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
