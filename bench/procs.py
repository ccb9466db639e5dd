"""The processes a benchmark runs against: the venue simulator, the relay, the pass-through, the gateway.

Each is a subprocess of the harness, started from this repository's Python, listening on a free port
of 127.0.0.1, and stopped with SIGTERM (then SIGKILL) by its pid when the harness ends.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def _stat(path: Path) -> list[str]:
    """The fields of a ``/proc`` stat file after the command name (which may hold spaces): index 0 is
    the state, 11-14 utime, stime, cutime, cstime."""
    return path.read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, from ``/proc`` (Linux only)."""
    fields = _stat(Path(f"/proc/{pid}/stat"))
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int, tid: int) -> tuple[float, int]:
    """(CPU seconds, times scheduled) of one thread, from ``schedstat``: in ns, where ``stat`` counts
    10 ms ticks, too coarse for a thread that wakes briefly ten times a second."""
    ran_ns, _, slices = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
    return int(ran_ns) / 1e9, int(slices)


def reaped_cpu_seconds(pid: int) -> float:
    """CPU time of the children a process has waited for (cutime + cstime): a child that ended
    during a run leaves its time there."""
    fields = _stat(Path(f"/proc/{pid}/stat"))
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """The pids of a process's children, theirs, and so on (``/proc/<pid>/task/*/children``)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                kids = [int(v) for v in children.read_text().split()]
            except OSError:  # the thread ended meanwhile
                continue
            found += kids
            todo += kids
    return found


def label(pid: int) -> str:
    """A short name for a gateway's child: the module after ``-m``, else the program's name."""
    args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    if "-m" in args[:-1]:
        return args[args.index("-m") + 1]
    return Path(args[0]).name


@dataclass(frozen=True, slots=True)
class CpuSnapshot:
    """CPU seconds used so far by a process, each of its live descendants (pid -> (label, seconds)),
    the descendants it reaped, and some of its threads (name -> (seconds, times scheduled))."""

    process: float
    children: dict[int, tuple[str, float]]
    reaped: float
    threads: dict[str, tuple[float, int]]


def cpu_snapshot(pid: int, threads: dict[str, list[int]] | None = None) -> CpuSnapshot:
    """Read a :class:`CpuSnapshot` of ``pid``; ``threads`` names the thread ids to read (a thread that
    has ended is left out)."""
    children: dict[int, tuple[str, float]] = {}
    for child in descendants(pid):
        try:
            children[child] = (label(child), cpu_seconds(child))
        except (OSError, IndexError):  # it ended meanwhile: its time shows in ``reaped``
            continue
    named: dict[str, tuple[float, int]] = {}
    for name, tids in (threads or {}).items():
        for tid in tids:
            try:
                seconds, runs = thread_cpu(pid, tid)
            except OSError:
                continue
            had = named.get(name, (0.0, 0))
            named[name] = (had[0] + seconds, had[1] + runs)
    return CpuSnapshot(cpu_seconds(pid), children, reaped_cpu_seconds(pid), named)


def cpu_used(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, Any]:
    """CPU seconds used between two snapshots: by the process itself, by its children all told (their
    growth, those started meanwhile in full, and what the ones that ended left in the process's
    cutime + cstime, less what they had used before), by child label, and by thread (seconds and
    times scheduled)."""
    by_label: dict[str, float] = {}
    for pid, (name, seconds) in after.children.items():
        by_label[name] = by_label.get(name, 0.0) + seconds - before.children.get(pid, (name, 0.0))[1]
    gone = sum(seconds for pid, (_, seconds) in before.children.items() if pid not in after.children)
    children = sum(by_label.values()) + after.reaped - before.reaped - gone
    return {
        "process_cpu_s": after.process - before.process,
        "children_cpu_s": children,
        "children_cpu_s_by_name": by_label,
        "threads_cpu_s": {name: seconds - before.threads[name][0] for name, (seconds, _) in after.threads.items()
                          if name in before.threads},
        "threads_runs": {name: runs - before.threads[name][1] for name, (_, runs) in after.threads.items()
                         if name in before.threads},
    }


def python_threads(pid: int) -> dict[str, list[int]]:
    """Thread name -> OS thread ids of a Python process. Python before 3.14 does not give its threads'
    names to the OS (``/proc/<pid>/task/<tid>/comm`` says "python"), so ``py-spy dump`` reads them;
    without py-spy, the names in ``comm``."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    names: dict[str, list[int]] = {}
    try:
        done = subprocess.run([py_spy, "dump", "--json", "-p", str(pid)], check=True, capture_output=True,
                              text=True, timeout=30)
        for thread in json.loads(done.stdout):
            if thread.get("os_thread_id") is not None:
                names.setdefault(thread["thread_name"] or "?", []).append(int(thread["os_thread_id"]))
    except (OSError, subprocess.SubprocessError, ValueError):
        for comm in Path(f"/proc/{pid}/task").glob("*/comm"):
            names.setdefault(comm.read_text().strip(), []).append(int(comm.parent.name))
    return names


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


