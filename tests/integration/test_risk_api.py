"""The risk endpoints on real PostgreSQL with a real ``PreTradeRisk`` and a stub gateway: the audit
trail, validation, the token, and the numbers of ``GET /risk/status``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from api import create_app
from api.identities import Identity, Role, hash_token
from book.database import async_url, run_sync
from book.journal import Journal, replay
from book.tables import RISK_ACTIONS
from book.writer import BookWriter, load_state
from domain.model import Breach, Halt, Instrument, NewOrder, OrdType, Side, TimeInForce, TradingState
from fixgate.rest import RestServer
from risk import PreTradeRisk, risk_config_from_mapping, risk_config_to_mapping
from risk.checks import CHECKS
from risk.restore import restore_from_events
from tests.support import free_port

TOKEN = "integration-test-token-0123456789"  # the single API token: an operator named "api"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: Named operators of the tokens file, by the hash of their token.
OPERATORS = {name: f"{name}-token-0123456789abcdef" for name in ("alice", "bob")}
IDENTITIES = {hash_token(token): Identity(name, Role.OPERATOR) for name, token in OPERATORS.items()}


def as_(name: str) -> dict[str, str]:
    """The headers of a request by the named operator."""
    return {"Authorization": f"Bearer {OPERATORS[name]}"}

INSTRUMENTS = {"AAPL": Instrument("AAPL", "SIM", D("0.01"), D(1), D("100.00"))}
LIMITS: dict[str, Any] = {
    "firm": {"max_order_qty": "1000", "max_gross_notional": "1000000", "max_daily_loss": "5000",
             "daily_loss_action": "HALTED"},
    "accounts": {"ACC1": {"max_gross_notional": "100000", "max_net_notional": "50000", "credit_limit": "40000",
                          "max_daily_loss": "1000", "daily_loss_action": "REDUCING"},
                 "ACC2": {"max_order_qty": "10"}},  # per-order limits only: no utilization
}


class StubGateway:
    """The gateway's risk side without FIX: halts go to the real ``PreTradeRisk``; cancels are counted."""

    def __init__(self, risk: PreTradeRisk) -> None:
        self.risk = risk
        self.kills: list[tuple[str, str, str, str]] = []

    def kill(self, scope: str, value: str, by: str, reason: str) -> tuple[Halt, int]:
        self.kills.append((scope, value, by, reason))
        return self.risk.kill(scope, value, by, reason), 3

    def resume(self, scope: str, value: str, by: str) -> Halt | None:
        return self.risk.resume(scope, value, by)


@pytest.fixture
def gateway() -> StubGateway:
    return StubGateway(PreTradeRisk(INSTRUMENTS, risk_config_from_mapping(LIMITS)))


@contextmanager
def serve(database_url: str, headers: dict[str, str], **options: Any) -> Iterator[httpx.Client]:
    """The app on a real socket (uvicorn on 127.0.0.1)."""
    app = create_app(database_url, api_token=TOKEN, api_tokens=IDENTITIES, **options)
    server = RestServer(app, "127.0.0.1", free_port())
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10.0, headers=headers) as client:
            yield client
    finally:
        server.stop()


@pytest.fixture
def api(database_url: str, gateway: StubGateway) -> Iterator[httpx.Client]:
    with serve(database_url, AUTH, risk=gateway) as client:
        yield client


