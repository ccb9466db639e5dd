"""Command line of the venue simulator: ``python -m simulator`` (hooked up as ``fixgate simulator``).

``fixgate simulator [options]`` runs the venues until Ctrl-C / SIGTERM. The trading day ends (Day
orders expire, GTC orders are told DoneForDay and stay on the book) on ``fixgate simulator expire``
(which asks the record endpoint, on 127.0.0.1:9879 by default) or on SIGUSR1 to the simulator
process, which needs no endpoint at all. What they print counts the expiries only (scripts read it);
the DoneForDay count is in the endpoint's answer and the simulator's log.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from fixgate.datadir import PRIVATE_UMASK, DataDirInUse, lock_data_dir
from simulator.config import ConfigError, SimulatorConfig, load_config
from simulator.venue import Simulator, SimulatorError

DEFAULT_CONFIG = Path("config/simulator.toml")
DEFAULT_DATA_DIR = Path(".fixgate/simulator")
DEFAULT_RECORD_PORT = 9879
DEFAULT_RECORD_URL = f"http://127.0.0.1:{DEFAULT_RECORD_PORT}"

log = logging.getLogger("simulator")


def build_parser() -> argparse.ArgumentParser:
    """The simulator's arguments (a parent parser can reuse them for ``fixgate simulator``)."""
    parser = argparse.ArgumentParser(
        prog="fixgate simulator",
        description=(
            "Run the FIX venue simulator until Ctrl-C. "
            "`fixgate simulator expire` ends the trading day of a running one (Day orders expire; "
            "GTC orders get DoneForDay and stay on the book)."
        ),
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"simulator TOML (default: {DEFAULT_CONFIG} if it exists, else built-in defaults)",
    )
    parser.add_argument("--port", type=int, default=None, help="the first venue listens on this port, the next on PORT+1, and so on in the config's order")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"sequence-number stores, FIX logs, rendered QuickFIX settings (default: {DEFAULT_DATA_DIR})",
    )
    record = parser.add_mutually_exclusive_group()
    record.add_argument(
        "--record-port",
        type=int,
        default=None,
        help=(
            "serve the record (orders, fills, books; end of day) as JSON over HTTP on 127.0.0.1:PORT "
            f"(default {DEFAULT_RECORD_PORT}, skipped with a warning if taken; 0 = any free port)"
        ),
    )
    record.add_argument(
        "--no-record-http",
        action="store_true",
        help="do not serve the record over HTTP (SIGUSR1 still expires Day orders)",
    )
    parser.add_argument("--log-level", default="INFO", help="Python logging level (default: INFO)")
    return parser


