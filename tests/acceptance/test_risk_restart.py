"""Risk state survives a restart: a new gateway on the same database and data dir keeps the kill
switches, the limits changed over REST and the states the daily loss limit set, from ``risk_events``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal as D

import httpx

from fixgate.app import Fixgate
from fixgate.fixclient import FixClient
from simulator.venue import Simulator
from tests.acceptance.conftest import API_TOKEN, as_operator
from tests.acceptance.test_risk import kill, rejected, rest_a_buy, resume, trade_elsewhere
from tests.support import eventually, free_port, order_fields

Connect = Callable[..., FixClient]


@contextmanager
def restarted(gateway: Fixgate) -> Iterator[tuple[Fixgate, httpx.Client]]:
    """Stop ``gateway``, then start a new one on its database and data dir (new ports: the old ones
    may still be in TIME_WAIT); with a REST client of the new one."""
    gateway.stop()
    app = Fixgate(replace(gateway.settings, client_port=free_port(), rest_port=free_port()))
    app.start()
    try:
        assert app.wait_for_venues({"SIM"}), "the restarted gateway's SIM session did not log on"
        assert app.rest is not None
        with httpx.Client(base_url=app.rest.url, timeout=10,
                          headers={"Authorization": f"Bearer {API_TOKEN}"}) as api:
            yield app, api
    finally:
        app.stop()


def logon(app: Fixgate, comp_id: str) -> FixClient:
    """A client logging on to the restarted gateway; it starts its sequence numbers afresh (141=Y)."""
    client = FixClient.connect("127.0.0.1", app.settings.client_port, sender_comp_id=comp_id,
                               target_comp_id="FIXGATE")
    client.logon(reset_seq_num=True)
    return client


def test_a_kill_switch_and_a_limit_change_survive_a_restart_and_resume_works_after_it(
    gateway: Fixgate, rest: httpx.Client
) -> None:
    halt = kill(rest, "account", "CLIENT1", "runaway algo", by="alice")["halt"]
    limits = rest.get("/risk/limits").json()
    limits["instruments"]["AAPL"]["max_order_qty"] = "150"
    assert rest.put("/risk/limits", json=limits, headers=as_operator("carol")).status_code == 200

    with restarted(gateway) as (app, api):
        client = logon(app, "CLIENT1")
        assert rejected(client, "r-1") == "trading halted for account CLIENT1 by alice: runaway algo"
        assert api.get("/risk/status").json()["halts"] == [halt]  # who, when and why, as pulled
        assert api.get("/risk/limits").json() == limits
        assert rejected(client, "r-2", 151, t1="CLIENT1-A") == "order qty 151 > max 150 for AAPL"

        assert resume(api, "account", "CLIENT1")["lifted"] == halt
        rest_a_buy(client, "r-3")
        assert api.get("/risk/status").json()["halts"] == []
        client.logout()


def test_a_daily_loss_state_the_market_set_survives_a_restart_until_an_operator_resumes(
    gateway: Fixgate, connect: Connect, rest: httpx.Client, simulator: Simulator
) -> None:
    limits = rest.get("/risk/limits").json()
    limits["accounts"]["CLIENT1"].update(max_daily_loss="1", daily_loss_action="REDUCING")
    assert rest.put("/risk/limits", json=limits).status_code == 200
    client = connect("CLIENT1")
    client.send("D", order_fields("m-1", 100, "190.01"))  # long 100 @ 190.01
    client.expect("8", where={11: "m-1", 39: "2"})
    trade_elsewhere(simulator, "elsewhere-m1", 10, "189.99", side="2")  # marked at 189.99: -2.00
    eventually(lambda: rest.get("/risk/status").json()["account_states"], lambda s: s == {"CLIENT1": "REDUCING"})
    # The market comes back (the next ask, 190.02, trades): the loss is gone but the state stays,
    # so a restart cannot find it again from the P&L: only the BREACH row keeps it.
    trade_elsewhere(simulator, "elsewhere-m2", 10, "190.02", side="1")
    eventually(lambda: rest.get("/risk/status").json()["accounts"],
               lambda accounts: any(a["account"] == "CLIENT1" and D(a["daily_pnl"]) > 0 for a in accounts))
    client.logout()

    with restarted(gateway) as (app, api):
        status = api.get("/risk/status").json()
        assert status["account_states"] == {"CLIENT1": "REDUCING"}
        client = logon(app, "CLIENT1")
        assert rejected(client, "m-2", 1, "190.02") == (
            "account CLIENT1 REDUCING: daily loss 2.00 > max 1; BUY 1 AAPL would not reduce the position 100"
            " (working on that side 0)")
        resume(api, "account", "CLIENT1")
        assert api.get("/risk/status").json()["account_states"] == {}
        rest_a_buy(client, "m-3")
        client.logout()
