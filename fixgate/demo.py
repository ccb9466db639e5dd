"""``fixgate demo``: simulator + gateway + REST + a scripted order flow from a FIX client."""

from __future__ import annotations

import json
import logging
import ssl
import time
from decimal import Decimal
from typing import TYPE_CHECKING

import httpx

from domain.model import NewOrder, OrdType, Side, TimeInForce
from fixgate.app import Fixgate
from fixgate.cli import StopSignals
from fixgate.config import Settings, load_instruments, rest_access_help
from fixgate.fixclient import FixClient, Message, utc_timestamp
from fixgate.preflight import demo_simulator_config
from simulator.venue import Simulator

if TYPE_CHECKING:
    from oms.router import Router

log = logging.getLogger(__name__)

ORD_STATUS = {"0": "New", "1": "PartiallyFilled", "2": "Filled", "4": "Canceled", "8": "Rejected"}

# (ClOrdID prefix, symbol, side, qty, price or None for market, what it shows)
FLOW = [
    ("buy", "AAPL", "1", 150, "190.02", ("a limit buy bigger than the best offer: SIM's 100 at 190.01, then"
     " SIM2's best offer, within the limit")),
    ("sell", "AAPL", "2", 50, None, "a market sell that hits the best bid"),
    ("part", "MSFT", "1", 1000, "420.01", "a buy larger than the liquidity at its price: partly filled, rests"),
    ("big", "AAPL", "1", 6000, "190.00", "an order over AAPL's max order quantity: denied by risk"),
    ("large", "AAPL", "1", 600, None, ("a market buy larger than what either venue shows at its best offer"
     " (the shipped SIM rests 500 a side, SIM2 250): split, an IOC child at each venue's best offer, the rest"
     " posted at the better venue and what it leaves sent to the other; the client sees one order")),
]
#: The flow's order whose fills and transaction cost analysis are shown at the end.
SHOWN = "large"


def _describe(report: Message) -> str:
    status = ORD_STATUS.get(report[39], report[39])
    parts = [f"  <- ExecutionReport {report[11]}: {status}"]
    if 32 in report and Decimal(report[32]) > 0:
        parts.append(f"filled {report[32]} @ {report[31]}" + (f" on {report[30]}" if 30 in report else ""))
    parts.append(f"cum {report[14]} leaves {report[151]} avg {report[6]}")
    if 58 in report:
        parts.append(f"text: {report[58]}")
    return ", ".join(parts)


def _run_flow(client: FixClient) -> tuple[list[str], list[Message]]:
    """Send the flow's orders one by one, printing their reports; fixgate's order ids, in order, and
    the fills of the order ``SHOWN``."""
    run = time.strftime("%H%M%S")
    order_ids = []
    shown_fills: list[Message] = []
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
        reports = [report]
        while report[39] not in ("2", "4", "8"):  # until done, or resting with nothing more coming
            try:
                report = client.expect("8", timeout=1.0, where={11: cl_ord_id})
            except TimeoutError:
                break
            print(_describe(report))
            reports.append(report)
        if prefix == SHOWN:
            shown_fills = [r for r in reports if 32 in r and Decimal(r[32]) > 0]
    return order_ids, shown_fills


def _money(text: str) -> str:
    """A P&L amount from the API (exact) for the table: every digit it has, and at least cents."""
    whole, _, cents = text.partition(".")
    return f"{whole}.{cents.ljust(2, '0')}"


def _rest(gateway: Fixgate) -> httpx.Client:
    """An HTTP client of the gateway's REST API with the demo's token."""
    assert gateway.rest is not None
    auth = {"Authorization": f"Bearer {gateway.settings.api_token}"}
    verify: ssl.SSLContext | bool = True
    if gateway.settings.rest_tls_cert is not None:  # the demo trusts the certificate it was given itself
        verify = ssl.create_default_context(cafile=str(gateway.settings.rest_tls_cert))
        verify.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return httpx.Client(base_url=gateway.rest.url, timeout=10, headers=auth, verify=verify)


def _print_book(gateway: Fixgate, order_ids: list[str]) -> None:
    assert gateway.rest is not None and gateway.writer is not None
    gateway.writer.flush(timeout=10)
    with _rest(gateway) as rest:
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


