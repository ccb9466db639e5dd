"""The processes a benchmark runs against: the venue simulator, the relay, the pass-through, the gateway.

Each is a subprocess of the harness, started from this repository's Python, listening on a free port
of 127.0.0.1, and stopped with SIGTERM (then SIGKILL) by its pid when the harness ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, from ``/proc`` (Linux only)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Process:
    """A started subprocess with its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, wait, then SIGKILL: only this process, by its pid."""
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)


def start(name: str, args: list[str], log_dir: Path, env: dict[str, str] | None = None) -> Process:
    """Start ``python args...`` in the repository with output to ``log_dir/name.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            [sys.executable, *args], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    return Process(name, popen, log_path)


def simulator_config(path: Path, port: int) -> Path:
    """A one-venue simulator config (the default venue SIM) with message logging off, which also
    accepts the pass-through (``PASS``) beside the gateway (``FIXGATE``)."""
    path.write_text(
        "# written by bench: the default venue SIM without FIX message logs, PASS added to its clients\n"
        "[[venues]]\n"
        'name = "SIM"\n'
        f"port = {port}\n"
        'target_comp_ids = ["FIXGATE", "CLIENT1", "CLIENT2", "BENCH", "PASS"]\n'
        "log_messages = false\n"
    )
    return path


def start_simulator(work: Path, port: int) -> Process:
    config = simulator_config(work / "simulator.toml", port)
    proc = start("simulator", ["-m", "simulator", "--port", str(port), "--data-dir", str(work / "simulator"),
                               "--config", str(config), "--log-level", "WARNING"], work / "logs")
    wait_for_port(port, 30, proc.popen)
    return proc


def start_relay(work: Path, port: int, target_port: int) -> Process:
    proc = start("relay", ["-m", "bench.relay", "--listen", str(port), "--target", f"127.0.0.1:{target_port}"],
                 work / "logs")
    wait_for_port(port, 15, proc.popen)
    return proc


def start_passthrough(work: Path, port: int, venue_port: int) -> Process:
    """``bench.passthrough`` against the simulator; its client port opens once its venue session is up."""
    proc = start("passthrough", ["-m", "bench.passthrough", "--listen", str(port), "--venue-port", str(venue_port),
                                 "--data-dir", str(work / "passthrough")], work / "logs")
    wait_for_port(port, 40, proc.popen)
    return proc


def start_gateway(work: Path, *, client_port: int, venue_port: int, rest_port: int, database_url: str) -> Process:
    """``fixgate serve`` without FIX message logs, against the simulator; waits for REST /health."""
    proc = start(
        "gateway",
        ["-m", "fixgate.cli", "serve", "--client-port", str(client_port), "--venue-port", str(venue_port),
         "--rest-port", str(rest_port), "--data-dir", str(work / "gateway"), "--no-fix-message-log"],
        work / "logs",
        env={"DATABASE_URL": database_url},
    )
    deadline = time.monotonic() + 60
    url = f"http://127.0.0.1:{rest_port}/health"
    while True:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"fixgate serve exited with {proc.popen.returncode}; see {proc.log_path}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"fixgate REST not healthy after 60s; see {proc.log_path}")
        time.sleep(0.1)
    wait_for_port(client_port, 30, proc.popen)
    return proc
