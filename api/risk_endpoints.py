"""Pre-trade risk over HTTP: the kill switch, its status, and the limits, changed live.

Every call that changes something (``POST /risk/kill``, ``POST /risk/resume``, ``PUT`` and ``PATCH
/risk/limits``) needs an operator identity; it is validated whole (every text storable in the audit
row), then acts on the live risk interceptor, then appends a row to the ``risk_events`` audit table
with who (the authenticated identity's name), when and what. The order is on purpose: a kill switch
must not wait on the database, and nothing takes effect that its audit row could not hold. Those rows
are also what a restarted gateway rebuilds its kill switches, states and limits from
(``risk.restore``), with the BREACH rows the book writer adds when the daily loss limit sets a state.

The reads (status, limits, events) need an operator or a viewer: they show every account.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.audit import audit
from api.auth import Operator, authenticate, firm_reader
from api.errors import PROTECTED_RESPONSES, ErrorBody, InvalidParameter, Unavailable
from api.params import MAX_TEXT, SafeText, storable_text, utc_time
from api.risk_repository import RiskEventRepository
from api.schemas import DecimalString
from book.tables import RiskAction
from domain.model import Halt, TradingState
from risk import (
    PreTradeRisk,
    RiskConfig,
    RiskConfigError,
    risk_config_from_mapping,
    risk_config_to_mapping,
)
from risk.restore import KILL, RESUME
from risk.status import ExposureUse, risk_status

_log = logging.getLogger(__name__)

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorBody, "description": "no gateway is wired to this API"}}
_BAD_BODY: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "the body is not JSON this API can read"}}
# Authenticated first (router dependencies run before an endpoint's own): a caller without a token
# learns nothing, not even that no gateway is wired (503).
risk_router = APIRouter(prefix="/risk", tags=["risk"], dependencies=[Depends(authenticate)],
                        responses={**PROTECTED_RESPONSES, **_UNAVAILABLE})

RECENT_ACTIONS = 20  # kills and resumes shown by GET /risk/status
MAX_REASON = 1000
# How deep a limits body nests: the body, a table of tables (accounts), a table (ACC1), then values.
MAX_LIMITS_DEPTH = 3
Scope = Literal["firm", "account", "session", "symbol"]


class RiskOperations(Protocol):
    """What the risk endpoints act on (``oms.controls.TradingControls``)."""

    risk: PreTradeRisk

    def kill(self, scope: str, value: str, by: str, reason: str) -> tuple[Halt, int]:
        """Halt new orders in the scope and cancel its working orders; the halt and the cancels sent."""
        ...

    def resume(self, scope: str, value: str, by: str) -> Halt | None:
        """Lift the scope's kill switch (and a daily-loss state); the halt lifted, if one was in force."""
        ...


# -- SCHEMAS -----------------------------------------------------------------------------------------


class _Schema(BaseModel):
    model_config = ConfigDict(frozen=True)


class KillRequest(BaseModel):
    """Which scope to halt, and why."""

    model_config = ConfigDict(extra="forbid")

    scope: Scope
    value: SafeText = Field("", description="account, client CompID or symbol; ignored for the firm")
    reason: Annotated[str, Field(max_length=MAX_REASON), AfterValidator(storable_text)] = Field(
        "", description="shown in the Text of every order it rejects")


class ResumeRequest(BaseModel):
    """Which kill switch to lift."""

    model_config = ConfigDict(extra="forbid")

    scope: Scope
    value: SafeText = ""


class HaltOut(_Schema):
    """A kill switch in force."""

    scope: str
    value: str
    by: str
    at: datetime
    at_ns: int
    reason: str


class KillResponse(_Schema):
    halt: HaltOut
    cancels_sent: int = Field(description="cancels sent to venues for the scope's working orders")


class ResumeResponse(_Schema):
    scope: str
    value: str
    by: str
    lifted: HaltOut | None = Field(description="the kill switch lifted; null if none was in force")


class LimitUseOut(_Schema):
    limit: str
    used: DecimalString
    max: DecimalString
    percent: DecimalString


class ExposureOut(_Schema):
    """Exposure of an account (``account`` null: the firm) and the use of each of its limits."""

    account: str | None
    state: TradingState
    gross_notional: DecimalString
    net_notional: DecimalString
    worst_case_net_notional: DecimalString
    credit_used: DecimalString
    daily_pnl: DecimalString
    limits: list[LimitUseOut]


