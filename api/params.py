"""Parameter types of the API: every value a client sends is checked here against what the book can
store, so a bad one is a 422 naming it, never a database error.

The book's ids and times are PostgreSQL ``BIGINT`` (64-bit) and its text is ``TEXT``, which cannot
hold a NUL character; JSON can also carry lone UTF-16 surrogates that no UTF-8 text can encode.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, Field

from api.errors import InvalidParameter

INT64_MAX = 2**63 - 1
MAX_TEXT = 200  # an account, symbol, CompID or operator name; far more than FIX peers send
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def storable_text(value: str) -> str:
    """``value`` if PostgreSQL text can hold it and it has no control characters; else a ValueError
    (which FastAPI turns into a 422 naming the parameter)."""
    for char in value:
        code = ord(char)
        if code < 0x20 or code == 0x7F:
            raise ValueError(f"control character {char!r} is not allowed")
        if 0xD800 <= code <= 0xDFFF:
            raise ValueError(f"lone surrogate {char!r} is not text")
    return value


#: Text a client sends to filter or name something: no control characters, at most MAX_TEXT long.
SafeText = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(storable_text)]

#: An order id in a path: a positive 64-bit integer, as the book stores it.
OrderId = Annotated[int, Path(ge=1, le=INT64_MAX, description="the gateway's order id")]


def utc_time(ns: int) -> datetime:
    """Epoch nanoseconds as a UTC time (JSON: ISO-8601 with ``Z``), exact to the microsecond."""
    seconds, rest = divmod(ns, 1_000_000_000)  # no float of the whole
    return datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=rest // 1000)


def cursor(what: str) -> Any:
    """The ``after`` query parameter of a paged list: 0 .. 2**63-1."""
    return Query(ge=0, le=INT64_MAX,
                 description=f"cursor: only {what} (the X-Next-Cursor of the previous page)")


def parse_time_ns(name: str, value: str | None) -> int | None:
    """An ISO-8601 timestamp with a UTC offset, as integer nanoseconds since the epoch, within the
    book's 64-bit range (1677-09-21 .. 2262-04-11)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidParameter(
            f"{name}={value!r} is not an ISO-8601 timestamp (e.g. 2025-11-21T14:30:00Z)"
        ) from None
    if moment.tzinfo is None:
        # Which zone a bare time means is a guess; a wrong guess silently shifts the window by hours.
        raise InvalidParameter(f"{name}={value!r} has no UTC offset: add Z or +00:00")
    try:
        ns = (moment - _EPOCH) // timedelta(microseconds=1) * 1000
    except OverflowError:
        ns = INT64_MAX + 1  # out of range either way; said below
    if not -INT64_MAX - 1 <= ns <= INT64_MAX:
        raise InvalidParameter(f"{name}={value!r} is outside the times the book can hold"
                               " (1677-09-21 to 2262-04-11 UTC)")
    return ns
