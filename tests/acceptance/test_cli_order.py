"""``fixgate order``: the small FIX trading client, against a real gateway and venue simulator."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from fixgate.app import Fixgate
from fixgate.fixclient import FixClient
from simulator.venue import Simulator
from tests.support import eventually, fixgate_argv, free_port, order_fields

REPO = Path(__file__).resolve().parents[2]


def _order(gateway: Fixgate | None, *args: str, port: int | None = None,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    port = port if port is not None else gateway.settings.client_port if gateway is not None else free_port()
    return subprocess.run(fixgate_argv("order", *args, "--port", str(port), "--wait", "1"), cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False, env={**os.environ, **(env or {})})


def _order_id(out: str, cl_ord_id: str) -> int:
    found = re.search(rf"^ExecutionReport {re.escape(cl_ord_id)} order (\d+):", out, re.MULTILINE)
    assert found, out
    return int(found.group(1))


def _booked(rest: httpx.Client, order_id: int, ok: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The order as the book of record has it, once ``ok`` holds (the book is written behind)."""
    result: dict[str, Any] = eventually(lambda: rest.get(f"/orders/{order_id}").json(), ok)
    return result


def test_a_limit_buy_that_crosses_prints_each_report_and_is_in_the_book(
    gateway: Fixgate, rest: httpx.Client
) -> None:
    done = _order(gateway, "buy", "150", "AAPL", "@190.02", "--cl-ord-id", "cli-buy-1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"logged on to 127.0.0.1:{gateway.settings.client_port} as CLIENT1 (FIX.4.4, sequence numbers reset)"
    assert lines[1] == "NewOrderSingle cli-buy-1: buy 150 AAPL @ 190.02 (day)"
    order_id = _order_id(done.stdout, "cli-buy-1")
    # The simulator's asks: 100 @ 190.01, then 100 @ 190.02.
    assert lines[2:5] == [
        f"ExecutionReport cli-buy-1 order {order_id}: New, exec New, buy AAPL filled 0 @ 0, leaves 150",
        (f"ExecutionReport cli-buy-1 order {order_id}: PartiallyFilled, exec Trade 100 @ 190.01, buy AAPL filled 100"
        " @ 190.01, leaves 50"),
        (f"ExecutionReport cli-buy-1 order {order_id}: Filled, exec Trade 50 @ 190.02, buy AAPL filled 150 @"
        " 190.01333333, leaves 0"),
    ]
    assert lines[-1] == "logged out of CLIENT1"
    booked = _booked(rest, order_id, lambda o: o.get("status") == "FILLED")
    assert (booked["cl_ord_id"], booked["account"], Decimal(booked["cum_qty"])) == ("cli-buy-1", "CLIENT1", 150)


def test_no_price_is_a_market_order_and_account_and_session_are_chosen(gateway: Fixgate, rest: httpx.Client) -> None:
    done = _order(gateway, "sell", "30", "MSFT", "--account", "CLIENT1-A", "--cl-ord-id", "cli-mkt-1")
    assert done.returncode == 0, done.stderr
    assert "NewOrderSingle cli-mkt-1: sell 30 MSFT at market (day)" in done.stdout
    assert re.search(r"Filled, exec Trade 30 @ 419\.99, sell MSFT filled 30 @ 419\.99, leaves 0$", done.stdout,
                     re.MULTILINE), done.stdout
    booked = _booked(rest, _order_id(done.stdout, "cli-mkt-1"), lambda o: o.get("status") == "FILLED")
    assert (booked["ord_type"], booked["account"]) == ("MARKET", "CLIENT1-A")

    done = _order(gateway, "buy", "10", "AAPL", "189.00", "--session", "BENCH", "--cl-ord-id", "cli-bench-1")
    assert done.returncode == 0, done.stderr
    assert "as BENCH" in done.stdout
    booked = _booked(rest, _order_id(done.stdout, "cli-bench-1"), lambda o: o.get("status") == "NEW")
    assert booked["account"] == "BENCH"


def test_replace_status_and_cancel_a_resting_order(gateway: Fixgate, rest: httpx.Client) -> None:
    done = _order(gateway, "buy", "50", "MSFT", "@419.00", "--cl-ord-id", "cli-rest-1")
    assert done.returncode == 0, done.stderr
    order_id = _order_id(done.stdout, "cli-rest-1")
    assert done.stdout.splitlines()[-2].endswith(": New, exec New, buy MSFT filled 0 @ 0, leaves 50")

    done = _order(gateway, "replace", "cli-rest-1", "--qty", "80", "--price", "419.50")
    assert done.returncode == 0, done.stderr
    replaced = re.search(r"^OrderCancelReplaceRequest (replace-\S+) of cli-rest-1: qty 80 @ 419.50$", done.stdout,
                         re.MULTILINE)
    assert replaced, done.stdout
    assert re.search(rf"^ExecutionReport {replaced.group(1)} order {order_id}: New, exec Replaced, buy MSFT filled 0"
                     r" @ 0, leaves 80$", done.stdout, re.MULTILINE), done.stdout
    _booked(rest, order_id, lambda o: (Decimal(o.get("quantity") or 0), Decimal(o.get("price") or 0))
            == (Decimal(80), Decimal("419.5")))

    done = _order(gateway, "status", "cli-rest-1")  # any ClOrdID the order has carried
    assert done.returncode == 0, done.stderr
    assert (f"ExecutionReport cli-rest-1 order {order_id}: New, exec OrderStatus, buy MSFT filled 0 @ 0, leaves 80"
            in done.stdout.splitlines())

    done = _order(gateway, "cancel", replaced.group(1))
    assert done.returncode == 0, done.stderr
    assert re.search(rf"order {order_id}: Canceled, exec Canceled, buy MSFT filled 0 @ 0, leaves 0", done.stdout)
    _booked(rest, order_id, lambda o: o.get("status") == "CANCELED")

    done = _order(gateway, "cancel", "cli-rest-1")  # once more: too late
    assert done.returncode == 1
    assert re.search(rf"^OrderCancelReject cancel-\S+ of cli-rest-1 order {order_id}: too late, order Canceled:"
                     rf" order {order_id} is already CANCELED$", done.stdout, re.MULTILINE), done.stdout


def test_refusals_exit_1_with_the_gateways_text(gateway: Fixgate) -> None:
    done = _order(gateway, "buy", "6000", "AAPL", "@190.00")
    assert done.returncode == 1
    assert re.search(r": Rejected, exec Rejected, buy AAPL filled 0 @ 0, leaves 0, text: order qty 6000 > max 5000"
                     r" for AAPL$", done.stdout, re.MULTILINE), done.stdout
    done = _order(gateway, "buy", "10", "AAPL", "@190.00", "--account", "CLIENT2")
    assert done.returncode == 1
    assert "text: account CLIENT2 is not entitled to session CLIENT1" in done.stdout
    for command in ("status", "cancel"):
        done = _order(gateway, command, "no-such-order")
        assert done.returncode == 1
        assert ("ExecutionReport no-such-order order NONE: Rejected, exec OrderStatus, text: unknown order ClOrdID"
                " no-such-order") in done.stdout.splitlines()
        assert "OrderCancelRequest" not in done.stdout  # nothing to cancel: not sent


def test_what_keeps_a_request_from_being_sent_is_one_line_and_status_2(
    gateway: Fixgate, connect: Callable[..., FixClient]
) -> None:
    port = free_port()
    done = _order(None, "buy", "1", "AAPL", port=port)
    assert done.returncode == 2
    assert re.fullmatch(rf"fixgate: no FIX gateway answers on 127\.0\.0\.1:{port} \(.+\): is `fixgate serve` running\?"
                        r" \(--port or FIXGATE_CLIENT_PORT\)\n", done.stderr), done.stderr

    connect("CLIENT2")  # a session already logged on
    done = _order(gateway, "buy", "1", "AAPL", "--session", "CLIENT2")
    assert done.returncode == 2
    assert done.stderr.startswith(f"fixgate: CLIENT2 on 127.0.0.1:{gateway.settings.client_port}: the gateway closed"
                                  " the connection without answering the Logon")
    done = _order(gateway, "buy", "1", "AAPL", "--session", "NOBODY")
    assert done.returncode == 2 and "NOBODY on 127.0.0.1" in done.stderr

    for args, message in [(("buy", "ten", "AAPL"), "quantity 'ten' is not a number"),
                          (("sell", "5", "AAPL", "@-1"), "price '-1' must be positive"),
                          (("replace", "x"), "replace changes --qty, --price or both: name at least one")]:
        done = _order(gateway, *args)
        assert (done.returncode, done.stderr) == (2, f"fixgate: {message}\n")


def test_reports_that_came_while_logged_out_are_printed_at_the_next_logon(
    gateway: Fixgate, connect: Callable[..., FixClient]
) -> None:
    # A bid at 190.00 rests above the simulator's own best bid (189.99): the next sell at 190.00 fills it.
    done = _order(gateway, "buy", "10", "AAPL", "@190.00", "--cl-ord-id", "cli-away-1")
    assert done.returncode == 0, done.stderr
    order_id = _order_id(done.stdout, "cli-away-1")
    seller = connect("CLIENT2")
    seller.send("D", order_fields("cli-away-sell", 10, "190.00", side="2"))
    seller.expect("8", where={11: "cli-away-sell", 39: "2"})

    # Logged on again with ResetSeqNumFlag: the fill CLIENT1 missed comes with PossResend, marked earlier.
    done = _order(gateway, "status", "cli-away-1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1:3] == [
        (f"ExecutionReport cli-away-1 (earlier) order {order_id}: Filled, exec Trade 10 @ 190, buy AAPL filled 10 @ 190,"
        " leaves 0"),
        f"ExecutionReport cli-away-1 order {order_id}: Filled, exec OrderStatus, buy AAPL filled 10 @ 190, leaves 0",
    ]


def test_a_session_with_credentials_logs_on_with_the_password_of_the_environment(
    tmp_path: Path, database_url: str, simulator: Simulator
) -> None:
    from gateway.credentials import hash_password
    from tests.acceptance.test_client_edge import gateway_with

    (tmp_path / "client1.hash").write_text(hash_password("pw one") + "\n")
    block = "TargetCompID=CLIENT1\nDataDictionary=${SPEC_DIR}/FIX44.xml\n"  # FIX 4.4 CLIENT1's
    app = gateway_with(tmp_path, database_url, simulator, block,
                       f"{block}Username=alice\nPasswordHashFile={tmp_path / 'client1.hash'}\n")
    try:
        done = _order(app, "buy", "10", "AAPL", "@189.00", "--username", "alice", "--cl-ord-id", "cred-1",
                      env={"FIXGATE_FIX_PASSWORD": "pw one"})
        assert done.returncode == 0, done.stderr
        assert re.search(r"^ExecutionReport cred-1 order \d+: New, exec New", done.stdout, re.MULTILINE)
        done = _order(app, "status", "cred-1", "--username", "alice", env={"FIXGATE_FIX_PASSWORD": "pw two"})
        assert (done.returncode, done.stderr) == (
            2, (f"fixgate: CLIENT1 on 127.0.0.1:{app.settings.client_port}: logon refused: Rejected Logon Attempt:"
               " wrong Username (553) or Password (554)\n"))
    finally:
        app.stop()