class RiskEventOut(_Schema):
    id: int
    at: datetime
    at_ns: int
    by: str
    action: str
    scope: str | None
    value: str | None
    details: dict[str, Any]


class PositionUseOut(_Schema):
    """``max_position`` of an account in a symbol: the worst-case position against the limit."""

    account: str
    symbol: str
    position: DecimalString
    worst_case: DecimalString
    max: DecimalString
    percent: DecimalString


class RateUseOut(_Schema):
    """``max_orders_per_second`` of a client session: its orders of the last second against the limit."""

    session: str
    orders_last_second: int
    max: int
    percent: DecimalString


class RiskStatusOut(_Schema):
    firm_state: TradingState
    firm: ExposureOut
    accounts: list[ExposureOut]
    account_states: dict[str, TradingState]
    halts: list[HaltOut]
    rejections: dict[str, int] = Field(description="denials since start per check, every check (0: none)")
    positions: list[PositionUseOut] = Field(description="max_position use of every exposed account and symbol")
    order_rates: list[RateUseOut] = Field(description="order rate use of every session with a rate limit")
    recent_actions: list[RiskEventOut] = Field(
        description=f"the last {RECENT_ACTIONS} kills and resumes, newest first: who, when, which scope")


def _halt(halt: Halt) -> HaltOut:
    return HaltOut(scope=halt.scope, value=halt.value, by=halt.by, at=utc_time(halt.at_ns), at_ns=halt.at_ns,
                   reason=halt.reason)


def _exposure(use: ExposureUse) -> ExposureOut:
    return ExposureOut(
        account=use.account, state=use.state, gross_notional=use.gross_notional,
        net_notional=use.net_notional, worst_case_net_notional=use.worst_case_net_notional,
        credit_used=use.credit_used, daily_pnl=use.daily_pnl,
        limits=[LimitUseOut(limit=u.limit, used=u.used, max=u.max, percent=u.percent) for u in use.limits],
    )


# -- DEPENDENCIES ------------------------------------------------------------------------------------


def _operations(request: Request) -> RiskOperations:
    operations: RiskOperations | None = request.app.state.risk
    if operations is None:
        raise Unavailable("risk operations are not available: this API serves the book only")
    return operations


Operations = Annotated[RiskOperations, Depends(_operations)]


def _value(scope: str, value: str) -> str:
    value = value.strip()
    if scope != "firm" and not value:
        raise InvalidParameter(f"scope {scope!r} needs a value (the {_WHAT[scope]})")
    return "" if scope == "firm" else value


_WHAT = {"account": "account", "session": "client CompID", "symbol": "symbol"}


# -- ENDPOINTS ---------------------------------------------------------------------------------------


@risk_router.post("/kill", response_model=KillResponse, responses=_BAD_BODY)
async def kill(body: KillRequest, request: Request, caller: Operator, operations: Operations) -> KillResponse:
    """The kill switch: halt new orders in a scope (firm, account, client session by CompID, symbol)
    and cancel every working order in it at every venue. Orders in the scope are then rejected with a
    Text naming the halt, who pulled it and why, until ``POST /risk/resume``."""
    value = _value(body.scope, body.value)
    reason = body.reason.strip() or "no reason given"
    by = caller.name
    # Off the event loop: the sweep takes the OMS lock and each venue session's send lock.
    halt, sent = await run_in_threadpool(operations.kill, body.scope, value, by, reason)
    await audit(request, f"kill switch on {body.scope} {value}".rstrip(), at_ns=halt.at_ns, by=by,
                 action="KILL", scope=body.scope, value=value,
                 details={"reason": reason, "cancels_sent": sent})
    return KillResponse(halt=_halt(halt), cancels_sent=sent)


@risk_router.post("/resume", response_model=ResumeResponse, responses=_BAD_BODY)
async def resume(
    body: ResumeRequest, request: Request, caller: Operator, operations: Operations
) -> ResumeResponse:
    """Lift a kill switch; for the firm or an account, also the state a daily loss breach set."""
    value = _value(body.scope, body.value)
    by = caller.name
    lifted = operations.resume(body.scope, value, by)
    details: dict[str, Any] = {"lifted": None}
    if lifted is not None:
        details["lifted"] = {"by": lifted.by, "at_ns": lifted.at_ns, "reason": lifted.reason}
    await audit(request, f"resume of {body.scope} {value}".rstrip(), at_ns=time.time_ns(), by=by,
                 action="RESUME", scope=body.scope, value=value, details=details)
    return ResumeResponse(scope=body.scope, value=value, by=by, lifted=None if lifted is None else _halt(lifted))


