"""The data folder: one fixgate at a time on it, and nothing in it readable by other users.

``fixgate serve`` runs as a child process, as a user runs it (the chaos tests do the same)."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from fixgate.fixclient import FixClient
from simulator.venue import Simulator
from tests.support import eventually, free_port, free_ports_in_a_row, one_venue_config_dir, order_fields

REPO = Path(__file__).resolve().parents[2]


class Serve:
    """``fixgate serve`` as a child process on free ports; its output in ``log`` (outside the folder)."""

    def __init__(self, data_dir: Path, log: Path, sim_port: int, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.log = log
        self.client_port = free_port()
        self.rest_port = free_port()
        self.env = {**env, "FIXGATE_API_TOKEN": "data-dir-token"}
        self.args = [
            sys.executable, "-m", "fixgate.cli", "serve", "--data-dir", str(data_dir),
            "--client-port", str(self.client_port), "--venue-port", str(sim_port),
            "--rest-port", str(self.rest_port), "--config-dir", str(one_venue_config_dir()),
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(self.args, cwd=REPO, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            exited = self.proc.poll()
            assert exited is None, f"fixgate exited with {exited}: {self.log.read_text()}"
            try:
                if httpx.get(f"http://127.0.0.1:{self.rest_port}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"fixgate did not come up: {self.log.read_text()}"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _trade(port: int, cl_ord_id: str) -> None:
    """One order through the gateway, filled at the simulator (which has resting asks at 190.01)."""
    with FixClient.connect("127.0.0.1", port, sender_comp_id="CLIENT1", target_comp_id="FIXGATE",
                           connect_timeout=30) as client:
        client.logon(reset_seq_num=True)
        client.send("D", order_fields(cl_ord_id, 10, "190.02"))
        filled = client.expect("8", timeout=30, where={11: cl_ord_id, 39: "2"})
        assert filled.decimal(14) == 10
        client.logout(timeout=5)


def _snapshot(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Every file under ``folder``: inode, size and modification time (a rename, write or delete shows)."""
    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            st = path.stat()
            found[str(path.relative_to(folder))] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return found


def test_a_second_fixgate_on_a_data_folder_exits_at_once_touching_nothing(
    tmp_path: Path, database_url: str, simulator: Simulator
) -> None:
    data_dir = tmp_path / "gw"
    env = {**os.environ, "DATABASE_URL": database_url}
    first = Serve(data_dir, tmp_path / "first.log", simulator.port, env)
    first.start()
    try:
        _trade(first.client_port, "before-1")
        # The running gateway writes its journal (what waited for the next frame) and its stores
        # (heartbeats): same files, same inodes is what to keep.
        journal = {name: inode for name, (inode, _, _) in _snapshot(data_dir / "journal").items()}
        assert journal, "the running gateway has a journal"
        stores = {name: inode for name, (inode, _, _) in _snapshot(data_dir / "store").items()}

        second = Serve(data_dir, tmp_path / "second.log", simulator.port, env)
        out = subprocess.run(second.args, cwd=REPO, env=second.env, capture_output=True, text=True,
                             timeout=60, check=False)

        assert first.proc is not None
        assert out.returncode == 3, out.stderr
        assert out.stdout == ""
        assert out.stderr.splitlines() == [
            (f"fixgate: data folder {data_dir.resolve()} is in use by another process (pid {first.proc.pid});"
             " stop it first or use another --data-dir")
        ]
        assert {name: inode for name, (inode, _, _) in _snapshot(data_dir / "journal").items()} == journal
        assert {name: inode for name, (inode, _, _) in _snapshot(data_dir / "store").items()} == stores
        assert (data_dir / "fixgate.lock").read_text() == f"{first.proc.pid}\n"

        # The other commands that use the folder stop the same way, before touching it.
        no_database = {k: v for k, v in env.items() if k != "DATABASE_URL"}  # db upgrade: the embedded one
        for command in (["demo", "--exit"], ["db", "upgrade"]):
            other = subprocess.run(
                [sys.executable, "-m", "fixgate.cli", *command, "--data-dir", str(data_dir),
                 "--client-port", str(free_port()), "--rest-port", str(free_port()),
                 "--venue-port", str(free_port())],
                cwd=REPO, env=no_database, capture_output=True, text=True, timeout=60, check=False)
            assert other.returncode == 3, (command, other.stdout, other.stderr)
            assert f"data folder {data_dir.resolve()} is in use by another process (pid {first.proc.pid})" \
                in other.stderr
        assert not (data_dir / "pgdata").exists()  # db upgrade started no embedded server in it
        assert {name: inode for name, (inode, _, _) in _snapshot(data_dir / "journal").items()} == journal

        _trade(first.client_port, "after-1")  # the first one is unharmed
    finally:
        first.stop()
    assert first.proc is not None and first.proc.returncode == 0


