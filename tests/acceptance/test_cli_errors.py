"""A user's mistake ends ``fixgate`` with one line naming the file or setting and the problem, status 2,
before anything starts (no database, no FIX engine, nothing in the data folder but its lock); the
real command, run as a user runs it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from bench.procs import one_venue_config
from simulator.venue import Simulator
from tests.support import fixgate_argv, free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A copy of the shipped config folder, to break."""
    return one_venue_config(tmp_path / "config")


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FIXGATE_") and k != "DATABASE_URL"}
    return subprocess.run(fixgate_argv(*args), cwd=cwd, env={**environ, **(env or {})}, capture_output=True,
                          text=True, timeout=120, check=False)


def _serve(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``fixgate serve`` from tmp_path with the config folder ./config, on free ports."""
    return _run("serve", "--config-dir", "config", "--data-dir", "data", "--client-port", str(free_port()),
                "--rest-port", str(free_port()), *extra, cwd=tmp_path, env=env)


def _refused(done: subprocess.CompletedProcess[str], message: str | re.Pattern[str],
             data_dir: Path | None = None) -> None:
    """Status 2, and stderr is exactly one line: ``fixgate: <message>``; nothing started in the data
    folder (only its lock is there: no embedded database, no FIX stores, no journal)."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    if isinstance(message, str):
        assert lines[0] == f"fixgate: {message}"
    else:
        assert message.fullmatch(lines[0]), lines[0]
    if data_dir is not None and data_dir.exists():
        assert sorted(p.name for p in data_dir.iterdir()) == ["fixgate.lock"]


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("risk.toml", 'max_order_qty = "10000"', 'max_order_qty = "lots"',
         "config/risk.toml: firm.max_order_qty = 'lots' is not a number"),
        ("risk.toml", 'price_collar_pct = "10"', "price_collar_pct = 10.5",
         "config/risk.toml: firm.price_collar_pct = 10.5: write it as a string or integer, not a float"),
        ("risk.toml", "[accounts.CLIENT2]", "[accounts.CLIENT2]\nmax_ordr_qty = 5",
         "config/risk.toml: accounts.CLIENT2: unknown key(s) ['max_ordr_qty']; known: "),
        ("risk.toml", 'daily_loss_action = "HALTED"', 'daily_loss_action = "STOP"',
         "config/risk.toml: firm.daily_loss_action = 'STOP' must be REDUCING or HALTED"),
        ("instruments.toml", 'tick_size = "0.01"', 'tick_size = "a cent"',
         "config/instruments.toml: AAPL.tick_size = 'a cent' is not a number"),
        ("instruments.toml", "[MSFT]", "[MSFT\n",
         "config/instruments.toml: Expected ']' at the end of a table declaration (at line"),
        ("instruments.toml", 'venue = "SIM"', 'venue = "NYSE"',
         "config/instruments.toml: AAPL.venue names 'NYSE', not a venue of config/fix_sessions/venues.cfg (SIM)"),
        ("fix_sessions/venues.cfg", "HeartBtInt=30", "HeartBtInt=thirty",
         "config/fix_sessions/venues.cfg: Configuration failed: Expected numeric value for: HEARTBTINT"),
        ("fix_sessions/clients.cfg", "DataDictionary=${SPEC_DIR}/FIX44.xml", "DataDictionary=${SPEC_DIR}/FIX44x.xml",
         "config/fix_sessions/clients.cfg: Configuration failed:"),
        ("fix_sessions/clients.cfg", "\nMaxConnectionsPerAddress=10\n", "\nMaxConnectionsPerAddress=0\n",
         "config/fix_sessions/clients.cfg: [DEFAULT]: MaxConnectionsPerAddress = 0: must be positive"),
    ],
)
def test_a_mistake_in_a_config_file_is_one_line_naming_the_file_and_the_key(
    tmp_path: Path, config_dir: Path, file: str, old: str, new: str, message: str
) -> None:
    _edit(config_dir / file, old, new)
    done = _serve(tmp_path)
    _refused(done, re.compile(re.escape(f"fixgate: {message}") + ".*"), tmp_path / "data")


