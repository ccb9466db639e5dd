"""SendingTime (52) read as epoch nanoseconds: what flow limits count orders by."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import quickfix as fix

from gateway.translate import sending_time_ns


def stamped(value: str | None) -> fix.Message:
    message = fix.Message()
    if value is not None:
        message.getHeader().setField(52, value)
    return message


@pytest.mark.parametrize(("text", "expected"), [
    ("20261202-13:45:01", datetime(2026, 12, 2, 13, 45, 1, tzinfo=UTC)),
    ("20261202-13:45:01.123", datetime(2026, 12, 2, 13, 45, 1, 123000, tzinfo=UTC)),
    ("20261231-23:59:59.999999", datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
])
def test_utc_timestamps_in_seconds_milliseconds_and_microseconds(text: str, expected: datetime) -> None:
    assert sending_time_ns(stamped(text)) == int(expected.timestamp()) * 1_000_000_000 + expected.microsecond * 1000


def test_nanoseconds_are_kept() -> None:
    base = int(datetime(2026, 12, 2, 13, 45, 1, tzinfo=UTC).timestamp()) * 1_000_000_000
    assert sending_time_ns(stamped("20261202-13:45:01.000000007")) == base + 7


@pytest.mark.parametrize("text", [None, "garbage", "2026120X-13:45:01", "20261202-1x:45:01", "20261202-13:45:01.abc"])
def test_absent_or_malformed_is_zero(text: str | None) -> None:
    assert sending_time_ns(stamped(text)) == 0
