"""The REST API over a real socket: uvicorn on 127.0.0.1, the book written by the real BookWriter."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Self

import httpx
import pytest
import uvicorn

from api import create_app
from book.database import database_url_for
from book.writer import BookWriter
from oms.model import (
    ExecKind,
    ExecutionRecord,
    OrderRecord,
    OrderStatus,
    OrdType,
    PositionRecord,
    Side,
    TimeInForce,
)

T0 = 1_763_700_000_000_000_000


def order(order_id: int, status: OrderStatus = OrderStatus.NEW, **changes: Any) -> OrderRecord:
    fields: dict[str, Any] = {
        "order_id": order_id,
        "session": "FIX.4.4:FIXGATE->CLIENT1",
        "cl_ord_id": f"C{order_id}",
        "account": "ACC1",
        "symbol": "AAPL",
        "side": Side.BUY,
        "ord_type": OrdType.LIMIT,
        "time_in_force": TimeInForce.DAY,
        "quantity": Decimal(100),
        "price": Decimal("190.05"),
        "venue": "XNAS",
        "venue_cl_ord_id": f"V{order_id}",
        "venue_order_id": f"VO{order_id}",
        "status": status,
        "cum_qty": Decimal(0),
        "leaves_qty": Decimal(100),
        "avg_px": Decimal(0),
        "text": "",
        "created_ns": T0 + order_id,
        "updated_ns": T0 + order_id,
    }
    fields.update(changes)
    return OrderRecord(**fields)


def fill(order_id: int, venue_exec_id: str, received_ns: int, **changes: Any) -> ExecutionRecord:
    fields: dict[str, Any] = {
        "exec_id": f"E-{order_id}-{venue_exec_id}",
        "order_id": order_id,
        "venue": "XNAS",
        "venue_exec_id": venue_exec_id,
        "kind": ExecKind.TRADE,
        "status": OrderStatus.PARTIALLY_FILLED,
        "last_qty": Decimal(10),
        "last_px": Decimal("190.05"),
        "cum_qty": Decimal(10),
        "leaves_qty": Decimal(90),
        "avg_px": Decimal("190.05"),
        "text": "",
        "received_ns": received_ns,
    }
    fields.update(changes)
    return ExecutionRecord(**fields)


class ServerThread:
    """uvicorn serving an app on a socket bound here, so the port is known and cannot be taken."""

    def __init__(self, app: Any) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def __enter__(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 10.0
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10.0)
        self._socket.close()


@pytest.fixture
def writer(database_url: str) -> Iterator[BookWriter]:
    book = BookWriter(database_url)
    book.start()
    yield book
    assert book.stop()


@pytest.fixture
def client(database_url: str) -> Iterator[httpx.Client]:
    with (
        ServerThread(create_app(database_url)) as server,
        httpx.Client(base_url=server.url, timeout=10.0) as http,
    ):
        yield http


@pytest.fixture
def book(writer: BookWriter) -> BookWriter:
    """A book with three orders of two accounts, fills (one resent) and positions."""
    writer.submit(
        [
            order(1, OrderStatus.FILLED, quantity=Decimal("100.000"), cum_qty=Decimal(100), leaves_qty=Decimal(0),
                  avg_px=Decimal("0.1") + Decimal("0.2")),
            order(2, OrderStatus.NEW, symbol="MSFT", price=Decimal("410.5000")),
            order(3, OrderStatus.PARTIALLY_FILLED, account="ACC2", side=Side.SELL, ord_type=OrdType.MARKET,
                  price=None, cum_qty=Decimal(10), leaves_qty=Decimal(90)),
            fill(1, "X1b", T0 + 2_000, last_qty=Decimal(60), cum_qty=Decimal(100), leaves_qty=Decimal(0),
                 status=OrderStatus.FILLED),
            fill(1, "X1a", T0 + 1_000, last_qty=Decimal(40), cum_qty=Decimal(40), leaves_qty=Decimal(60)),
            fill(3, "X3", T0 + 3_000),
            fill(3, "X3", T0 + 3_000),  # resent by the venue
            PositionRecord("ACC1", "AAPL", Decimal(100), Decimal("0.30"), Decimal(0), T0),
            PositionRecord("ACC2", "AAPL", Decimal(-10), Decimal("190.05"), Decimal("-1.5"), T0),
            PositionRecord("ACC2", "MSFT", Decimal(0), Decimal(0), Decimal("123.456"), T0),
        ]
    )  # fmt: skip
    assert writer.flush()
    return writer


def test_health_reports_the_database(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_health_is_503_when_the_database_is_unreachable(pg_admin_url: str) -> None:
    missing = database_url_for(pg_admin_url, f"fixgate_missing_{uuid.uuid4().hex[:8]}")
    with ServerThread(create_app(missing)) as server:
        response = httpx.get(f"{server.url}/health", timeout=10.0)
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert response.json()["database"].startswith("unavailable")


def test_orders_are_listed_by_id_with_decimals_as_strings(client: httpx.Client, book: BookWriter) -> None:
    response = client.get("/orders")
    assert response.status_code == 200
    orders = response.json()
    assert [o["order_id"] for o in orders] == [1, 2, 3]
    first = orders[0]
    assert (first["quantity"], first["price"], first["avg_px"], first["leaves_qty"]) == (
        "100",
        "190.05",
        "0.3",
        "0",
    )
    assert orders[1]["price"] == "410.5"
    assert orders[2]["price"] is None
    assert (first["status"], first["side"], first["ord_type"], first["time_in_force"]) == (
        "FILLED",
        "BUY",
        "LIMIT",
        "DAY",
    )
    assert first["created_ns"] == T0 + 1
    assert first["created_at"].startswith("2025-11-21T04:40:00")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "NEW"}, [2]),
        ({"status": ["NEW", "PARTIALLY_FILLED"]}, [2, 3]),
        ({"symbol": "MSFT"}, [2]),
        ({"account": "ACC2"}, [3]),
        ({"account": "ACC1", "symbol": "AAPL"}, [1]),
        ({"account": "ACC1", "status": "PARTIALLY_FILLED"}, []),
        ({"limit": 2}, [1, 2]),
        ({"after": 1, "limit": 1}, [2]),
    ],
)
def test_orders_filters(
    client: httpx.Client, book: BookWriter, params: dict[str, Any], expected: list[int]
) -> None:
    response = client.get("/orders", params=params)
    assert response.status_code == 200
    assert [o["order_id"] for o in response.json()] == expected


def test_unknown_status_is_422_naming_the_value(client: httpx.Client, book: BookWriter) -> None:
    response = client.get("/orders", params={"status": "BOGUS"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "'BOGUS'" in detail and "PARTIALLY_FILLED" in detail


@pytest.mark.parametrize("limit", [0, 1001, "x"])
def test_limit_out_of_range_is_422(client: httpx.Client, limit: int | str) -> None:
    assert client.get("/orders", params={"limit": limit}).status_code == 422


def test_order_with_its_executions(client: httpx.Client, book: BookWriter) -> None:
    response = client.get("/orders/1")
    assert response.status_code == 200
    body = response.json()
    assert body["order_id"] == 1 and body["status"] == "FILLED"
    assert [(e["venue_exec_id"], e["last_qty"], e["cum_qty"]) for e in body["executions"]] == [
        ("X1a", "40", "40"),
        ("X1b", "60", "100"),
    ]
    assert body["executions"][0]["kind"] == "TRADE"
    # The resent fill of order 3 is there once.
    assert [e["venue_exec_id"] for e in client.get("/orders/3").json()["executions"]] == ["X3"]


def test_missing_order_is_404_naming_it(client: httpx.Client, book: BookWriter) -> None:
    response = client.get("/orders/42")
    assert response.status_code == 404
    assert response.json() == {"detail": "order 42 not found"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["X1a", "X1b", "X3"]),
        ({"order_id": 1}, ["X1a", "X1b"]),
        ({"account": "ACC2"}, ["X3"]),
        ({"symbol": "AAPL", "account": "ACC1"}, ["X1a", "X1b"]),
        ({"symbol": "MSFT"}, []),
        ({"limit": 1}, ["X1a"]),
    ],
)
def test_executions_filters(
    client: httpx.Client, book: BookWriter, params: dict[str, Any], expected: list[str]
) -> None:
    response = client.get("/executions", params=params)
    assert response.status_code == 200
    assert [e["venue_exec_id"] for e in response.json()] == expected


def test_positions(client: httpx.Client, book: BookWriter) -> None:
    everything = client.get("/positions").json()
    assert [(p["account"], p["symbol"]) for p in everything] == [
        ("ACC1", "AAPL"),
        ("ACC2", "AAPL"),
        ("ACC2", "MSFT"),
    ]
    assert {k: everything[1][k] for k in ("quantity", "avg_price", "realized_pnl")} == {
        "quantity": "-10",
        "avg_price": "190.05",
        "realized_pnl": "-1.5",
    }
    assert everything[0]["avg_price"] == "0.3"
    assert [p["symbol"] for p in client.get("/positions", params={"account": "ACC2"}).json()] == [
        "AAPL",
        "MSFT",
    ]
    assert [p["account"] for p in client.get("/positions", params={"symbol": "AAPL"}).json()] == [
        "ACC1",
        "ACC2",
    ]
    assert client.get("/positions", params={"account": "NOBODY"}).json() == []


def test_api_reads_what_the_writer_commits_later(client: httpx.Client, writer: BookWriter) -> None:
    assert client.get("/orders").json() == []
    writer.submit([order(7), order(7, OrderStatus.CANCELED)])
    assert writer.flush()
    assert [(o["order_id"], o["status"]) for o in client.get("/orders").json()] == [(7, "CANCELED")]


def test_openapi_documents_the_endpoints(client: httpx.Client) -> None:
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert {"/health", "/orders", "/orders/{order_id}", "/executions", "/positions"} <= set(schema["paths"])
    order_schema = schema["components"]["schemas"]["Order"]["properties"]
    assert order_schema["quantity"]["type"] == "string"
