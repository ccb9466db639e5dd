"""Risk's operator state rebuilt at start from the ``risk_events`` audit trail.

Kill switches, trading states and live limit changes live in memory (``PreTradeRisk``); each of them
is also a row of ``risk_events`` (KILL, RESUME and LIMITS written by the REST handler that carried it
out, BREACH by the book writer from the journal). Without this, a gateway restarted after
``POST /risk/kill`` would trade again. Folding the trail in time order gives what was in force when
the previous run stopped:

- a kill switch is in force if the last KILL or RESUME of its scope and value is a KILL;
- an account's (or the firm's) state is the last BREACH unless a RESUME of that account (or the
  firm) came after it, as ``PreTradeRisk.resume`` lifts both;
- the limits are the last LIMITS change, validated as ``PUT /risk/limits`` validates them. Stored
  limits that no longer validate (a key this build does not know) are logged as an error and the
  file config stays: refusing to start would leave the venue's working orders with nobody to manage
  them, and the file's limits are the ones an operator configured knowingly.

Pure: no I/O. ``book.writer.read_state`` reads the rows it needs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.model import Halt, TradingState
from risk.checks import SCOPES, PreTradeRisk
from risk.limits import RiskConfig, RiskConfigError, risk_config_from_mapping

log = logging.getLogger(__name__)

KILL = "KILL"
RESUME = "RESUME"
LIMITS = "LIMITS"
BREACH = "BREACH"


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """One row of the ``risk_events`` audit trail."""

    id: int
    at_ns: int
    by: str
    action: str  # KILL, RESUME, LIMITS, BREACH
    scope: str | None  # firm, account, session, symbol; None for LIMITS
    value: str | None
    details: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RestoredRisk:
    """What start-up put back in force."""

    halts: tuple[Halt, ...]  # oldest first
    states: tuple[tuple[str | None, TradingState, str], ...]  # (account, None: the firm; state; reason)
    limits_from: RiskEvent | None  # the LIMITS row now in force; None: the file config stays
    limits_error: str | None  # why the last LIMITS row was not applied


def restore_from_events(risk: PreTradeRisk, events: Iterable[RiskEvent]) -> RestoredRisk:
    """Put the halts, states and limits the trail says were in force back into ``risk``.

    ``events`` need hold only the last row per action, scope and value (the fold looks no further
    back), in any order: they are folded by time, then id (a BREACH replayed from the journal after
    a crash is inserted after rows written meanwhile, but keeps the time it happened)."""
    halts: dict[tuple[str, str], Halt] = {}
    states: dict[str | None, tuple[TradingState, str]] = {}
    limits: RiskEvent | None = None
    for event in sorted(events, key=lambda e: (e.at_ns, e.id)):
        scope = event.scope or ""
        value = "" if scope == "firm" else event.value or ""
        if event.action == KILL and scope in SCOPES:
            halts[(scope, value)] = Halt(scope, value, event.by, event.at_ns,
                                         str(event.details.get("reason", "")))
        elif event.action == RESUME:
            halts.pop((scope, value), None)
            if scope in ("firm", "account"):
                states.pop(None if scope == "firm" else value, None)
        elif event.action == BREACH and scope in ("firm", "account"):
            states[None if scope == "firm" else value] = _breach_state(event)
        elif event.action == LIMITS:
            limits = event

    limits_error = None
    if limits is not None:
        config, limits_error = _limits(limits)
        if config is None:
            limits = None
        else:
            risk.config = config
            log.warning("risk limits of %s by %s (risk_events id %d) are in force, not the config file's",
                        _when(limits), limits.by, limits.id)
    for key, halt in halts.items():
        risk.halts[key] = halt
        log.warning("kill switch still in force: %s %s halted by %s at %s: %s", halt.scope,
                    halt.value or "-", halt.by, _when_ns(halt.at_ns), halt.reason)
    for account, (state, reason) in states.items():
        risk.set_state(account, state, reason)
        log.warning("%s still %s (%s) until an operator resumes it",
                    "the firm" if account is None else f"account {account}", state, reason)
    return RestoredRisk(
        halts=tuple(sorted(halts.values(), key=lambda h: h.at_ns)),
        states=tuple((account, state, reason) for account, (state, reason) in states.items()),
        limits_from=limits,
        limits_error=limits_error,
    )


def _breach_state(event: RiskEvent) -> tuple[TradingState, str]:
    """The state and reason of a BREACH row. A row this build cannot read still stops trading
    (HALTED): the limit was broken, and guessing the milder state could let orders through."""
    raw = event.details.get("state")
    reason = str(event.details.get("reason") or "daily loss limit broken")
    if raw in (TradingState.REDUCING, TradingState.HALTED):
        return TradingState(str(raw)), reason
    log.error("risk_events id %d: BREACH with state %r: restored as HALTED", event.id, raw)
    return TradingState.HALTED, reason


def _limits(event: RiskEvent) -> tuple[RiskConfig | None, str | None]:
    """The config of a LIMITS row, or why it cannot be used (logged)."""
    source = f"risk_events id {event.id} (LIMITS of {_when(event)} by {event.by})"
    new = event.details.get("new")
    try:
        if not isinstance(new, Mapping):
            raise RiskConfigError(f"{source}: no limits in details.new: {new!r}")
        return risk_config_from_mapping(new, source), None
    except (RiskConfigError, TypeError, AttributeError) as exc:
        # Not only RiskConfigError: a stored value of an unexpected shape fails inside validation.
        error = str(exc) if isinstance(exc, RiskConfigError) else f"{source}: {type(exc).__name__}: {exc}"
        log.error("stored risk limits do not validate, the config file's stay in force: %s", error)
        return None, error


def _when(event: RiskEvent) -> str:
    return _when_ns(event.at_ns)


def _when_ns(at_ns: int) -> str:
    return datetime.fromtimestamp(at_ns / 1e9, UTC).isoformat(timespec="seconds")


__all__ = ["BREACH", "KILL", "LIMITS", "RESUME", "RestoredRisk", "RiskEvent", "restore_from_events"]
