"""``fixgate demo`` end to end: the scripted flow fills and the positions come back over REST."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from fixgate.config import Settings
from fixgate.demo import run_demo
from tests.support import fixgate_argv, free_port


def test_demo_fills_orders_and_reads_positions_back(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(
        data_dir=tmp_path, client_port=free_port(), sim_port=free_port(), sim2_port=free_port(),
        rest_port=free_port(), database_url=database_url,
    )
    assert run_demo(settings, stay_up=False) == 0
    out = capsys.readouterr().out
    # Both of the shipped simulator's venues, where the gateway looks for them.
    assert f"venues logged on: SIM on 127.0.0.1:{settings.sim_port}, SIM2 on 127.0.0.1:{settings.sim2_port}" in out
    # Each order to the better price after fees: a buy to SIM's lower offer, a sell to SIM2's higher bid.
    # The first is split: SIM shows 100 at its best offer, SIM2 has the rest at 190.02 (their reports
    # come in either order).
    assert "filled 100 @ 190.01 on SIM, cum" in out and "filled 50 @ 190.02 on SIM2, cum" in out
    assert re.search(r"Filled, filled (50 @ 190.02 on SIM2|100 @ 190.01 on SIM), cum 150 leaves 0 avg 190.01333333",
                     out)
    assert "Filled, filled 50 @ 190 on SIM2, cum 50 leaves 0 avg 190" in out
    assert "text: order qty 6000 > max 5000 for AAPL" in out
    # The market buy of 600, more than either venue shows at its best offer, is split: an IOC child
    # takes SIM's 100 at 190.02, another SIM2's 50 at 190.03, the rest (450) is posted at SIM, which
    # fills 300 more and cancels what its book lacks; those 150 go to SIM2. One order, filled.
    assert "Filled, filled 50 @ 190.06 on SIM2, cum 600 leaves 0 avg 190.03833333" in out
    fills = out[out.index("\nfills of order "):out.index("\nGET ", out.index("\nfills of order "))]
    assert sorted(re.findall(r"^  (\w+) +(\d+) @ ([\d.]+)$", fills, re.MULTILINE)) == sorted([
        ("SIM", "100", "190.02"), ("SIM", "100", "190.03"), ("SIM", "100", "190.04"), ("SIM", "100", "190.05"),
        ("SIM2", "50", "190.03"), ("SIM2", "50", "190.04"), ("SIM2", "50", "190.05"), ("SIM2", "50", "190.06")])
    # Its transaction cost analysis, against the arrival mid (SIM 189.99 / 190.02 after the first buy,
    # SIM2 189.99 / 190.02 after the sell: mid 190.005): 600 x (190.03833333 - 190.005), plus SIM2's
    # fee of 0.002 a share on 200.
    assert re.search(r"BUY 600 AAPL: filled 600 avg 190.03833333 on (SIM2, SIM|SIM, SIM2); arrival mid 190.005,"
                     r" fees 0.4", out)
    assert "implementation shortfall 20.4 (1.7894 bps): execution 20, opportunity 0; fill rate 100.0%" in out
    # Bought 150 and 600, sold 50 of AAPL; 100 of MSFT filled out of 1000.
    assert "CLIENT1    AAPL          700    190.0347619" in out
    assert "CLIENT1    MSFT          100         420.01" in out
    # The orders read back over REST are the five it just sent, in the order sent, as they ended.
    listed = re.findall(r"^  order +\d+ (\w+)-\d+ +\w+ +\d+ (\w+) +(\w+) ", out, re.MULTILINE)
    assert listed == [("buy", "AAPL", "FILLED"), ("sell", "AAPL", "FILLED"), ("part", "MSFT", "PARTIALLY_FILLED"),
                      ("big", "AAPL", "REJECTED"), ("large", "AAPL", "FILLED")]


def test_demo_fresh_starts_from_a_clean_book() -> None:
    """Two runs of the real command on one data folder: without --fresh the second would book on top of
    the first (200 AAPL); with it, the folder is emptied first and the book holds that run only."""
    # Not under pytest's tmp_path: as root, the embedded PostgreSQL runs as the user "pgserver", which
    # must traverse every parent of its data (see tests/conftest.py).
    data_dir = Path(tempfile.mkdtemp(prefix="fixgate-demo-fresh-"))
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # the embedded database

    def demo(*extra: str) -> str:
        done = subprocess.run(
            fixgate_argv("demo", "--exit", "--data-dir", str(data_dir), "--client-port", str(free_port()),
                         "--venue-port", str(free_port()), "--sim2-port", str(free_port()),
                         "--rest-port", str(free_port()), *extra),
            capture_output=True, text=True, timeout=300, check=False, env=env,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    try:
        first = demo()
        assert "--fresh" not in first
        assert "CLIENT1    AAPL          700    190.0347619" in first
        second = demo("--fresh")
        assert (f"--fresh: deleting what earlier runs left in fixgate's data folder {data_dir.resolve()}"
                in second.splitlines()[0])
        assert "CLIENT1    AAPL          700    190.0347619" in second  # not 1400: the first run's book is gone
        assert len(re.findall(r"^  order +\d+ ", second, re.MULTILINE)) == 5
        assert re.search(r"^  order +1 buy-", second, re.MULTILINE)  # order ids start again too
        assert second.splitlines()[-1] == "fixgate demo stopped"
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
