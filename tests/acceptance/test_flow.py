"""Flow limits judged at arrival, over real FIX: a session's order rate is counted by when its orders
were sent (SendingTime), and a session whose orders wait past its max backlog is throttled at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.procs import one_venue_config
from fixgate.app import Fixgate
from fixgate.config import Settings
from fixgate.fixclient import FixClient, utc_timestamp
from simulator.venue import Simulator
from tests.support import free_port, order_fields

REPO = Path(__file__).resolve().parents[2]

FLOW = """
[sessions.CLIENT1]
max_orders_per_second = 3

[sessions.CLIENT2]
max_backlog_ms = 200
"""


@pytest.fixture
def flow_gateway(tmp_path: Path, database_url: str, simulator: Simulator) -> Iterator[Fixgate]:
    config = tmp_path / "config"
    one_venue_config(config)
    risk = config / "risk.toml"
    risk.write_text(risk.read_text() + FLOW)
    app = Fixgate(Settings(data_dir=tmp_path / "gw", client_port=free_port(), sim_port=simulator.port,
                           rest_port=free_port(), database_url=database_url, config_dir=config,
                           api_token="flow-test-token"))
    app.start()
    try:
        assert app.wait_for_venues({"SIM"})
        yield app
    finally:
        app.stop()


def client(gateway: Fixgate, comp_id: str) -> FixClient:
    fix = FixClient.connect("127.0.0.1", gateway.settings.client_port, sender_comp_id=comp_id,
                            target_comp_id="FIXGATE")
    fix.logon()
    return fix


def test_order_rate_counts_the_orders_a_client_sent_within_a_second_however_slowly_they_are_taken(
    flow_gateway: Fixgate,
) -> None:
    # Four orders stamped within 3 ms, reaching the gateway 400 ms apart (as a flood queued in its
    # socket would): taken, they are under 3 a second; sent, they are 4 in one.
    fix = client(flow_gateway, "CLIENT1")
    start = datetime.now(UTC)
    for i in range(4):
        if i:
            fix.expect("8", where={11: f"r{i - 1}"})
            time.sleep(0.4)
        stamp = utc_timestamp(start + timedelta(milliseconds=i))
        fix.send("D", order_fields(f"r{i}", 1, "185.00"), sending_time=stamp)
    refused = fix.expect("8", where={11: "r3"})
    assert (refused[39], refused[150]) == ("8", "8")
    assert refused[58] == "order rate of session CLIENT1 is at its max of 3 orders per second (counted by SendingTime)"
    fix.logout()


def test_a_session_whose_orders_wait_past_its_max_backlog_is_throttled_until_it_catches_up(
    flow_gateway: Fixgate,
) -> None:
    fix = client(flow_gateway, "CLIENT2")
    for i in range(2):  # on time: the least lag the gateway sees (clocks and network)
        fix.send("D", order_fields(f"t{i}", 1, "185.00"))
        assert fix.expect("8", where={11: f"t{i}"})[39] == "0"
    # Sent a second ago, taken now: it waited in a queue far past the session's 200 ms.
    fix.send("D", order_fields("late", 1, "185.00"),
             sending_time=utc_timestamp(datetime.now(UTC) - timedelta(seconds=1)))
    refused = fix.expect("8", where={11: "late"})
    assert (refused[39], refused[150]) == ("8", "8")
    assert refused[58].startswith("session CLIENT2 throttled: this order waited ")
    assert refused[58].endswith(" ms to be taken (max 200 ms): the session sends faster than the gateway"
                                " takes its orders")
    fix.send("D", order_fields("again", 1, "185.00"))  # caught up: taken again
    assert fix.expect("8", where={11: "again"})[39] == "0"
    fix.logout()
