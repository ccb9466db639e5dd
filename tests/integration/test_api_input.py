"""Bad input to the REST API (issue 12.5): every one a 422 naming the parameter, never a 500; an
internal failure answers a 500 that says nothing of its cause; the OpenAPI document tells the truth
about the error bodies and status codes. Real PostgreSQL, uvicorn on a real socket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from api import create_app
from book.database import async_url, run_sync
from book.writer import BookWriter
from domain.model import Refusal
from risk import PreTradeRisk, risk_config_from_mapping
from tests.integration.test_api import TOKEN, ServerThread, order
from tests.integration.test_risk_api import INSTRUMENTS, LIMITS, StubGateway, rows

AUTH = {"Authorization": f"Bearer {TOKEN}"}
BIG = str(2**63)  # one past the largest BIGINT


class Gateway(StubGateway):
    """The risk stub of test_risk_api, which also takes cancels: the order ids it was asked for."""

    def __init__(self) -> None:
        super().__init__(PreTradeRisk(INSTRUMENTS, risk_config_from_mapping(LIMITS)))
        self.cancels: list[int] = []
        self.fail_with: Exception | None = None

    def cancel_order(self, order_id: int) -> Refusal | None:
        self.cancels.append(order_id)
        if self.fail_with is not None:
            raise self.fail_with
        return None


@pytest.fixture
def gateway() -> Gateway:
    return Gateway()


@pytest.fixture
def api(database_url: str, gateway: Gateway) -> Iterator[httpx.Client]:
    app = create_app(database_url, api_token=TOKEN, operations=gateway, risk=gateway, oms=None)
    with (
        ServerThread(app) as server,
        httpx.Client(base_url=server.url, timeout=10.0, headers=AUTH) as http,
    ):
        yield http


@pytest.fixture
def one_order(database_url: str) -> None:
    writer = BookWriter(database_url)
    writer.start()
    writer.submit([order(1)])
    assert writer.flush()
    assert writer.stop()


@pytest.mark.parametrize(
    ("method", "path", "params", "named"),
    [
        ("GET", "/orders", {"after": BIG}, "'after'"),
        ("GET", "/orders", {"after": "-1"}, "'after'"),
        ("GET", "/executions", {"after": BIG}, "'after'"),
        ("GET", "/executions", {"order_id": BIG}, "'order_id'"),
        ("GET", f"/orders/{BIG}", {}, "'order_id'"),
        ("GET", "/orders/0", {}, "'order_id'"),
        ("POST", f"/orders/{BIG}/cancel", {}, "'order_id'"),
        ("GET", f"/metrics/latency/orders/{BIG}", {}, "'order_id'"),
        ("GET", "/orders", {"account": "ACC\x001"}, "'account'"),
        ("GET", "/orders", {"symbol": "AA\x00PL"}, "'symbol'"),
        ("GET", "/executions", {"account": "\x00"}, "'account'"),
        ("GET", "/executions", {"symbol": "\x00"}, "'symbol'"),
        ("GET", "/positions", {"account": "\x00"}, "'account'"),
        ("GET", "/positions", {"symbol": "A\x00"}, "'symbol'"),
        ("GET", "/pnl", {"account": "\x00"}, "'account'"),
        ("GET", "/orders", {"account": "A" * 201}, "'account'"),
        ("GET", "/orders", {"from": "9999-12-31T23:59:59Z"}, "from='9999-12-31T23:59:59Z' is outside"),
        ("GET", "/orders", {"to": "0001-01-01T00:00:00+14:00"}, "to='0001-01-01T00:00:00+14:00' is outside"),
        ("GET", "/orders", {"from": "1600-01-01T00:00:00Z"}, "from='1600-01-01T00:00:00Z' is outside"),
    ],
)
def test_bad_input_is_a_422_naming_the_parameter_not_a_500(
    api: httpx.Client, gateway: Gateway, one_order: None, method: str, path: str, params: dict[str, str],
    named: str,
) -> None:
    response = api.request(method, path, params=params)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and named in detail
    assert gateway.cancels == []


def test_edges_of_the_ranges_are_answered(api: httpx.Client, one_order: None) -> None:
    assert api.get("/orders", params={"after": str(2**63 - 1)}).json() == []
    assert api.get(f"/orders/{2**63 - 1}").status_code == 404
    assert [o["order_id"] for o in api.get("/orders", params={"from": "1677-09-22T00:00:00Z"}).json()] == [1]
    assert api.get("/orders", params={"from": "2262-04-11T00:00:00Z"}).json() == []


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"scope": "account", "value": "ACC\x001", "reason": "x"}, "'value'"),
        ({"scope": "account", "value": "ACC1", "reason": "fat\x00finger"}, "'reason'"),
        ({"scope": "symbol", "value": "\ud800"}, "'value'"),
        ({"scope": "account", "value": "A" * 201}, "'value'"),
    ],
)
def test_a_kill_switch_value_its_audit_row_cannot_hold_is_refused_before_it_takes_effect(
    api: httpx.Client, gateway: Gateway, database_url: str, body: dict[str, str], named: str
) -> None:
    # As JSON text with \u escapes: a lone surrogate is valid JSON, but not UTF-8.
    response = api.post("/risk/kill", content=json.dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert named in response.json()["detail"]
    assert gateway.kills == [] and gateway.risk.halts == {}
    assert rows(database_url, "SELECT id FROM risk_events") == []


def test_an_internal_failure_is_a_500_without_its_cause(api: httpx.Client, gateway: Gateway) -> None:
    gateway.fail_with = RuntimeError('SELECT * FROM orders WHERE account = \'x\' -- relation "secret"')
    response = api.post("/orders/1/cancel")
    assert response.status_code == 500
    detail = response.json()["detail"]
    assert detail.startswith("internal error (reference ")
    for leaked in ("SELECT", "secret", "RuntimeError", "Traceback", "relation"):
        assert leaked not in response.text


def test_a_failed_audit_row_says_so_without_the_sql(
    api: httpx.Client, gateway: Gateway, database_url: str
) -> None:
    execute(database_url, "ALTER TABLE risk_events RENAME TO risk_events_gone")
    response = api.post("/risk/kill", json={"scope": "firm", "reason": "drill"})
    assert response.status_code == 500
    detail = response.json()["detail"]
    assert "kill switch on firm is in effect, but its audit row could not be written" in detail
    for leaked in ("risk_events", "INSERT", "relation", "ProgrammingError", "asyncpg"):
        assert leaked not in response.text


def execute(database_url: str, sql: str) -> None:
    async def run() -> None:
        engine = create_async_engine(async_url(database_url), poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    run_sync(run)


def _operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_openapi_documents_the_real_error_bodies_and_status_codes(api: httpx.Client) -> None:
    schema = api.get("/openapi.json").json()
    assert schema["components"]["schemas"]["ErrorBody"] == {
        "properties": {"detail": {"type": "string", "title": "Detail"}},
        "required": ["detail"], "type": "object", "title": "ErrorBody",
        "description": schema["components"]["schemas"]["ErrorBody"]["description"],
    }
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for path, method, operation in _operations(schema):
        if path == "/health":
            continue
        responses = operation["responses"]
        for status in ("401", "403", "422", "500"):
            assert responses[status]["content"] == error, (method, path, status)
    cancel = schema["paths"]["/orders/{order_id}/cancel"]["post"]["responses"]
    assert {"202", "404", "409", "503"} <= set(cancel)
    assert cancel["409"]["content"] == error
    for path in ("/risk/kill", "/risk/resume", "/risk/status", "/risk/limits"):
        for method, operation in schema["paths"][path].items():
            assert "503" in operation["responses"], (method, path)
    assert "404" in schema["paths"]["/metrics/latency/orders/{order_id}"]["get"]["responses"]
    after = next(p for p in schema["paths"]["/orders"]["get"]["parameters"] if p["name"] == "after")
    assert after["schema"]["anyOf"][0]["maximum"] == 2**63 - 1
