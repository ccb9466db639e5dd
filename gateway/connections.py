"""A guard over the client port's TCP connections: one that has not logged on within a few seconds is
closed, and so is each one beyond a cap per remote address, and one that leaves what fixgate sends it
unread for a few seconds.

QuickFIX 1.16 gives Python no hook on a connection before it names a session: an acceptor thread
waits on a silent connection for ever (its LogonTimeout is the initiator's wait for the answer), and
no callback tells the remote address. So the guard looks from outside, on Linux: every
``interval`` it lists this process's sockets (``/proc/self/fd``), keeps those connected to the client
port (asking each socket, through a duplicate of its descriptor), and asks the kernel (``TCP_INFO``) whether fixgate has sent the
connection anything. It has not until QuickFIX answers a Logon, so "nothing sent for
``logon_timeout`` seconds" is "not logged on". Such a connection, or one over the cap, is shut down
through a duplicate of its descriptor; QuickFIX sees the end of the stream and closes its own.

A client that stops reading is the worse danger: QuickFIX sends on a blocking socket from the thread
that sends, and the venue's thread sends every client its reports, so once the client's buffers are
full that thread blocks and every client's fills wait behind it. The guard watches each logged-on
connection's unsent bytes (``SIOCOUTQ``) and acknowledged bytes (``TCP_INFO``): bytes waiting and none
acknowledged for ``send_stall_timeout`` seconds is a client that does not read, and shutting the
connection down makes the blocked send fail at once (the reports stay in QuickFIX's store for its
next logon). Once a send to a client has lasted ``send_block_timeout`` seconds (``send_blocked_since``:
the client application times each one), a thread of fixgate's is held up, and for a connection whose
send queue is full (not writable: the one that send waits on) the wait shortens to that. The venue
thread is held for about a second, not ``send_stall_timeout``: held longer, the venue's own messages
pile up unread, and on loopback the kernel drops segments and backs off its retransmissions for tens
of seconds after the thread is free again. A client that is merely slow, with room left in its queue,
keeps the longer wait.

Clients of a TLS session reach QuickFIX through the TLS terminator (``gateway.tlsproxy``), on the
session's internal port (``relayed_ports``): the logon timeout and the stall check apply to those
connections as to any, but not the cap per address (every one comes from this host; the terminator
keeps the cap per real address), and one from anywhere but this host is closed at once (it went
around the terminator, so around TLS).
"""

from __future__ import annotations

import fcntl
import logging
import os
import select
import socket
import struct
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_TCP_ESTABLISHED_STATE = 1  # tcpi_state, the first byte of TCP_INFO
_TCPI_BYTES_ACKED = 120  # offset of tcpi_bytes_acked (u64) in struct tcp_info (Linux >= 4.1)


@dataclass(slots=True)
class _Connection:
    fd: int
    remote: str  # the peer's address, without the port
    first_seen: float
    relayed: bool = False  # on a TLS session's internal port, from the terminator
    logged_on: bool = False
    acked: int = 0  # bytes the peer has acknowledged, as of ``progress``
    progress: float = 0.0  # when ``acked`` last grew, or fixgate had nothing waiting to send


