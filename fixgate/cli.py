"""The ``fixgate`` command: serve, simulator, demo, db upgrade, hash-password, token add, events tail."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path

from bus.events import KINDS
from fixgate.config import ConfigError, Settings, rest_access_help, token_from_file, tokens_from_file
from fixgate.datadir import PRIVATE_UMASK, DataDirInUse, lock_data_dir


def _add_gateway_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config-dir", type=Path, help="folder with instruments.toml, risk.toml, fix_sessions/")
    parser.add_argument("--data-dir", type=Path, help="FIX stores, logs and the embedded PostgreSQL (.fixgate)")
    parser.add_argument("--client-port", type=int, help="FIX port for clients (9876, FIXGATE_CLIENT_PORT)")
    parser.add_argument("--venue-host", help="simulator venue host (127.0.0.1, FIXGATE_SIM_HOST)")
    parser.add_argument("--venue-port", type=int, help="simulator venue port (9880, FIXGATE_SIM_PORT)")
    parser.add_argument("--rest-host", help="REST bind address (127.0.0.1, FIXGATE_REST_HOST)")
    parser.add_argument("--rest-port", type=int, help="REST port (8080, FIXGATE_REST_PORT)")
    parser.add_argument("--api-token-file", type=Path,
                        help="file holding the REST API's bearer token (FIXGATE_API_TOKEN_FILE; FIXGATE_API_TOKEN)")
    parser.add_argument("--api-tokens-file", type=Path,
                        help="REST identities, one 'name role sha256hex [accounts]' a line; `fixgate token"
                        " add` writes them (FIXGATE_API_TOKENS_FILE)")
    parser.add_argument("--no-fix-message-log", action="store_true",
                        help="do not log every FIX message to files (FIXGATE_FIX_MESSAGE_LOG=0)")


def settings_from(args: argparse.Namespace) -> Settings:
    """Flags over FIXGATE_* environment variables over defaults."""
    s = Settings.from_env()
    overrides = {
        "config_dir": args.config_dir,
        "data_dir": args.data_dir,
        "client_port": args.client_port,
        "sim_host": args.venue_host,
        "sim_port": args.venue_port,
        "rest_host": args.rest_host,
        "rest_port": args.rest_port,
    }
    if args.no_fix_message_log:
        s = replace(s, fix_message_log=False)
    if args.api_token_file is not None:
        s = replace(s, api_token=token_from_file(args.api_token_file))
    if args.api_tokens_file is not None:
        s = replace(s, api_tokens=tokens_from_file(args.api_tokens_file))
    return replace(s, **{k: v for k, v in overrides.items() if v is not None})


def wait_for_ctrl_c() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()


def _serve(args: argparse.Namespace) -> int:
    settings, generated = settings_from(args).with_api_token()
    lock_data_dir(settings.data_dir)  # first: a second fixgate on this folder stops here, touching nothing
    from fixgate.app import Fixgate  # after the lock: importing the app logs (alembic) and loads a lot

    gateway = Fixgate(settings)
    gateway.start()
    rest_url = gateway.rest.url if gateway.rest else ""
    print(f"fixgate serving: FIX clients on port {gateway.settings.client_port}, REST on {rest_url}")
    logs = settings.data_dir / "logs"
    if gateway.bus_url is not None:
        from bus.server import shown

        print(f"events on the bus {shown(gateway.bus_url)} (`fixgate events tail --data-dir {settings.data_dir}`);"
              f" book writer and bus logs in {logs}")
    else:
        print(f"no bus (FIXGATE_BUS=0); book writer log in {logs}")
    if settings.api_token is not None:
        print(rest_access_help(rest_url, settings.api_token, generated), flush=True)
    if settings.api_tokens:
        print(f"REST API identities: {len(settings.api_tokens)} from the tokens file", flush=True)
    try:
        wait_for_ctrl_c()
    finally:
        gateway.stop()
    return 0


def _simulator(args: argparse.Namespace) -> int:
    from simulator.cli import main as simulator_main

    return simulator_main(args.rest)


def _demo(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    lock_data_dir(settings.data_dir)
    lock_data_dir(settings.data_dir / "simulator")  # the demo's venue: `fixgate simulator` locks it too
    from fixgate.demo import run_demo

    return run_demo(settings, stay_up=not args.exit)


def _tca(args: argparse.Namespace) -> int:
    from book.database import resolve_database_url
    from tca.report import main as tca_report

    settings = Settings.from_env()  # DATABASE_URL, else the embedded PostgreSQL of the data folder
    data_dir = args.data_dir or settings.data_dir
    url, embedded = (settings.database_url, None) if settings.database_url else resolve_database_url(data_dir)
    try:
        return tca_report(args, url)
    finally:
        if embedded is not None:
            embedded.stop()


def _db_upgrade(args: argparse.Namespace) -> int:
    from book.database import resolve_database_url, upgrade
    from fixgate.datadir import allow_traverse

    settings = settings_from(args)
    embedded = None
    if settings.database_url:
        url = settings.database_url
    else:
        data_dir = lock_data_dir(settings.data_dir).data_dir  # its embedded PostgreSQL is a gateway's
        url, embedded = resolve_database_url(data_dir)
        allow_traverse(data_dir)
    try:
        upgrade(url)
        print("database schema is at head")
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


def _hash_password(args: argparse.Namespace) -> int:
    import getpass

    from gateway.credentials import CredentialsError, hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        print(hash_password(password))
    except CredentialsError as exc:
        print(f"fixgate: {exc}", file=sys.stderr)
        return 2
    return 0


def _token_add(args: argparse.Namespace) -> int:
    """Make a token for a new identity, append its hash to the tokens file, print the token once."""
    from api.identities import IdentityError, hash_token, identity_line, load_tokens, make_identity, new_token

    path = args.file or os.environ.get("FIXGATE_API_TOKENS_FILE")
    if not path:
        raise ConfigError("name the tokens file: --file PATH or FIXGATE_API_TOKENS_FILE")
    path = Path(path)
    accounts = [a for part in args.accounts for a in part.split(",") if a]
    try:
        identity = make_identity(args.name, args.role, accounts)
        existing = load_tokens(path) if path.exists() else {}
    except IdentityError as exc:
        raise ConfigError(str(exc)) from None
    if any(i.name == identity.name for i in existing.values()):
        raise ConfigError(f"API tokens file {path} already has an identity {identity.name!r}")
    token = new_token()
    # 0600: the file holds hashes only, but who may call the API is nobody else's business either.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as fh:
        if fh.tell() > 0 and not path.read_text().endswith("\n"):
            fh.write("\n")
        fh.write(identity_line(identity, hash_token(token)) + "\n")
    print(f"identity {identity.name} ({identity.role.value}) added to {path}; its token, shown only now:")
    print(token)
    return 0


def _events_tail(args: argparse.Namespace) -> int:
    from bus.tail import run

    return run(args.nats_url, args.data_dir, args.instance, args.kind, args.from_start)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fixgate", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway and its REST API")
    _add_gateway_flags(serve)
    serve.set_defaults(func=_serve)

    sim = sub.add_parser("simulator", help="run the venue simulator; `fixgate simulator expire` ends its "
                         "trading day (see `fixgate simulator --help`)",
                         add_help=False)
    sim.add_argument("rest", nargs=argparse.REMAINDER)
    sim.set_defaults(func=_simulator)

    demo = sub.add_parser("demo", help="simulator + gateway + REST + a scripted order flow")
    _add_gateway_flags(demo)
    demo.add_argument("--exit", action="store_true", help="exit after the scripted flow instead of staying up")
    demo.set_defaults(func=_demo)

    hashpw = sub.add_parser(
        "hash-password",
        help="read a FIX client's Logon password from stdin, print its hash for PasswordHash= in clients.cfg",
    )
    hashpw.set_defaults(func=_hash_password)

    token = sub.add_parser("token", help="REST API identities of the tokens file")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    token_add = token_sub.add_parser("add", help="add an identity with a new token (printed once)")
    token_add.add_argument("name", help="who: recorded in the audit trail of everything it does")
    token_add.add_argument("--role", required=True, choices=["operator", "viewer", "client"],
                           help="operator: everything; viewer: read only; client: its accounts only")
    token_add.add_argument("--accounts", nargs="+", default=[], metavar="ACCOUNT",
                           help="a client's accounts (space- or comma-separated)")
    token_add.add_argument("--file", type=Path, help="the tokens file (FIXGATE_API_TOKENS_FILE)")
    token_add.set_defaults(func=_token_add)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_upgrade = db_sub.add_parser("upgrade", help="apply migrations up to head")
    _add_gateway_flags(db_upgrade)
    db_upgrade.set_defaults(func=_db_upgrade)

    events = sub.add_parser("events", help="the event bus")
    events_sub = events.add_subparsers(dest="events_command", required=True)
    tail = events_sub.add_parser("tail", help="print an instance's events live, one line each")
    tail.add_argument("--kind", choices=KINDS, help="only events of this kind (e.g. fills)")
    tail.add_argument("--instance", help="the gateway instance (FIXGATE_INSTANCE; fixgate)")
    tail.add_argument("--nats-url", help="the bus (NATS_URL; else the one in <data dir>/nats/url)")
    tail.add_argument("--data-dir", type=Path, help="a running fixgate's data folder (FIXGATE_DATA_DIR; .fixgate)")
    tail.add_argument("--from-start", action="store_true", help="from the stream's first event, not from now")
    tail.set_defaults(func=_events_tail)

    from tca.report import add_parser as add_tca_parser  # `fixgate tca report`: tca/report.py

    add_tca_parser(sub)
    sub.choices["tca"].set_defaults(func=_tca)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Before any file is made: the stores, FIX logs and journal hold orders and fills, for the owner only.
    os.umask(PRIVATE_UMASK)
    if argv[:1] == ["simulator"]:
        # The simulator has its own command line (`fixgate simulator --help`); hand it over whole.
        from simulator.cli import main as simulator_main

        return simulator_main(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for chatty in ("httpx", "pgserver"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"fixgate: {exc}", file=sys.stderr)
        return 2
    except DataDirInUse as exc:
        print(f"fixgate: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
