"""The one owner of a ``risk_events`` row: its shape, the insert, and the read back.

Two paths append to the trail: the book writer (a daily loss breach, journaled with the change that
caused it) over asyncpg, and the REST handlers (KILL, RESUME, LIMITS, CANCEL, ``api.audit``) over
SQLAlchemy. Both build the row with :func:`event_row` and insert it with :func:`insert_event`; the
writer runs that statement compiled once to asyncpg's SQL (:data:`INSERT_ONCE`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from sqlalchemy import Insert, bindparam, exists, insert, select
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

from book.rows import Row, without_nul
from book.tables import risk_events
from domain.model import Breach
from risk.restore import BREACH, RiskEvent

BREACH_BY = "risk"  # who a BREACH row names: the limit acted, not an operator

#: The columns a row is written with: a :class:`~risk.restore.RiskEvent`'s fields but its ``id``
#: (numbered by PostgreSQL).
COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(RiskEvent) if f.name != "id")


def event_row(
    *,
    at_ns: int,
    by: str,
    action: str,
    scope: str | None = None,
    value: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Row:
    """The row of one event (``action`` one of ``book.tables.RISK_ACTIONS``; ``scope`` none for LIMITS)."""
    return {
        "at_ns": at_ns,
        "by": without_nul(by),
        "action": action,
        "scope": scope,
        "value": None if value is None else without_nul(value),
        "details": dict(details or {}),
    }


def breach_row(r: Breach) -> Row:
    """The row of a daily loss breach: the firm's (``account=None``) or an account's new state."""
    return event_row(
        at_ns=r.at_ns,
        by=BREACH_BY,
        action=BREACH,
        scope="firm" if r.account is None else "account",
        value="" if r.account is None else r.account,
        details={
            "state": r.state.value,
            "reason": without_nul(r.reason),
            "daily_loss": format(r.daily_loss, "f"),
            "max_daily_loss": format(r.limit, "f"),
        },
    )


def insert_event(*, once: bool = False) -> Insert:
    """The insert of one row (parameters named as :data:`COLUMNS`). ``once``: skipped when a row of the
    same time, action, scope and value is there already, as a replayed journal writes a breach again
    (at_ns is indexed). Not for operators' rows: a LIMITS row has no scope to tell a copy by."""
    c = risk_events.c
    values = select(*(bindparam(name, type_=c[name].type) for name in COLUMNS))
    if once:
        same = exists().where(
            c.at_ns == bindparam("at_ns"),
            c.action == bindparam("action"),
            c.scope == bindparam("scope"),
            c.value == bindparam("value"),
        )
        values = values.where(~same)
    return insert(risk_events).from_select(list(COLUMNS), values)


_ONCE = insert_event(once=True).compile(dialect=asyncpg_dialect())  # type: ignore[no-untyped-call]
#: :func:`insert_event` ``(once=True)`` as asyncpg runs it, its parameters those of :func:`once_args`.
INSERT_ONCE: str = _ONCE.string
_ONCE_PARAMETERS: tuple[str, ...] = tuple(_ONCE.positiontup or ())


def once_args(row: Row) -> tuple[Any, ...]:
    """The parameters of :data:`INSERT_ONCE` for a row (``details`` as JSON text, asyncpg's jsonb)."""
    return tuple(json.dumps(row[name]) if name == "details" else row[name] for name in _ONCE_PARAMETERS)


def risk_event(m: Mapping[Any, Any]) -> RiskEvent:
    """The risk event of a ``risk_events`` row."""
    values = {name: m[name] for name in ("id", *COLUMNS)}
    if not isinstance(values["details"], Mapping):
        values["details"] = {}
    return RiskEvent(**values)
