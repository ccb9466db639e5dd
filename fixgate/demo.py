"""``fixgate demo``: simulator + gateway + REST + a scripted order flow from a FIX client."""

from __future__ import annotations

import logging
import ssl
import time
from decimal import Decimal

import httpx

from fixgate.app import Fixgate
from fixgate.cli import StopSignals
from fixgate.config import Settings, rest_access_help
from fixgate.fixclient import FixClient, Message, utc_timestamp
from simulator.config import load_config
from simulator.venue import Simulator

log = logging.getLogger(__name__)

ORD_STATUS = {"0": "New", "1": "PartiallyFilled", "2": "Filled", "4": "Canceled", "8": "Rejected"}

# (ClOrdID prefix, symbol, side, qty, price or None for market, what it shows)
FLOW = [
    ("buy", "AAPL", "1", 150, "190.02", "a buy that crosses two price levels of resting asks"),
    ("sell", "AAPL", "2", 50, None, "a market sell that hits the best bid"),
    ("part", "MSFT", "1", 1000, "420.01", "a buy larger than the liquidity at its price: partly filled, rests"),
    ("big", "AAPL", "1", 6000, "190.00", "an order over AAPL's max order quantity: denied by risk"),
]


def _describe(report: Message) -> str:
    status = ORD_STATUS.get(report[39], report[39])
    parts = [f"  <- ExecutionReport {report[11]}: {status}"]
    if 32 in report and Decimal(report[32]) > 0:
        parts.append(f"filled {report[32]} @ {report[31]}")
    parts.append(f"cum {report[14]} leaves {report[151]} avg {report[6]}")
    if 58 in report:
        parts.append(f"text: {report[58]}")
    return ", ".join(parts)


def _run_flow(client: FixClient) -> list[str]:
    """Send the flow's orders one by one, printing their reports; fixgate's order ids, in order."""
    run = time.strftime("%H%M%S")
    order_ids = []
    for prefix, symbol, side, qty, price, what in FLOW:
        cl_ord_id = f"{prefix}-{run}"
        print(f"\n-> {what}\n   NewOrderSingle {cl_ord_id}: {'buy' if side == '1' else 'sell'} {qty} {symbol} "
              f"{'@ ' + price if price else 'at market'}")
        fields: dict[int, str | int] = {11: cl_ord_id, 21: "1", 55: symbol, 54: side, 60: utc_timestamp(),
                                        38: qty, 40: "2" if price else "1"}
        if price:
            fields[44] = price
        client.send("D", fields)
        report = client.expect("8", timeout=10, where={11: cl_ord_id})
        order_ids.append(report[37])
        print(_describe(report))
        while report[39] not in ("2", "4", "8"):  # until done, or resting with nothing more coming
            try:
                report = client.expect("8", timeout=1.0, where={11: cl_ord_id})
            except TimeoutError:
                break
            print(_describe(report))
    return order_ids


def _money(text: str) -> str:
    """A P&L amount from the API (exact) for the table: every digit it has, and at least cents."""
    whole, _, cents = text.partition(".")
    return f"{whole}.{cents.ljust(2, '0')}"


