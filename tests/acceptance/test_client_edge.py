"""The client-facing edge on real sockets: strict session-level validation, text fields that must be
printable ASCII and bounded, and entitlements (which accounts a session may trade).

Each bad message must be answered with a reject naming the tag and must never reach the OMS: the
venue's record and the book show only the good order sent after it (an order that went through
after the bad ones proves the bad ones were answered without being taken)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from fixgate.fixclient import FixClient, Message, utc_timestamp
from simulator.venue import Simulator
from tests.support import eventually, order_fields

Connect = Callable[..., FixClient]

# A group whose NumInGroup says two entries but holds one: the Parties block in 4.4, the allocation
# group in 4.2 (both are part of NewOrderSingle in their version).
ONE_ENTRY_FOR_TWO = {
    "FIX.4.4": [(453, 2), (448, "P1"), (447, "D"), (452, 1)],
    "FIX.4.2": [(78, 2), (79, "ALLOC1"), (80, 10)],
}


# FIX 4.2's Reject has no SessionRejectReason (373): QuickFIX says the reason in Text instead.
REASON_TEXT = {
    "0": "Invalid tag number",
    "2": "Tag not defined for this message type",
    "16": "Incorrect NumInGroup count for repeating group",
}


def session_reject(client: FixClient, seq: int, reason: str, tag: int) -> None:
    """The Reject (35=3) of message ``seq``: SessionRejectReason ``reason`` and RefTagID ``tag``."""
    reject = client.expect("3", where={45: seq})
    assert reject[371] == str(tag), reject
    if client.begin_string == "FIX.4.4":
        assert reject[373] == reason, reject
    else:
        assert reject[58] == REASON_TEXT[reason], reject


def good_order_only(client: FixClient, rest: httpx.Client, simulator: Simulator, cl_ord_id: str) -> None:
    """A good order goes through after the bad ones: the venue and the book hold it and nothing else."""
    client.send("D", order_fields(cl_ord_id, 10, "189.00"))
    new = client.expect("8", where={11: cl_ord_id, 39: "0"})
    assert [o.cl_ord_id for o in simulator.record.orders_from("FIXGATE")] == [f"FG{new[37]}"]
    orders = eventually(lambda: rest.get("/orders").json(), lambda body: len(body) >= 1)
    assert [o["cl_ord_id"] for o in orders] == [cl_ord_id]


@pytest.mark.parametrize("begin_string", ["FIX.4.4", "FIX.4.2"])
def test_strict_validation_answers_unknown_tags_foreign_tags_and_bad_groups_with_a_session_reject(
    begin_string: str, connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    client = connect("CLIENT1", begin_string)
    # SessionRejectReason 0: a tag no dictionary defines (user-defined range, and below it).
    for tag in (9999, 4999):
        seq = client.send("D", [*order_fields(f"bad-{tag}", 10, "189.00").items(), (tag, "x")])
        session_reject(client, seq, "0", tag)
    # 2: a tag the dictionary defines, but not for a NewOrderSingle (ExecType).
    seq = client.send("D", [*order_fields("bad-150", 10, "189.00").items(), (150, "0")])
    session_reject(client, seq, "2", 150)
    # 16: NumInGroup does not match the entries that follow.
    group = ONE_ENTRY_FOR_TWO[begin_string]
    seq = client.send("D", [*order_fields("bad-group", 10, "189.00").items(), *group])
    session_reject(client, seq, "16", group[0][0])
    good_order_only(client, rest, simulator, "good-1")


def business_reject(client: FixClient, seq: int, tag: int) -> str:
    """The BusinessMessageReject (35=j) of message ``seq``; its Text, which must name ``tag``."""
    reject = client.expect("j", where={45: seq})
    assert f"({tag})" in reject[58], reject
    return reject[58]


@pytest.mark.parametrize("begin_string", ["FIX.4.4", "FIX.4.2"])
def test_a_text_field_that_is_not_printable_ascii_or_too_long_is_rejected_naming_the_tag(
    begin_string: str, connect: Connect, rest: httpx.Client, simulator: Simulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = connect("CLIENT1", begin_string)
    bad_values: list[tuple[int, bytes]] = [
        (11, b"bad\xff1"), (1, b"CLIENT1\xff"), (55, b"AA\xffPL"), (11, b"nul\x00x"), (55, b"AAPL\x7f"),
        (11, b"x" * 65),
    ]
    for tag, value in bad_values:
        fields = order_fields(f"bad-{tag}", 10, "189.00")
        fields[tag] = value  # type: ignore[assignment]
        text = business_reject(client, client.send("D", fields), tag)
        if len(value) > 64:
            assert "65 characters" in text and "at most 64" in text, text
        else:
            assert "printable ASCII" in text, text
    # A cancel whose OrigClOrdID holds a byte that is not ASCII.
    cancel = {11: "cx-1", 41: b"orig\xff", 55: "AAPL", 54: "1", 38: 10, 60: utc_timestamp()}
    business_reject(client, client.send("F", cancel), 41)
    good_order_only(client, rest, simulator, "good-1")
    assert not [r for r in caplog.records if r.exc_info or r.levelname in ("ERROR", "CRITICAL")]
