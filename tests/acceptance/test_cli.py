"""The ``fixgate`` command itself, as a user runs it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from fixgate.fixclient import FixClient
from tests.support import free_port, order_fields

REPO = Path(__file__).resolve().parents[2]


def test_fixgate_simulator_runs_a_venue_any_fix_client_can_trade_with(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fixgate.cli", "simulator", "--port", str(port), "--data-dir", str(tmp_path)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        with FixClient.connect("127.0.0.1", port, sender_comp_id="CLIENT1", target_comp_id="SIM",
                               begin_string="FIX.4.2", connect_timeout=30) as client:
            client.logon()
            client.send("D", order_fields("cli-1", 150, "190.02"))
            fill = client.expect("8", where={11: "cli-1", 39: "2"})
            assert fill.decimal(14) == 150
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert f"venue SIM on 127.0.0.1:{port}" in out.decode()


def test_fixgate_help_lists_the_commands() -> None:
    out = subprocess.run([sys.executable, "-m", "fixgate.cli", "--help"], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    for command in ("serve", "simulator", "demo", "db"):
        assert command in out