def one_venue_config(config: Path) -> Path:
    """A copy of the shipped config (at ``config``) with one venue, SIM: the shipped one lists AAPL and
    MSFT on SIM and SIM2 too, connects to SIM2 and simulates it; here the symbols trade on SIM alone
    (``venue = "SIM"``), venues.cfg has no SIM2 session and simulator.toml no SIM2 venue. For a gateway
    against a one-venue simulator. Returns ``config``."""
    shutil.copytree(REPO / "config", config)
    instruments = config / "instruments.toml"
    text, tables = re.subn(r'\[(\w+)\.venues\.SIM\]\n(?:[^\[\n][^\n]*\n)*', 'venue = "SIM"\n',
                           instruments.read_text())
    text, others = re.subn(r'\[\w+\.venues\.\w+\]\n(?:[^\[\n][^\n]*\n)*', "", text)
    if tables != 2 or others != 2:
        raise ValueError(f"{instruments}: expected AAPL and MSFT on SIM and SIM2")
    instruments.write_text(text)
    sessions = config / "fix_sessions" / "venues.cfg"
    text, found = re.subn(r"\[SESSION\]\n(?:[^\n]+\n)*?TargetCompID=SIM2\n(?:[^\n]+\n)*\n", "", sessions.read_text())
    if found != 1:
        raise ValueError(f"{sessions}: expected one SIM2 [SESSION]")
    sessions.write_text(text)
    simulator = config / "simulator.toml"
    text = simulator.read_text()
    start = text.find('\n[[venues]]\nname = "SIM2"\n')
    if start == -1 or text.find("[[venues]]\n", start + 2) != -1:
        raise ValueError(f"{simulator}: expected SIM2 as its last venue")
    simulator.write_text(text[:text.rfind("\n\n", 0, start) + 1])
    return config


def tls_config(work: Path, tls_port: int) -> tuple[Path, list[str]]:
    """The shipped config with one venue (``one_venue_config``) and one more client session,
    ``BENCHTLS`` (FIX 4.4, like ``BENCH``), over TLS on ``tls_port`` with client certificates verified;
    certificates made under ``work/pki``. The config dir and the load client's TLS flags."""
    from fixgate.devcerts import Authority

    authority = Authority(work / "pki", "bench")
    server, client = authority.issue("fixgate", server=True), authority.issue("BENCHTLS")
    config = one_venue_config(work / "config")
    clients = config / "fix_sessions" / "clients.cfg"
    clients.write_text(clients.read_text() + (
        "\n# added by bench: the TLS gateway path\n[SESSION]\nBeginString=FIX.4.4\nTargetCompID=BENCHTLS\n"
        "DataDictionary=${SPEC_DIR}/FIX44.xml\n"
        f"TLSAcceptPort={tls_port}\nTLSAcceptHost=127.0.0.1\nTLSCertificateFile={server.cert}\n"
        f"TLSCertificateKeyFile={server.key}\nTLSCACertificateFile={authority.ca}\nTLSVerifyPeer=Y\n"))
    return config, ["--sender", "BENCHTLS", "--tls-ca", str(authority.ca), "--tls-cert", str(client.cert),
                    "--tls-key", str(client.key)]


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


