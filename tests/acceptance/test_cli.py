"""The ``fixgate`` command itself, as a user runs it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest
from alembic.script import ScriptDirectory

from book.database import alembic_config, create_database, drop_database
from fixgate.fixclient import FixClient
from tests.support import free_port, free_ports_in_a_row, order_fields

REPO = Path(__file__).resolve().parents[2]


def test_fixgate_simulator_runs_a_venue_any_fix_client_can_trade_with(tmp_path: Path) -> None:
    port = free_ports_in_a_row(2)  # config/simulator.toml: SIM on --port, SIM2 on the next
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
    assert f"venue SIM2 on 127.0.0.1:{port + 1}" in out.decode()


@pytest.mark.parametrize(
    ("command", "flag"),
    [(["serve"], "--api-token-file"), (["demo"], "--exit"), (["db", "upgrade"], "--data-dir"),
     (["simulator"], "--record-port"), (["events", "tail"], "--kind")],
)
def test_each_command_has_its_help(command: list[str], flag: str) -> None:
    out = _fixgate(*command, "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: fixgate") and flag in out.stdout


def test_fixgate_db_upgrade_migrates_the_database_of_database_url(pg_admin_url: str) -> None:
    name = f"fixgate_cli_{uuid.uuid4().hex[:12]}"
    url = create_database(pg_admin_url, name)
    try:
        out = subprocess.run([sys.executable, "-m", "fixgate.cli", "db", "upgrade"], cwd=REPO,
                             capture_output=True, text=True, timeout=120, check=False,
                             env={**os.environ, "DATABASE_URL": url})
        assert out.returncode == 0, out.stderr
        heads = ScriptDirectory.from_config(alembic_config(url)).get_heads()

        async def revision() -> str:
            conn = await asyncpg.connect(url)
            try:
                return str(await conn.fetchval("SELECT version_num FROM alembic_version"))
            finally:
                await conn.close()

        assert [asyncio.run(revision())] == heads
    finally:
        drop_database(pg_admin_url, name)


def _fixgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fixgate.cli", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=False)


def test_fixgate_simulator_expire_and_sigusr1_end_the_day_of_a_plain_simulator(tmp_path: Path) -> None:
    # `fixgate simulator` serves its record endpoint by default; `--record-port 0` only keeps this test
    # off the real default port (9879), which another simulator on this machine may hold.
    port = free_ports_in_a_row(2)  # config/simulator.toml: SIM on --port, SIM2 on the next
    proc = subprocess.Popen(
        [sys.executable, "-m", "fixgate.cli", "simulator", "--port", str(port), "--data-dir", str(tmp_path),
         "--record-port", "0"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(4)]
        assert banner[0].startswith(f"venue SIM on 127.0.0.1:{port}"), banner
        assert banner[1].startswith(f"venue SIM2 on 127.0.0.1:{port + 1}"), banner
        assert banner[2].startswith("record on http://127.0.0.1:"), banner
        record_url = banner[2].split()[-1].removesuffix("/record")
        assert f"fixgate simulator expire --record-url {record_url}" in banner[3], banner
        assert f"kill -USR1 {proc.pid}" in banner[3], banner
        with FixClient.connect("127.0.0.1", port, sender_comp_id="CLIENT1", target_comp_id="SIM") as client:
            client.logon()
            client.send("D", order_fields("day-1", 10, "189.00", t59="0"))
            client.send("D", order_fields("gtc-1", 10, "189.00", t59="1"))
            client.expect("8", where={11: "gtc-1", 150: "0"})

            done = _fixgate("simulator", "expire", "--record-url", record_url)
            assert (done.returncode, done.stdout) == (
                0, "SIM: 1 Day order(s) expired\nSIM2: 0 Day order(s) expired\n"), done.stderr
            expired = client.expect("8", where={150: "C"})
            assert (expired[11], expired[39]) == ("day-1", "C")

            client.send("D", order_fields("day-2", 10, "189.00", t59="0"))
            client.expect("8", where={11: "day-2", 150: "0"})
            proc.send_signal(signal.SIGUSR1)
            expired = client.expect("8", where={150: "C"}, timeout=10)
            assert (expired[11], expired[39]) == ("day-2", "C")
            assert proc.stdout.readline() == "end of day on SIM: 1 Day order(s) expired\n"
            assert proc.stdout.readline() == "end of day on SIM2: 0 Day order(s) expired\n"
            client.expect_nothing(where={11: "gtc-1", 150: "C"}, within=0.2)  # GTC orders outlive the day
            assert proc.poll() is None  # SIGUSR1 did not end the simulator
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert proc.returncode == 0


def test_fixgate_simulator_expire_says_what_to_do_when_no_simulator_answers() -> None:
    done = _fixgate("simulator", "expire", "--record-url", f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 1
    assert "no simulator record endpoint at http://127.0.0.1:" in done.stderr
    assert "SIGUSR1" in done.stderr
