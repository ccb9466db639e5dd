"""FIX over TLS: which sessions speak it, and how their QuickFIX settings are pointed at the terminator.

The pip build of QuickFIX 1.16 has no ``HAVE_SSL``, so TLS ends in a process of its own, the TLS
terminator (``gateway.tlsproxy``), which the gateway starts and supervises. A session asks for TLS in
its ``[SESSION]`` of the shipped ``.cfg`` files (QuickFIX ignores keys it does not know):

- a client session (``clients.cfg``) with ``TLSAcceptPort``: clients connect there over TLS; the
  terminator checks the peer's address (``TLSAllowedRemoteAddresses``, ``MaxConnectionsPerAddress``),
  completes the handshake (within ``ConnectionLogonTimeout``; a client certificate signed by
  ``TLSCACertificateFile`` when ``TLSVerifyPeer=Y``, the default; with ``TLSCompIDInCertificate=Y``
  its common name or a DNS name must be the SenderCompID of the client's first message) and only
  then opens a plain
  connection to the session's own internal acceptor port (its ``SocketAcceptPort`` is rewritten to
  it, so QuickFIX accepts that session there and nowhere else: a TLS session cannot log on in plain
  text on the client port; and its ``AllowedRemoteAddresses`` to 127.0.0.1, so not on the internal
  port from elsewhere either);
- a venue session (``venues.cfg``) with ``TLS=Y``: its ``SocketConnectHost``/``SocketConnectPort``
  become a local port of the terminator, which connects to the venue's real address over TLS
  (verifying the venue against ``TLSCACertificateFile``, or the system's CAs, and the name
  ``TLSServerName``, by default the host; ``TLSCertificateFile``/``TLSCertificateKeyFile`` present a
  client certificate).

This module reads those keys from the rendered ``.cfg`` file, rewrites it, and returns the routes
the terminator serves. It never imports quickfix: the rendered text is plain ``key=value`` sections.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from gateway.settings import SessionConfigError

_CLIENT_KEYS = ("TLSAcceptPort", "TLSAcceptHost", "TLSCertificateFile", "TLSCertificateKeyFile",
                "TLSCACertificateFile", "TLSVerifyPeer", "TLSAllowedRemoteAddresses", "TLSCompIDInCertificate")
_VENUE_KEYS = ("TLS", "TLSCertificateFile", "TLSCertificateKeyFile", "TLSCACertificateFile", "TLSVerifyPeer",
               "TLSServerName")
_LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class TlsRoute:
    """One port the terminator serves. ``accept``: TLS in on ``listen``, plain out to ``target`` (a
    client listener). ``connect``: plain in on a local ``listen`` port, TLS out to ``target`` (a venue)."""

    side: Literal["accept", "connect"]
    name: str  # what the logs call it: the sessions it carries
    listen_host: str
    listen_port: int
    target_host: str
    target_port: int
    certificate: str | None  # ours: the server's (accept), the client's if any (connect)
    key: str | None
    ca: str | None  # the peer is verified against it (connect: None means the system's CAs)
    verify_peer: bool
    server_name: str | None = None  # connect: the name the venue's certificate must carry
    allowed: tuple[str, ...] | None = None  # accept: the peer addresses let in (None: any)
    max_per_address: int = 10  # accept: connections at once from one peer address
    handshake_timeout: float = 5.0
    comp_id_in_certificate: bool = False  # accept: the client's certificate must name its SenderCompID

    def context(self) -> ssl.SSLContext:
        """The TLS context of this route (TLS 1.2 at least); ``SessionConfigError`` naming the file if a
        certificate, key or CA cannot be loaded."""
        server = self.side == "accept"
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            if self.certificate:
                ctx.load_cert_chain(self.certificate, self.key or None)
            if self.verify_peer:
                if self.ca:
                    ctx.load_verify_locations(cafile=self.ca)
                elif not server:
                    ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
        except (OSError, ssl.SSLError) as exc:
            raise SessionConfigError(f"TLS for {self.name}: cannot load {self.certificate}, {self.key} or "
                                     f"{self.ca}: {exc}") from None
        if server:
            ctx.verify_mode = ssl.CERT_REQUIRED if self.verify_peer else ssl.CERT_NONE
        else:
            ctx.check_hostname = self.verify_peer
            ctx.verify_mode = ssl.CERT_REQUIRED if self.verify_peer else ssl.CERT_NONE
        return ctx


@dataclass(frozen=True, slots=True)
class TlsPlan:
    """Every route of one gateway, and the internal acceptor ports clients reach through the terminator."""

    routes: tuple[TlsRoute, ...] = ()
    relayed_ports: frozenset[int] = field(default_factory=frozenset)

    def write(self, path: Path) -> None:
        """The terminator's config file (JSON; paths only, never a key's contents)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"routes": [asdict(r) for r in self.routes]}, indent=1))
        tmp.replace(path)