def build_expire_parser() -> argparse.ArgumentParser:
    """Arguments of ``fixgate simulator expire``."""
    parser = argparse.ArgumentParser(
        prog="fixgate simulator expire",
        description=(
            "End the trading day on a running simulator: every live Day order expires (ExecType C), every "
            "live GTC order gets DoneForDay (ExecType 3) and stays on the book. "
            "Asks its record endpoint; without one, send SIGUSR1 to the simulator process instead."
        ),
    )
    parser.add_argument(
        "--record-url",
        default=DEFAULT_RECORD_URL,
        help=f"the simulator's record endpoint, as it printed at start (default: {DEFAULT_RECORD_URL})",
    )
    parser.add_argument(
        "--venue", action="append", default=None, help="only this venue (repeatable; default: every venue)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """``fixgate simulator``: run until SIGINT/SIGTERM (0 on a clean run; 2, one line on stderr, when it cannot start: the config, a port in use; 3 when its data folder is in use), or ``expire``."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["expire"]:
        return expire_main(argv[1:])
    args = build_parser().parse_args(argv)
    os.umask(PRIVATE_UMASK)  # the stores, FIX logs and record: the owner's only
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Signals are caught from before the start: a SIGUSR1 sent as soon as the banner shows must not
    # find the default action (terminate) still in place.
    inbox = _SignalInbox()
    try:
        try:
            # First: a second simulator on this folder would append to the running one's record.
            lock_data_dir(args.data_dir)
        except DataDirInUse as exc:
            log.error("%s", exc)
            return 3
        try:
            config = _config(args.config)
            simulator = Simulator(config, args.data_dir, port=args.port)
            simulator.start()
        except (ConfigError, SimulatorError, OSError) as exc:
            # A user's mistake (the config, a port in use, the data folder): one line, status 2.
            print(f"fixgate simulator: {exc}", file=sys.stderr)
            return 2
        try:
            record_url = start_record(simulator, args.record_port, disabled=args.no_record_http)
        except SimulatorError as exc:
            print(f"fixgate simulator: {exc}", file=sys.stderr)
            simulator.stop(force=True)
            return 2
        _print_banner(simulator, record_url)
        _run_until_stopped(simulator, inbox)
        return 0
    finally:
        inbox.restore()


def _print_banner(simulator: Simulator, record_url: str | None) -> None:
    for venue in simulator.venues.values():
        print(
            f"venue {venue.name} on {venue.config.host}:{venue.port} "
            f"({', '.join(venue.config.begin_strings)}; clients {', '.join(venue.config.target_comp_ids)}; "
            f"symbols {', '.join(i.symbol for i in venue.config.instruments)}); data in {venue.data_dir}",
            flush=True,
        )
    if record_url is not None:
        print(f"record on {record_url}/record", flush=True)
    end_of_day = f"kill -USR1 {os.getpid()}"
    if record_url is not None:
        end_of_day = f"fixgate simulator expire --record-url {record_url}   or   {end_of_day}"
    print(f"end of day (expire Day orders): {end_of_day}", flush=True)


def start_record(simulator: Simulator, port: int | None, *, disabled: bool = False) -> str | None:
    """Serve ``simulator``'s record over HTTP unless ``disabled``; its base URL, or None if not served.

    ``port`` None means the default port: if something else holds it, the simulator runs on without
    the endpoint (a warning says so), since a second simulator on one machine is normal. A port asked
    for explicitly that cannot be bound raises ``SimulatorError``.
    """
    if disabled:
        return None
    if port is not None:
        return simulator.serve_record(port)
    try:
        return simulator.serve_record(DEFAULT_RECORD_PORT)
    except SimulatorError as exc:
        log.warning(
            "%s; running without the record endpoint (pass --record-port N, or send SIGUSR1 to expire "
            "Day orders)",
            exc,
        )
        return None


class _SignalInbox:
    """Notes SIGINT, SIGTERM and SIGUSR1 for the main loop, from construction until ``restore``.

    The handler only notes the signal; the main loop acts on it (expiring takes the venue lock, which
    a handler interrupting the main thread must not wait for).
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        self.wake = threading.Event()
        signals = [signal.SIGINT, signal.SIGTERM]
        if hasattr(signal, "SIGUSR1"):  # POSIX only
            signals.append(signal.SIGUSR1)
        self._previous = {sig: signal.signal(sig, self._on_signal) for sig in signals}

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        self.wake.set()

    def restore(self) -> None:
        """Put the previous handlers back."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}


def _run_until_stopped(simulator: Simulator, inbox: _SignalInbox) -> None:
    """Expire Day orders on each SIGUSR1; stop the simulator on SIGINT/SIGTERM."""
    try:
        stopping = False
        while not stopping:
            # wait() with a timeout so the main thread keeps running Python signal handlers promptly.
            inbox.wake.wait(0.5)
            inbox.wake.clear()
            while inbox.received:
                if inbox.received.pop(0) in (signal.SIGINT, signal.SIGTERM):
                    stopping = True
                else:
                    _expire(simulator)
    finally:
        log.info("stopping")
        simulator.stop()


def _expire(simulator: Simulator) -> None:
    for name, count in simulator.expire_day_orders().items():
        print(f"end of day on {name}: {count} Day order(s) expired", flush=True)


def expire_main(argv: list[str]) -> int:
    """``fixgate simulator expire``: expire Day orders through the record endpoint; 0 ok, 1 on errors."""
    args = build_expire_parser().parse_args(argv)
    base = args.record_url.rstrip("/")
    try:
        names: list[str] = args.venue or [v["name"] for v in _request("GET", f"{base}/venues")["venues"]]
        for name in names:
            url = f"{base}/venues/{urllib.parse.quote(name, safe='')}/expire-day-orders"
            expired = _request("POST", url)["expired"]
            print(f"{name}: {expired} Day order(s) expired", flush=True)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace").strip()
        print(f"simulator at {base} refused: {exc.code} {detail}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as exc:
        print(
            f"no simulator record endpoint at {base} ({exc}); is it running, and not with "
            "--no-record-http? Without the endpoint, send it SIGUSR1 instead.",
            file=sys.stderr,
        )
        return 1
    return 0


def _request(method: str, url: str) -> Any:
    request = urllib.request.Request(url, data=b"" if method == "POST" else None, method=method)
    if method == "POST":
        request.add_header("X-Simulator-Action", url.rsplit("/", 1)[-1])
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _config(path: Path | None) -> SimulatorConfig:
    if path is not None:
        return load_config(path)
    if DEFAULT_CONFIG.is_file():
        return load_config(DEFAULT_CONFIG)
    return SimulatorConfig()