def test_a_data_folder_is_free_again_once_its_fixgate_is_killed(
    tmp_path: Path, database_url: str, simulator: Simulator
) -> None:
    data_dir = tmp_path / "gw"
    env = {**os.environ, "DATABASE_URL": database_url}
    first = Serve(data_dir, tmp_path / "first.log", simulator.port, env)
    first.start()
    assert first.proc is not None
    first.proc.send_signal(signal.SIGKILL)  # the lock file stays, the OS lock goes with the process
    first.proc.wait(10)
    second = Serve(data_dir, tmp_path / "second.log", simulator.port, env)
    second.start()
    try:
        _trade(second.client_port, "after-kill-1")
    finally:
        second.stop()


def test_the_data_folder_and_its_files_are_for_the_owner_only_with_embedded_postgres(
    tmp_path: Path, simulator: Simulator
) -> None:
    # Not under pytest's tmp_path: as root, embedded PostgreSQL runs as the user "pgserver", which must
    # traverse every parent of its data, and pytest makes /tmp/pytest-of-<user> 0700.
    root = Path(tempfile.mkdtemp(prefix="fixgate-perm-"))
    root.chmod(0o755)
    data_dir = root / "data"
    data_dir.mkdir(mode=0o755)  # an existing folder, as an earlier version left it
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # the embedded server
    gateway = Serve(data_dir, tmp_path / "serve.log", simulator.port, env)
    try:
        gateway.start(timeout=180)
        _trade(gateway.client_port, "perm-1")
        pgdata = data_dir / "pgdata"
        mode = stat.S_IMODE(data_dir.stat().st_mode)
        # As root, "pgserver" needs to pass through (x) to reach pgdata; nobody else reads or writes.
        assert mode == (0o711 if os.geteuid() == 0 else 0o700), oct(mode)
        assert stat.S_IMODE(pgdata.stat().st_mode) == 0o700  # PostgreSQL's own, owned by its user
        checked = []
        for path in data_dir.rglob("*"):
            if path == pgdata or pgdata in path.parents:
                continue
            path_mode = stat.S_IMODE(path.lstat().st_mode)
            assert path_mode & 0o077 == 0, f"{path} is {oct(path_mode)}"
            checked.append(path.relative_to(data_dir).parts[0])
        # The journal, QuickFIX stores, FIX message logs and the lock are among what was checked.
        assert {"journal", "store", "log", "fixgate.lock"} <= set(checked), checked
    finally:
        gateway.stop()
        shutil.rmtree(root, ignore_errors=True)
    assert gateway.proc is not None and gateway.proc.returncode == 0


def test_a_second_simulator_on_a_data_folder_exits_at_once(tmp_path: Path) -> None:
    def simulator(port: int) -> list[str]:
        return [sys.executable, "-m", "fixgate.cli", "simulator", "--port", str(port), "--data-dir",
                str(tmp_path / "sim"), "--no-record-http"]

    port = free_ports_in_a_row(2)  # config/simulator.toml: SIM on --port, SIM2 on the next
    with (tmp_path / "first.log").open("wb") as out:
        first = subprocess.Popen(simulator(port), cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        with FixClient.connect("127.0.0.1", port, sender_comp_id="CLIENT1", target_comp_id="SIM",
                               begin_string="FIX.4.2", connect_timeout=30) as client:
            client.logon()  # the first is up
            # and so is its second venue (after SIM, SIM2 starts and makes its files): the banner's last line
            eventually(lambda: (tmp_path / "first.log").read_text(), lambda log: "end of day" in log, timeout=30)
            record = _snapshot(tmp_path / "sim")
            second = subprocess.run(simulator(free_port()), cwd=REPO, capture_output=True, text=True,
                                    timeout=60, check=False)
            assert second.returncode == 3, second.stderr
            assert (f"data folder {(tmp_path / 'sim').resolve()} is in use by another process"
                    f" (pid {first.pid})") in second.stderr
            assert {k: v[0] for k, v in _snapshot(tmp_path / "sim").items()} == {
                k: v[0] for k, v in record.items()}
            client.send("D", order_fields("sim-1", 10, "190.02"))
            assert client.expect("8", where={11: "sim-1", 39: "2"}).decimal(14) == 10
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(20)
