"""Operators over REST on a running gateway: a cancel that reaches the venue, and the bearer token."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from fixgate.app import Fixgate
from fixgate.fixclient import FixClient
from simulator.venue import Simulator
from tests.support import eventually, order_fields

Connect = Callable[..., FixClient]


@pytest.mark.parametrize("begin_string", ["FIX.4.4", "FIX.4.2"])
def test_operator_cancel_reaches_the_venue_and_the_client(
    begin_string: str, connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    client = connect("CLIENT1", begin_string)
    client.send("D", order_fields("op-1", 100, "189.00"))  # below the best bid: rests
    new = client.expect("8", where={11: "op-1", 39: "0"})
    order_id = new[37]

    response = rest.post(f"/orders/{order_id}/cancel")
    assert response.status_code == 202
    assert response.json() == {
        "order_id": int(order_id),
        "status": "PENDING_CANCEL",
        "detail": f"cancel of order {order_id} sent to its venue",
    }
    # The client learns of it on its own order id: pending, then canceled.
    client.expect("8", where={11: "op-1", 39: "6"})
    done = client.expect("8", where={11: "op-1", 39: "4"})
    assert done[37] == order_id
    # The venue saw the cancel (it knows the order by fixgate's ClOrdID, not the client's).
    eventually(lambda: simulator.record.orders_from("FIXGATE")[0].status, lambda s: s == "CANCELED")
    history = eventually(lambda: rest.get(f"/orders/{order_id}").json(), lambda o: o.get("status") == "CANCELED")[
        "executions"
    ]
    assert [e["kind"] for e in history] == ["NEW", "PENDING_CANCEL", "CANCELED"]
    assert [e["venue"] for e in history] == ["SIM", "FIXGATE", "SIM"]

    again = rest.post(f"/orders/{order_id}/cancel")
    assert again.status_code == 409
    assert again.json() == {"detail": f"order {order_id} is CANCELED: nothing to cancel"}


def test_operator_cancel_of_filled_or_unknown_orders(
    connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    client = connect("CLIENT1", "FIX.4.4")
    client.send("D", order_fields("op-f", 10, "190.05"))
    filled = client.expect("8", where={11: "op-f", 39: "2"})
    response = rest.post(f"/orders/{filled[37]}/cancel")
    assert (response.status_code, response.json()) == (
        409,
        {"detail": f"order {filled[37]} is FILLED: nothing to cancel"},
    )
    unknown = rest.post("/orders/999999/cancel")
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "order 999999 not found"})
    assert [o.status for o in simulator.record.orders_from("FIXGATE")] == ["FILLED"]


def test_the_gateways_rest_api_requires_its_token(gateway: Fixgate, simulator: Simulator) -> None:
    assert gateway.rest is not None
    with httpx.Client(base_url=gateway.rest.url, timeout=10) as anonymous:
        assert anonymous.get("/health").status_code == 200
        refused = anonymous.post("/orders/1/cancel")
        wrong = anonymous.get("/positions", headers={"Authorization": "Bearer guess"})
    assert (refused.status_code, refused.headers["WWW-Authenticate"]) == (401, "Bearer")
    assert wrong.status_code == 401
    assert simulator.record.orders_from("FIXGATE") == ()