class ConnectionGuard:
    """Closes client connections that do not log on within ``logon_timeout`` seconds, and those over
    ``max_per_address`` from one remote address (the newest first). Linux only; a thread of its own."""

    def __init__(
        self, port: int, *, logon_timeout: float, max_per_address: int, send_stall_timeout: float = 5.0,
        interval: float = 0.2, relayed_ports: frozenset[int] = frozenset(),
        send_blocked_since: Callable[[], float | None] = lambda: None, send_block_timeout: float = 1.0,
    ) -> None:
        self._port = port
        self._relayed_ports = relayed_ports
        self._send_stall_timeout = send_stall_timeout
        self._send_blocked_since = send_blocked_since
        self._send_block_timeout = send_block_timeout
        self._logon_timeout = logon_timeout
        self._max_per_address = max_per_address
        self._interval = interval
        self._known: dict[int, _Connection] = {}  # by socket inode
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.closed_for_timeout = 0
        self.closed_for_cap = 0
        self.closed_for_stall = 0
        self.closed_for_block = 0  # of closed_for_stall, those closed at the shorter wait
        self.closed_for_bypass = 0

    def start(self) -> None:
        """Start watching (a daemon thread); a platform without ``/proc/self/fd`` only logs a warning."""
        if not Path("/proc/self/fd").exists():
            log.warning("no /proc/self/fd: no logon timeout or cap per address on client connections")
            return
        self._thread = threading.Thread(target=self._run, name="fixgate-connection-guard", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.check(time.monotonic())
            except Exception:  # the guard must outlive any surprise in /proc; the next pass retries
                log.exception("connection guard pass failed")

    def check(self, now: float) -> None:
        """One pass: take note of new connections, close the late and the surplus."""
        seen: dict[int, _Connection] = {}
        ports = self._relayed_ports | {self._port}
        for fd, inode in _socket_fds():
            found = _client_remote(fd, inode, ports)
            if found is None:
                continue
            remote, port = found
            relayed = port in self._relayed_ports
            if relayed and not _is_loopback(remote) and _shut_down(fd, inode):
                self.closed_for_bypass += 1
                log.warning("connection from %s to the internal port %d of a TLS session closed: TLS clients"
                            " connect through the terminator", remote, port)
                continue
            known = self._known.get(inode)
            seen[inode] = known if known is not None and known.fd == fd else _Connection(fd, remote, now, relayed)
        self._known = seen
        blocked_since = self._send_blocked_since()
        held_up = blocked_since is not None and now - blocked_since >= self._send_block_timeout
        by_address: dict[str, list[tuple[int, _Connection]]] = {}
        for inode, conn in seen.items():
            if not conn.relayed:
                by_address.setdefault(conn.remote, []).append((inode, conn))
            if not conn.logged_on:
                conn.logged_on = _has_sent(conn.fd, inode)
            else:
                self._check_stall(conn, inode, now, held_up)
            late = not conn.logged_on and now - conn.first_seen >= self._logon_timeout
            if late and _shut_down(conn.fd, inode):
                self.closed_for_timeout += 1
                log.warning("client connection from %s closed: no logon within %gs", conn.remote,
                            self._logon_timeout)
        for remote, conns in by_address.items():
            if len(conns) <= self._max_per_address:
                continue
            # Keep the logged-on and the oldest; close the newest beyond the cap.
            conns.sort(key=lambda c: (not c[1].logged_on, c[1].first_seen, c[1].fd))
            for inode, conn in conns[self._max_per_address:]:
                if _shut_down(conn.fd, inode):
                    self.closed_for_cap += 1
                    log.warning("client connection from %s closed: over %d connections from that address",
                                remote, self._max_per_address)


    def _check_stall(self, conn: _Connection, inode: int, now: float, held_up: bool) -> None:
        """Close the connection if fixgate has had bytes waiting for the peer, and none acknowledged,
        for ``send_stall_timeout``; or for ``send_block_timeout`` if a send is ``held_up`` and this
        connection's send queue is full."""
        state = _send_state(conn.fd, inode)
        if state is None:
            return
        waiting, acked = state
        if waiting == 0 or acked != conn.acked:
            conn.acked, conn.progress = acked, now
            return
        unread = now - (conn.progress or now)
        if unread >= self._send_stall_timeout:
            blocking = False
        elif unread >= self._send_block_timeout and held_up and _full(conn.fd, inode):
            blocking = True
        else:
            return
        if not _shut_down(conn.fd, inode):
            return
        self.closed_for_stall += 1
        self.closed_for_block += blocking
        log.warning("client connection from %s closed: it left fixgate's messages unread for %.1fs%s", conn.remote,
                    unread, ", its send queue full and a send to it held up" if blocking else "")


def _socket_fds() -> list[tuple[int, int]]:
    """(descriptor, inode) of every socket this process has open."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            found.append((int(name), int(target[8:-1])))
    return found


def _is_loopback(address: str) -> bool:
    return address.startswith("127.") or address == "::1"


def _client_remote(fd: int, inode: int, ports: frozenset[int]) -> tuple[str, int] | None:
    """The peer's address and the local port if ``fd`` is an established TCP connection on one of
    ``ports``, else None.

    Asked of the socket itself (a duplicate of its descriptor), not read from ``/proc/net/tcp``: that
    file lists every socket of the machine, and the kernel takes milliseconds to make it."""
    sock = _duplicate(fd, inode)
    if sock is None:
        return None
    with sock:
        try:
            if sock.type != socket.SOCK_STREAM or sock.family not in (socket.AF_INET, socket.AF_INET6):
                return None
            port = int(sock.getsockname()[1])
            if port not in ports:
                return None
            if sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] != _TCP_ESTABLISHED_STATE:
                return None
            host = str(sock.getpeername()[0])
        except OSError:
            return None
    return host.removeprefix("::ffff:"), port  # an IPv4 peer on a v6 socket


def _duplicate(fd: int, inode: int) -> socket.socket | None:
    """A socket object over a duplicate of ``fd``, if ``fd`` is still that socket (not closed and reused)."""
    try:
        dup = os.dup(fd)
    except OSError:
        return None
    if os.fstat(dup).st_ino != inode:
        os.close(dup)
        return None
    return socket.socket(fileno=dup)


def _has_sent(fd: int, inode: int) -> bool:
    """Whether fixgate has sent anything on the connection that the peer acknowledged."""
    sock = _duplicate(fd, inode)
    if sock is None:
        return False
    with sock:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCPI_BYTES_ACKED + 8)
    return len(info) >= _TCPI_BYTES_ACKED + 8 and struct.unpack_from("<Q", info, _TCPI_BYTES_ACKED)[0] > 0


def _send_state(fd: int, inode: int) -> tuple[int, int] | None:
    """(bytes in the send queue, bytes the peer has acknowledged) of the connection."""
    sock = _duplicate(fd, inode)
    if sock is None:
        return None
    with sock:
        try:
            waiting = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
            info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCPI_BYTES_ACKED + 8)
        except OSError:
            return None
    if len(info) < _TCPI_BYTES_ACKED + 8:
        return None
    return waiting, struct.unpack_from("<Q", info, _TCPI_BYTES_ACKED)[0]


def _full(fd: int, inode: int) -> bool:
    """Whether the connection's send queue has no room (a blocking send to it waits)."""
    sock = _duplicate(fd, inode)
    if sock is None:
        return False
    with sock:
        poller = select.poll()
        poller.register(sock, select.POLLOUT)
        return not poller.poll(0)


def _shut_down(fd: int, inode: int) -> bool:
    """End the connection both ways; the QuickFIX thread reading it sees the end and closes it."""
    sock = _duplicate(fd, inode)
    if sock is None:
        return False
    with sock:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            return False
    return True
