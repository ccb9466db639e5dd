"""The ``fixgate`` command: serve, simulator, demo, order, db upgrade, hash-password, token add, events tail.

A user's mistake (a config file, a flag, an environment variable, a port in use, a database that does
not answer) ends the command with one line on stderr, ``fixgate: <file or setting>: <problem>``, and
status 2, before anything starts (``fixgate.preflight``); a data folder another process holds ends it
with status 3. Anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path

from book.signals import SignalStop
from bus.events import KINDS
from fixgate.config import ConfigError, Settings, rest_access_help, token_from_file, tokens_from_file
from fixgate.datadir import (
    PRIVATE_UMASK,
    DataDirInUse,
    NotEmptied,
    check_emptiable,
    empty_locked,
    lock_data_dir,
)

LOG_LEVELS = ("debug", "info", "warning", "error")
# Loggers whose INFO lines say nothing an operator needs at each start (Alembic's "Context impl
# PostgresqlImpl", "Will assume transactional DDL"; HTTP client and embedded PostgreSQL chatter):
# shown at --log-level debug only.
_CHATTY = ("alembic", "httpx", "pgserver")


def _add_gateway_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config-dir", type=Path, help="folder with instruments.toml, risk.toml, fix_sessions/")
    parser.add_argument("--data-dir", type=Path, help="FIX stores, logs and the embedded PostgreSQL (.fixgate)")
    parser.add_argument("--client-port", type=int, help="FIX port for clients (9876, FIXGATE_CLIENT_PORT)")
    parser.add_argument("--venue-host", help="simulator venue host (127.0.0.1, FIXGATE_SIM_HOST)")
    parser.add_argument("--venue-port", type=int, help="simulator venue SIM's port (9880, FIXGATE_SIM_PORT)")
    parser.add_argument("--sim2-port", type=int,
                        help="simulator venue SIM2's port (the SIM port + 1: 9881, FIXGATE_SIM2_PORT)")
    parser.add_argument("--rest-host", help="REST bind address (127.0.0.1, FIXGATE_REST_HOST)")
    parser.add_argument("--rest-port", type=int, help="REST port (8080, FIXGATE_REST_PORT)")
    parser.add_argument("--api-token-file", type=Path,
                        help="file holding the REST API's bearer token (FIXGATE_API_TOKEN_FILE; FIXGATE_API_TOKEN)")
    parser.add_argument("--api-tokens-file", type=Path,
                        help="REST identities, one 'name role sha256hex [accounts]' a line; `fixgate token"
                        " add` writes them (FIXGATE_API_TOKENS_FILE)")
    parser.add_argument("--tls-cert", type=Path, help="serve REST over HTTPS with this PEM certificate (FIXGATE_REST_TLS_CERT)")
    parser.add_argument("--tls-key", type=Path, help="the private key of --tls-cert (FIXGATE_REST_TLS_KEY)")
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
        "sim2_port": args.sim2_port,
        "rest_host": args.rest_host,
        "rest_port": args.rest_port,
        "rest_tls_cert": args.tls_cert,
        "rest_tls_key": args.tls_key,
    }
    if args.no_fix_message_log:
        s = replace(s, fix_message_log=False)
    if args.api_token_file is not None:
        s = replace(s, api_token=token_from_file(args.api_token_file))
    if args.api_tokens_file is not None:
        s = replace(s, api_tokens=tokens_from_file(args.api_tokens_file))
    return replace(s, **{k: v for k, v in overrides.items() if v is not None})


class StopSignals:
    """SIGINT (Ctrl-C) and SIGTERM, caught from construction on: a signal that comes while fixgate is
    still starting (or just after its banner) must find this handler, not the default action."""

    def __init__(self) -> None:
        # Not a threading.Event: its set() in a handler deadlocks when a second signal comes inside
        # the first handler (book.signals).
        self._stop = SignalStop().install((signal.SIGINT, signal.SIGTERM))

    def wait(self) -> str:
        """Wait for one of the signals; the name of the first that came."""
        self._stop.wait()
        return self._stop.signals[0]


def wait_for_ctrl_c() -> str:
    """Wait for SIGINT (Ctrl-C) or SIGTERM; the name of the one that came."""
    return StopSignals().wait()


def version() -> str:
    """fixgate's installed version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("fixgate")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _serve(args: argparse.Namespace) -> int:
    from fixgate.preflight import check_gateway

    settings, generated = settings_from(args).with_api_token()
    lock_data_dir(settings.data_dir)  # first: a second fixgate on this folder stops here, touching nothing
    check_gateway(settings)  # then every config file, the ports and the database, before anything starts
    from fixgate.app import Fixgate  # after the lock: importing the app logs (alembic) and loads a lot

    stop = StopSignals()
    gateway = Fixgate(settings)
    gateway.start()
    rest_url = gateway.rest.url if gateway.rest else ""
    print(f"fixgate serving: FIX clients on port {gateway.settings.client_port}, REST on {rest_url}")
    if rest_url:
        print(f"operator dashboard: {rest_url}/ (sign in with an operator's or viewer's API token)")
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
        came = stop.wait()
        print(f"{came}: stopping (FIX sessions log out, the book writer catches up)", flush=True)
    finally:
        gateway.stop()
    print("fixgate stopped", flush=True)
    return 0


