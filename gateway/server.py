"""The gateway's two QuickFIX engines: the client acceptor and the venue initiator."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import quickfix as fix

from gateway.clients import ClientApplication
from gateway.connections import ConnectionGuard
from gateway.credentials import CredentialsError, LogonCredentials, credentials_from
from gateway.dispatch import Dispatcher
from gateway.dropcopy import drop_copies
from gateway.latency import HopMetrics
from gateway.sessions import FixSessions
from gateway.settings import SessionConfigError, render, session_key
from gateway.tls import plan_tls
from gateway.venues import VenueApplication
from oms.manager import OrderManager
from oms.router import Router
from risk import PreTradeRisk

log = logging.getLogger(__name__)


class FixGateway:
    """Client sessions in, venue sessions out; one thread per connection (QuickFIX threaded engines)."""

    def __init__(
        self,
        oms: OrderManager,
        router: Router,
        *,
        risk: PreTradeRisk,
        sessions_dir: Path,
        data_dir: Path,
        client_port: int,
        sim_host: str,
        sim_port: int,
        sim2_port: int | None = None,
        message_log: bool = True,
        hops: HopMetrics | None = None,
    ) -> None:
        variables = session_variables(data_dir, client_port, sim_host, sim_port, sim2_port)
        rendered = data_dir / "fix_sessions"
        self.hops = HopMetrics() if hops is None else hops
        self.dispatcher = Dispatcher(oms)
        #: Every FIX session's state, client and venue (``GET /sessions``); QuickFIX's callbacks feed it.
        self.sessions = FixSessions()
        self.venues = VenueApplication(oms, router, self.dispatcher.carry_out, hops=self.hops,
                                       venue_lag=risk.venue_report, states=self.sessions,
                                       turns=self.dispatcher.turns)
        self.clients = ClientApplication(oms, self.dispatcher.carry_out, self.hops, states=self.sessions,
                                         turns=self.dispatcher.turns)
        self.dispatcher.bind(self.clients, self.venues)
        venue_settings = render(sessions_dir / "venues.cfg", rendered, variables)
        client_settings = render(sessions_dir / "clients.cfg", rendered, variables)
        # Sessions over TLS go through the terminator: their rendered files are pointed at it.
        self.tls = plan_tls(rendered / "clients.cfg", rendered / "venues.cfg")
        if self.tls.routes:
            venue_settings = fix.SessionSettings(str(rendered / "venues.cfg"))
            client_settings = fix.SessionSettings(str(rendered / "clients.cfg"))
        self._initiator, self._venue_parts = _engine(
            fix.ThreadedSocketInitiator, self.venues, venue_settings, message_log,
        )
        self._acceptor, self._client_parts = _engine(
            fix.ThreadedSocketAcceptor, self.clients, client_settings, message_log,
        )

        self.clients.cancel_on_disconnect = _flagged_sessions(self._client_parts[-1], "CancelOnDisconnect")
        self.clients.entitlements = _entitlements(self._client_parts[-1])
        self.clients.credentials = _credentials(self._client_parts[-1])
        self.clients.drop_copies = drop_copies(self._client_parts[-1])
        self.connection_guard = _connection_guard(self._client_parts[-1], client_port, self.tls.relayed_ports,
                                                  self.clients.send_blocked_since)

    def start(self) -> None:
        """Connect to the venues and open the client port (both return at once; engines run on threads)."""
        self._initiator.start()
        self._acceptor.start()
        self.connection_guard.start()
        log.info("FIX engines started")

    def stop(self) -> None:
        """Log out and stop; ``force`` so a dead counterparty cannot hold shutdown for 10 s."""
        if self._acceptor is None:
            return
        self.sessions.engines_stopping()  # no reader may be inside a session the engines free
        self.connection_guard.stop()
        self._acceptor.stop(True)
        self.clients.join_sweeps()  # the clients' cancels on disconnect reach the venues first
        self._initiator.stop(True)
        # QuickFIX registers sessions process-wide by SessionID until the engine is destroyed: drop
        # the engines (before the settings and factories they point to) so that a later gateway in
        # this process gets sessions of its own, not these stopped ones.
        self._acceptor = self._initiator = None
        self._client_parts = self._venue_parts = ()

def _engine(
    kind: Any, app: fix.Application, settings: fix.SessionSettings, message_log: bool
) -> tuple[Any, tuple[Any, ...]]:
    """Build a QuickFIX engine with file stores and (unless ``message_log`` is off) file logs. The
    engine holds raw pointers to the settings and factories, so the caller must keep the returned
    parts alive as long as the engine."""
    store = fix.FileStoreFactory(settings)
    if not message_log:
        return kind(app, store, settings), (store, settings)
    logs = fix.FileLogFactory(settings)
    return kind(app, store, settings, logs), (store, logs, settings)


def _flagged_sessions(settings: fix.SessionSettings, key: str) -> frozenset[str]:
    """The sessions whose settings say ``key=Y`` (fixgate's own per-session switches)."""
    flagged = set()
    for session_id in settings.getSessions():
        values = settings.get(session_id)
        if values.has(key) and values.getBool(key):
            flagged.add(session_key(session_id))
    return frozenset(flagged)


def _entitlements(settings: fix.SessionSettings) -> dict[str, frozenset[str] | None]:
    """Per client session, the accounts it may trade: ``Accounts=`` (comma-separated; ``*`` for any
    account), by default its own CompID only."""
    entitled: dict[str, frozenset[str] | None] = {}
    for session_id in settings.getSessions():
        values = settings.get(session_id)
        own = session_id.getTargetCompID().getValue()
        listed = values.getString("Accounts") if values.has("Accounts") else own
        accounts = frozenset(a.strip() for a in listed.split(",") if a.strip())
        entitled[session_key(session_id)] = None if "*" in accounts else accounts
    return entitled


_CREDENTIAL_KEYS = ("Username", "PasswordHash", "PasswordHashFile", "PasswordHashEnv")


def _credentials(settings: fix.SessionSettings) -> dict[str, LogonCredentials]:
    """Per client session with a ``Username``, the credentials its Logon must carry. FIX 4.2 has no
    Username (553) or Password (554) in its Logon, so credentials on a 4.2 session are refused."""
    found: dict[str, LogonCredentials] = {}
    for session_id in settings.getSessions():
        values = settings.get(session_id)
        key = session_key(session_id)
        given = {k: values.getString(k) for k in _CREDENTIAL_KEYS if values.has(k)}
        try:
            credentials = credentials_from(given, key)
        except CredentialsError as exc:
            raise SessionConfigError(str(exc)) from None
        if credentials is None:
            continue
        if session_id.getBeginString().getValue() == "FIX.4.2":
            raise SessionConfigError(f"{key}: FIX 4.2 Logon has no Username (553) or Password (554)")
        found[key] = credentials
    return found


def _connection_guard(settings: fix.SessionSettings, port: int, relayed_ports: frozenset[int] = frozenset(),
                      send_blocked_since: Callable[[], float | None] = lambda: None) -> ConnectionGuard:
    """The guard of the client port, from the acceptor's [DEFAULT]: ``ConnectionLogonTimeout``
    (seconds a connection may take to log on; 5), ``MaxConnectionsPerAddress`` (10),
    ``SendStallTimeout`` (seconds a client may leave fixgate's reports unread; 5) and
    ``SendBlockTimeout`` (the same while a send to it holds up a thread of fixgate's; 1)."""
    defaults = settings.get()
    try:
        has = defaults.has
        timeout = defaults.getDouble("ConnectionLogonTimeout") if has("ConnectionLogonTimeout") else 5.0
        cap = defaults.getInt("MaxConnectionsPerAddress") if has("MaxConnectionsPerAddress") else 10
        stall = defaults.getDouble("SendStallTimeout") if has("SendStallTimeout") else 5.0
        block = defaults.getDouble("SendBlockTimeout") if has("SendBlockTimeout") else 1.0
    except fix.ConfigError as exc:
        raise SessionConfigError(f"clients.cfg [DEFAULT]: {exc}") from None
    values = {"ConnectionLogonTimeout": timeout, "MaxConnectionsPerAddress": cap, "SendStallTimeout": stall,
              "SendBlockTimeout": block}
    wrong = [f"{name} = {value:g}" for name, value in values.items() if value <= 0]
    if wrong:
        raise SessionConfigError(f"clients.cfg [DEFAULT]: {', '.join(wrong)}: must be positive")
    return ConnectionGuard(port, logon_timeout=timeout, max_per_address=cap, send_stall_timeout=stall,
                           relayed_ports=relayed_ports, send_blocked_since=send_blocked_since,
                           send_block_timeout=block)


def session_variables(data_dir: Path, client_port: int, sim_host: str, sim_port: int,
                      sim2_port: int | None = None) -> dict[str, object]:
    """The ``${NAME}`` values the session templates are rendered with (besides SPEC_DIR); SIM2_PORT is
    the SIM port + 1 unless given."""
    return {"DATA_DIR": data_dir, "CLIENT_PORT": client_port, "SIM_HOST": sim_host, "SIM_PORT": sim_port,
            "SIM2_PORT": sim_port + 1 if sim2_port is None else sim2_port}


class _Inert(fix.Application):  # type: ignore[misc]
    """An application for engines that are made to be checked, never started."""

    def onCreate(self, session_id: fix.SessionID) -> None: ...
    def onLogon(self, session_id: fix.SessionID) -> None: ...
    def onLogout(self, session_id: fix.SessionID) -> None: ...
    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None: ...
    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None: ...
    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None: ...
    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None: ...


def check_sessions(sessions_dir: Path, variables: dict[str, object]) -> set[str]:
    """What ``FixGateway`` would refuse in ``venues.cfg`` and ``clients.cfg``, found before anything
    starts: each template is rendered into a temporary folder and an engine is made of it with memory
    stores and no log (QuickFIX checks every session's settings and loads its data dictionary when it
    makes the engine; nothing is bound or connected), then dropped, so its sessions are free again for
    the real engines. Raises ``SessionConfigError`` naming the file; returns the venues (TargetCompIDs
    of venues.cfg)."""
    app = _Inert()
    venues: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="fixgate-check-") as out:
        for name, kind in (("venues.cfg", fix.SocketInitiator), ("clients.cfg", fix.SocketAcceptor)):
            template = sessions_dir / name
            try:
                settings = render(template, Path(out), variables)
            except OSError as exc:
                raise SessionConfigError(f"{template}: {exc.strerror or exc}") from None
            except fix.ConfigError as exc:  # QuickFIX's own parse of the file
                raise SessionConfigError(f"{template}: {exc}") from None
            # The engine keeps raw pointers to the factory and the settings (its sessions give their
            # stores back to the factory when destroyed): both outlive it.
            stores = fix.MemoryStoreFactory()
            try:
                engine = kind(app, stores, settings)
            except (fix.ConfigError, fix.RuntimeError) as exc:
                raise SessionConfigError(f"{template}: {exc}") from None
            # Dropped before the next is made, and before the gateway makes its own: QuickFIX keeps a
            # session registered under its SessionID until the engine that made it is destroyed.
            del engine
            del stores
            if name == "venues.cfg":
                venues = {sid.getTargetCompID().getValue() for sid in settings.getSessions()}
                continue
            try:
                _credentials(settings)
            except SessionConfigError as exc:
                raise SessionConfigError(f"{template}: {exc}") from None
            _entitlements(settings)
            try:
                _connection_guard(settings, 0)
            except SessionConfigError as exc:  # its message names "clients.cfg [DEFAULT]"
                raise SessionConfigError(f"{template}: {str(exc).removeprefix('clients.cfg ')}") from None
    return venues