def test_a_template_variable_nobody_fills_is_named_with_its_line(tmp_path: Path, config_dir: Path) -> None:
    cfg = config_dir / "fix_sessions/clients.cfg"
    _edit(cfg, "SocketAcceptPort=${CLIENT_PORT}", "SocketAcceptPort=${CLIENT_PROT}")
    line = cfg.read_text().splitlines().index("SocketAcceptPort=${CLIENT_PROT}") + 1
    _refused(_serve(tmp_path), f"config/fix_sessions/clients.cfg:{line}: no value for ${{CLIENT_PROT}}",
             tmp_path / "data")


def test_a_client_password_hash_file_that_is_missing_names_the_session_and_the_file(
    tmp_path: Path, config_dir: Path
) -> None:
    _edit(config_dir / "fix_sessions/clients.cfg", "TargetCompID=CLIENT2\n",
          f"TargetCompID=CLIENT2\nUsername=trader2\nPasswordHashFile={tmp_path}/missing.hash\n")
    _refused(_serve(tmp_path),
             f"config/fix_sessions/clients.cfg: FIX.4.4:FIXGATE->CLIENT2: PasswordHashFile {tmp_path}/missing.hash:"
             " No such file or directory", tmp_path / "data")


def test_a_missing_config_folder_or_file_is_named(tmp_path: Path, config_dir: Path) -> None:
    done = _run("serve", "--config-dir", "nowhere", "--data-dir", "data", cwd=tmp_path)
    _refused(done, "config folder nowhere does not exist (--config-dir or FIXGATE_CONFIG_DIR)", tmp_path / "data")
    (config_dir / "risk.toml").unlink()
    done = _serve(tmp_path)
    _refused(done, re.compile(r"fixgate: config/risk\.toml: no such file \(every config folder needs .*\)"))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FIXGATE_CLIENT_PORT": "ninety"}, "FIXGATE_CLIENT_PORT='ninety' is not an integer"),
        ({"FIXGATE_REST_PORT": "70000"}, "--rest-port or FIXGATE_REST_PORT = 70000: a port is 1 to 65535"),
        ({"FIXGATE_BUS": "maybe"}, "FIXGATE_BUS='maybe': expected 1 or 0 (true/false, yes/no, on/off)"),
        ({"FIXGATE_ORDER_IDS": "2"}, "FIXGATE_ORDER_IDS='2': expected 'slot/slots', e.g. 0/2"),
        ({"FIXGATE_INSTANCE": "a-b"}, "FIXGATE_INSTANCE='a-b': 1 to 32 letters, digits or _"),
        ({"FIXGATE_API_TOKEN_FILE": "/nonexistent/token"},
         "API token file /nonexistent/token: No such file or directory"),
    ],
)
def test_a_bad_environment_setting_is_named(tmp_path: Path, env: dict[str, str], message: str) -> None:
    _refused(_run("serve", "--data-dir", "data", cwd=tmp_path, env=env), message)
    assert not (tmp_path / "data").exists()  # refused before the data folder is even made