def _simulator(args: argparse.Namespace) -> int:
    from simulator.cli import main as simulator_main

    return simulator_main(args.rest)


def _demo(args: argparse.Namespace) -> int:
    from fixgate.preflight import check_demo_venues, check_gateway

    settings = settings_from(args)
    fresh = False
    if args.fresh:
        if settings.database_url:
            raise ConfigError("--fresh empties fixgate's data folder and its embedded database, but DATABASE_URL"
                              " names the book's database: drop and create that one instead (or unset DATABASE_URL)")
        fresh = check_emptiable(settings.data_dir)
    lock_data_dir(settings.data_dir)
    lock_data_dir(settings.data_dir / "simulator")  # the demo's venue: `fixgate simulator` locks it too
    check_gateway(settings)  # first: it names a missing config folder as such
    check_demo_venues(settings)  # simulator.toml runs every venue instruments.toml lists, on free ports
    if fresh:
        print(f"--fresh: deleting what earlier runs left in fixgate's data folder {settings.data_dir.resolve()}"
              " (the book, journal, FIX sequence numbers and logs, the simulator's record)", flush=True)
        empty_locked(settings.data_dir)
    from fixgate.demo import run_demo

    done = run_demo(settings, stay_up=not args.exit)
    print("fixgate demo stopped", flush=True)
    return done


def _order(args: argparse.Namespace) -> int:
    from fixgate import order

    settings = Settings.from_env()
    password = None
    if args.username is not None:
        password = os.environ.get("FIXGATE_FIX_PASSWORD")
        if password is None:
            import getpass

            password = getpass.getpass(f"FIX password of {args.username}: ") if sys.stdin.isatty() else \
                sys.stdin.readline().rstrip("\r\n")
    gateway = order.Gateway(args.host, args.port or settings.client_port, args.session, username=args.username,
                            password=password, wait=args.wait)
    try:
        if args.order_command in order.SIDES:
            price = None if args.price is None else order.parse_price(args.price)
            return order.send_order(gateway, args.order_command, order.parse_quantity(args.quantity), args.symbol,
                                    price, account=args.account, time_in_force=args.tif, cl_ord_id=args.cl_ord_id)
        if args.order_command == "cancel":
            return order.cancel_order(gateway, args.cl_ord_id, account=args.account)
        if args.order_command == "replace":
            quantity = None if args.qty is None else order.parse_quantity(args.qty)
            price = None if args.price is None else order.parse_price(args.price)
            return order.replace_order(gateway, args.cl_ord_id, quantity=quantity, price=price, account=args.account)
        return order.order_status(gateway, args.cl_ord_id, account=args.account)
    except order.OrderError as exc:
        raise ConfigError(str(exc)) from None


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
        from fixgate.preflight import check_database

        url = settings.database_url
        check_database(url)
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
    parser = argparse.ArgumentParser(prog="fixgate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"fixgate {version()}")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info", help="what to log (info)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (--log-level debug)")
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
    demo.add_argument("--fresh", action="store_true",
                      help="start from a clean book: first delete what earlier runs left in the data folder"
                      " (only a folder fixgate made; not with DATABASE_URL)")
    demo.set_defaults(func=_demo)

    _add_order_parser(sub)

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


