"""How the REST API writes decimals: the exact value, plain."""

from decimal import Decimal as D

import pytest

from api.schemas import format_decimal


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("190.0500"), "190.05"),
        (D("1E+2"), "100"),
        (D("-0.00"), "0"),
        (D("-7.20"), "-7.2"),
        (D("0.00000001"), "0.00000001"),
        # More digits than the default context's 28: written whole, never rounded.
        (D("123456789012.12345678901234567890"), "123456789012.1234567890123456789"),
        (D("-98765432109876543210.0000000001"), "-98765432109876543210.0000000001"),
    ],
)
def test_a_decimal_is_written_exactly_without_exponent_or_trailing_zeros(value: D, text: str) -> None:
    assert format_decimal(value) == text
