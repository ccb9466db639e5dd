"""FIX on the wire for the load client: messages encoded in advance, patched at send time, scanned cheaply.

The load client must cost little next to what it measures, so it never builds a message field by
field while the clock runs. A :class:`NewOrderTemplate` holds the constant bytes of a NewOrderSingle
and their byte sum; sending one joins them with the three values that change (MsgSeqNum, ClOrdID,
SendingTime, the latter also as TransactTime) and adds BodyLength and CheckSum from lengths and sums.
Incoming bytes are split into messages and only MsgType and ClOrdID are looked at.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

SOH = b"\x01"


def checksum(data: bytes) -> int:
    """FIX CheckSum (10) of ``data``: the byte sum modulo 256."""
    return sum(data) % 256


def frame(begin_string: str, body: bytes) -> bytes:
    """A complete message: BeginString, BodyLength of ``body``, ``body``, CheckSum."""
    head = b"8=" + begin_string.encode() + SOH + b"9=%d" % len(body) + SOH
    message = head + body
    return message + b"10=%03d" % checksum(message) + SOH


def encode(
    begin_string: str,
    msg_type: str,
    sender: str,
    target: str,
    seq_num: int,
    fields: list[tuple[int, str]],
    sending_time: bytes | None = None,
) -> bytes:
    """An admin message (Logon, Heartbeat, Logout) encoded the slow, simple way."""
    ts = sending_time if sending_time is not None else utc_timestamp()
    parts = [b"35=" + msg_type.encode(), b"49=" + sender.encode(), b"56=" + target.encode(),
             b"34=%d" % seq_num, b"52=" + ts]
    parts.extend(b"%d=%s" % (tag, value.encode()) for tag, value in fields)
    return frame(begin_string, SOH.join(parts) + SOH)


class TimestampCache:
    """FIX UTCTimestamps with milliseconds; formats the date and time once per second only."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = b""

    def at(self, unix_ns: int) -> bytes:
        """``YYYYMMDD-HH:MM:SS.sss`` for ``unix_ns`` (UTC)."""
        second, rest = divmod(unix_ns, 1_000_000_000)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(second)).encode()
        return self._prefix + b".%03d" % (rest // 1_000_000)


_TIMESTAMPS = TimestampCache()


def utc_timestamp() -> bytes:
    """Now as a FIX UTCTimestamp with milliseconds."""
    return _TIMESTAMPS.at(time.time_ns())


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """What a NewOrderSingle says besides its ids: a limit order of ``quantity`` at ``price``."""

    symbol: str = "AAPL"
    side: str = "1"  # FIX Side: 1 buy, 2 sell
    quantity: str = "1"
    price: str = "100.00"
    time_in_force: str = "0"  # DAY


@dataclass(slots=True)
class NewOrderTemplate:
    """A NewOrderSingle whose constant bytes are encoded once; ``encode`` patches the rest in."""

    begin_string: str
    sender: str
    target: str
    spec: OrderSpec
    # The body is: _a MsgSeqNum _b SendingTime _c ClOrdID _d TransactTime _e
    _a: bytes = field(init=False)
    _b: bytes = field(init=False)
    _c: bytes = field(init=False)
    _d: bytes = field(init=False)
    _e: bytes = field(init=False)
    _head: bytes = field(init=False)
    _constant_len: int = field(init=False)
    _constant_sum: int = field(init=False)

    def __post_init__(self) -> None:
        s = self.spec
        self._head = b"8=" + self.begin_string.encode() + SOH + b"9="
        self._a = b"35=D" + SOH + b"49=" + self.sender.encode() + SOH + b"56=" + self.target.encode() \
            + SOH + b"34="
        self._b = SOH + b"52="
        self._c = SOH + b"11="
        # HandlInst (21) is required by FIX 4.2 and harmless in 4.4; TransactTime (60) by FIX 4.4.
        self._d = (SOH + b"21=1" + SOH + b"55=" + s.symbol.encode() + SOH + b"54=" + s.side.encode()
                   + SOH + b"60=")
        self._e = (SOH + b"38=" + s.quantity.encode() + SOH + b"40=2" + SOH + b"44=" + s.price.encode()
                   + SOH + b"59=" + s.time_in_force.encode() + SOH)
        body_parts = (self._a, self._b, self._c, self._d, self._e)
        self._constant_len = sum(len(p) for p in body_parts)
        self._constant_sum = sum(sum(p) for p in body_parts) + sum(self._head) + 1  # + SOH after 9=

    def encode(self, seq_num: int, cl_ord_id: bytes, sending_time: bytes) -> bytes:
        """The message with these ids and times: BodyLength and CheckSum from lengths and byte sums."""
        seq = b"%d" % seq_num
        length = b"%d" % (self._constant_len + len(seq) + len(cl_ord_id) + 2 * len(sending_time))
        total = self._constant_sum + sum(length) + sum(seq) + sum(cl_ord_id) + 2 * sum(sending_time)
        return b"".join((
            self._head, length, SOH, self._a, seq, self._b, sending_time, self._c, cl_ord_id,
            self._d, sending_time, self._e, b"10=%03d" % (total % 256), SOH,
        ))


# -- RECEIVING ----------------------------------------------------------------------------------------


def field_value(message: bytes, tag: bytes) -> bytes | None:
    """The value of the first ``tag`` (as b"11") after BeginString, or None: no full parse."""
    needle = SOH + tag + b"="
    start = message.find(needle)
    if start < 0:
        return None
    start += len(needle)
    end = message.find(SOH, start)
    return message[start:end] if end >= 0 else None


class MessageSplitter:
    """Cuts a byte stream into whole FIX messages (ending with the CheckSum field)."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        """Append ``data``; return every message now complete, in order."""
        buffer = self._buffer + data if self._buffer else data
        messages: list[bytes] = []
        start = 0
        while True:
            tail = buffer.find(b"\x0110=", start)
            if tail < 0:
                break
            end = buffer.find(SOH, tail + 4)
            if end < 0:
                break
            messages.append(buffer[start:end + 1])
            start = end + 1
        self._buffer = buffer[start:]
        return messages
