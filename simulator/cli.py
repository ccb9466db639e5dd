"""Command line of the venue simulator: ``python -m simulator`` (hooked up as ``fixgate simulator``)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from types import FrameType

from simulator.config import ConfigError, SimulatorConfig, load_config
from simulator.venue import Simulator, SimulatorError

DEFAULT_CONFIG = Path("config/simulator.toml")
DEFAULT_DATA_DIR = Path(".fixgate/simulator")


def build_parser() -> argparse.ArgumentParser:
    """The simulator's arguments (a parent parser can reuse them for ``fixgate simulator``)."""
    parser = argparse.ArgumentParser(
        prog="fixgate simulator",
        description="Run the FIX venue simulator until Ctrl-C.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"simulator TOML (default: {DEFAULT_CONFIG} if it exists, else built-in defaults)",
    )
    parser.add_argument("--port", type=int, default=None, help="listen on this port (single-venue configs)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"sequence-number stores, FIX logs, rendered QuickFIX settings (default: {DEFAULT_DATA_DIR})",
    )
    parser.add_argument(
        "--record-port",
        type=int,
        default=None,
        help="serve the record (orders, fills, books) as JSON over HTTP on 127.0.0.1:PORT (0 = any free port)",
    )
    parser.add_argument("--log-level", default="INFO", help="Python logging level (default: INFO)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Start the simulator, block until SIGINT/SIGTERM, stop it; 0 on a clean run, 1/2 on errors."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    log = logging.getLogger("simulator")
    try:
        config = _config(args.config)
        simulator = Simulator(config, args.data_dir, port=args.port, record_port=args.record_port)
        simulator.start()
    except (ConfigError, SimulatorError, OSError) as exc:
        log.error("%s", exc)
        return 2 if isinstance(exc, ConfigError) else 1

    for venue in simulator.venues.values():
        print(
            f"venue {venue.name} on {venue.config.host}:{venue.port} "
            f"({', '.join(venue.config.begin_strings)}; clients {', '.join(venue.config.target_comp_ids)}; "
            f"symbols {', '.join(i.symbol for i in venue.config.instruments)}); data in {venue.data_dir}",
            flush=True,
        )
    if simulator.record_server is not None:
        print(f"record on {simulator.record_url}/record", flush=True)
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        # wait() with a timeout so the main thread keeps running Python signal handlers promptly.
        while not stopping.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("stopping")
        simulator.stop()
    return 0


def _config(path: Path | None) -> SimulatorConfig:
    if path is not None:
        return load_config(path)
    if DEFAULT_CONFIG.is_file():
        return load_config(DEFAULT_CONFIG)
    return SimulatorConfig()
