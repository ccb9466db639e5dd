"""The REST API over a real socket: uvicorn on 127.0.0.1, the book written by the real BookWriter."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Self

import httpx
import pytest
import uvicorn

from api import create_app
from book.database import database_url_for
from book.writer import BookWriter
from domain.model import (
    CancelRejectReason,
    ExecKind,
    ExecutionRecord,
    MarkRecord,
    OrderRecord,
    OrderStatus,
    OrdType,
    PositionRecord,
    Refusal,
    Side,
    TimeInForce,
)

T0 = 1_763_700_000_000_000_000  # 2025-11-21T04:40:00Z in ns
S = 1_000_000_000  # one second in ns
TOKEN = "integration-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


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


class StubGateway:
    """Operations that answer from a table: the reason per order id, ``None`` for "sent"."""

    def __init__(self, answers: dict[int, Refusal | None]) -> None:
        self.answers = answers
        self.calls: list[int] = []

    def cancel_order(self, order_id: int) -> Refusal | None:
        self.calls.append(order_id)
        return self.answers.get(
            order_id, Refusal(CancelRejectReason.UNKNOWN_ORDER, f"order {order_id} not found")
        )


@contextmanager
def serve(database_url: str, **options: Any) -> Iterator[httpx.Client]:
    """The app on a real socket; the client sends the token unless told ``headers={}``."""
    headers = options.pop("headers", AUTH)
    with (
        ServerThread(create_app(database_url, **options)) as server,
        httpx.Client(base_url=server.url, timeout=10.0, headers=headers) as http,
    ):
        yield http


@pytest.fixture
def client(database_url: str) -> Iterator[httpx.Client]:
    with serve(database_url, api_token=TOKEN) as http:
        yield http


@pytest.fixture
def book(writer: BookWriter) -> BookWriter:
    """A book with three orders of two accounts a minute apart, fills (one resent), positions, a mark."""
    writer.submit(
        [
            order(1, OrderStatus.FILLED, quantity=Decimal("100.000"), cum_qty=Decimal(100), leaves_qty=Decimal(0),
                  avg_px=Decimal("0.1") + Decimal("0.2")),
            order(2, OrderStatus.NEW, symbol="MSFT", price=Decimal("410.5000"), created_ns=T0 + 60 * S),
            order(3, OrderStatus.PARTIALLY_FILLED, account="ACC2", side=Side.SELL, ord_type=OrdType.MARKET,
                  price=None, cum_qty=Decimal(10), leaves_qty=Decimal(90), created_ns=T0 + 120 * S),
            fill(1, "X1a", T0 + 1_000, last_qty=Decimal(40), cum_qty=Decimal(40), leaves_qty=Decimal(60)),
            fill(1, "X1b", T0 + 2_000, last_qty=Decimal(60), cum_qty=Decimal(100), leaves_qty=Decimal(0),
                 status=OrderStatus.FILLED),
            fill(3, "X3", T0 + 3_000),
            fill(3, "X3", T0 + 3_000),  # resent by the venue
            PositionRecord("ACC1", "AAPL", Decimal(100), Decimal("190.02"), Decimal(0), T0, Decimal(19002)),
            PositionRecord("ACC2", "AAPL", Decimal(-10), Decimal("190.05"), Decimal("-1.5"), T0,
                           Decimal("-1900.5")),
            PositionRecord("ACC2", "MSFT", Decimal(0), Decimal(0), Decimal("123.456"), T0, Decimal(0)),
            PositionRecord("ACC3", "TSLA", Decimal(5), Decimal(250), Decimal(0), T0, Decimal(1250)),  # unmarked
            MarkRecord("AAPL", Decimal("190.10"), T0),
            MarkRecord("AAPL", Decimal("190.15"), T0 + 1),  # the last mark of a symbol wins
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
    assert response.json()["status"] == "down"
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
        ({"side": "SELL"}, [3]),
        ({"side": "BUY"}, [1, 2]),
        ({"side": "BUY", "symbol": "AAPL"}, [1]),
        # created times: 1 at 04:40:00Z, 2 at 04:41:00Z, 3 at 04:42:00Z; from inclusive, to exclusive
        ({"from": "2025-11-21T04:41:00Z"}, [2, 3]),
        ({"to": "2025-11-21T04:41:00Z"}, [1]),
        ({"from": "2025-11-21T04:40:30Z", "to": "2025-11-21T04:41:30Z"}, [2]),
        ({"from": "2025-11-21T05:41:00+01:00"}, [2, 3]),  # the same instant as 04:41:00Z
        ({"from": "2025-11-21T04:42:00.000001+00:00"}, []),
        ({"from": "2025-11-21T04:41:00Z", "to": "2025-11-21T04:41:00Z"}, []),
        (
            {"from": "2025-11-21T04:40:00Z", "side": "SELL", "account": "ACC2", "status": "PARTIALLY_FILLED"},
            [3],
        ),
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


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"side": "buy"}, ["unknown side 'buy'", "BUY, SELL"]),
        ({"from": "yesterday"}, ["from='yesterday' is not an ISO-8601 timestamp"]),
        ({"to": "2025-11-21T04:41:00"}, ["to='2025-11-21T04:41:00' has no UTC offset"]),
        (
            {"from": "2025-11-22T00:00:00Z", "to": "2025-11-21T00:00:00Z"},
            ["from='2025-11-22T00:00:00Z' is after"],
        ),
        ({"after": "seven"}, ["query parameter 'after'", "'seven'"]),
        ({"limit": 0}, ["query parameter 'limit'", "'0'"]),
        ({"limit": 1001}, ["query parameter 'limit'", "'1001'"]),
        ({"limit": "x"}, ["query parameter 'limit'", "'x'"]),
    ],
)
def test_bad_filter_is_422_naming_it(client: httpx.Client, params: dict[str, Any], named: list[str]) -> None:
    response = client.get("/orders", params=params)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    for words in named:
        assert words in detail


def test_orders_page_by_cursor(client: httpx.Client, writer: BookWriter) -> None:
    # Seven orders; the even ones are canceled.
    writer.submit([order(i, OrderStatus.CANCELED if i % 2 == 0 else OrderStatus.NEW) for i in range(1, 8)])
    assert writer.flush()

    pages: list[list[int]] = []
    cursors: list[str | None] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        response = client.get("/orders", params=params)
        assert response.status_code == 200
        pages.append([o["order_id"] for o in response.json()])
        cursor = response.headers.get("X-Next-Cursor")
        cursors.append(cursor)
        if cursor is None:
            assert "Link" not in response.headers
            break
        params = {"limit": 3, "after": cursor}
    assert pages == [[1, 2, 3], [4, 5, 6], [7]]
    assert cursors == ["3", "6", None]

    # A page that ends exactly at the last match has no next cursor; the Link keeps the filters.
    first = client.get("/orders", params={"status": "NEW", "limit": 2})
    assert [o["order_id"] for o in first.json()] == [1, 3]
    assert first.headers["X-Next-Cursor"] == "3"
    link = first.headers["Link"]
    assert link.startswith("<") and link.endswith('>; rel="next"')
    second = client.get(link[1 : link.index(">")])
    assert [o["order_id"] for o in second.json()] == [5, 7]
    assert "X-Next-Cursor" not in second.headers


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
    assert body["executions"][0]["seq"] < body["executions"][1]["seq"]
    # The resent fill of order 3 is there once.
    assert [e["venue_exec_id"] for e in client.get("/orders/3").json()["executions"]] == ["X3"]


def test_order_history_is_in_the_order_applied_not_by_timestamp(
    client: httpx.Client, writer: BookWriter
) -> None:
    # The gateway stamps its own events (PENDING_CANCEL) with its clock, the venue's with receipt
    # time: the history follows the order the book applied them in.
    writer.submit(
        [
            order(5),
            fill(
                5,
                "N5",
                T0 + 5_000,
                kind=ExecKind.NEW,
                status=OrderStatus.NEW,
                last_qty=Decimal(0),
                cum_qty=Decimal(0),
                leaves_qty=Decimal(100),
            ),
        ]
    )
    writer.submit(
        [
            fill(
                5,
                "P5",
                T0 + 4_000,
                venue="FIXGATE",
                kind=ExecKind.PENDING_CANCEL,
                status=OrderStatus.PENDING_CANCEL,
                last_qty=Decimal(0),
                cum_qty=Decimal(0),
            )
        ]
    )
    writer.submit([fill(5, "C5", T0 + 6_000, kind=ExecKind.CANCELED, status=OrderStatus.CANCELED,
                        last_qty=Decimal(0), cum_qty=Decimal(0), leaves_qty=Decimal(0))])  # fmt: skip
    assert writer.flush()
    events = client.get("/orders/5").json()["executions"]
    assert [e["kind"] for e in events] == ["NEW", "PENDING_CANCEL", "CANCELED"]
    assert [e["kind"] for e in client.get("/executions", params={"order_id": 5}).json()] == [
        "NEW",
        "PENDING_CANCEL",
        "CANCELED",
    ]


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


def test_executions_page_by_cursor(client: httpx.Client, book: BookWriter) -> None:
    # Three executions (X3's resend recorded once), in the order applied; pages of two, then the rest.
    first = client.get("/executions", params={"limit": 2})
    assert [e["venue_exec_id"] for e in first.json()] == ["X1a", "X1b"]
    cursor = first.headers["X-Next-Cursor"]
    assert cursor == str(first.json()[-1]["seq"])
    link = first.headers["Link"]
    second = client.get(link[1 : link.index(">")])
    assert [e["venue_exec_id"] for e in second.json()] == ["X3"]
    assert "X-Next-Cursor" not in second.headers and "Link" not in second.headers
    # The cursor keeps the filters it is used with.
    only = client.get("/executions", params={"order_id": 1, "after": cursor})
    assert only.json() == []
    assert client.get("/executions", params={"after": "x"}).status_code == 422


def test_positions_are_marked(client: httpx.Client, book: BookWriter) -> None:
    everything = client.get("/positions").json()
    assert [(p["account"], p["symbol"]) for p in everything] == [
        ("ACC1", "AAPL"),
        ("ACC2", "AAPL"),
        ("ACC2", "MSFT"),
        ("ACC3", "TSLA"),
    ]
    fields = ("quantity", "cost", "avg_price", "realized_pnl", "mark_price", "unrealized_pnl")
    assert [tuple(p[k] for k in fields) for p in everything] == [
        ("100", "19002", "190.02", "0", "190.15", "13"),  # 100 * 190.15 - 19002 = 13.00
        ("-10", "-1900.5", "190.05", "-1.5", "190.15", "-1"),  # -10 * 190.15 + 1900.50 = -1.00
        ("0", "0", "0", "123.456", None, "0"),  # flat, and MSFT has no mark
        ("5", "1250", "250", "0", None, "0"),  # open, but TSLA has no mark yet
    ]
    assert [p["symbol"] for p in client.get("/positions", params={"account": "ACC2"}).json()] == [
        "AAPL",
        "MSFT",
    ]
    assert [p["account"] for p in client.get("/positions", params={"symbol": "AAPL"}).json()] == [
        "ACC1",
        "ACC2",
    ]
    assert client.get("/positions", params={"account": "NOBODY"}).json() == []


def test_pnl_per_account_and_firm(client: httpx.Client, book: BookWriter) -> None:
    response = client.get("/pnl")
    assert response.status_code == 200
    assert response.json() == {
        "accounts": [
            {"account": "ACC1", "realized_pnl": "0", "unrealized_pnl": "13", "total_pnl": "13"},
            # realized -1.5 + 123.456 = 121.956; unrealized -1 (AAPL) + 0 (MSFT flat)
            {"account": "ACC2", "realized_pnl": "121.956", "unrealized_pnl": "-1", "total_pnl": "120.956"},
            {"account": "ACC3", "realized_pnl": "0", "unrealized_pnl": "0", "total_pnl": "0"},
        ],
        # realized 0 + 121.956; unrealized 13 - 1 + 0
        "total": {"realized_pnl": "121.956", "unrealized_pnl": "12", "total_pnl": "133.956"},
    }
    only = client.get("/pnl", params={"account": "ACC1"}).json()
    assert [a["account"] for a in only["accounts"]] == ["ACC1"]
    assert only["total"]["total_pnl"] == "13"


def test_pnl_of_an_empty_book_is_zero(client: httpx.Client) -> None:
    assert client.get("/pnl").json() == {
        "accounts": [],
        "total": {"realized_pnl": "0", "unrealized_pnl": "0", "total_pnl": "0"},
    }


# -- OPERATOR CANCEL ------------------------------------------------------------------------------------


def test_cancel_sent_to_the_venue_is_202(database_url: str, book: BookWriter) -> None:
    gateway = StubGateway({2: None})
    with serve(database_url, api_token=TOKEN, operations=gateway) as http:
        response = http.post("/orders/2/cancel")
    assert response.status_code == 202
    assert response.json() == {
        "order_id": 2,
        "status": "PENDING_CANCEL",
        "detail": "cancel of order 2 sent to its venue",
    }
    assert gateway.calls == [2]


def test_cancel_of_an_unknown_order_is_404(database_url: str, book: BookWriter) -> None:
    gateway = StubGateway({})
    with serve(database_url, api_token=TOKEN, operations=gateway) as http:
        response = http.post("/orders/42/cancel")
    assert (response.status_code, response.json()) == (404, {"detail": "order 42 not found"})
    assert gateway.calls == [42]


def test_cancel_the_gateway_refuses_is_409_with_its_reason(database_url: str, book: BookWriter) -> None:
    gateway = StubGateway(
        {
            2: Refusal(CancelRejectReason.ALREADY_PENDING, "order 2 already has a cancel pending"),
            3: Refusal(CancelRejectReason.TOO_LATE, "order 3 is FILLED: nothing to cancel"),
        }
    )
    with serve(database_url, api_token=TOKEN, operations=gateway) as http:
        pending = http.post("/orders/2/cancel")
        done = http.post("/orders/3/cancel")
        # Order 1 is in the book but not at the gateway (done before a restart): 409, not 404.
        before_restart = http.post("/orders/1/cancel")
    assert (pending.status_code, pending.json()) == (409, {"detail": "order 2 already has a cancel pending"})
    assert (done.status_code, done.json()) == (409, {"detail": "order 3 is FILLED: nothing to cancel"})
    assert (before_restart.status_code, before_restart.json()) == (
        409,
        {"detail": "order 1 is FILLED: nothing to cancel"},
    )


def test_cancel_without_a_gateway_is_503(client: httpx.Client, book: BookWriter) -> None:
    response = client.post("/orders/2/cancel")
    assert response.status_code == 503
    assert "not available" in response.json()["detail"]


# -- AUTHENTICATION -------------------------------------------------------------------------------------

PROTECTED = [
    ("GET", "/orders"),
    ("GET", "/orders/1"),
    ("POST", "/orders/1/cancel"),
    ("GET", "/executions"),
    ("GET", "/positions"),
    ("GET", "/pnl"),
]


@pytest.mark.parametrize(
    ("headers", "message", "challenge"),
    [
        ({}, "missing bearer token", "Bearer"),
        ({"Authorization": "Bearer not-the-token"}, "invalid bearer token", 'Bearer error="invalid_token"'),
        ({"Authorization": f"Bearer {TOKEN}x"}, "invalid bearer token", 'Bearer error="invalid_token"'),
        ({"Authorization": f"Basic {TOKEN}"}, "missing bearer token", "Bearer"),
        ({"Authorization": TOKEN}, "missing bearer token", "Bearer"),
    ],
)
def test_endpoints_refuse_a_missing_or_wrong_token(
    database_url: str, book: BookWriter, headers: dict[str, str], message: str, challenge: str
) -> None:
    gateway = StubGateway({1: None})
    with serve(database_url, api_token=TOKEN, operations=gateway, headers=headers) as http:
        for method, path in PROTECTED:
            response = http.request(method, path)
            assert response.status_code == 401, (method, path)
            assert response.headers["WWW-Authenticate"] == challenge
            assert message in response.json()["detail"]
        assert http.get("/orders", headers=AUTH).status_code == 200  # the same server, with the token
    assert gateway.calls == []  # refused before anything was done


def test_health_and_docs_need_no_token(database_url: str) -> None:
    with serve(database_url, api_token=TOKEN, headers={}) as http:
        assert http.get("/health").status_code == 200
        assert http.get("/docs").status_code == 200
        assert http.get("/openapi.json").status_code == 200
        assert http.get("/orders").status_code == 401


def test_an_api_without_a_token_refuses_everyone(database_url: str) -> None:
    with serve(database_url) as http:  # sends a bearer token, but the app has none to compare with
        response = http.get("/orders")
        assert http.get("/health").status_code == 200
    assert response.status_code == 401
    assert "no token configured" in response.json()["detail"]


def test_api_reads_what_the_writer_commits_later(client: httpx.Client, writer: BookWriter) -> None:
    assert client.get("/orders").json() == []
    writer.submit([order(7), order(7, OrderStatus.CANCELED)])
    assert writer.flush()
    assert [(o["order_id"], o["status"]) for o in client.get("/orders").json()] == [(7, "CANCELED")]


def test_openapi_documents_the_endpoints(client: httpx.Client) -> None:
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert {
        "/health",
        "/orders",
        "/orders/{order_id}",
        "/orders/{order_id}/cancel",
        "/executions",
        "/positions",
        "/pnl",
    } <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "security" not in schema["paths"]["/health"]["get"]
    assert schema["paths"]["/pnl"]["get"]["security"] == [{"HTTPBearer": []}]
    order_schema = schema["components"]["schemas"]["Order"]["properties"]
    assert order_schema["quantity"]["type"] == "string"
