"""fixgate's events: every record the journal holds, as a versioned message with a stable id.

The journal is the one source: the gateway appends each change to it on the hot path (see
``book/journal.py``) and nothing else; the bus publisher reads the journal's frames and publishes each
record as one event. So an event's identity is where its record lies in the journal, which never
changes: ``<instance>:<segment>:<frame offset>:<index in frame>``. The same record published twice
(a publisher killed between publishing and learning it had) carries the same id, which JetStream
deduplicates (``Nats-Msg-Id``), and ids of one instance sort in the order the OMS made the changes.

Subjects are ``fixgate.<instance>.<kind>``. The schema is documented in ``docs/EVENTS.md``; a change that
a consumer could misread raises ``VERSION``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson

from book.hops import OrderHops, ReportHops
from domain.model import (
    Breach,
    ClientCancelReject,
    ClientReport,
    ClientSent,
    Control,
    ExecKind,
    ExecutionRecord,
    MarkRecord,
    OrderRecord,
    PositionRecord,
)

VERSION = 1  # the event schema's version: every event carries it as "v"

SUBJECT_ROOT = "fixgate"
INSTANCE_PATTERN = re.compile(r"[A-Za-z0-9_]{1,32}")  # one NATS subject token, no wildcard or dot

# Each record type's kind (the last token of its subject); an execution that is a trade is a fill.
_KINDS: dict[type, str] = {
    OrderRecord: "orders",
    ExecutionRecord: "executions",
    PositionRecord: "positions",
    MarkRecord: "marks",
    Breach: "risk",
    Control: "risk",
    ClientReport: "client",
    ClientCancelReject: "client",
    ClientSent: "sent",
    OrderHops: "hops",
    ReportHops: "hops",
}
KINDS: tuple[str, ...] = ("orders", "fills", "executions", "positions", "marks", "risk", "client", "sent", "hops")


def check_instance(name: str) -> str:
    """``name`` if it can name an instance (a subject token and part of every event id), else ValueError."""
    if not INSTANCE_PATTERN.fullmatch(name):
        raise ValueError(f"instance name {name!r}: 1 to 32 letters, digits or _")
    return name


def kind_of(record: Any) -> str:
    """The kind of event ``record`` makes ("fills" for a trade; see ``KINDS``)."""
    if type(record) is ExecutionRecord and record.kind is ExecKind.TRADE:
        return "fills"
    try:
        return _KINDS[type(record)]
    except KeyError:
        raise ValueError(f"no event kind for {type(record).__name__}") from None


def subject(instance: str, kind: str) -> str:
    return f"{SUBJECT_ROOT}.{instance}.{kind}"


def stream_name(instance: str) -> str:
    """The JetStream stream of one instance's events (subjects ``fixgate.<instance>.>``)."""
    return f"FIXGATE_{instance}"


@dataclasses.dataclass(frozen=True, slots=True)
class EventId:
    """Where an event's record lies in its instance's journal; sorts in journal order."""

    instance: str
    segment: str
    offset: int
    index: int  # the record's place in its frame

    def __str__(self) -> str:
        return f"{self.instance}:{self.segment}:{self.offset}:{self.index}"

    @classmethod
    def parse(cls, text: str) -> EventId:
        instance, segment, offset, index = text.split(":")
        return cls(instance, segment, int(offset), int(index))

    def position(self) -> tuple[int, int, int]:
        """Its place in the journal, comparable across segments: (segment, offset, index)."""
        return (int(self.segment), self.offset, self.index)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # a record type's field names, looked up once (hot in the publisher)


def plain(value: Any) -> Any:
    """A value as JSON holds it: a Decimal as its exact text in plain notation ("0.00000001", never
    "1E-8" and never a float), an enum as its value, a record as an object."""
    kind = type(value)
    if kind is str or kind is int or value is None or kind is bool:
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Enum):
        return value.value
    names = _FIELD_NAMES.get(kind)
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES[kind] = tuple(f.name for f in dataclasses.fields(value))
    if names is not None:
        return {name: plain(getattr(value, name)) for name in names}
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    return value


def order_id_of(record: Any) -> int | None:
    return getattr(record, "order_id", None)


def _body(instance: str, segment: str, offset: int, index: int, record: Any, data: Any) -> dict[str, Any]:
    return {
        "v": VERSION,
        "id": f"{instance}:{segment}:{offset}:{index}",  # EventId's text
        "instance": instance,
        "kind": kind_of(record),
        "type": type(record).__name__,
        "order_id": order_id_of(record),
        "data": data,
    }


def event(instance: str, segment: str, offset: int, index: int, record: Any) -> dict[str, Any]:
    """The event of ``record``, the ``index``-th of the frame at ``offset`` of ``segment``."""
    return _body(instance, segment, offset, index, record, plain(record))


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"{type(value).__name__} is not JSON")


def encode(body: Mapping[str, Any]) -> bytes:
    """An event as its message body: compact UTF-8 JSON. ``data`` may hold the record itself (what the
    publisher passes: orjson writes a dataclass's fields and an enum's value as :func:`plain` would, a
    third of the cost of ``json`` over :func:`plain`'s dict), or its plain form."""
    return orjson.dumps(body, default=_json_default)


def encoded_event(instance: str, segment: str, offset: int, index: int, record: Any) -> tuple[str, str, bytes]:
    """The kind, id and message body of the event of ``record`` (the publisher's path: no plain copy)."""
    body = _body(instance, segment, offset, index, record, record)
    return body["kind"], body["id"], encode(body)


def decode(data: bytes) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(data)
    return body
