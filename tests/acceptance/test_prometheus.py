"""``GET /metrics`` scraped as Prometheus would (bearer token, text format), parsed with the client
library's own parser, after real FIX orders through the gateway to the simulator."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from fixgate.app import Fixgate
from fixgate.fixclient import FixClient
from tests.acceptance.conftest import API_TOKEN
from tests.support import eventually, order_fields

Connect = Callable[..., FixClient]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

#: Labels a metric may carry: none names an order, an execution or anything else without bound.
BOUNDED_LABELS = {"hop", "le", "session", "role", "account", "limit", "symbol", "check", "state"}


def scrape(rest: httpx.Client) -> tuple[dict[str, str], Samples]:
    """Family name -> type, and every sample by (name, labels)."""
    response = rest.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    types: dict[str, str] = {}
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        types[family.name] = family.type
        for s in family.samples:
            assert isinstance(s, Sample)
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return types, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_a_scrape_after_real_orders(connect: Connect, rest: httpx.Client, gateway: Fixgate) -> None:
    types, before = scrape(rest)
    assert all(name.startswith("fixgate_") for name in types)
    for name, kind in types.items():
        if kind == "counter":  # the family is named without it; each sample ends in _total
            assert all(n.endswith("_total") for n, _ in before if n.startswith(name + "_")), name
    assert {label for _, labels in before for label, _ in labels} <= BOUNDED_LABELS
    assert types["fixgate_hop_latency_seconds"] == "histogram"

    client = connect("CLIENT1", "FIX.4.4")
    client.send("D", order_fields("m-1", 10, "190.02"))  # marketable: filled at the simulator's ask
    buy = client.expect("8", where={11: "m-1", 39: "2"})
    client.send("D", order_fields("m-2", 10, "189.98", side="2"))  # marketable: sold at the best bid
    sell = client.expect("8", where={11: "m-2", 39: "2"})
    client.send("D", order_fields("m-3", 6000, "190.02"))  # over AAPL's max order quantity: risk denies it
    client.expect("8", where={11: "m-3", 39: "8"})

    _, after = scrape(rest)
    # Exactly the orders sent, and the one risk denied.
    assert value(after, "fixgate_oms_orders_total") - value(before, "fixgate_oms_orders_total") == 3
    assert value(after, "fixgate_oms_rejected_total") - value(before, "fixgate_oms_rejected_total") == 1
    denied = sum(v for (n, _), v in after.items() if n == "fixgate_risk_rejections_total")
    assert denied - sum(v for (n, _), v in before.items() if n == "fixgate_risk_rejections_total") == 1

    # Histograms: two orders went to the venue, three were decided; buckets add up.
    def hop(samples: Samples, name: str, suffix: str) -> float:
        return value(samples, f"fixgate_hop_latency_seconds_{suffix}", hop=name)

    assert hop(after, "order.received_to_sent", "count") - hop(before, "order.received_to_sent", "count") == 2
    assert hop(after, "order.received_to_decided", "count") - hop(before, "order.received_to_decided", "count") == 3
    assert hop(after, "order.received_to_sent", "sum") > hop(before, "order.received_to_sent", "sum")
    buckets = sorted(
        (float(dict(labels)["le"]), v) for (n, labels), v in after.items()
        if n == "fixgate_hop_latency_seconds_bucket" and dict(labels)["hop"] == "order.received_to_sent"
    )
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)  # cumulative
    assert buckets[-1] == (float("inf"), hop(after, "order.received_to_sent", "count"))
    # Each report sent to the client was timed: New + Filled for both orders.
    assert hop(after, "report.received_to_sent", "count") - hop(before, "report.received_to_sent", "count") == 4

    # The client's session, as its own counters see it.
    session = {"session": "FIX.4.4:FIXGATE->CLIENT1", "role": "client"}
    assert value(after, "fixgate_session_logged_on", **session) == 1
    assert value(after, "fixgate_session_next_target_seq", **session) == client.next_seq_out
    assert value(after, "fixgate_session_messages_in_total", **session) == client.next_seq_out - 1
    assert value(after, "fixgate_session_logged_on", session="FIX.4.4:FIXGATE->SIM", role="venue") == 1

    # Flat again; P&L as the book has it once the writer caught up.
    assert value(after, "fixgate_risk_trading_state", account="", state="ACTIVE") == 1
    assert ("fixgate_position_quantity", frozenset({("account", "CLIENT1"), ("symbol", "AAPL")})) not in after
    realized = (sell.decimal(31) - buy.decimal(31)) * 10
    assert value(after, "fixgate_pnl_realized", account="CLIENT1") == float(realized) != 0
    assert gateway.writer is not None and gateway.writer.flush()
    (book,) = [a for a in rest.get("/pnl").json()["accounts"] if a["account"] == "CLIENT1"]
    assert Decimal(book["realized_pnl"]) == realized
    _, flushed = scrape(rest)
    assert value(flushed, "fixgate_book_writer_lag_bytes") == 0
    assert value(flushed, "fixgate_book_writer_up") == 1
    assert eventually(lambda: scrape(rest)[1], lambda s: value(s, "fixgate_bus_lag_bytes") == 0)


def test_a_scrape_needs_the_token(gateway: Fixgate) -> None:
    assert gateway.rest is not None
    url = f"{gateway.rest.url}/metrics"
    assert httpx.get(url, timeout=10).status_code == 401
    assert httpx.get(url, timeout=10, headers={"Authorization": "Bearer not-the-token"}).status_code == 401
    scraped = httpx.get(url, timeout=10, headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert scraped.status_code == 200 and "fixgate_oms_orders_total" in scraped.text
