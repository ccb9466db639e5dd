"""Several venues in one simulator (own CompIDs, symbols, ticks, fees, delay) and the living market."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest

from fixgate.fixclient import FixClient, FixSessionError, utc_timestamp
from simulator import SimulatorConfig, VenueConfig
from simulator.config import (
    FeeSchedule,
    LiquidityConfig,
    ParticipantsConfig,
    SimInstrument,
    default_instruments,
)
from simulator.participants import MAKER_OWNER, TAKER_OWNER
from simulator.venue import Simulator
from tests.support import free_port

D = Decimal


def order(symbol: str, cl_ord_id: str, side: str, qty: int, price: str) -> dict[int, str | int]:
    return {
        11: cl_ord_id,
        21: "1",
        55: symbol,
        54: side,
        38: qty,
        40: "2",
        44: price,
        59: "0",
        60: utc_timestamp(),
    }


def test_venues_differ_in_comp_ids_symbols_ticks_fees_and_delay(tmp_path: Path) -> None:
    equities = VenueConfig(
        name="EQX",
        port=free_port(),
        fees=FeeSchedule(per_share=D("0.001"), bps=D("0.5")),
    )
    fx = VenueConfig(
        name="FXV",
        port=free_port(),
        begin_strings=("FIX.4.2",),
        target_comp_ids=("FIXGATE",),
        instruments=(SimInstrument("EURUSD", D("0.00005"), D(1000), D("1.08500")),),
        liquidity=LiquidityConfig(levels=2, level_qty=D(1_000_000)),
        response_delay_ms=200,
    )
    simulator = Simulator(SimulatorConfig((equities, fx)), tmp_path)
    simulator.start()
    try:
        with FixClient.connect(
            "127.0.0.1", equities.port, sender_comp_id="CLIENT1", target_comp_id="EQX"
        ) as c:
            c.logon()
            c.send("D", order("AAPL", "e1", "1", 100, "190.01"))
            fill = c.expect("8", where={11: "e1", 150: "F"})
            # 100 x 0.001 + 100 x 190.01 x 0.5 bp = 0.1 + 0.950050
            assert (fill.decimal(12), fill[13]) == (D("1.05005"), "3")
        recorded = simulator.venue("EQX").journal.fills("CLIENT1")
        assert [D(f["commission"]) for f in recorded] == [D("1.05005")]

        stranger = FixClient.connect("127.0.0.1", fx.port, sender_comp_id="CLIENT1", target_comp_id="FXV")
        with pytest.raises((ConnectionError, FixSessionError)):
            stranger.logon(timeout=3.0)  # FXV only accepts FIXGATE
        stranger.close()

        with FixClient.connect(
            "127.0.0.1", fx.port, sender_comp_id="FIXGATE", target_comp_id="FXV", begin_string="FIX.4.2"
        ) as gateway:
            gateway.logon()
            sent = time.monotonic()
            gateway.send("D", order("EURUSD", "f1", "1", 250_000, "1.08505"))
            trade = gateway.expect("8", where={11: "f1", 150: "2"})
            # The injected delay is a floor on the answer time (never an upper bound: machines vary).
            assert trade.received_at - sent >= 0.2
            assert 12 not in trade  # this venue charges nothing
            assert (trade[31], trade[32]) == ("1.08505", "250000")
            gateway.send("D", order("EURUSD", "f2", "1", 1000, "1.08502"))
            assert "tick size 0.00005" in gateway.expect("8", where={11: "f2"})[58]
            gateway.send("D", order("AAPL", "f3", "1", 1000, "190.00"))
            assert "unknown symbol AAPL" in gateway.expect("8", where={11: "f3"})[58]
        assert simulator.venue("EQX").record.order("f1") is None
    finally:
        simulator.stop(force=True)


def test_living_market_trades_on_its_own_and_stops_cleanly(tmp_path: Path) -> None:
    participants = ParticipantsConfig(enabled=True, seed=7, actions_per_second=200, taker_percent=50)
    config = SimulatorConfig((VenueConfig(port=free_port(), participants=participants),))
    simulator = Simulator(config, tmp_path)
    simulator.start()
    venue = simulator.venue()
    thread = venue._market_thread
    try:
        assert thread is not None and thread.is_alive()
        with FixClient.connect("127.0.0.1", venue.port, sender_comp_id="CLIENT1", target_comp_id="SIM") as c:
            c.logon()
            c.send("V", [(262, "live"), (263, "1"), (264, 3), (267, 1), (269, "2"), (146, 1), (55, "MSFT")])
            c.expect("W", where={262: "live"})
            # Nobody but the background participants trades: a trade print proves they do.
            update = c.expect("X", where={262: "live"}, timeout=30)
            assert update.get(269) == "2" and update.get(55) == "MSFT"
        owners = {f.owner for f in venue.record.fills}
        assert TAKER_OWNER in owners
        assert any(o.owner == MAKER_OWNER for o in venue.record.orders)
        assert venue.journal.fills() == []  # the venue's own trading stays out of the client record
    finally:
        simulator.stop(force=True)
    assert not thread.is_alive()
    assert venue._market_thread is None


def test_participants_are_off_by_default(tmp_path: Path) -> None:
    simulator = Simulator(SimulatorConfig(), tmp_path, port=free_port())
    assert simulator.venue().market is None
    assert VenueConfig().instruments == default_instruments()