def test_a_bad_api_tokens_file_names_the_file_and_the_line(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("alice operator not-a-hash\n")
    tokens.chmod(0o600)
    done = _run("serve", "--data-dir", "data", "--api-tokens-file", str(tokens), cwd=tmp_path)
    _refused(done, re.compile(re.escape(f"fixgate: API tokens file {tokens}:1: ") + r".*is not a SHA-256.*"))


@pytest.fixture
def listening() -> Iterator[int]:
    """A port some other process listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def test_a_fix_client_port_in_use_is_named(tmp_path: Path, config_dir: Path, listening: int) -> None:
    done = _run("serve", "--config-dir", "config", "--data-dir", "data", "--client-port", str(listening),
                "--rest-port", str(free_port()), cwd=tmp_path)
    _refused(done, f"FIX client port {listening} is in use by another process (--client-port or"
             " FIXGATE_CLIENT_PORT picks another)", tmp_path / "data")


def test_a_rest_port_in_use_is_named(tmp_path: Path, config_dir: Path, listening: int) -> None:
    done = _run("serve", "--config-dir", "config", "--data-dir", "data", "--client-port", str(free_port()),
                "--rest-port", str(listening), cwd=tmp_path)
    _refused(done, f"REST port {listening} on 127.0.0.1 is in use by another process (--rest-host/--rest-port"
             " or FIXGATE_REST_PORT picks another)", tmp_path / "data")


def test_an_unreachable_database_is_named_without_its_password(tmp_path: Path, config_dir: Path) -> None:
    port = free_port()  # nothing listens there
    done = _serve(tmp_path, env={"DATABASE_URL": f"postgresql://trader:s3cret@127.0.0.1:{port}/book"})
    _refused(done, re.compile(re.escape(f"fixgate: DATABASE_URL postgresql://trader:***@127.0.0.1:{port}/book:"
                                        " cannot connect: ") + ".+"), tmp_path / "data")
    assert "s3cret" not in done.stderr


def test_a_database_that_does_not_exist_is_named(tmp_path: Path, config_dir: Path, pg_admin_url: str) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(pg_admin_url).set(database="no_such_book").render_as_string(hide_password=False)
    done = _serve(tmp_path, env={"DATABASE_URL": url})
    _refused(done, re.compile(r'fixgate: DATABASE_URL postgresql://\S+/no_such_book(\?\S+)?: database "no_such_book" does'
                              r" not exist"), tmp_path / "data")


def test_a_url_that_is_not_postgresql_is_named(tmp_path: Path, config_dir: Path) -> None:
    done = _serve(tmp_path, env={"DATABASE_URL": "mysql://root@localhost/book"})
    _refused(done, "DATABASE_URL: not a PostgreSQL URL: scheme 'mysql'", tmp_path / "data")


def test_the_simulator_names_a_bad_config_and_a_port_in_use(tmp_path: Path, config_dir: Path,
                                                            listening: int) -> None:
    _edit(config_dir / "simulator.toml", "port = 9880", 'port = "9880"')
    done = _run("simulator", "--config", "config/simulator.toml", "--data-dir", "sim", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        2, "fixgate simulator: config/simulator.toml: venues[0].port: expected int, got '9880'\n")
    shutil.copy(REPO / "config" / "simulator.toml", config_dir / "simulator.toml")
    done = _run("simulator", "--port", str(listening), "--data-dir", "sim", "--record-port", "0", cwd=tmp_path)
    assert done.returncode == 2
    assert re.fullmatch(rf"fixgate simulator: venue SIM cannot start on port {listening}: .*Address already in"
                        r" use.*\n", done.stderr), done.stderr


def test_the_demo_checks_the_simulator_config_and_port_too(tmp_path: Path, config_dir: Path,
                                                           listening: int) -> None:
    _edit(config_dir / "simulator.toml", 'level_qty = "100"', "level_qty = 100.0")
    done = _run("demo", "--exit", "--config-dir", "config", "--data-dir", "data", cwd=tmp_path)
    _refused(done, "config/simulator.toml: venues[0].liquidity.level_qty: write decimals as strings (\"0.01\") or"
             " integers, got 100.0")
    shutil.copy(REPO / "config" / "simulator.toml", config_dir / "simulator.toml")
    done = _run("demo", "--exit", "--config-dir", "config", "--data-dir", "data", "--venue-port", str(listening),
                "--client-port", str(free_port()), "--rest-port", str(free_port()), cwd=tmp_path)
    _refused(done, f"simulator venue SIM port {listening} is in use by another process (--venue-port or"
             " FIXGATE_SIM_PORT picks another)")


def test_the_demo_names_the_second_venue_s_port_and_a_venue_the_simulator_lacks(
    tmp_path: Path, listening: int
) -> None:
    shutil.copytree(REPO / "config", tmp_path / "shipped")  # SIM and SIM2
    sim_port = free_port()
    done = _run("demo", "--exit", "--config-dir", "shipped", "--data-dir", "data", "--venue-port", str(sim_port),
                "--sim2-port", str(listening), "--client-port", str(free_port()), "--rest-port", str(free_port()),
                cwd=tmp_path)
    _refused(done, f"simulator venue SIM2 port {listening} is in use by another process (--sim2-port or"
             " FIXGATE_SIM2_PORT picks another)")
    done = _run("demo", "--exit", "--config-dir", "shipped", "--data-dir", "data", "--venue-port", str(sim_port),
                "--sim2-port", str(sim_port), cwd=tmp_path)
    _refused(done, f"--sim2-port or FIXGATE_SIM2_PORT = {sim_port}: the SIM venue's port too (--venue-port or"
             " FIXGATE_SIM_PORT); each venue has its own")
    simulator = tmp_path / "shipped" / "simulator.toml"
    text = simulator.read_text()
    simulator.write_text(text[:text.index('[[venues]]\nname = "SIM2"')])
    done = _run("demo", "--exit", "--config-dir", "shipped", "--data-dir", "data", "--client-port", str(free_port()),
                "--rest-port", str(free_port()), cwd=tmp_path)
    _refused(done, "shipped/instruments.toml: AAPL trades on SIM2, not a venue of shipped/simulator.toml (SIM),"
             " which the demo runs")


def test_demo_fresh_empties_only_a_folder_fixgate_made(tmp_path: Path) -> None:
    stranger = tmp_path / "photos"
    stranger.mkdir()
    (stranger / "holiday.jpg").write_bytes(b"\xff\xd8")
    done = _run("demo", "--exit", "--fresh", "--data-dir", "photos", cwd=tmp_path)
    _refused(done, f"{stranger.resolve()} has no fixgate.lock: it is not a folder fixgate made, not emptying it")
    assert (stranger / "holiday.jpg").read_bytes() == b"\xff\xd8"
    assert not (stranger / "fixgate.lock").exists()  # refused before locking (which makes the file)

    (tmp_path / "fixgate.lock").touch()
    done = _run("demo", "--exit", "--fresh", "--data-dir", ".", cwd=tmp_path)
    _refused(done, re.compile(r"fixgate: .* is the working folder, one of its parents or the home folder: not"
                              r" emptying it .*"))
    assert (stranger / "holiday.jpg").exists()

    done = _run("demo", "--exit", "--fresh", "--data-dir", "data", cwd=tmp_path,
                env={"DATABASE_URL": "postgresql://postgres@127.0.0.1/book"})
    _refused(done, re.compile(r"fixgate: --fresh empties fixgate's data folder and its embedded database, but"
                              r" DATABASE_URL names the book's database: .*"))


def test_version_and_log_level(tmp_path: Path) -> None:
    done = _run("--version", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, f"fixgate {version('fixgate')}\n")
    done = _run("--log-level", "loud", "serve", cwd=tmp_path)
    assert done.returncode == 2 and "argument --log-level: invalid choice: 'loud'" in done.stderr


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_serve_starts_quietly_and_says_when_it_has_stopped(
    tmp_path: Path, database_url: str, simulator: Simulator, stop: signal.Signals
) -> None:
    proc = subprocess.Popen(
        fixgate_argv("serve", "--data-dir", str(tmp_path / "data"), "--client-port", str(free_port()),
                     "--rest-port", str(free_port()), "--venue-port", str(simulator.port)),
        cwd=tmp_path, env={**os.environ, "DATABASE_URL": database_url, "FIXGATE_BUS": "0"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        # (Read line by line up to the last line of the banner: communicate() reads the pipe itself and
        # would miss what readline() has buffered.)
        while not (lines and lines[-1].startswith("operator dashboard: ")):
            line = proc.stdout.readline()
            assert line, f"fixgate serve ended before serving: {''.join(lines)}"
            lines.append(line)
        proc.send_signal(stop)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    started = "".join(lines)
    assert proc.returncode == 0, started + out
    assert "Context impl" not in started and "Will assume transactional DDL" not in started
    assert "fixgate ready in" in started
    assert "fixgate serving: FIX clients on port" in started
    assert "operator dashboard: http://127.0.0.1:" in started
    assert f"{stop.name}: stopping" in out
    assert out.splitlines()[-1] == "fixgate stopped"


def test_log_level_warning_leaves_only_what_an_operator_must_read(
    tmp_path: Path, database_url: str, simulator: Simulator
) -> None:
    proc = subprocess.Popen(
        fixgate_argv("--log-level", "warning", "serve", "--data-dir", str(tmp_path / "data"), "--client-port",
                     str(free_port()), "--rest-port", str(free_port()), "--venue-port", str(simulator.port)),
        cwd=tmp_path, env={**os.environ, "DATABASE_URL": database_url, "FIXGATE_BUS": "0"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert first.startswith("fixgate serving: "), first + out
    assert " INFO " not in first + out


def test_db_upgrade_names_an_unreachable_database(tmp_path: Path) -> None:
    port = free_port()
    done = _run("db", "upgrade", cwd=tmp_path, env={"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/book"})
    _refused(done, re.compile(re.escape(f"fixgate: DATABASE_URL postgresql://postgres@127.0.0.1:{port}/book: cannot"
                                        " connect: ") + ".+"))
