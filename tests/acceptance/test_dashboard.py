"""The operator dashboard at ``/``: its live feed over HTTP, and the page end to end in a real headless
Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright) against a real gateway, simulator,
PostgreSQL and FIX sessions.

The browser test skips, naming what is missing, where Playwright or Chromium is not installed
(``make test`` installs Chromium with apt when it runs as root). Screenshots are kept under the
test's tmp_path; ``FIXGATE_SCREENSHOT=docs/dashboard.png`` also writes the README's picture (after a
short flow of orders, so the charts have something to show).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from fixgate.app import Fixgate
from fixgate.fixclient import FixClient
from tests.acceptance.conftest import OPERATOR_TOKENS, OTHER_TOKENS, REPO
from tests.support import eventually
from tests.support import order_fields as new_order

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

Connect = Callable[..., FixClient]

CHROMIUM = Path(os.environ.get("FIXGATE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 20_000  # a deadline for the page to show what the gateway did, not a speed assertion
#: Answers the page may get: a refused token at sign-in.
EXPECTED_REFUSALS = {("/dashboard/feed", 401), ("/dashboard/feed", 403)}
HOSTILE_CL_ORD_ID = "<img src=x onerror=alert(1)>"  # printable ASCII: a client may send it


def feed_events(url: str, token: str | None, count: int, **params: Any) -> tuple[int, list[tuple[str, Any]]]:
    """The status of ``GET /dashboard/feed`` and its first ``count`` events (none unless 200)."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    events: list[tuple[str, Any]] = []
    with httpx.Client(timeout=15) as client, \
            client.stream("GET", f"{url}/dashboard/feed", headers=headers, params=params) as response:
        if response.status_code != 200:
            response.read()
            return response.status_code, [("error", response.json())]
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((kind, orjson.loads(line[6:])))
                if len(events) == count:
                    break
    return 200, events


def test_the_feed_needs_the_token_of_an_operator_or_a_viewer(gateway: Fixgate) -> None:
    assert gateway.rest is not None
    url = gateway.rest.url
    status, body = feed_events(url, None, 1)
    assert status == 401 and "missing bearer token" in body[0][1]["detail"]
    status, body = feed_events(url, "not-a-token", 1)
    assert status == 401 and body[0][1]["detail"] == "invalid bearer token"
    client_token, _ = OTHER_TOKENS["acme"]
    status, body = feed_events(url, client_token, 1)
    assert status == 403 and "acme (client) may not read firm-wide data" in body[0][1]["detail"]
    # A bad filter is refused, naming it, before the stream begins.
    status, body = feed_events(url, OPERATOR_TOKENS["alice"], 1, side="buy")
    assert status == 422 and "unknown side 'buy'" in body[0][1]["detail"]
    status, body = feed_events(url, OPERATOR_TOKENS["alice"], 1, limit=0)
    assert status == 422 and "'limit'" in body[0][1]["detail"]

    viewer_token, _ = OTHER_TOKENS["vera"]
    status, events = feed_events(url, viewer_token, 2)
    assert status == 200
    (hello_kind, hello), (snapshot_kind, snapshot) = events
    assert (hello_kind, hello) == ("hello", {"name": "vera", "role": "viewer", "may_act": False})
    assert snapshot_kind == "snapshot"
    assert {"positions", "pnl", "orders", "fills", "audit", "risk", "counters", "latency", "sessions",
            "health"} <= snapshot.keys() and snapshot["trouble"] == []
    assert (snapshot["health"]["database"], snapshot["health"]["venues"]) == ("ok", "ok"), snapshot["health"]
    assert {s["session_id"]: s["logged_on"] for s in snapshot["sessions"]}["FIX.4.4:FIXGATE->SIM"] is True
    assert snapshot["risk"]["firm_state"] == "ACTIVE" and snapshot["orders"] == []

    # The page itself holds no data and is open to anyone; it allows only its own scripts.
    page = httpx.get(f"{url}/", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for asset in ("/dashboard/static/dashboard.js", "/dashboard/static/vendor/uplot/uPlot.iife.min.js"):
        assert httpx.get(f"{url}{asset}", timeout=10).status_code == 200, asset


def test_the_feed_carries_an_order_its_fills_and_the_latency_of_each_hop(
    connect: Connect, gateway: Fixgate, rest: httpx.Client
) -> None:
    assert gateway.rest is not None
    client = connect("CLIENT1")
    client.send("D", new_order("feed-1", 150, "190.02"))
    done = client.expect("8", where={39: "2"})
    order_id = int(done[37])
    eventually(lambda: rest.get(f"/orders/{order_id}").json(), lambda o: o.get("status") == "FILLED")
    # Two snapshots a second apart: the second has an interval of each hop's latency.
    _, events = feed_events(gateway.rest.url, OPERATOR_TOKENS["alice"], 3, symbol="AAPL")
    snapshot = events[-1][1]
    [order] = [o for o in snapshot["orders"] if o["order_id"] == order_id]
    assert (order["cl_ord_id"], order["status"], D(order["cum_qty"])) == ("feed-1", "FILLED", D(150))
    fills = sorted((D(f["last_qty"]), D(f["last_px"])) for f in snapshot["fills"] if f["order_id"] == order_id)
    assert fills == [(D(50), D("190.02")), (D(100), D("190.01"))]
    assert snapshot["latency"]["since_start"]["order.received_to_sent"]["count"] == 1
    assert snapshot["latency"]["intervals"], "no latency interval after two snapshots"
    [position] = [p for p in snapshot["positions"] if p["account"] == "CLIENT1"]
    assert D(position["quantity"]) == D(150)
    # Filters reach the book's query: no MSFT order, no SELL.
    _, events = feed_events(gateway.rest.url, OPERATOR_TOKENS["alice"], 2, symbol="MSFT")
    assert events[1][1]["orders"] == [] and events[1][1]["fills"] == []
    _, events = feed_events(gateway.rest.url, OPERATOR_TOKENS["alice"], 2, side="SELL")
    assert events[1][1]["orders"] == []


# -- the page, in a real browser -------------------------------------------------------------------


@pytest.fixture
def browser() -> Iterator[Browser]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install the Debian packages chromium and chromium-driver"
                    " (make test does so with apt-get when run as root)")
    with sync_api.sync_playwright() as playwright:
        # Debian's Chromium, never a download (playwright install cannot fetch browsers here).
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser, tmp_path: Path) -> Iterator[Page]:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    problems: list[str] = []
    # A script error, or anything the page's content policy blocked, is a console error; a request
    # that failed is reported by its response (the console's "Failed to load resource" names none).
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and (urlsplit(r.url).path, r.status) not in EXPECTED_REFUSALS else None)
    yield page
    context.close()
    assert not problems, f"errors in the page: {problems}"