def rows(database_url: str, sql: str) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        engine = create_async_engine(async_url(database_url), poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                return [dict(r) for r in (await conn.execute(text(sql))).mappings()]
        finally:
            await engine.dispose()

    return run_sync(run)


def new_order(qty: str, account: str = "ACC1", side: Side = Side.BUY, price: str = "100") -> NewOrder:
    return NewOrder("FIX.4.4:FIXGATE->CLIENT1", "c", account, "AAPL", side, OrdType.LIMIT, D(qty), D(price),
                    TimeInForce.DAY, time.time_ns())


def test_kill_and_resume_act_on_risk_and_are_kept_with_who_and_when(
    api: httpx.Client, gateway: StubGateway, database_url: str
) -> None:
    killed = api.post("/risk/kill", json={"scope": "account", "value": "ACC1", "reason": "fat finger"},
                      headers=as_("alice"))
    assert killed.status_code == 200, killed.text
    body = killed.json()
    assert body["cancels_sent"] == 3
    assert {k: body["halt"][k] for k in ("scope", "value", "by", "reason")} == {
        "scope": "account", "value": "ACC1", "by": "alice", "reason": "fat finger"}
    assert gateway.kills == [("account", "ACC1", "alice", "fat finger")]
    assert gateway.risk.check(new_order("1")) == "trading halted for account ACC1 by alice: fat finger"
    assert gateway.risk.check(new_order("1", account="ACC3")) is None

    status = api.get("/risk/status").json()
    assert [(h["scope"], h["value"], h["by"], h["reason"]) for h in status["halts"]] == [
        ("account", "ACC1", "alice", "fat finger")]
    assert denials(status) == {"kill_switch": 1}
    assert [(a["action"], a["scope"], a["value"], a["by"]) for a in status["recent_actions"]] == [
        ("KILL", "account", "ACC1", "alice")]

    resumed = api.post("/risk/resume", json={"scope": "account", "value": "ACC1"})  # the API token: "api"
    assert resumed.status_code == 200
    assert resumed.json()["by"] == "api" and resumed.json()["lifted"]["by"] == "alice"
    assert gateway.risk.check(new_order("1")) is None
    assert api.post("/risk/resume", json={"scope": "account", "value": "ACC1"}).json()["lifted"] is None
    # Who lifted it, and when, shows in the status beside the kill (newest first).
    status = api.get("/risk/status").json()
    assert status["halts"] == []
    assert [(a["action"], a["by"]) for a in status["recent_actions"]] == [
        ("RESUME", "api"), ("RESUME", "api"), ("KILL", "alice")]
    assert status["recent_actions"][0]["at_ns"] >= status["recent_actions"][2]["at_ns"]

    audit = rows(database_url, "SELECT action, scope, value, by, details, at, at_ns FROM risk_events ORDER BY id")
    assert [(r["action"], r["scope"], r["value"], r["by"]) for r in audit] == [
        ("KILL", "account", "ACC1", "alice"), ("RESUME", "account", "ACC1", "api"),
        ("RESUME", "account", "ACC1", "api")]
    assert audit[0]["details"] == {"reason": "fat finger", "cancels_sent": 3}
    assert audit[0]["at_ns"] == body["halt"]["at_ns"]
    assert audit[0]["at"].timestamp() == pytest.approx(audit[0]["at_ns"] / 1e9, abs=1e-5)
    assert audit[1]["details"]["lifted"]["by"] == "alice" and audit[2]["details"] == {"lifted": None}
    events = api.get("/risk/events", params={"action": "KILL"}).json()
    assert [(e["action"], e["by"], e["details"]["reason"]) for e in events] == [("KILL", "alice", "fat finger")]


def test_kill_firm_needs_no_value_and_other_scopes_do(api: httpx.Client, gateway: StubGateway) -> None:
    assert api.post("/risk/kill", json={"scope": "firm"}).status_code == 200
    assert gateway.risk.check(new_order("1", account="ANY")) == "trading halted for the firm by api: no reason given"
    missing = api.post("/risk/kill", json={"scope": "symbol", "reason": "x"})
    assert (missing.status_code, missing.json()) == (422, {"detail": "scope 'symbol' needs a value (the symbol)"})
    wrong = api.post("/risk/kill", json={"scope": "desk", "value": "X"})
    assert wrong.status_code == 422 and "'scope'" in wrong.json()["detail"]
    extra = api.post("/risk/kill", json={"scope": "firm", "who": "me"})
    assert extra.status_code == 422 and "'who'" in extra.json()["detail"]
    assert gateway.kills == [("firm", "", "api", "no reason given")]


def test_put_limits_swaps_them_live_and_keeps_old_and_new(
    api: httpx.Client, gateway: StubGateway, database_url: str
) -> None:
    before = api.get("/risk/limits").json()
    assert before["firm"]["max_order_qty"] == "1000"
    assert gateway.risk.check(new_order("1000", account="ACC3")) is None
    changed = {**before, "firm": {**before["firm"], "max_order_qty": "500"}}
    put = api.put("/risk/limits", json=changed, headers=as_("bob"))
    assert put.status_code == 200, put.text
    assert put.json() == changed == api.get("/risk/limits").json()
    assert gateway.risk.check(new_order("501", account="ACC3")) == "order qty 501 > max 500 for AAPL"
    assert gateway.risk.check(new_order("500", account="ACC3")) is None
    [row] = rows(database_url, "SELECT action, scope, by, details FROM risk_events")
    assert (row["action"], row["scope"], row["by"]) == ("LIMITS", None, "bob")
    assert row["details"] == {"old": before, "new": changed}


@pytest.mark.parametrize(
    ("limits", "named"),
    [
        ({"firm": {"max_ordr_qty": "5"}}, "max_ordr_qty"),
        ({"firm": {"max_order_qty": "-5"}}, "firm.max_order_qty = '-5' must be a positive number"),
        ({"firm": {"max_order_qty": 1.5}}, "not a float"),
        ({"accounts": {"ACC1": {"daily_loss_action": "PANIC"}}}, "accounts.ACC1.daily_loss_action"),
        ({"limits": {}}, "unknown key(s) ['limits']"),
        ({"flow": {"max_orders_per_second": "fast"}}, "flow.max_orders_per_second"),
        # Bounded: a finite Decimal can still be 20 MB of digits once written out.
        ({"firm": {"max_order_qty": "1E+20000000"}}, "firm.max_order_qty = '1E+20000000' must be below"),
        ({"firm": {"max_gross_notional": "1000000000000000"}}, "firm.max_gross_notional"),
        ({"firm": {"max_order_qty": "0.000000001"}}, "at most 8 decimal places"),
        ({"firm": {"max_order_qty": "NaN"}}, "must be a positive number"),
        ({"flow": {"max_orders_per_second": 10**30}}, "positive integer up to 1000000000"),
        ({"duplicate_window_ms": 0}, "duplicate_window_ms"),
        ({"accounts": {"ACC\u0000": {"max_order_qty": "1"}}}, "limits.accounts: key"),
        ({"restricted_symbols": ["AA\u0000PL"]}, "limits.restricted_symbols[0]"),
    ],
)
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_bad_limits_are_422_naming_the_key_and_change_nothing(
    api: httpx.Client, gateway: StubGateway, database_url: str, limits: dict[str, Any], named: str,
    method: str,
) -> None:
    config = gateway.risk.config
    response = api.request(method, "/risk/limits", json=limits)
    assert response.status_code == 422
    assert named in response.json()["detail"]
    assert gateway.risk.config is config
    assert rows(database_url, "SELECT id FROM risk_events") == []


@pytest.mark.parametrize("body", [{}, {"firm": {"max_order_qty": "5"}},
                                  {**LIMITS, "accounts": {"ACC1": LIMITS["accounts"]["ACC1"]}}])
def test_put_of_an_empty_or_partial_body_turns_nothing_off(
    api: httpx.Client, gateway: StubGateway, database_url: str, body: dict[str, Any]
) -> None:
    config = gateway.risk.config
    response = api.put("/risk/limits", json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "limits in force left out of the body" in detail and "or null to turn it off" in detail
    assert "accounts.ACC2.max_order_qty" in detail  # in none of the three bodies
    assert ("firm.max_order_qty" in detail) is ("firm" not in body)
    assert gateway.risk.config is config
    assert rows(database_url, "SELECT id FROM risk_events") == []


def test_put_turns_a_limit_off_only_when_told_with_null(
    api: httpx.Client, gateway: StubGateway, database_url: str
) -> None:
    limits = api.get("/risk/limits").json()
    limits["firm"]["max_order_qty"] = None
    limits["accounts"]["ACC2"] = None
    response = api.put("/risk/limits", json=limits, headers=as_("bob"))
    assert response.status_code == 200, response.text
    after = response.json()
    assert "max_order_qty" not in after["firm"] and after["firm"]["max_gross_notional"] == "1000000"
    assert list(after["accounts"]) == ["ACC1"]
    assert gateway.risk.check(new_order("5000", price="1", account="ACC2")) is None
    [row] = rows(database_url, "SELECT by, details FROM risk_events")
    assert row["by"] == "bob" and row["details"]["new"] == after


def test_patch_merges_changes_and_an_empty_one_changes_nothing(
    api: httpx.Client, gateway: StubGateway
) -> None:
    before = api.get("/risk/limits").json()
    assert api.patch("/risk/limits", json={}).json() == before
    response = api.patch("/risk/limits", json={"firm": {"max_order_qty": "7", "max_daily_loss": None},
                                               "accounts": {"ACC2": None, "ACC9": {"max_order_qty": "3"}},
                                               "restricted_symbols": ["MSFT"]})
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["firm"] == {"max_order_qty": "7", "max_gross_notional": "1000000"}
    assert after["accounts"] == {"ACC1": before["accounts"]["ACC1"], "ACC9": {"max_order_qty": "3"}}
    assert after["restricted_symbols"] == ["MSFT"]
    assert gateway.risk.check(new_order("8", account="ACC3")) == "order qty 8 > max 7 for AAPL"


def test_a_huge_limit_value_never_makes_a_huge_answer(api: httpx.Client, gateway: StubGateway) -> None:
    response = api.patch("/risk/limits", json={"firm": {"max_order_qty": "1E+20000000"}})
    assert response.status_code == 422
    assert len(response.content) < 1000
    assert len(api.get("/risk/limits").content) < 2000
    assert api.patch("/risk/limits", content=b'{"firm": {"max_order_qty": 1E+20000000}}',
                     headers={"Content-Type": "application/json"}).status_code == 422


def nested(levels: int) -> str:
    """JSON text of a list ``levels`` deep, ``[[[...]]]`` (written out: encoding it would recurse too)."""
    return "[" * levels + "]" * levels


JSON = {"Content-Type": "application/json"}


def deepest(api: httpx.Client, method: str, url: str, template: str) -> httpx.Response:
    """The answer to ``template`` (a ``%s`` for ``[[[...]]]``) at the deepest nesting the JSON parser
    takes: a deeper body is a 400 before any endpoint runs, and this one is where a recursive walk of
    the body (or a ``repr`` of it) runs out of stack."""
    for levels in range(1100, 800, -1):
        response = api.request(method, url, content=template % nested(levels), headers=JSON)
        if response.status_code != 400:
            return response
    raise AssertionError(f"{method} {url}: the JSON parser took no body 800 deep")


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize(("template", "named"), [
    ('{"firm": %s}', "limits.firm[0][0]"),
    ('{"accounts": {"ACC1": {"max_order_qty": %s}}}', "limits.accounts.ACC1.max_order_qty"),
    ("%s", "body"),  # not even an object: FastAPI's own 422, the input shown cut short
])
def test_a_deeply_nested_body_is_422_naming_where_and_changes_nothing(
    api: httpx.Client, gateway: StubGateway, database_url: str, method: str, template: str, named: str
) -> None:
    config = gateway.risk.config
    response = deepest(api, method, "/risk/limits", template)
    assert response.status_code == 422, response.text
    assert named in response.json()["detail"]
    assert len(response.content) < 1000
    assert gateway.risk.config is config
    assert rows(database_url, "SELECT id FROM risk_events") == []


def test_a_deeply_nested_field_of_a_kill_is_422(api: httpx.Client, gateway: StubGateway) -> None:
    response = deepest(api, "POST", "/risk/kill", '{"scope": "firm", "reason": %s}')
    assert response.status_code == 422, response.text
    assert "reason" in response.json()["detail"] and len(response.content) < 1000
    assert gateway.risk.halts == {}


def test_events_filter_by_each_action_the_table_holds_and_no_other(api: httpx.Client) -> None:
    for action in RISK_ACTIONS:
        assert api.get("/risk/events", params={"action": action}).status_code == 200, action
    response = api.get("/risk/events", params={"action": "HALT"})
    assert response.status_code == 422 and "action" in response.json()["detail"]
    [parameter] = api.get("/openapi.json").json()["paths"]["/risk/events"]["get"]["parameters"][:1]
    assert parameter["name"] == "action" and RISK_ACTIONS == parameter["schema"]["anyOf"][0]["enum"]


def test_status_shows_each_limits_use(api: httpx.Client, gateway: StubGateway) -> None:
    risk = gateway.risk
    # ACC1: long 100 @ 100 (cost 10000), marked at 95 (unrealized -500), realized -100, a working buy
    # of 50 @ 100 (5000) and a working sell of 20 @ 110 (2200).
    risk.position_changed("ACC1", "AAPL", D(100), D(10000), D(-100), D(95))
    risk.order_opened(1, new_order("50"))
    risk.order_opened(2, new_order("20", side=Side.SELL, price="110"))
    assert risk.check(new_order("2000", account="ACC3")) is not None  # one max_order_qty denial

    status = api.get("/risk/status").json()
    assert status["firm_state"] == "ACTIVE" and status["account_states"] == {}
    assert set(status["rejections"]) == set(CHECKS)  # every check, 0 for those that denied nothing
    assert denials(status) == {"max_order_qty": 1}
    [acc1] = status["accounts"]  # ACC2 has per-order limits only
    assert acc1 == {
        "account": "ACC1", "state": "ACTIVE",
        "gross_notional": "17200", "net_notional": "10000", "worst_case_net_notional": "15000",
        "credit_used": "15000", "daily_pnl": "-600",
        "limits": [
            {"limit": "max_gross_notional", "used": "17200", "max": "100000", "percent": "17.2"},
            {"limit": "max_net_notional", "used": "15000", "max": "50000", "percent": "30"},
            {"limit": "credit_limit", "used": "15000", "max": "40000", "percent": "37.5"},
            {"limit": "max_daily_loss", "used": "600", "max": "1000", "percent": "60"},
        ],
    }  # fmt: skip
    firm = status["firm"]
    assert firm["account"] is None and firm["daily_pnl"] == "-600"
    assert [(u["limit"], u["used"], u["percent"]) for u in firm["limits"]] == [
        ("max_gross_notional", "17200", "1.72"), ("max_daily_loss", "600", "12")]


def denials(status: dict[str, Any]) -> dict[str, int]:
    return {name: n for name, n in status["rejections"].items() if n}


def test_status_shows_the_use_of_position_and_order_rate_limits(database_url: str) -> None:
    limits = {"firm": {"max_position": "400"}, "flow": {"max_orders_per_second": 8},
              "sessions": {"CLIENT2": {"max_orders_per_second": 3}}}
    # A still clock: the orders stay inside their one-second window however long the server takes.
    risk = PreTradeRisk(INSTRUMENTS, risk_config_from_mapping(limits), clock_ns=lambda: 10**12)
    # ACC1 long 100 with working buys of 50 and sells of 20: worst case 150 (buys fill) of 400.
    risk.position_changed("ACC1", "AAPL", D(100), D(10000), D(0), D(100))
    risk.order_opened(1, new_order("50"))
    risk.order_opened(2, new_order("20", side=Side.SELL, price="101"))
    # ACC2 short 30, nothing working.
    risk.position_changed("ACC2", "AAPL", D(-30), D(-3000), D(0), D(100))
    for n in range(2):
        risk.order_opened(10 + n, NewOrder("FIX.4.2:FIXGATE->CLIENT2", f"r{n}", "ACC3", "AAPL", Side.BUY,
                                           OrdType.LIMIT, D(1), D(100), TimeInForce.DAY, time.time_ns()))
    with serve(database_url, AUTH, risk=StubGateway(risk)) as api:
        status = api.get("/risk/status").json()
    assert status["positions"] == [
        {"account": "ACC1", "symbol": "AAPL", "position": "100", "worst_case": "150", "max": "400",
         "percent": "37.5"},
        {"account": "ACC2", "symbol": "AAPL", "position": "-30", "worst_case": "30", "max": "400",
         "percent": "7.5"},
        {"account": "ACC3", "symbol": "AAPL", "position": "0", "worst_case": "2", "max": "400", "percent": "0.5"},
    ]  # fmt: skip
    assert status["order_rates"] == [
        {"session": "FIX.4.2:FIXGATE->CLIENT2", "orders_last_second": 2, "max": 3, "percent": "66.67"},
        {"session": "FIX.4.4:FIXGATE->CLIENT1", "orders_last_second": 2, "max": 8, "percent": "25"},
    ]


def test_every_risk_endpoint_needs_the_token(database_url: str, gateway: StubGateway) -> None:
    with serve(database_url, {}, risk=gateway) as anonymous:
        for method, path, body in (
            ("POST", "/risk/kill", {"scope": "firm"}), ("POST", "/risk/resume", {"scope": "firm"}),
            ("GET", "/risk/status", None), ("GET", "/risk/limits", None), ("PUT", "/risk/limits", {}),
            ("PATCH", "/risk/limits", {}),
            ("GET", "/risk/events", None),
        ):
            response = anonymous.request(method, path, json=body)
            assert response.status_code == 401, (method, path)
            bad = anonymous.request(method, path, json=body, headers={"Authorization": "Bearer guess"})
            assert bad.status_code == 401, (method, path)
    assert gateway.kills == [] and gateway.risk.halts == {}


def test_without_a_gateway_risk_endpoints_are_503(database_url: str) -> None:
    with serve(database_url, AUTH) as client:
        response = client.post("/risk/kill", json={"scope": "firm"})
        assert response.status_code == 503
        assert client.get("/risk/status").status_code == 503
        assert client.get("/risk/events").json() == []
        # Who may not call learns nothing, not even that no gateway is wired.
        assert client.post("/risk/kill", json={"scope": "firm"}, headers={"Authorization": ""}).status_code == 401
        assert client.get("/risk/status", headers={"Authorization": "Bearer guess"}).status_code == 401


def test_status_daily_pnl_counts_from_the_start_of_the_utc_day(database_url: str) -> None:
    hour = 3600 * 1_000_000_000
    wall = [20_000 * 24 * hour - hour]  # 23:00 UTC
    risk = PreTradeRisk(INSTRUMENTS, risk_config_from_mapping(LIMITS), wall_clock_ns=lambda: wall[0])
    risk.position_changed("ACC1", "AAPL", D(0), D(0), D(-700), D(100))  # -700 realized before midnight
    with serve(database_url, AUTH, risk=StubGateway(risk)) as api:

        def acc1() -> dict[str, Any]:
            [account] = api.get("/risk/status").json()["accounts"]
            return account  # type: ignore[no-any-return]

        assert acc1()["daily_pnl"] == "-700"
        wall[0] += 2 * hour  # 01:00: a new day, before any fill of it
        assert acc1()["daily_pnl"] == "0"
        risk.position_changed("ACC1", "AAPL", D(0), D(0), D(-750), D(100))  # its first fill: -50
        account = acc1()
        assert account["daily_pnl"] == "-50"
        assert {"limit": "max_daily_loss", "used": "50", "max": "1000", "percent": "5"} in account["limits"]


def breach(account: str | None, state: TradingState, at_ns: int) -> Breach:
    return Breach(account, state, D("1001.00"), D(1000), "daily loss 1001.00 > max 1000", at_ns)


def test_a_breach_is_journaled_and_replayed_into_risk_events_once(
    tmp_path: Path, database_url: str, api: httpx.Client
) -> None:
    journal = Journal(tmp_path / "journal")
    journal.append([breach("ACC1", TradingState.REDUCING, 1_700_000_000_000_000_000),
                    breach(None, TradingState.HALTED, 1_700_000_000_000_000_001)])
    journal.close()
    replay(tmp_path / "journal", database_url)
    replay(tmp_path / "journal", database_url)  # killed before the files were retired: replayed again

    events = api.get("/risk/events", params={"action": "BREACH"}).json()
    assert [(e["by"], e["scope"], e["value"], e["details"]) for e in events] == [
        ("risk", "firm", "", {"state": "HALTED", "reason": "daily loss 1001.00 > max 1000",
                              "daily_loss": "1001.00", "max_daily_loss": "1000"}),
        ("risk", "account", "ACC1", {"state": "REDUCING", "reason": "daily loss 1001.00 > max 1000",
                                     "daily_loss": "1001.00", "max_daily_loss": "1000"}),
    ]


def restarted(database_url: str) -> PreTradeRisk:
    """A new gateway's risk on the same book: the file's limits, then what the audit trail restores."""
    risk = PreTradeRisk(INSTRUMENTS, risk_config_from_mapping(LIMITS))
    restore_from_events(risk, load_state(database_url).risk_events)
    return risk


def test_the_audit_trail_rebuilds_halts_states_and_limits_for_a_restart(
    api: httpx.Client, gateway: StubGateway, database_url: str
) -> None:
    def post(path: str, body: dict[str, str]) -> None:
        response = api.post(path, json=body, headers=as_("alice"))
        assert response.status_code == 200, response.text

    post("/risk/kill", {"scope": "account", "value": "ACC1", "reason": "fat finger"})
    post("/risk/kill", {"scope": "symbol", "value": "AAPL", "reason": "bad prints"})
    post("/risk/resume", {"scope": "symbol", "value": "AAPL"})
    post("/risk/kill", {"scope": "firm", "reason": "drill"})
    post("/risk/resume", {"scope": "firm"})
    limits = api.get("/risk/limits").json()
    limits["firm"]["max_order_qty"] = "7"
    assert api.put("/risk/limits", json=limits).status_code == 200
    writer = BookWriter(database_url)
    writer.start()
    writer.submit([breach("ACC2", TradingState.HALTED, time.time_ns())])
    writer.stop()

    risk = restarted(database_url)
    assert [(h.scope, h.value, h.by, h.reason) for h in risk.halts.values()] == [
        ("account", "ACC1", "alice", "fat finger")]
    assert risk.check(new_order("1")) == "trading halted for account ACC1 by alice: fat finger"
    assert risk.check(new_order("1", account="ACC2")) == "account ACC2 HALTED: daily loss 1001.00 > max 1000"
    assert risk.check(new_order("8", account="ACC3")) == "order qty 8 > max 7 for AAPL"
    assert risk_config_to_mapping(risk.config) == limits

    # Resumed (by an operator of the restarted gateway): a second restart trades again.
    post("/risk/resume", {"scope": "account", "value": "ACC1"})
    post("/risk/resume", {"scope": "account", "value": "ACC2"})
    risk = restarted(database_url)
    assert risk.halts == {} and risk.account_states == {}
    assert risk.check(new_order("1", account="ACC2")) is None


def test_only_the_last_row_of_each_scope_and_action_is_read_at_start(
    api: httpx.Client, database_url: str
) -> None:
    for n in range(5):
        assert api.post("/risk/kill", json={"scope": "account", "value": "ACC1", "reason": f"#{n}"}).status_code == 200
        assert api.post("/risk/resume", json={"scope": "account", "value": "ACC1"}).status_code == 200
        assert api.patch("/risk/limits", json={"firm": {"max_order_qty": str(n + 1)}}).status_code == 200
    events = load_state(database_url).risk_events
    assert sorted((e.action, e.scope, e.value) for e in events) == [
        ("KILL", "account", "ACC1"), ("LIMITS", None, None), ("RESUME", "account", "ACC1")]
    [stored] = [e for e in events if e.action == "LIMITS"]
    assert stored.details["new"]["firm"]["max_order_qty"] == "5"
