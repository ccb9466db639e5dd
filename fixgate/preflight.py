"""Checks made before anything starts: every config file, the ports, the database.

A mistake an operator can make (a mistyped limit, a missing file, a port another process holds, a
database that does not answer) is found here, before the embedded database, the FIX engines or any
child process starts, and raised as one :class:`~fixgate.config.ConfigError` whose message names the
file, the key and the problem: ``fixgate`` prints it on one line and exits with status 2. What the
checks cannot foresee still fails later, with its traceback: that is a bug to fix, not a user's
mistake.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from fixgate.config import ConfigError, Settings, load_instruments

if TYPE_CHECKING:
    from simulator.config import SimulatorConfig

T = TypeVar("T")

#: The files of a config folder that every gateway command reads at start.
GATEWAY_FILES = ("instruments.toml", "risk.toml", "fix_sessions/clients.cfg", "fix_sessions/venues.cfg")

DATABASE_TIMEOUT_S = 5.0


def shown(path: Path) -> Path:
    """``path`` as a message shows it: as given, or relative to the working folder when it is an
    absolute path under it (the default config folder is one)."""
    if not path.is_absolute():
        return path
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def read_config(path: Path, load: Callable[[Path], T]) -> T:
    """``load(path)``, with every way a config file can be wrong turned into a one-line ConfigError
    that names the file (the loaders' own errors already name the file and the key)."""
    from risk.limits import RiskConfigError

    try:
        return load(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except RiskConfigError as exc:
        raise ConfigError(str(exc)) from None


def check_config_dir(config_dir: Path, files: tuple[str, ...] = GATEWAY_FILES) -> Path:
    """The config folder as messages show it; ConfigError if it or one of ``files`` is missing."""
    where = shown(config_dir)
    if not config_dir.is_dir():
        raise ConfigError(f"config folder {where} does not exist (--config-dir or FIXGATE_CONFIG_DIR)")
    for name in files:
        if not (config_dir / name).is_file():
            raise ConfigError(f"{where / name}: no such file (every config folder needs {', '.join(files)})")
    return where


def check_gateway_config(settings: Settings) -> None:
    """instruments.toml, risk.toml, fix_sessions/venues.cfg and clients.cfg (with the files and
    variables they name: PasswordHashFile, PasswordHashEnv), as ``Fixgate.start`` will read them."""
    from gateway.server import check_sessions, session_variables
    from gateway.settings import SessionConfigError
    from risk.limits import load_risk_config

    where = check_config_dir(settings.config_dir)
    instruments = read_config(where / "instruments.toml", load_instruments)
    read_config(where / "risk.toml", load_risk_config)
    variables = session_variables(settings.data_dir.resolve(), settings.client_port, settings.sim_host,
                                  settings.sim_port, settings.venue2_port)
    try:
        venues = check_sessions(where / "fix_sessions", variables)
    except SessionConfigError as exc:
        raise ConfigError(str(exc)) from None
    for instrument in instruments.values():
        for venue in instrument.venues:
            if venue not in venues:
                key = "venue" if len(instrument.venues) == 1 else "venues"
                raise ConfigError(
                    f"{where / 'instruments.toml'}: {instrument.symbol}.{key} names {venue!r}, not a venue"
                    f" of {where / 'fix_sessions/venues.cfg'} ({', '.join(sorted(venues))})"
                )


def check_simulator_config(path: Path) -> None:
    """The simulator's venues file, as ``fixgate demo`` and ``fixgate simulator`` read it."""
    from simulator.config import ConfigError as SimulatorConfigError
    from simulator.config import load_config

    try:
        read_config(shown(path), load_config)
    except SimulatorConfigError as exc:
        raise ConfigError(str(exc)) from None


#: The simulator venues whose ports the gateway's settings give (venues.cfg's ${SIM_PORT}, ${SIM2_PORT}).
_DEMO_VENUE_PORTS = {"SIM": "--venue-port or FIXGATE_SIM_PORT",
                     "SIM2": "--sim2-port or FIXGATE_SIM2_PORT"}


def demo_simulator_config(settings: Settings) -> SimulatorConfig:
    """The config folder's simulator.toml as ``fixgate demo`` runs it: SIM on ``settings.sim_port``,
    SIM2 on ``settings.venue2_port`` (where venues.cfg looks for them), any other venue on its own port."""
    from simulator.config import load_config

    config = load_config(settings.config_dir / "simulator.toml")
    for name, port in (("SIM", settings.sim_port), ("SIM2", settings.venue2_port)):
        if any(v.name == name for v in config.venues):
            config = config.with_port(port, name)
    return config


def check_demo_venues(settings: Settings) -> None:
    """``fixgate demo`` runs the venues of simulator.toml: each venue instruments.toml lists must be one
    of them, and each must find its port free."""
    from simulator.config import ConfigError as SimulatorConfigError

    where = shown(settings.config_dir)
    path = where / "simulator.toml"
    check_simulator_config(path)
    try:
        config = demo_simulator_config(settings)
    except SimulatorConfigError as exc:  # two venues on one port
        raise ConfigError(f"{path}: {exc}") from None
    simulated = [v.name for v in config.venues]
    for instrument in read_config(where / "instruments.toml", load_instruments).values():
        for venue in instrument.venues:
            if venue not in simulated:
                raise ConfigError(f"{where / 'instruments.toml'}: {instrument.symbol} trades on {venue}, not a venue"
                                  f" of {path} ({', '.join(simulated)}), which the demo runs")
    for simulated_venue in config.venues:
        name = simulated_venue.name
        how = _DEMO_VENUE_PORTS.get(name, f"the port of venue {name} in {path}")
        check_port_free("", simulated_venue.port, f"simulator venue {name} port", how)


def check_port_free(host: str, port: int, what: str, how: str) -> None:
    """ConfigError unless ``port`` can be listened on at ``host`` ("" for every interface, as the
    QuickFIX acceptor listens). QuickFIX binds on a thread of its own after the engine starts, so a
    port in use must be found here. SO_REUSEADDR as the servers set it: a port that only has
    connections in TIME_WAIT is free for them."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
            probe.listen(1)
        except OSError as exc:
            at = f"{port} on {host}" if host else f"{port}"
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"{what} {at} is in use by another process ({how} picks another)") from None
            raise ConfigError(f"{what} {at}: {exc.strerror or exc} ({how})") from None


def check_gateway_ports(settings: Settings) -> None:
    """The FIX client port (every interface) and the REST port are free."""
    check_port_free("", settings.client_port, "FIX client port", "--client-port or FIXGATE_CLIENT_PORT")
    check_port_free(settings.rest_host, settings.rest_port, "REST port", "--rest-host/--rest-port or FIXGATE_REST_PORT")


def check_database(url: str, timeout: float = DATABASE_TIMEOUT_S) -> None:
    """ConfigError unless the PostgreSQL server of ``url`` (``DATABASE_URL``) takes a connection
    within ``timeout`` seconds. The message shows the URL without its password."""
    import asyncpg
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from book.database import async_url, run_sync

    try:
        parsed = make_url(async_url(url))
    except (ValueError, ArgumentError) as exc:
        raise ConfigError(f"DATABASE_URL: {exc}") from None
    hidden = parsed.set(drivername="postgresql").render_as_string(hide_password=True)
    plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)

    async def connect() -> None:
        conn = await asyncpg.connect(plain, timeout=timeout)
        await conn.close()

    try:
        run_sync(lambda: asyncio.wait_for(connect(), timeout + 1))
    except TimeoutError:
        raise ConfigError(f"DATABASE_URL {hidden}: no answer within {timeout:g}s") from None
    except OSError as exc:
        raise ConfigError(f"DATABASE_URL {hidden}: cannot connect: {exc.strerror or exc}") from None
    except (asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
        raise ConfigError(f"DATABASE_URL {hidden}: {exc}") from None


def check_gateway(settings: Settings) -> None:
    """Everything ``fixgate serve`` needs before it starts: config files, ports, the database."""
    check_gateway_config(settings)
    check_gateway_ports(settings)
    if settings.database_url:
        check_database(settings.database_url)