def shot(page: Page, tmp_path: Path, name: str) -> Path:
    """A screenshot of the whole page, kept as the test's artefact."""
    path = tmp_path / "screenshots" / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def sign_in(page: Page, token: str) -> None:
    page.fill("#token", token)
    page.click("#sign-in-button")


def confirm(page: Page, title: str) -> None:
    """Answer the page's confirmation dialog, after checking what it asks."""
    from playwright.sync_api import expect

    expect(page.locator("#confirm")).to_be_visible()
    expect(page.locator("#confirm-title")).to_have_text(title)
    expect(page.locator("#confirm-who")).to_contain_text("alice")
    page.click("#confirm-yes")
    expect(page.locator("#confirm")).to_be_hidden()


def flow(buyer: FixClient, connect: Connect, seconds: float) -> None:
    """Orders for a while, ``buyer``'s crossing CLIENT2's at the venue, at a rate that varies, so the
    charts have something to show (for the README's screenshot only)."""
    seller = connect("CLIENT2")
    deadline, n = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        n += 1
        for pair in range(1 + n // 10 % 3):  # 10, 20 or 30 pairs a second, changing every second
            seller.send("D", new_order(f"flow-s{n}-{pair}", 10, "190.00", side="2"))
            buyer.send("D", new_order(f"flow-b{n}-{pair}", 10, "190.00"))
        time.sleep(0.1)
    seller.drain()


def test_an_operator_sees_a_fill_and_pulls_and_lifts_a_kill_switch_in_the_browser(
    page: Page, gateway: Fixgate, connect: Connect, rest: httpx.Client, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    assert gateway.rest is not None
    url = gateway.rest.url
    feeds: list[int] = []
    page.on("response", lambda r: feeds.append(r.status) if "/dashboard/feed" in r.url else None)
    page.goto(f"{url}/")
    expect(page.locator("#sign-in-form")).to_be_visible()
    expect(page.locator("#dashboard")).to_be_hidden()

    # A wrong token gets nothing: the feed answers 401 and the page stays at the sign-in form.
    sign_in(page, "wrong-token")
    expect(page.locator("#sign-in-error")).to_have_text("invalid bearer token")
    expect(page.locator("#dashboard")).to_be_hidden()
    assert feeds == [401]
    assert page.locator("#orders tbody tr").count() == 0
    shot(page, tmp_path, "1-wrong-token")

    sign_in(page, OPERATOR_TOKENS["alice"])
    expect(page.locator("#who")).to_have_text("alice (operator)")
    expect(page.locator("#live")).to_have_text("live")
    # The token is in the page's memory only: not in its address, a cookie or storage.
    assert OPERATOR_TOKENS["alice"] not in page.url
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert page.input_value("#token") == ""

    # A FIX order's fills appear without a reload.
    client = connect("CLIENT1")
    client.send("D", new_order("dash-1", 150, "190.02"))
    done = client.expect("8", where={39: "2"})
    order_id = done[37]
    order_row = page.locator(f'#orders tbody tr[data-order-id="{order_id}"]')
    expect(order_row).to_have_attribute("data-status", "FILLED")
    expect(order_row).to_contain_text("dash-1")
    fills = page.locator(f'#fills tbody tr[data-order-id="{order_id}"]')
    expect(fills).to_have_count(2)
    assert {row.split("\t")[6] for row in fills.all_inner_texts()} == {"190.01", "190.02"}
    position = page.locator('#positions tbody tr[data-account="CLIENT1"][data-symbol="AAPL"]')
    expect(position).to_contain_text("150")
    expect(page.locator("#latency tbody tr")).to_have_count(6)

    # The FIX sessions as GET /sessions has them: the client's and the venue's, logged on.
    [rest_session] = [x for x in rest.get("/sessions").json() if x["session_id"] == "FIX.4.4:FIXGATE->CLIENT1"]
    client_row = page.locator('#sessions tbody tr[data-session="FIX.4.4:FIXGATE->CLIENT1"]')
    expect(client_row).to_have_attribute("data-logged-on", "true")
    expect(client_row).to_contain_text("client")
    assert int(client_row.locator("td").nth(4).inner_text()) >= rest_session["next_sender_seq"] >= 5
    expect(page.locator('#sessions tbody tr[data-session="FIX.4.4:FIXGATE->SIM"]')).to_have_attribute(
        "data-logged-on", "true")
    expect(page.locator('#health tbody tr[data-part="venues"]')).to_have_attribute("data-ok", "true")
    expect(page.locator('#health tbody tr[data-part="database"]')).to_have_attribute("data-ok", "true")

    # A client's text is shown as text, never as markup.
    client.send("D", new_order(HOSTILE_CL_ORD_ID, 10, "180.00"))
    client.expect("8", where={11: HOSTILE_CL_ORD_ID, 150: "0"})
    hostile = page.locator("#orders tbody tr", has_text=HOSTILE_CL_ORD_ID)
    expect(hostile).to_have_count(1)
    assert page.locator("#orders img").count() == 0

    # Cancel that resting order from the page.
    hostile.locator("button", has_text="Cancel").click()
    confirm(page, f"Cancel order {hostile.get_attribute('data-order-id')}?")
    expect(hostile).to_have_attribute("data-status", "CANCELED")
    expect(page.locator('#audit tbody tr[data-action="CANCEL"]').first).to_contain_text("alice")

    if os.environ.get("FIXGATE_SCREENSHOT"):
        flow(client, connect, 25.0)

    # The kill switch, pulled from the page after a confirmation, is in force at once: it cancels the
    # account's resting order. Answered "Back", the confirmation does nothing.
    client.send("D", new_order("dash-resting", 10, "180.00"))
    resting_id = client.expect("8", where={11: "dash-resting", 150: "0"})[37]
    resting = page.locator(f'#orders tbody tr[data-order-id="{resting_id}"]')
    expect(resting).to_have_attribute("data-status", "NEW")
    page.select_option("#kill-scope", "account")
    page.fill("#kill-value", "CLIENT1")
    page.fill("#kill-reason", "dashboard test")
    page.click("#kill-button")
    expect(page.locator("#confirm")).to_be_visible()
    page.click("#confirm-no")
    expect(page.locator("#confirm")).to_be_hidden()
    assert rest.get("/risk/status").json()["halts"] == []
    page.click("#kill-button")
    confirm(page, "Halt account CLIENT1?")
    halt = page.locator('#halts tbody tr[data-scope="account"][data-value="CLIENT1"]')
    expect(halt).to_contain_text("alice")
    expect(halt).to_contain_text("dashboard test")
    expect(resting).to_have_attribute("data-status", "CANCELED")
    [in_force] = rest.get("/risk/status").json()["halts"]
    assert (in_force["scope"], in_force["value"], in_force["by"]) == ("account", "CLIENT1", "alice")
    client.send("D", new_order("dash-2", 10, "190.00"))
    refused = client.expect("8", where={11: "dash-2"})
    assert refused[39] == "8" and "halted for account CLIENT1 by alice" in refused[58]
    expect(page.locator('#audit tbody tr[data-action="KILL"]').first).to_contain_text("alice")
    expect(page.locator("#toast")).to_have_text(re.compile(r"^halted account CLIENT1: (1 cancel|[2-9]\d* cancels) sent$"))
    expect(page.locator("#toast")).to_be_hidden()
    path = shot(page, tmp_path, "2-kill-switch-in-force")
    if target := os.environ.get("FIXGATE_SCREENSHOT"):
        destination = REPO / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)

    # Lifted from the page: gone from the halts, and orders are taken again.
    halt.locator("button", has_text="Resume").click()
    confirm(page, "Resume account CLIENT1?")
    expect(halt).to_have_count(0)
    assert rest.get("/risk/status").json()["halts"] == []
    expect(page.locator('#audit tbody tr[data-action="RESUME"]').first).to_contain_text("alice")
    audit = rest.get("/risk/events").json()
    assert [(e["action"], e["by"]) for e in audit if e["action"] in ("KILL", "RESUME", "CANCEL")] == [
        ("RESUME", "alice"), ("KILL", "alice"), ("CANCEL", "alice")]
    client.send("D", new_order("dash-3", 10, "180.00"))
    assert client.expect("8", where={11: "dash-3"})[39] == "0"

    # Filters: no MSFT order; then AAPL's again.
    page.fill("#filter-symbol", "MSFT")
    expect(page.locator("#orders tbody td.empty")).to_have_text("no orders match")
    page.fill("#filter-symbol", "AAPL")
    expect(page.locator('#orders tbody tr[data-symbol="AAPL"]')).not_to_have_count(0)
    assert page.locator('#orders tbody tr:not([data-symbol="AAPL"])').count() == 0
    shot(page, tmp_path, "3-resumed")

    # Signed out: the data goes with the token.
    page.click("#sign-out")
    expect(page.locator("#sign-in-form")).to_be_visible()
    expect(page.locator("#dashboard")).to_be_hidden()
    assert page.locator("#orders tbody tr").count() == 0


def test_a_viewer_sees_the_dashboard_without_its_controls(page: Page, gateway: Fixgate) -> None:
    from playwright.sync_api import expect

    assert gateway.rest is not None
    page.goto(f"{gateway.rest.url}/")
    sign_in(page, OTHER_TOKENS["vera"][0])
    expect(page.locator("#who")).to_have_text("vera (viewer)")
    expect(page.locator("#live")).to_have_text("live")
    expect(page.locator("#kill-form")).to_be_hidden()
    # A client identity may not read firm-wide data: refused at sign-in with the reason.
    page.click("#sign-out")
    sign_in(page, "tok\u20acn")  # no HTTP header can carry a euro sign: the page says so and sends nothing
    expect(page.locator("#sign-in-error")).to_contain_text("could not ask the gateway")
    sign_in(page, OTHER_TOKENS["acme"][0])
    expect(page.locator("#sign-in-error")).to_contain_text("acme (client) may not read firm-wide data")
    expect(page.locator("#dashboard")).to_be_hidden()


def test_an_operator_lifts_a_state_the_daily_loss_limit_set_from_the_browser(
    page: Page, gateway: Fixgate, connect: Connect, rest: httpx.Client
) -> None:
    from playwright.sync_api import expect

    assert gateway.rest is not None
    limits = {"accounts": {"CLIENT1": {"max_daily_loss": "0.3", "daily_loss_action": "REDUCING"}}}
    assert rest.patch("/risk/limits", json=limits).status_code == 200
    page.goto(f"{gateway.rest.url}/")
    sign_in(page, OPERATOR_TOKENS["alice"])
    expect(page.locator("#live")).to_have_text("live")
    client = connect("CLIENT1")
    client.send("D", new_order("loss-1", 20, "190.05"))  # fills 20 @ 190.01
    client.expect("8", where={11: "loss-1", 39: "2"})
    client.send("D", new_order("loss-2", 10, "189.95", side="2"))  # sells 10 @ 189.99: a loss of 0.40
    client.expect("8", where={11: "loss-2", 39: "2"})

    state = page.locator('#account-states [data-account="CLIENT1"]')
    expect(state).to_have_attribute("data-state", "REDUCING")
    expect(page.locator("#halts tbody td.empty")).to_have_text("none")  # no kill switch: a state of its own
    expect(page.locator('#audit tbody tr[data-action="BREACH"]')).to_contain_text("risk")
    state.locator("button", has_text="Resume").click()
    confirm(page, "Resume account CLIENT1?")
    expect(state).to_have_count(0)
    assert rest.get("/risk/status").json()["account_states"] == {}
    [resumed] = rest.get("/risk/events", params={"action": "RESUME"}).json()
    assert (resumed["by"], resumed["scope"], resumed["value"]) == ("alice", "account", "CLIENT1")