def load_routes(path: Path) -> tuple[TlsRoute, ...]:
    """The routes of a config file ``TlsPlan.write`` wrote."""
    raw = json.loads(path.read_text())
    routes = []
    for r in raw["routes"]:
        allowed = r.get("allowed")
        routes.append(TlsRoute(**{**r, "allowed": None if allowed is None else tuple(allowed)}))
    return tuple(routes)


def free_port() -> int:
    """A TCP port nobody listens on now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind(("", 0))
        return int(s.getsockname()[1])


def plan_tls(clients_cfg: Path, venues_cfg: Path, pick_port: Callable[[], int] = free_port) -> TlsPlan:
    """Read the TLS keys of the rendered ``clients.cfg`` and ``venues.cfg``, rewrite what must go
    through the terminator, and return its routes (none: the files are left as they are)."""
    client_routes, relayed = _route_clients(clients_cfg, pick_port)
    venue_routes = _route_venues(venues_cfg, pick_port)
    return TlsPlan(client_routes + venue_routes, frozenset(relayed))


# -- THE .cfg TEXT ----------------------------------------------------------------------------------

@dataclass(slots=True)
class _Section:
    name: str
    lines: list[str]

    def values(self) -> dict[str, str]:
        found = {}
        for line in self.lines[1:]:
            key, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith("#"):
                found[key.strip()] = value.strip()
        return found

    def set(self, key: str, value: object) -> None:
        """Replace ``key`` in this section (or add it): QuickFIX takes a session's own value over DEFAULT."""
        kept = [line for line in self.lines[1:] if line.partition("=")[0].strip() != key]
        self.lines = [self.lines[0], *kept, f"{key}={value}"]


def _sections(path: Path) -> list[_Section]:
    sections: list[_Section] = [_Section("", [])]
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            sections.append(_Section(stripped[1:-1].strip().upper(), [line]))
        else:
            sections[-1].lines.append(line)
    return sections


def _write(path: Path, sections: Sequence[_Section]) -> None:
    path.write_text("\n".join(line for s in sections for line in s.lines) + "\n")


def _sessions(sections: Sequence[_Section]) -> list[tuple[_Section, dict[str, str], str]]:
    """Each [SESSION] with its settings over [DEFAULT]'s, and its name (``BeginString:Sender->Target``)."""
    defaults: dict[str, str] = {}
    for s in sections:
        if s.name == "DEFAULT":
            defaults.update(s.values())
    found = []
    for s in sections:
        if s.name == "SESSION":
            merged = {**defaults, **s.values()}
            name = (f"{merged.get('BeginString', '?')}:{merged.get('SenderCompID', '?')}->"
                    f"{merged.get('TargetCompID', '?')}")
            found.append((s, merged, name))
    return found


def _known_keys(values: dict[str, str], known: tuple[str, ...], where: str) -> None:
    """A misspelt TLS key would leave a session in plain text without a word: refuse it."""
    unknown = sorted(k for k in values if k.upper().startswith("TLS") and k not in known)
    if unknown:
        raise SessionConfigError(f"{where}: unknown TLS setting {', '.join(unknown)} (known: {', '.join(known)})")


def _flag(values: dict[str, str], key: str, default: bool, where: str) -> bool:
    raw = values.get(key)
    if raw is None or raw == "":
        return default
    if raw.upper() in ("Y", "YES", "TRUE", "1"):
        return True
    if raw.upper() in ("N", "NO", "FALSE", "0"):
        return False
    raise SessionConfigError(f"{where}: {key}={raw!r}: expected Y or N")


def _port(values: dict[str, str], key: str, where: str) -> int:
    raw = values.get(key, "")
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SessionConfigError(f"{where}: {key}={raw!r}: expected a TCP port")
    return int(raw)


def _positive(values: dict[str, str], key: str, default: float, where: str) -> float:
    raw = values.get(key)
    try:
        value = default if raw is None else float(raw)
    except ValueError:
        raise SessionConfigError(f"{where}: {key}={raw!r}: expected a number") from None
    if value <= 0:
        raise SessionConfigError(f"{where}: {key}={raw!r} must be positive")
    return value


