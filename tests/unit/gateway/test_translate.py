"""The edge's checks of client fields: text printable ASCII of 1 to 64 characters, numbers in range,
the tag named."""

from __future__ import annotations

import pytest
import quickfix as fix

from gateway.translate import MAX_TEXT_LENGTH, Invalid, invalid_text, parse_new_order, text_field, venue_text


def message(**fields: str) -> fix.Message:
    msg = fix.Message()
    for tag, value in fields.items():
        msg.setField(int(tag[1:]), value)
    return msg


@pytest.mark.parametrize(
    "value", ["caf\u00e9", "tab\there", "del\x7f", "nul\x00x", "x" * (MAX_TEXT_LENGTH + 1)]
)
def test_a_value_that_is_not_short_printable_ascii_is_invalid_naming_the_tag(value: str) -> None:
    # (A byte that is not UTF-8 cannot be set from Python; the acceptance tests send it on the wire.)
    found = text_field(message(t11=value), 11)
    assert isinstance(found, Invalid) and found.tag == 11 and "ClOrdID (11)" in found.text


def test_printable_ascii_up_to_the_bound_passes() -> None:
    value = "A-b_9 ~!" + "x" * (MAX_TEXT_LENGTH - 8)
    assert text_field(message(t11=value), 11) == value


def test_invalid_text_names_the_first_bad_tag_present() -> None:
    assert invalid_text(message(t11="ok", t55="AA\u00e9"), (11, 1, 55)) == Invalid(
        55, "Symbol (55) must be printable ASCII (0x20-0x7E)"
    )
    assert invalid_text(message(t11="ok"), (11, 1, 55)) is None


@pytest.mark.parametrize(("value", "stored"), [
    ("SIM-1", "SIM-1"),
    ("r\u00e9f", "r\\xc3\\xa9f"),  # UTF-8 bytes
    ("a\udcffb", "a\\xffb"),  # how QuickFIX hands over a byte that is not UTF-8
    ("nul\x00tab\t", "nul\\x00tab\\x09"),
])
def test_a_venue_string_is_kept_as_printable_ascii_byte_for_byte(value: str, stored: str) -> None:
    assert venue_text(value) == stored
    assert venue_text(value) == venue_text(value)  # a repeated report is known as one


@pytest.mark.parametrize(("price", "ok"), [
    ("999999999999", True), ("1000000000000", False), ("99999999999999999999999999999", False),
    ("190.12345678", True), ("190.123456789", False), ("1E+20000000", False), ("1E-9", False),
])
def test_a_price_out_of_range_is_refused_naming_the_tag(price: str, ok: bool) -> None:
    order = message(t11="c1", t21="1", t55="AAPL", t54="1", t38="10", t40="2", t44=price)
    parsed = parse_new_order(order, "FIX.4.4:FIXGATE->CLIENT1", "CLIENT1", 1)
    if ok:
        assert not isinstance(parsed, Invalid)
    else:
        assert isinstance(parsed, Invalid) and parsed.tag == 44
        assert parsed.text == (f"Price (44) {price} is out of range: at most 12 digits before the decimal point"
                               " and 8 after")
