"""Pre-encoded NewOrderSingles are valid FIX: BodyLength and CheckSum right, patched values in place."""

from __future__ import annotations

import simplefix

from bench.fixwire import (
    MessageSplitter,
    NewOrderTemplate,
    OrderSpec,
    TimestampCache,
    checksum,
    encode,
    field_value,
)


def _parse(data: bytes) -> simplefix.FixMessage:
    parser = simplefix.FixParser()
    parser.append_buffer(data)
    message = parser.get_message()
    assert message is not None, data
    return message


def _body_length_and_checksum_ok(data: bytes) -> None:
    body_start = data.index(b"\x01", data.index(b"9=")) + 1
    trailer = data.rindex(b"\x0110=") + 1
    assert int(field_value(data, b"9") or b"-1") == trailer - body_start
    assert int(data[trailer + 3:-1]) == checksum(data[:trailer])


def test_patched_new_order_single_is_valid_fix() -> None:
    template = NewOrderTemplate("FIX.4.4", "BENCH", "SIM", OrderSpec(side="2", price="190.00"))
    for seq, cl_ord_id in ((1, b"R1-0"), (99, b"R1-99"), (123456, b"LONGER-PREFIX-123456")):
        data = template.encode(seq, cl_ord_id, b"20260102-03:04:05.678")
        _body_length_and_checksum_ok(data)
        message = _parse(data)
        assert message.get(8) == b"FIX.4.4"
        assert message.get(35) == b"D"
        assert message.get(34) == b"%d" % seq
        assert message.get(11) == cl_ord_id
        assert message.get(52) == b"20260102-03:04:05.678"
        assert message.get(60) == b"20260102-03:04:05.678"
        assert message.get(54) == b"2"
        assert message.get(44) == b"190.00"
        # simplefix re-encodes with its own BodyLength and CheckSum: they must agree with ours.
        assert message.encode() == data


def test_admin_messages_are_valid_fix() -> None:
    data = encode("FIX.4.4", "A", "BENCH", "FIXGATE", 1, [(98, "0"), (108, "30"), (141, "Y")],
                  sending_time=b"20260102-03:04:05.678")
    _body_length_and_checksum_ok(data)
    assert _parse(data).encode() == data


def test_splitter_cuts_messages_across_reads() -> None:
    template = NewOrderTemplate("FIX.4.4", "BENCH", "SIM", OrderSpec())
    stream = b"".join(template.encode(i, b"X-%d" % i, b"20260102-03:04:05.678") for i in range(1, 4))
    splitter = MessageSplitter()
    messages = []
    for i in range(0, len(stream), 37):  # arbitrary chunking, cutting fields and the trailer
        messages.extend(splitter.feed(stream[i:i + 37]))
    assert [field_value(m, b"11") for m in messages] == [b"X-1", b"X-2", b"X-3"]
    assert b"".join(messages) == stream


def test_field_value_does_not_confuse_longer_tags() -> None:
    data = b"8=FIX.4.4\x019=5\x0135=8\x01111=no\x0111=yes\x0110=000\x01"
    assert field_value(data, b"11") == b"yes"
    assert field_value(data, b"58") is None


def test_timestamp_cache_formats_milliseconds() -> None:
    cache = TimestampCache()
    ns = 1_767_323_045_678_900_000  # 2026-01-02 03:04:05.6789 UTC
    assert cache.at(ns) == b"20260102-03:04:05.678"
    assert cache.at(ns + 1_000_000) == b"20260102-03:04:05.679"
    assert cache.at(ns + 1_000_000_000) == b"20260102-03:04:06.678"