def _addresses(raw: str | None, key: str, where: str) -> tuple[str, ...] | None:
    if raw is None or raw.strip() == "":
        return None
    listed = tuple(a.strip() for a in raw.split(",") if a.strip())
    for address in listed:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise SessionConfigError(f"{where}: {key}: {address!r} is not an IP address") from None
    return listed


def _route_clients(path: Path, pick_port: Callable[[], int]) -> tuple[tuple[TlsRoute, ...], list[int]]:
    sections = _sections(path)
    by_port: dict[int, TlsRoute] = {}
    names: dict[int, list[str]] = {}
    backend: dict[int, int] = {}
    for section, values, name in _sessions(sections):
        where = f"{path.name} {name}"
        _known_keys(values, _CLIENT_KEYS, where)
        if "TLSAcceptPort" not in values:
            continue
        port = _port(values, "TLSAcceptPort", where)
        verify = _flag(values, "TLSVerifyPeer", True, where)
        for key in ("TLSCertificateFile", "TLSCertificateKeyFile") + (("TLSCACertificateFile",) if verify else ()):
            if not values.get(key):
                raise SessionConfigError(f"{where}: TLSAcceptPort needs {key}")
        comp_id_in_certificate = _flag(values, "TLSCompIDInCertificate", False, where)
        if comp_id_in_certificate and not verify:
            raise SessionConfigError(f"{where}: TLSCompIDInCertificate=Y needs TLSVerifyPeer=Y")
        route = TlsRoute(
            side="accept", name="", listen_host=values.get("TLSAcceptHost") or "0.0.0.0", listen_port=port,
            target_host=_LOOPBACK, target_port=0,
            certificate=values["TLSCertificateFile"], key=values["TLSCertificateKeyFile"],
            ca=values.get("TLSCACertificateFile") or None, verify_peer=verify,
            allowed=_addresses(values.get("TLSAllowedRemoteAddresses"), "TLSAllowedRemoteAddresses", where),
            max_per_address=int(_positive(values, "MaxConnectionsPerAddress", 10, where)),
            handshake_timeout=_positive(values, "ConnectionLogonTimeout", 5.0, where),
            comp_id_in_certificate=comp_id_in_certificate,
        )
        if port in by_port and by_port[port] != route:
            raise SessionConfigError(f"{where}: TLSAcceptPort {port} is shared with {names[port][0]} but its TLS "
                                     "settings differ (one listener, one certificate)")
        by_port[port] = route
        names.setdefault(port, []).append(name)
        # One internal port per listener: QuickFIX accepts a session only on its own SocketAcceptPort.
        if port not in backend:
            backend[port] = pick_port()
        section.set("SocketAcceptPort", backend[port])
        # QuickFIX checks a session's AllowedRemoteAddresses at its logon: the only peer a TLS session
        # may have is the terminator (the clients' addresses are TLSAllowedRemoteAddresses').
        section.set("AllowedRemoteAddresses", _LOOPBACK)
    if not by_port:
        return (), []
    _write(path, sections)
    routes = tuple(
        TlsRoute(**{**asdict(r), "name": ", ".join(names[p]), "target_port": backend[p]})
        for p, r in by_port.items()
    )
    return routes, list(backend.values())


def _route_venues(path: Path, pick_port: Callable[[], int]) -> tuple[TlsRoute, ...]:
    sections = _sections(path)
    routes = []
    for section, values, name in _sessions(sections):
        where = f"{path.name} {name}"
        _known_keys(values, _VENUE_KEYS, where)
        if not _flag(values, "TLS", False, where):
            continue
        host = values.get("SocketConnectHost", "")
        if not host:
            raise SessionConfigError(f"{where}: TLS=Y needs SocketConnectHost")
        port = _port(values, "SocketConnectPort", where)
        local = pick_port()
        routes.append(TlsRoute(
            side="connect", name=name, listen_host=_LOOPBACK, listen_port=local, target_host=host, target_port=port,
            certificate=values.get("TLSCertificateFile") or None, key=values.get("TLSCertificateKeyFile") or None,
            ca=values.get("TLSCACertificateFile") or None, verify_peer=_flag(values, "TLSVerifyPeer", True, where),
            server_name=values.get("TLSServerName") or host,
        ))
        section.set("SocketConnectHost", _LOOPBACK)
        section.set("SocketConnectPort", local)
    if routes:
        _write(path, sections)
    return tuple(routes)