FIX44_SIM = "BeginString=FIX.4.4\nTargetCompID=SIM\n"
FIX44_DICTIONARY = "DataDictionary=${SPEC_DIR}/FIX44.xml\n"
FIXT11_DICTIONARIES = ("TransportDataDictionary=${SPEC_DIR}/FIXT11.xml\n"
                       "AppDataDictionary=${SPEC_DIR}/FIX50SP2.xml\nDefaultApplVerID=FIX.5.0SP2\n")


def fix50_venue_config(config: Path) -> Path:
    """A one-venue copy of the shipped config (at ``config``, ``one_venue_config``) whose SIM venue
    session speaks FIX 5.0 SP2 over FIXT.1.1, as README "FIX versions" says to configure it; returns
    ``config``."""
    one_venue_config(config)
    venues = config / "fix_sessions" / "venues.cfg"
    text = venues.read_text()
    if text.count(FIX44_SIM) != 1 or text.count(FIX44_DICTIONARY) != 1:
        raise ValueError(f"{venues}: expected one FIX.4.4 SIM session to turn into FIXT.1.1")
    venues.write_text(text.replace(FIX44_SIM, "BeginString=FIXT.1.1\nTargetCompID=SIM\n")
                      .replace(FIX44_DICTIONARY, FIXT11_DICTIONARIES))
    return config


def routed_config(config: Path, venues: dict[str, int | None], fees: dict[str, tuple[str, str]] | None = None,
                  symbols: tuple[str, ...] = ("AAPL", "MSFT")) -> Path:
    """A copy of the shipped config with one venue (at ``config``, ``one_venue_config``) whose
    ``symbols`` trade on every venue of ``venues`` (name -> its simulator port; ``None``: the SIM
    session as shipped, on ``--venue-port``), in that order, with their routing fees (``fees``: name ->
    (fee_per_share, fee_bps)); a FIX 4.4 [SESSION] is added to venues.cfg for each venue with a port.
    Returns ``config``."""
    one_venue_config(config)
    instruments = config / "instruments.toml"
    text = instruments.read_text()
    for symbol in symbols:
        block = f"[{symbol}]\n"
        start = text.index(block)
        end = text.find("\n[", start + len(block))
        end = len(text) if end == -1 else end + 1
        body = "".join(line + "\n" for line in text[start + len(block):end].splitlines()
                       if line and not line.startswith("venue "))
        tables = ""
        for venue in venues:
            per_share, bps = (fees or {}).get(venue, ("0", "0"))
            tables += f'[{symbol}.venues.{venue}]\nfee_per_share = "{per_share}"\nfee_bps = "{bps}"\n'
        text = text[:start] + block + body + tables + "\n" + text[end:]
    instruments.write_text(text)
    sessions = config / "fix_sessions" / "venues.cfg"
    added = "".join(
        f"\n[SESSION]\nBeginString=FIX.4.4\nTargetCompID={venue}\nSocketConnectHost=127.0.0.1\n"
        f"SocketConnectPort={port}\n{FIX44_DICTIONARY}"
        for venue, port in venues.items() if port is not None)
    sessions.write_text(sessions.read_text() + added)
    return config


def start_gateway(work: Path, *, client_port: int, venue_port: int, rest_port: int, database_url: str,
                  config_dir: Path | None = None) -> Process:
    """``fixgate serve`` without FIX message logs, against the simulator (with the config folder
    ``config_dir``, else the shipped one with its one venue SIM, as the bench's simulator runs it:
    ``one_venue_config``); waits for REST /health."""
    if config_dir is None:
        config_dir = work / "config-sim"
        if not config_dir.exists():
            one_venue_config(config_dir)
    config = ["--config-dir", str(config_dir)]
    proc = start(
        "gateway",
        ["-m", "fixgate.cli", "serve", "--client-port", str(client_port), "--venue-port", str(venue_port),
         "--rest-port", str(rest_port), "--data-dir", str(work / "gateway"), "--no-fix-message-log", *config],
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
