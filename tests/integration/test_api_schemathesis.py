"""Schemathesis against the REST API's own OpenAPI document (issue 12): the real app on a real socket
over real PostgreSQL, with an operator's token; every operation gets valid and invalid requests.
Asserted: no 5xx, every status code documented, every body of the documented schema and type.

Bounded for CI: a fixed seed (derandomized) and a few examples per operation and mode, no shrinking.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import httpx
import pytest
import quickfix as fix
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from prometheus_client.registry import CollectorRegistry
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api import create_app
from api.metrics_endpoints import HopStatsLike, OmsCounters
from book.writer import BookWriter
from domain.model import OrderStatus, PositionRecord
from gateway.sessions import FixSessions
from tests.integration.test_api import T0, ServerThread, fill, order
from tests.integration.test_api_input import Gateway

TOKEN = "schemathesis-operator-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXAMPLES = 25  # per operation and generation mode
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class Counters:
    """The OMS's counters, all zero (a gateway that has seen no order)."""

    def oms_counters(self) -> Mapping[str, int]:
        return {name: 0 for name in OmsCounters.model_fields}


class NoHops:
    """Latency of a gateway that has timed nothing yet."""

    def snapshot(self) -> Mapping[str, HopStatsLike]:
        return {}


@pytest.fixture
def url(database_url: str) -> Iterator[str]:
    writer = BookWriter(database_url)
    writer.start()
    writer.submit([order(1, OrderStatus.PARTIALLY_FILLED, cum_qty=Decimal(10), leaves_qty=Decimal(90)),
                   order(2, account="ACC2"), fill(1, "X1", T0 + 1),
                   PositionRecord("ACC1", "AAPL", Decimal(10), Decimal("190.05"), Decimal(0), T0, Decimal("1900.5"))])
    assert writer.flush()
    assert writer.stop()
    # Every provider wired, as in the gateway: a 503 "not available" is documented, but is a 5xx.
    gateway = Gateway()
    sessions = FixSessions()  # two configured sessions, engines not running
    sessions.created("client", fix.SessionID("FIX.4.4", "FIXGATE", "CLIENT1"))
    sessions.created("venue", fix.SessionID("FIX.4.4", "FIXGATE", "SIM"))
    app = create_app(database_url, api_token=TOKEN, operations=gateway, risk=gateway, oms=Counters(),
                     metrics=NoHops(), sessions=sessions, prometheus=CollectorRegistry())
    with ServerThread(app) as server:
        yield server.url


def test_the_api_keeps_its_openapi_promises_under_generated_requests(url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    failures: list[str] = []
    operations = 0
    started = time.monotonic()
    with httpx.Client(base_url=url) as probe:
        assert probe.get("/health").status_code == 200
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an Err raises here: the schema is bad
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Case[Any]) -> None:
                response = case.call(base_url=url, headers=AUTH, timeout=10)
                case.validate_response(response, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                pass  # no invalid request exists (GET /health has no parameter)
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected per operation, shown
                failures.append(f"{operation.label} ({mode.value}): {exc}"[:3000])
    assert operations >= 16  # the schema was read whole
    assert failures == [], "\n\n".join(failures)
    assert time.monotonic() - started < 120  # bounded: CI time, not a property of the API