@risk_router.get("/status", response_model=RiskStatusOut, dependencies=[Depends(firm_reader)])
async def status(request: Request, operations: Operations) -> RiskStatusOut:
    """Trading states, kill switches in force, each limit's use (gross and worst-case net notional,
    credit and daily loss per account with limits and for the firm; worst-case position per account
    and symbol; order rate per session), denials per check, and the last kills and resumes."""
    snapshot = await run_in_threadpool(risk_status, operations.risk)
    async with request.app.state.engine.connect() as conn:
        actions = await RiskEventRepository(conn).list(action=(KILL, RESUME), limit=RECENT_ACTIONS)
    return RiskStatusOut(
        firm_state=snapshot.firm.state,
        firm=_exposure(snapshot.firm),
        accounts=[_exposure(a) for a in snapshot.accounts],
        account_states=snapshot.account_states,
        halts=[_halt(h) for h in snapshot.halts],
        rejections=snapshot.rejections,
        positions=[PositionUseOut(account=p.account, symbol=p.symbol, position=p.position,
                                  worst_case=p.worst_case, max=p.max, percent=p.percent)
                   for p in snapshot.positions],
        order_rates=[RateUseOut(session=r.session, orders_last_second=r.orders_last_second, max=r.max,
                                percent=r.percent) for r in snapshot.order_rates],
        recent_actions=[RiskEventOut.model_validate(dict(row)) for row in actions],
    )


@risk_router.get("/limits", dependencies=[Depends(firm_reader)])
async def get_limits(operations: Operations) -> dict[str, Any]:
    """The limits in force, in the shape of ``config/risk.toml`` (numbers as strings)."""
    return risk_config_to_mapping(operations.risk.config)


_LIMITS_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_BAD_BODY,
    422: {"model": ErrorBody, "description": "a key or value is not valid, or a limit in force is neither"
          " given nor turned off (null): the detail names it; nothing changed"},
}


@risk_router.put("/limits", responses=_LIMITS_RESPONSES)
async def put_limits(
    request: Request,
    caller: Operator,
    operations: Operations,
    limits: Annotated[dict[str, Any], Body(description="the whole config, as GET /risk/limits returns it,"
                                                       " with null for each limit to turn off")],
) -> dict[str, Any]:
    """Replace every limit at once, live. Nothing is turned off by leaving it out: each limit in force
    must be in the body, with its value (kept or changed) or null (turned off); a table set to null
    (``"accounts": {"ACC1": null}``) turns off all of it. Validated first (a bad key or value, or a
    limit in force left out, is a 422 naming it, and nothing changes), then swapped in for the next
    check. The change is kept with the old and new limits in the audit trail."""
    _check_body(limits)
    given = _without_nulls(limits)
    _validated(given)  # a bad key or value is named before what is missing
    left_out = _left_out(risk_config_to_mapping(operations.risk.config), limits)
    if left_out:
        raise InvalidParameter(
            f"limits in force left out of the body: {', '.join(left_out)}; send each with its value, or null"
            " to turn it off (or use PATCH /risk/limits to change only some)")
    return await _replace_limits(request, operations, caller.name, given)


@risk_router.patch("/limits", responses=_LIMITS_RESPONSES)
async def patch_limits(
    request: Request,
    caller: Operator,
    operations: Operations,
    changes: Annotated[dict[str, Any], Body(description="a JSON merge patch (RFC 7396) of GET /risk/limits: a"
                                                        " value sets, null turns off, a key left out stays")],
) -> dict[str, Any]:
    """Change some limits, live: the body is merged into the limits in force as a JSON merge patch
    (RFC 7396): a key with a value sets it, a key with null turns that limit (or table) off, a key left
    out stays as it is (``{}`` changes nothing); a list (``restricted_symbols``) is replaced whole.
    Validated like PUT; kept in the audit trail with the old and new limits."""
    _check_body(changes)
    merged = _merge_patch(risk_config_to_mapping(operations.risk.config), changes)
    return await _replace_limits(request, operations, caller.name, merged)


