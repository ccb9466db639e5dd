"""A small FIX initiator for tests, the demo and benchmarks: a plain TCP socket, simplefix to encode and parse, no QuickFIX.

Being independent of QuickFIX is the point: tests drive the simulator and the gateway the way an
outside client would, and can also misbehave on purpose (wrong sequence numbers, PossDup, raw bytes).

Typical use::

    with FixClient.connect("127.0.0.1", port, sender_comp_id="CLIENT1", target_comp_id="SIM") as client:
        client.logon()
        client.send("D", {11: "o1", 55: "AAPL", 54: "1", 38: 100, 40: "2", 44: "190.02",
                          59: "0", 60: utc_timestamp()})
        new = client.expect("8", where={150: "0"})
        assert new[39] == "0"
        client.logout()

A background thread reads the socket. It answers TestRequests with Heartbeats, sends Heartbeats when
the client has been quiet for a heartbeat interval, answers ResendRequests with a gap fill (this client
never resends application messages), and asks for a resend when the counterparty's MsgSeqNum jumps
ahead. Every other message goes into an inbox that ``expect``/``receive`` take from, in arrival order.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import Self

import simplefix

__all__ = ["FieldValue", "Fields", "FixClient", "FixSessionError", "Message", "utc_timestamp"]

FieldValue = str | int | Decimal | bool | bytes
"""What ``send`` accepts as a field value: str as is (UTF-8), bytes as they are (hostile input), int and
Decimal in plain notation, bool as Y/N."""

Fields = Mapping[int, FieldValue] | list[tuple[int, FieldValue]]
"""Body fields: a mapping, or a list of (tag, value) pairs in wire order when a tag repeats (groups)."""

_ADMIN_AUTO = {"0", "1", "2", "4"}
_ADMIN_TYPES = {"0", "1", "2", "3", "4", "5", "A"}  # handled by the reader thread, never put into the inbox


def utc_timestamp(when: datetime | None = None) -> str:
    """A FIX UTCTimestamp with milliseconds, now unless ``when`` is given."""
    when = when or datetime.now(UTC)
    return when.strftime("%Y%m%d-%H:%M:%S.") + f"{when.microsecond // 1000:03d}"


def _encode_value(value: FieldValue) -> str | bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bool):  # before int: bool is an int
        return "Y" if value else "N"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (str, int)):
        return str(value)
    raise TypeError(f"unsupported FIX field value {value!r} ({type(value).__name__}); floats are not allowed")


class FixSessionError(Exception):
    """The counterparty refused the session (Logout instead of Logon) or broke the protocol."""


@dataclass(frozen=True, slots=True)
class Message:
    """A received FIX message: its fields as (tag, value) strings in wire order, and the raw bytes."""

    fields: tuple[tuple[int, str], ...]
    raw: bytes
    received_at: float

    @property
    def msg_type(self) -> str:
        return self[35]

    @property
    def seq_num(self) -> int:
        return int(self[34])

    @property
    def poss_dup(self) -> bool:
        return self.get(43) == "Y"

    def __getitem__(self, tag: int) -> str:
        """The first value of ``tag``; ``KeyError`` naming the tag and the message if absent."""
        for t, v in self.fields:
            if t == tag:
                return v
        raise KeyError(f"tag {tag} not in {self}")

    def __contains__(self, tag: object) -> bool:
        return any(t == tag for t, _ in self.fields)

    def get(self, tag: int, default: str | None = None) -> str | None:
        """The first value of ``tag``, or ``default``."""
        for t, v in self.fields:
            if t == tag:
                return v
        return default

    def get_all(self, tag: int) -> list[str]:
        """Every value of ``tag`` (repeating groups), in wire order."""
        return [v for t, v in self.fields if t == tag]

    def decimal(self, tag: int) -> Decimal:
        """The value of ``tag`` as a Decimal."""
        return Decimal(self[tag])

    def matches(self, msg_type: str | None, where: Mapping[int, FieldValue] | None) -> bool:
        """Whether this is a ``msg_type`` message whose fields equal every value in ``where``."""
        if msg_type is not None and self.get(35) != msg_type:
            return False
        return all(self.get(tag) == _encode_value(value) for tag, value in (where or {}).items())

    def __str__(self) -> str:
        return "|".join(f"{t}={v}" for t, v in self.fields)


class FixClient:
    """One FIX session over one TCP connection, for tests. Thread-safe ``send``; one reader thread.

    Make one with ``FixClient.connect(host, port, sender_comp_id=..., target_comp_id=...)`` (or hand a
    connected socket to the constructor). ``timeout`` is the default wait of ``expect``, ``logon`` and
    ``logout``. ``next_seq_out`` is the MsgSeqNum of the next message sent and ``next_seq_in`` the one
    expected next; both advance as the session runs, so pass them to a new client to continue a
    session after a reconnect. With ``auto_resend_request`` the reader asks for a resend when the
    peer's MsgSeqNum jumps ahead (the resent messages arrive with PossDupFlag=Y). The numbers still
    missing are ``missing_in``: pass them on with ``next_seq_in`` and the next Logon asks for them
    again, as a FIX engine does when a connection dies in the middle of a resend.
    """

    def __init__(
        self,
        sock: socket.socket,
        *,
        sender_comp_id: str,
        target_comp_id: str,
        begin_string: str = "FIX.4.4",
        heartbeat_interval: int = 30,
        timeout: float = 5.0,
        next_seq_out: int = 1,
        next_seq_in: int = 1,
        auto_resend_request: bool = True,
        app_history: dict[int, tuple[str, list[tuple[int, FieldValue]], str]] | None = None,
        missing_in: Iterable[int] = (),
    ) -> None:
        self.sender_comp_id = sender_comp_id
        self.target_comp_id = target_comp_id
        self.begin_string = begin_string
        self.heartbeat_interval = heartbeat_interval
        self.timeout = timeout
        self.next_seq_out = next_seq_out
        self.next_seq_in = next_seq_in
        self.missing_in: set[int] = set(missing_in)
        """Inbound MsgSeqNums below ``next_seq_in`` that a gap skipped and no resend has brought yet."""
        self.auto_resend_request = auto_resend_request
        self.app_history = app_history
        """When given (pass the same dict to the client that continues a session), application
        messages are kept by MsgSeqNum and a ResendRequest resends them, PossDup=Y, as a real FIX
        engine does; without it the client gap-fills every ResendRequest."""
        self.received: list[Message] = []
        """Every message received, admin ones included, in arrival order (a transcript for asserts)."""
        self.sent: list[bytes] = []
        """Every message sent, as encoded."""
        self.protocol_errors: list[str] = []
        """What the reader noticed that a FIX engine would object to (sequence too low, ...)."""
        sock.settimeout(None)  # blocking sends, whoever made the socket (see _read_loop)
        self._sock = sock
        self._send_lock = threading.RLock()  # the reader holds it across its own send (_send_quietly)
        self._parser = simplefix.FixParser()
        # What the reader took off the socket but has not parsed yet, in arrival order. simplefix copies
        # its whole buffer for every message it takes out, so it is fed a chunk at a time: megabytes
        # drained while a send waited would otherwise take minutes to parse.
        self._unparsed: deque[bytes] = deque()
        self._inbox: list[Message] = []
        self._inbox_changed = threading.Condition()
        self._closed = threading.Event()  # set when the connection ends, either side
        self._stop = threading.Event()
        self._last_sent = time.monotonic()
        self._reader = threading.Thread(
            target=self._read_loop, name=f"fixclient-{sender_comp_id}->{target_comp_id}", daemon=True
        )
        self._reader.start()

    @classmethod
    def connect(
        cls,
        host: str,
        port: int,
        *,
        sender_comp_id: str,
        target_comp_id: str,
        begin_string: str = "FIX.4.4",
        heartbeat_interval: int = 30,
        timeout: float = 5.0,
        next_seq_out: int = 1,
        next_seq_in: int = 1,
        auto_resend_request: bool = True,
        app_history: dict[int, tuple[str, list[tuple[int, FieldValue]], str]] | None = None,
        missing_in: Iterable[int] = (),
        connect_timeout: float = 5.0,
        tls: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> FixClient:
        """Open a TCP connection (retrying until ``connect_timeout`` while the server comes up), over
        TLS with ``tls`` (the handshake's ``ssl.SSLError`` or end of stream is raised here). Over TLS
        the reader thread and a sending thread use one OpenSSL connection at once, which OpenSSL does
        not promise to support: fine for tests and the demo, not for a production client.

        ``timeout`` is the default wait of ``expect``/``logon``/``logout``; the other arguments are
        those of the constructor.
        """
        deadline = time.monotonic() + connect_timeout
        while True:
            try:
                sock = socket.create_connection((host, port), timeout=connect_timeout)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            try:
                sock = tls.wrap_socket(sock, server_hostname=server_hostname or host)
            except BaseException:
                sock.close()
                raise
        return cls(
            sock,
            sender_comp_id=sender_comp_id,
            target_comp_id=target_comp_id,
            begin_string=begin_string,
            heartbeat_interval=heartbeat_interval,
            timeout=timeout,
            next_seq_out=next_seq_out,
            next_seq_in=next_seq_in,
            auto_resend_request=auto_resend_request,
            app_history=app_history,
            missing_in=missing_in,
        )

    # -- SESSION --------------------------------------------------------------------------------------

    def logon(
        self,
        *,
        reset_seq_num: bool = False,
        fields: Fields | None = None,
        timeout: float | None = None,
    ) -> Message:
        """Send Logon and wait for the counterparty's Logon; ``FixSessionError`` if it refuses."""
        body: list[tuple[int, FieldValue]] = [(98, 0), (108, self.heartbeat_interval)]
        if reset_seq_num:
            body.append((141, True))
        given = _pairs(fields)
        if self.begin_string == "FIXT.1.1" and not any(tag == 1137 for tag, _ in given):
            body.append((1137, "9"))  # DefaultApplVerID FIX.5.0SP2, required in a FIXT.1.1 Logon
        body.extend(given)
        self.send("A", body)
        reply = self._wait(lambda m: m.msg_type in ("A", "5"), timeout, what="Logon answer")
        if reply.msg_type == "5":
            raise FixSessionError(f"logon refused: {reply.get(58, '(no text)')}")
        return reply

    def logout(self, text: str | None = None, timeout: float | None = None) -> Message | None:
        """Send Logout, wait for the answering Logout (None if the peer just hangs up), and close."""
        try:
            self.send("5", {58: text} if text else {})
            return self._wait(lambda m: m.msg_type == "5", timeout, what="Logout answer")
        except (ConnectionError, OSError, TimeoutError):
            return None
        finally:
            self.close()

    def close(self) -> None:
        """Drop the connection without a Logout (as a crash would)."""
        self._stop.set()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        if threading.current_thread() is not self._reader:
            self._reader.join(timeout=2.0)
        self._closed.set()

    @property
    def connected(self) -> bool:
        return not self._closed.is_set()

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until the connection ends (e.g. the peer disconnects); False on timeout."""
        return self._closed.wait(self.timeout if timeout is None else timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.connected:
            if exc_type is None:
                self.logout(timeout=2.0)
            else:
                self.close()

    # -- SENDING --------------------------------------------------------------------------------------

    def send(
        self,
        msg_type: str,
        fields: Fields | None = None,
        *,
        header: Fields | None = None,
        seq_num: int | None = None,
        sending_time: str | None = None,
    ) -> int:
        """Send one message; returns its MsgSeqNum.

        BeginString, BodyLength, MsgType, CompIDs, MsgSeqNum, SendingTime and CheckSum are filled in.
        ``header`` adds header fields (e.g. ``{43: True, 122: ...}`` for a PossDup); ``seq_num`` forces
        a MsgSeqNum and leaves the counter alone (to test sequence handling); ``sending_time`` stamps
        a SendingTime other than now (a message that waited in a queue).
        """
        with self._send_lock:
            number = self.next_seq_out if seq_num is None else seq_num
            message = simplefix.FixMessage()
            message.append_pair(8, self.begin_string, header=True)
            message.append_pair(35, msg_type, header=True)
            message.append_pair(49, self.sender_comp_id, header=True)
            message.append_pair(56, self.target_comp_id, header=True)
            message.append_pair(34, number, header=True)
            message.append_pair(52, sending_time or utc_timestamp(), header=True)
            for tag, value in _pairs(header):
                message.append_pair(tag, _encode_value(value), header=True)
            for tag, value in _pairs(fields):
                message.append_pair(tag, _encode_value(value))
            encoded: bytes = message.encode()
            if self.app_history is not None and seq_num is None and msg_type not in _ADMIN_TYPES:
                self.app_history[number] = (msg_type, _pairs(fields), _sending_time(message))
            if seq_num is None:
                # Numbered (and kept) before it goes out, as a FIX engine persists before sending: if
                # the connection fails under it, the peer asks for this number again.
                self.next_seq_out += 1
            self._write(encoded)
            self.sent.append(encoded)
            self._last_sent = time.monotonic()
            return number

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are (garbled messages, wrong checksums); no sequence number is used."""
        with self._send_lock:
            self._write(data)
            self.sent.append(data)
            self._last_sent = time.monotonic()

    def _write(self, data: bytes) -> None:
        """All of ``data`` onto the socket. Another thread blocks in ``sendall`` while the reader reads.
        The reader itself (its heartbeats and resend answers: a resend can be thousands of messages)
        must never block in a send without reading: the peer may be blocked writing to us, and a
        reader that waits for it to read would deadlock both; so it sends what fits and reads the
        rest of the time, into the parser, handled once it is back in its loop."""
        if threading.current_thread() is not self._reader:
            self._sock.sendall(data)
            return
        view = memoryview(data)
        while view:
            readable, writable, _ = select.select([self._sock], [self._sock], [], 0.2)
            if readable:
                chunk = self._sock.recv(65536)
                if not chunk:
                    raise ConnectionError("the peer closed the connection")
                self._unparsed.append(chunk)
            if writable:
                try:
                    # A TLS socket takes no flags: it sends one record, blocking at most for that.
                    sent = (self._sock.send(view) if isinstance(self._sock, ssl.SSLSocket)
                            else self._sock.send(view, socket.MSG_DONTWAIT))
                    view = view[sent:]
                except BlockingIOError:
                    pass

    # -- RECEIVING ------------------------------------------------------------------------------------

    def expect(
        self,
        msg_type: str | None = None,
        timeout: float | None = None,
        *,
        where: Mapping[int, FieldValue] | None = None,
    ) -> Message:
        """Take the first message in the inbox of that type whose fields equal ``where``, waiting for it.

        Messages that do not match stay in the inbox for later ``expect`` calls. Raises
        ``TimeoutError`` (listing what did arrive) if none comes in ``timeout`` seconds, and
        ``ConnectionError`` if the connection closes first.
        """
        what = f"{msg_type or 'any'} message" + (f" with {dict(where)}" if where else "")
        return self._wait(lambda m: m.matches(msg_type, where), timeout, what=what)

    def receive(self, timeout: float | None = None) -> Message | None:
        """Take the next inbox message of any type, or None if nothing arrives in ``timeout``."""
        try:
            return self._wait(lambda m: True, timeout, what="any message")
        except (TimeoutError, ConnectionError):
            return None

    def expect_nothing(
        self,
        msg_type: str | None = None,
        within: float = 0.5,
        *,
        where: Mapping[int, FieldValue] | None = None,
    ) -> None:
        """Assert that no matching message arrives within ``within`` seconds (it stays in the inbox)."""
        deadline = time.monotonic() + within
        with self._inbox_changed:
            while True:
                for message in self._inbox:
                    if message.matches(msg_type, where):
                        raise AssertionError(f"unexpected message: {message}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._inbox_changed.wait(remaining)

    def drain(self) -> list[Message]:
        """Take everything in the inbox now, without waiting."""
        with self._inbox_changed:
            messages, self._inbox = self._inbox, []
            return messages

    def _wait(
        self,
        predicate: Callable[[Message], bool],
        timeout: float | None,
        *,
        what: str,
    ) -> Message:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._inbox_changed:
            while True:
                for index, message in enumerate(self._inbox):
                    if predicate(message):
                        del self._inbox[index]
                        return message
                if self._closed.is_set():
                    raise ConnectionError(
                        f"connection closed while waiting for {what}; inbox: {self._summary()}"
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {what} within the timeout; inbox: {self._summary()}")
                self._inbox_changed.wait(remaining)

    def _summary(self) -> str:
        return "[" + ", ".join(str(m) for m in self._inbox[-10:]) + "]" if self._inbox else "empty"

    # -- READER THREAD --------------------------------------------------------------------------------

    def _read_loop(self) -> None:
        try:
            while not self._stop.is_set():
                if self._unparsed:  # read while the reader's own send waited (a heartbeat, say)
                    self._parse_unparsed()
                    continue
                # select, not a socket timeout: a timeout would apply to the sender's sendall too and
                # cut a message in half whenever the peer is slow to read for a moment.
                # A TLS socket may hold decrypted bytes that select cannot see.
                pending = isinstance(self._sock, ssl.SSLSocket) and self._sock.pending() > 0
                if not pending and not select.select([self._sock], [], [], 0.2)[0]:
                    self._heartbeat_if_idle()  # wake up regularly to send heartbeats and notice close()
                    continue
                data = self._sock.recv(65536)
                if not data:
                    return
                self._unparsed.append(data)
                self._parse_unparsed()
                self._heartbeat_if_idle()
        except (OSError, ValueError):  # ValueError: select on a socket close() has just closed
            return
        finally:
            self._closed.set()
            with self._inbox_changed:
                self._inbox_changed.notify_all()

    def _parse_unparsed(self) -> None:
        parser = self._parser
        while self._unparsed:  # grows while _handle sends (it reads as it waits)
            parser.append_buffer(self._unparsed.popleft())
            while (parsed := parser.get_message()) is not None:
                message = Message(
                    tuple((int(t), v.decode("latin-1")) for t, v in parsed.pairs),
                    parsed.encode(raw=True),
                    time.monotonic(),
                )
                self._handle(message)

    def _handle(self, message: Message) -> None:
        self.received.append(message)
        msg_type = message.get(35)
        self._check_sequence(message)
        if msg_type == "1":  # TestRequest: answer at once, echoing its id
            self._send_quietly("0", {112: message.get(112) or ""})
        elif msg_type == "2":
            self._resend(int(message[7]), int(message[16]))
        if msg_type in _ADMIN_AUTO:
            return
        with self._inbox_changed:
            self._inbox.append(message)
            self._inbox_changed.notify_all()

    def _resend(self, begin: int, end: int) -> None:
        """Answer a ResendRequest: kept application messages again (PossDup=Y, OrigSendingTime),
        gap fills for everything else."""
        last = self.next_seq_out - 1 if end == 0 else min(end, self.next_seq_out - 1)
        history = self.app_history or {}
        gap_from: int | None = None
        for seq in range(begin, last + 1):
            kept = history.get(seq)
            if kept is None:
                gap_from = seq if gap_from is None else gap_from
                continue
            if gap_from is not None:
                self._send_quietly("4", {123: True, 36: seq}, header={43: True}, seq_num=gap_from)
                gap_from = None
            msg_type, fields, sent_at = kept
            self._send_quietly(msg_type, fields, header={43: True, 122: sent_at}, seq_num=seq)
        if gap_from is not None or begin > last:
            self._send_quietly("4", {123: True, 36: self.next_seq_out}, header={43: True},
                               seq_num=begin if gap_from is None else gap_from)

    def _check_sequence(self, message: Message) -> None:
        try:
            seq = message.seq_num
        except (KeyError, ValueError):
            self.protocol_errors.append(f"no usable MsgSeqNum in {message}")
            return
        msg_type = message.get(35)
        if msg_type == "4" and message.get(123) != "Y":  # SequenceReset-Reset: jump unconditionally
            self.next_seq_in = int(message[36])
            return
        if seq > self.next_seq_in:
            if self.auto_resend_request and msg_type != "5":
                self.protocol_errors.append(f"gap: expected {self.next_seq_in}, got {seq}; resend requested")
                # Accept the rest of the stream from here; the resent messages come back as PossDup.
                self.missing_in.update(range(self.next_seq_in, seq))
                self._send_quietly("2", {7: min(self.missing_in), 16: 0})
            self.next_seq_in = seq + 1
        elif seq < self.next_seq_in:
            if not message.poss_dup:
                self.protocol_errors.append(f"MsgSeqNum too low: expected {self.next_seq_in}, got {seq}")
            self.missing_in.discard(seq)
        else:
            self.next_seq_in = seq + 1
            if msg_type == "A" and self.missing_in and self.auto_resend_request:
                # A gap the last connection did not see filled: ask for it on this one.
                self.protocol_errors.append(f"gap of {len(self.missing_in)} still open; resend requested")
                self._send_quietly("2", {7: min(self.missing_in), 16: 0})
        if msg_type == "4" and message.get(123) == "Y":  # gap fill: skip to NewSeqNo
            new_seq_no = int(message[36])
            self.missing_in.difference_update(range(seq, new_seq_no))
            self.next_seq_in = max(self.next_seq_in, new_seq_no)

    def _heartbeat_if_idle(self) -> None:
        if time.monotonic() - self._last_sent >= self.heartbeat_interval:
            self._send_quietly("0", {})

    def _send_quietly(self, msg_type: str, fields: Fields, **kwargs: object) -> None:
        """The reader's own sends (heartbeats, resend answers). While another thread holds the send
        lock, blocked in a send because the peer is not reading (it may itself be blocked writing to
        us), the reader keeps reading into the parser: waiting without reading could deadlock both."""
        while not self._send_lock.acquire(timeout=0.05):
            if self._stop.is_set():
                return
            try:
                if select.select([self._sock], [], [], 0)[0]:
                    data = self._sock.recv(65536)
                    if data:
                        self._unparsed.append(data)  # handled when the reader loop gets back to it
            except (OSError, ValueError):
                return
        try:
            self.send(msg_type, fields, **kwargs)  # type: ignore[arg-type]
        except OSError:
            pass  # the connection is going away; the reader notices on its next recv
        finally:
            self._send_lock.release()


def _sending_time(message: simplefix.FixMessage) -> str:
    value = message.get(52)
    return value.decode() if isinstance(value, bytes) else str(value)


def _pairs(fields: Fields | None) -> list[tuple[int, FieldValue]]:
    if fields is None:
        return []
    if isinstance(fields, Mapping):
        return list(fields.items())
    return list(fields)