def _print_tca(gateway: Fixgate, order_id: str, fills: list[Message], timeout: float = 20.0) -> None:
    """The fills of one order with the venue each came from (LastMkt 30), and what TCA made of it."""
    assert gateway.rest is not None
    print(f"\nfills of order {order_id}, by venue (LastMkt 30)")
    for fill in fills:
        print(f"  {fill.get(30, '?'):5} {fill[32]:>5} @ {fill[31]}")
    tca = None
    deadline = time.monotonic() + (timeout if gateway.bus_url is not None else 0)
    with _rest(gateway) as rest:
        while time.monotonic() < deadline:  # TCA measures the order from the bus, in its own process
            response = rest.get(f"/tca/orders/{order_id}")
            if response.status_code == 200 and response.json()["shortfall"] is not None:
                tca = response.json()
                break
            time.sleep(0.2)
    print(f"\nGET {gateway.rest.url}/tca/orders/{order_id}")
    if gateway.bus_url is None:
        print("  no transaction cost analysis without the bus (FIXGATE_BUS=0)")
        return
    if tca is None:
        print(f"  not measured yet (TCA follows the bus): ask again, or see {gateway.settings.data_dir / 'logs'}")
        return
    avg = "-" if tca["avg_price"] is None else f"{Decimal(tca['avg_price']):.8f}"
    rate = "-" if tca["fill_rate"] is None else f"{Decimal(tca['fill_rate']) * 100:.1f}%"
    print(f"  {tca['side']} {tca['quantity']} {tca['symbol']}: filled {tca['filled_qty']} avg {avg}"
          f" on {', '.join(tca['venues'])}; arrival mid {tca['arrival_mid']}, fees {tca['fees']}")
    print(f"  implementation shortfall {tca['shortfall']} ({tca['shortfall_bps']} bps): execution"
          f" {tca['execution_cost']}, opportunity {tca['opportunity_cost']}; fill rate {rate}")
    for f in tca["fills"]:
        print(f"  fill {f['quantity']:>5} @ {f['price']} on {f['venue']}: slippage {f['slippage_bps']} bps,"
              f" effective spread {f['effective_spread_bps']} bps, fee {f['fee'] or '-'}")


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


def _wait_for_quotes(router: Router, symbols: list[str], timeout: float = 10.0) -> bool:
    """Wait until the router has every venue's quotes on both sides of ``symbols`` (each venue's
    market data snapshot), so that the flow is routed on prices, not on the order of the logons."""
    deadline = time.monotonic() + timeout
    probes = [NewOrder("demo-probe", "p", "P", symbol, side, OrdType.MARKET, Decimal(1), None, TimeInForce.DAY, 0)
              for symbol in symbols for side in (Side.BUY, Side.SELL)]
    while True:
        considered = [json.loads(router.route(probe).decision).get("venues", []) for probe in probes]
        if all(v.get("touch") is not None for venues in considered for v in venues):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def run_demo(settings: Settings, stay_up: bool = True) -> int:
    """Start everything on ``settings``' ports, run the flow, print the book, then wait for Ctrl-C."""
    settings, generated = settings.with_api_token(always=True)  # the demo reads the book over REST
    # Caught from the start: a Ctrl-C during the flow then stops the demo cleanly once it is through.
    stop = StopSignals() if stay_up else None
    sim_config = demo_simulator_config(settings)
    instruments = load_instruments(settings.config_dir / "instruments.toml")
    venues = sorted({venue for i in instruments.values() for venue in i.venues})
    simulator = Simulator(sim_config, settings.data_dir / "simulator")
    gateway = Fixgate(settings)
    client: FixClient | None = None
    simulator.start()
    try:
        gateway.start()
        if not gateway.wait_for_venues(set(venues)):
            assert gateway.router is not None
            down = [v for v in venues if v not in gateway.router.venues_up]
            print(f"the gateway could not log on to the simulator venue(s) {', '.join(down)}")
            return 1
        assert gateway.router is not None
        if not _wait_for_quotes(gateway.router, [s for s, i in instruments.items() if len(i.venues) > 1]):
            print("the venues' market data has not come in yet: the first orders may not go to the best price")
        at = ", ".join(f"{v.name} on {v.host}:{v.port}" for v in sim_config.venues if v.name in venues)
        print(f"\nfixgate is up: FIX clients on 127.0.0.1:{settings.client_port} (FIXGATE), "
              f"REST on {gateway.rest.url if gateway.rest else ''}")
        print(f"venues logged on: {at}")
        assert gateway.rest is not None and settings.api_token is not None
        print(rest_access_help(gateway.rest.url, settings.api_token, generated))
        client = FixClient.connect("127.0.0.1", settings.client_port, sender_comp_id="CLIENT1",
                                   target_comp_id="FIXGATE")
        client.logon(reset_seq_num=True)  # the demo client keeps no sequence numbers between runs
        print("CLIENT1 logged on over FIX.4.4")
        order_ids, shown_fills = _run_flow(client)
        _print_book(gateway, order_ids)
        _print_tca(gateway, order_ids[[prefix for prefix, *_ in FLOW].index(SHOWN)], shown_fills)
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
