"""``fixgate demo`` end to end: the scripted flow fills and the positions come back over REST."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fixgate.config import Settings
from fixgate.demo import run_demo
from tests.support import free_port


def test_demo_fills_orders_and_reads_positions_back(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(
        data_dir=tmp_path, client_port=free_port(), sim_port=free_port(), rest_port=free_port(),
        database_url=database_url,
    )
    assert run_demo(settings, stay_up=False) == 0
    out = capsys.readouterr().out
    assert "Filled, filled 50 @ 190.02, cum 150 leaves 0 avg 190.01333333" in out
    assert "text: order qty 6000 > max 5000 for AAPL" in out
    # Bought 150, sold 50 of AAPL; 100 of MSFT filled out of 1000.
    assert "CLIENT1    AAPL          100   190.01333333" in out
    assert "CLIENT1    MSFT          100         420.01" in out
    # The orders read back over REST are the four it just sent, in the order sent, as they ended.
    listed = re.findall(r"^  order +\d+ (\w+)-\d+ +\w+ +\d+ (\w+) +(\w+) ", out, re.MULTILINE)
    assert listed == [("buy", "AAPL", "FILLED"), ("sell", "AAPL", "FILLED"), ("part", "MSFT", "PARTIALLY_FILLED"),
                      ("big", "AAPL", "REJECTED")]
