"""Per-hop timestamps through the real gateway: in the book per order and report, and over REST."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from fixgate.app import Fixgate
from fixgate.fixclient import FixClient
from tests.support import eventually
from tests.support import order_fields as new_order

Connect = Callable[..., FixClient]


def _counts(rest: httpx.Client) -> dict[str, int]:
    response = rest.get("/metrics/latency")
    assert response.status_code == 200
    return {name: hop["count"] for name, hop in response.json()["hops"].items()}


def test_hops_of_a_filled_order_are_stored_and_counted(
    connect: Connect, rest: httpx.Client, gateway: Fixgate
) -> None:
    before = _counts(rest)
    assert set(before) >= {"order.received_to_decided", "order.decided_to_sent", "report.applied_to_sent"}
    client = connect()
    client.send("D", new_order("hop-1", 150, "190.02"))  # takes two price levels: New, then fills
    fill = client.expect("8", where={39: "2"})
    order_id = int(fill[37])

    def hops() -> dict[str, Any]:
        body: dict[str, Any] = rest.get(f"/metrics/latency/orders/{order_id}").json()
        return body

    # The book gets the hops after the rows, and the order's own after its venue send returned (the
    # venue's reports can be applied before that): wait until the order's and every report's are in.
    def complete(b: dict[str, Any]) -> bool:
        names = [h["hop"] for h in b.get("hops", [])]
        return "order.decided_to_sent" in names and names.count("report.applied_to_sent") >= 3

    body = eventually(hops, complete)
    by_hop: dict[str, list[dict[str, Any]]] = {}
    for hop in body["hops"]:
        by_hop.setdefault(hop["hop"], []).append(hop)
        assert hop["to_ns"] >= hop["from_ns"] > 0 and hop["micros"] >= 0
    (decided,) = by_hop["order.received_to_decided"]
    (sent,) = by_hop["order.decided_to_sent"]
    assert decided["to_ns"] == sent["from_ns"]  # received <= decided <= sent, one chain
    for applied, client_sent in zip(by_hop["report.received_to_applied"], by_hop["report.applied_to_sent"],
                                    strict=True):
        assert applied["exec_id"] == client_sent["exec_id"] and applied["to_ns"] == client_sent["from_ns"]
        # The venue answered after the order was decided. Not "after it was sent": that stamp is
        # taken when the send has returned, and the venue thread may read the answer before then.
        assert applied["from_ns"] >= decided["to_ns"]

    after = _counts(rest)
    assert after["order.received_to_sent"] >= before["order.received_to_sent"] + 1
    assert after["report.received_to_sent"] >= before["report.received_to_sent"] + 3


def test_a_risk_reject_records_its_decision_but_no_venue_send(connect: Connect, rest: httpx.Client) -> None:
    before = _counts(rest)
    client = connect()
    client.send("D", new_order("hop-big", 5001, "190.00"))
    reject = client.expect("8", where={11: "hop-big"})
    body = eventually(lambda: rest.get(f"/metrics/latency/orders/{reject[37]}").json(),
                      lambda b: len(b.get("hops", [])) == 1)
    assert [h["hop"] for h in body["hops"]] == ["order.received_to_decided"]
    after = _counts(rest)
    assert after["order.received_to_decided"] == before["order.received_to_decided"] + 1
    assert after["order.decided_to_sent"] == before["order.decided_to_sent"]


def test_latency_metrics_need_the_token(gateway: Fixgate) -> None:
    assert gateway.rest is not None
    assert httpx.get(f"{gateway.rest.url}/metrics/latency").status_code == 401