def _add_order_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    order = sub.add_parser(
        "order", help="a small FIX trading client: buy, sell, cancel, replace or status of one order on a"
        " running fixgate, each answer on one line",
        description="Log on to a running fixgate's client port (with ResetSeqNumFlag), send one request, print"
        " every ExecutionReport or reject, log out. Exit status 0: taken; 1: refused (a rejected order, a cancel"
        " reject, an unknown order); 2: not sent (no gateway, logon refused, a bad argument).",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--session", default="CLIENT1",
                        help="log on as this client (SenderCompID, a [SESSION] of clients.cfg; CLIENT1)")
    common.add_argument("--account", help="the Account (1) to trade (default: the session's own)")
    common.add_argument("--host", default="127.0.0.1", help="the gateway's host (127.0.0.1)")
    common.add_argument("--port", type=int, help="the gateway's FIX client port (FIXGATE_CLIENT_PORT; 9876)")
    common.add_argument("--username", help="Username (553) of a session with credentials; the password from"
                        " FIXGATE_FIX_PASSWORD, else asked")
    common.add_argument("--wait", type=float, default=2.0,
                        help="seconds to wait for more reports after the last one (2)")
    order_sub = order.add_subparsers(dest="order_command", required=True)
    for side in ("buy", "sell"):
        new = order_sub.add_parser(side, parents=[common], help=f"{side} QTY SYMBOL [@PRICE]: a limit order with a"
                                   " price, else a market order")
        new.add_argument("quantity", help="order quantity, e.g. 100")
        new.add_argument("symbol", help="an instrument of instruments.toml, e.g. AAPL")
        new.add_argument("price", nargs="?", help="limit price, e.g. @190.02 (none: a market order)")
        new.add_argument("--tif", choices=("day", "gtc", "ioc", "fok"), default="day", help="time in force (day)")
        new.add_argument("--cl-ord-id", help="the order's ClOrdID (default: made up, printed)")
    cancel = order_sub.add_parser("cancel", parents=[common], help="cancel the order with this ClOrdID")
    cancel.add_argument("cl_ord_id", help="any ClOrdID the order has carried")
    replace = order_sub.add_parser("replace", parents=[common], help="change an order's quantity and/or price")
    replace.add_argument("cl_ord_id", help="any ClOrdID the order has carried")
    replace.add_argument("--qty", help="the new order quantity")
    replace.add_argument("--price", help="the new limit price")
    status = order_sub.add_parser("status", parents=[common], help="the order's status, from the gateway's book")
    status.add_argument("cl_ord_id", help="any ClOrdID the order has carried")
    order.set_defaults(func=_order)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Before any file is made: the stores, FIX logs and journal hold orders and fills, for the owner only.
    os.umask(PRIVATE_UMASK)
    if argv[:1] == ["simulator"]:
        # The simulator has its own command line (`fixgate simulator --help`); hand it over whole.
        from simulator.cli import main as simulator_main

        return simulator_main(argv[1:])
    args = build_parser().parse_args(argv)
    level = "debug" if args.verbose else args.log_level
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "debug":
        for chatty in _CHATTY:
            logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        return int(args.func(args))
    except (ConfigError, NotEmptied) as exc:
        print(f"fixgate: {exc}", file=sys.stderr)
        return 2
    except DataDirInUse as exc:
        print(f"fixgate: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