async def _replace_limits(request: Request, operations: RiskOperations, by: str,
                          limits: Mapping[str, Any]) -> dict[str, Any]:
    new = _validated(limits)
    risk = operations.risk
    # On the event loop with no await between: two changes cannot interleave, so "old" is what was replaced.
    old = risk.config
    risk.config = new
    _log.warning("risk limits replaced by %s", by)
    after = risk_config_to_mapping(new)
    await audit(request, "the limit change", at_ns=time.time_ns(), by=by, action="LIMITS",
                 details={"old": risk_config_to_mapping(old), "new": after})
    return after


def _validated(limits: Mapping[str, Any]) -> RiskConfig:
    try:
        return risk_config_from_mapping(limits, "limits")
    except RiskConfigError as exc:
        raise InvalidParameter(str(exc)) from None


def _check_body(body: Mapping[str, Any]) -> None:
    """A limits body nests no deeper than the config does, and every key and text in it is text the
    audit row can store: else a 422 naming the first place that is not. The depth first: the other
    walks of a body (this one, the merge patch, what PUT leaves out) recurse."""
    _check_depth(body)
    _check_strings(body)


def _check_depth(body: Mapping[str, Any]) -> None:
    # A loop, not a recursion: a client's JSON may nest as deep as the parser takes (some 960 levels).
    pending: list[tuple[Any, str, int]] = [(body, "limits", 1)]
    while pending:
        value, where, depth = pending.pop()
        if isinstance(value, Mapping):
            children = [(item, f"{where}.{str(key)[:50]}") for key, item in value.items()]
        elif isinstance(value, list):
            children = [(item, f"{where}[{n}]") for n, item in enumerate(value)]
        else:
            continue
        if depth > MAX_LIMITS_DEPTH:
            raise InvalidParameter(
                f"{where}: nested too deep; limits nest at most {MAX_LIMITS_DEPTH} levels"
                " (as accounts.ACC1.max_order_qty), and a limit is a number, text or true/false")
        pending += [(item, path, depth + 1) for item, path in children]


def _check_strings(value: Any, where: str = "limits") -> None:
    """Every key and text of a limits body (of a depth checked) is text the audit row can store: 422
    naming the first that is not."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            _check_text(f"{where}: key", key)
            _check_strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _check_strings(item, f"{where}[{n}]")
    elif isinstance(value, str):
        _check_text(where, value)


def _check_text(where: str, text: str) -> None:
    try:
        storable_text(text)
    except ValueError as exc:
        raise InvalidParameter(f"{where} {text[:50]!r}: {exc}") from None
    if len(text) > MAX_TEXT:
        raise InvalidParameter(f"{where} {text[:50]!r}...: longer than {MAX_TEXT} characters")


def _in_force(value: Any) -> bool:
    """A limit, or a table or list with something in it (an empty one turns nothing on)."""
    return bool(value) if isinstance(value, (Mapping, list)) else value is not None


def _left_out(old: Mapping[str, Any], new: Mapping[str, Any], where: str = "") -> list[str]:
    """The limits in force in ``old`` that ``new`` neither gives nor turns off with null, by path."""
    missing: list[str] = []
    for key, value in old.items():
        path = f"{where}{key}"
        given = new.get(key, {}) if isinstance(value, Mapping) else new.get(key)
        if isinstance(value, Mapping) and isinstance(given, Mapping):
            missing += _left_out(value, given, f"{path}.")  # each limit of a table left out, by name
        elif key not in new and _in_force(value):
            missing.append(path)
    return missing


def _without_nulls(value: Any) -> Any:
    """A body with its null limits (and tables) left out: how the config says "off"."""
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch of ``target`` by ``patch``."""
    if not isinstance(patch, Mapping):
        return patch
    merged = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge_patch(merged.get(key), value)
    return merged


@risk_router.get("/events", response_model=list[RiskEventOut], dependencies=[Depends(firm_reader)])
async def events(
    request: Request,
    action: Annotated[RiskAction | None,
                      Query(description="only this kind")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[RiskEventOut]:
    """The audit trail, newest first: KILL, RESUME, LIMITS and CANCEL (``POST /orders/{id}/cancel``,
    the order id as ``value``) by the identity that acted, and BREACH (a state the daily loss limit
    set, ``by`` "risk")."""
    async with request.app.state.engine.connect() as conn:
        rows = await RiskEventRepository(conn).list(action=action, limit=limit)
    return [RiskEventOut.model_validate(dict(row)) for row in rows]