def _print_book(gateway: Fixgate, order_ids: list[str]) -> None:
    assert gateway.rest is not None and gateway.writer is not None
    gateway.writer.flush(timeout=10)
    auth = {"Authorization": f"Bearer {gateway.settings.api_token}"}
    verify: ssl.SSLContext | bool = True
    if gateway.settings.rest_tls_cert is not None:  # the demo trusts the certificate it was given itself
        verify = ssl.create_default_context(cafile=str(gateway.settings.rest_tls_cert))
        verify.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    with httpx.Client(base_url=gateway.rest.url, timeout=10, headers=auth, verify=verify) as rest:
        positions = rest.get("/positions").json()
        orders = [rest.get(f"/orders/{order_id}").json() for order_id in order_ids]
        pnl = rest.get("/pnl").json()
    print(f"\nGET {gateway.rest.url}/positions")
    print(f"  {'account':10} {'symbol':6} {'quantity':>10} {'avg price':>14} {'realized P&L':>14} "
          f"{'mark':>10} {'unrealized P&L':>14}")
    for p in positions:
        print(f"  {p['account']:10} {p['symbol']:6} {p['quantity']:>10} {p['avg_price']:>14} "
              f"{_money(p['realized_pnl']):>14} {p['mark_price'] or '-':>10} {_money(p['unrealized_pnl']):>14}")
    print(f"\nGET {gateway.rest.url}/pnl")
    for a in [*pnl["accounts"], {"account": "firm", **pnl["total"]}]:
        print(f"  {a['account']:10} realized {_money(a['realized_pnl']):>12}  unrealized "
              f"{_money(a['unrealized_pnl']):>12}  total {_money(a['total_pnl']):>12}")
    print(f"\nGET {gateway.rest.url}/orders/{{id}} (the orders above)")
    for o in orders:
        print(f"  order {o['order_id']:>4} {o['cl_ord_id']:14} {o['side']:4} {o['quantity']:>6} {o['symbol']:5} "
              f"{o['status']:17} cum {o['cum_qty']:>5} avg {o['avg_px']}")


def _print_events(gateway: Fixgate) -> None:
    """The demo's fills as events on the bus, the way `fixgate events tail` shows them."""
    if gateway.bus_url is None or not gateway.wait_for_bus(timeout=15):
        print("\nthe bus has not caught up with the journal yet: see logs/bus-publisher.log")
        return
    from bus.server import shown
    from bus.tail import recent

    # shown: the embedded server's URL carries its token, which is never printed.
    print(f"\nevents on the bus {shown(gateway.bus_url)}, stream FIXGATE_{gateway.settings.instance} (the last fills;"
          f" `fixgate events tail --data-dir {gateway.settings.data_dir}` shows them live)")
    for line in recent(gateway.bus_url, gateway.settings.instance, "fills", limit=6):
        print(f"  {line}")


def run_demo(settings: Settings, stay_up: bool = True) -> int:
    """Start everything on ``settings``' ports, run the flow, print the book, then wait for Ctrl-C."""
    settings, generated = settings.with_api_token(always=True)  # the demo reads the book over REST
    # Caught from the start: a Ctrl-C during the flow then stops the demo cleanly once it is through.
    stop = StopSignals() if stay_up else None
    sim_config = load_config(settings.config_dir / "simulator.toml").with_port(settings.sim_port)
    simulator = Simulator(sim_config, settings.data_dir / "simulator")
    gateway = Fixgate(settings)
    client: FixClient | None = None
    simulator.start()
    try:
        gateway.start()
        if not gateway.wait_for_venues({"SIM"}):
            print("the gateway could not log on to the simulator venue SIM")
            return 1
        print(f"\nfixgate is up: FIX clients on 127.0.0.1:{settings.client_port} (FIXGATE), "
              f"venue SIM on 127.0.0.1:{settings.sim_port}, REST on {gateway.rest.url if gateway.rest else ''}")
        assert gateway.rest is not None and settings.api_token is not None
        print(rest_access_help(gateway.rest.url, settings.api_token, generated))
        client = FixClient.connect("127.0.0.1", settings.client_port, sender_comp_id="CLIENT1",
                                   target_comp_id="FIXGATE")
        client.logon(reset_seq_num=True)  # the demo client keeps no sequence numbers between runs
        print("CLIENT1 logged on over FIX.4.4")
        _print_book(gateway, _run_flow(client))
        _print_events(gateway)
        if stop is not None:
            print(f"\nStill running: connect a FIX client to port {settings.client_port}, or browse "
                  f"{gateway.rest.url if gateway.rest else ''}/docs. Ctrl-C stops.")
            stop.wait()
        return 0
    finally:
        if client is not None:
            client.logout(timeout=2)
        gateway.stop()
        simulator.stop(force=True)
