"""FIX over TLS, both sides, through fixgate's TLS terminator; certificates made here for each test.

Client side: a TLS session (TLSCLIENT, ``TLSAcceptPort`` in clients.cfg) trades through fixgate;
with verification on, a certificate of another authority or an expired one is refused at the
handshake; plain text on the TLS port is refused at once and never reaches QuickFIX; the session
cannot log on in plain text. Venue side: the simulator behind a TLS listener (the same terminator,
run as its own process), fixgate's SIM session with ``TLS=Y`` trades with it.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.procs import one_venue_config
from fixgate.app import Fixgate
from fixgate.config import Settings
from fixgate.devcerts import Authority, CertFiles
from fixgate.fixclient import FixClient, FixSessionError
from gateway.tls import TlsPlan, TlsRoute
from simulator.venue import Simulator
from tests.acceptance.conftest import API_TOKEN
from tests.support import eventually, free_port, order_fields

pytestmark = pytest.mark.timeout(120)


class Pki:
    """One authority the gateway trusts, one it does not, and the certificates the tests present."""

    def __init__(self, folder: Path) -> None:
        self.trusted = Authority(folder / "trusted", "trusted")
        self.other = Authority(folder / "other", "other")
        self.server = self.trusted.issue("fixgate", server=True)
        self.client = self.trusted.issue("TLSCLIENT")
        self.expired = self.trusted.issue("TLSCLIENT", expired=True)
        self.stranger = self.other.issue("TLSCLIENT")

    def client_context(self, cert: CertFiles | None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.trusted.ca))
        if cert is not None:
            ctx.load_cert_chain(cert.cert, cert.key)
        return ctx


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path / "pki")


def _config_dir(tmp_path: Path, pki: Pki, tls_port: int, guard: str = "", comp_id_in_certificate: bool = True) -> Path:
    """The shipped config with a TLS client session (and ``guard``: the client port's [DEFAULT] guard
    settings instead of the shipped ones)."""
    config = tmp_path / "config"
    one_venue_config(config)
    clients = config / "fix_sessions" / "clients.cfg"
    text = clients.read_text()
    if guard:
        text = text.replace("ConnectionLogonTimeout=5\nMaxConnectionsPerAddress=10\n", guard)
    clients.write_text(text + f"""
[SESSION]
BeginString=FIX.4.4
TargetCompID=TLSCLIENT
DataDictionary=${{SPEC_DIR}}/FIX44.xml
Accounts=CLIENT1
TLSAcceptPort={tls_port}
TLSAcceptHost=127.0.0.1
TLSCertificateFile={pki.server.cert}
TLSCertificateKeyFile={pki.server.key}
TLSCACertificateFile={pki.trusted.ca}
TLSVerifyPeer=Y
TLSCompIDInCertificate={"Y" if comp_id_in_certificate else "N"}
""")
    return config


def _start(tmp_path: Path, database_url: str, config: Path, sim_port: int) -> Fixgate:
    app = Fixgate(Settings(
        config_dir=config, data_dir=tmp_path / "gw", client_port=free_port(), sim_port=sim_port,
        rest_port=free_port(), database_url=database_url, api_token=API_TOKEN, bus=False,
    ))
    app.start()
    return app


@pytest.fixture
def tls_port() -> int:
    return free_port()


@pytest.fixture
def tls_gateway(tmp_path: Path, database_url: str, simulator: Simulator, pki: Pki, tls_port: int) -> Iterator[Fixgate]:
    app = _start(tmp_path, database_url, _config_dir(tmp_path, pki, tls_port), simulator.port)
    try:
        assert app.wait_for_venues({"SIM"}), "the gateway's SIM venue session did not log on"
        yield app
    finally:
        app.stop()


def _tls_client(port: int, ctx: ssl.SSLContext) -> FixClient:
    return FixClient.connect("127.0.0.1", port, sender_comp_id="TLSCLIENT", target_comp_id="FIXGATE", tls=ctx)


def _trade(client: FixClient, cl_ord_id: str) -> str:
    """Logon, a marketable limit order, and its fill; fixgate's OrderID."""
    client.logon()
    client.send("D", order_fields(cl_ord_id, 100, "190.05", t1="CLIENT1"))
    assert client.expect("8", where={11: cl_ord_id, 150: "0"})[39] == "0"
    fill = client.expect("8", where={11: cl_ord_id, 39: "2"}, timeout=10)
    assert fill.decimal(14) == 100
    return fill[37]


def test_a_tls_client_trades_through_fixgate(tls_gateway: Fixgate, pki: Pki, tls_port: int, simulator: Simulator) -> None:
    with _tls_client(tls_port, pki.client_context(pki.client)) as client:
        order_id = _trade(client, "tls-1")
        client.logout()
    assert tls_gateway.health_parts()["tls_terminator"].state == "ok"
    assert simulator.record.saw(f"FG{order_id}"), "the TLS client's order did not reach the venue"
    # It came in over TLS, with the client's certificate (the terminator names its subject).
    log = (tls_gateway.settings.data_dir / "logs" / "tls-terminator.log").read_text()
    assert "127.0.0.1 (CN=TLSCLIENT) relayed to port" in log


@pytest.mark.parametrize(("which", "reason"), [
    ("stranger", "certificate refused: unable to get local issuer certificate"),
    ("expired", "certificate refused: certificate has expired"),
    ("none", "peer did not return a certificate"),
])
def test_a_client_certificate_the_gateway_does_not_trust_is_refused(
    tls_gateway: Fixgate, pki: Pki, tls_port: int, which: str, reason: str,
) -> None:
    cert = {"stranger": pki.stranger, "expired": pki.expired, "none": None}[which]
    with pytest.raises((ssl.SSLError, ConnectionError, FixSessionError, OSError)):
        # TLS 1.3 ends the client's handshake before the server has checked its certificate: the
        # refusal (an alert, then the end) arrives at the first read.
        client = _tls_client(tls_port, pki.client_context(cert))
        try:
            client.logon(timeout=5)
        finally:
            client.close()
    _refused_before_quickfix(tls_gateway, reason)


def test_a_certificate_for_another_comp_id_cannot_log_on_as_the_session(
    tls_gateway: Fixgate, pki: Pki, tls_port: int,
) -> None:
    someone_else = pki.trusted.issue("CLIENT9")  # trusted, but not TLSCLIENT's
    client = _tls_client(tls_port, pki.client_context(someone_else))
    with client, pytest.raises((FixSessionError, ConnectionError, OSError)):
        client.logon(timeout=5)
    log = tls_gateway.settings.data_dir / "logs" / "tls-terminator.log"
    eventually(log.read_text, lambda text: "its first message's SenderCompID is 'TLSCLIENT', its certificate"
                                           " names ['CLIENT9']" in text)
    assert "relayed" not in log.read_text()
    quickfix = tls_gateway.settings.data_dir / "log" / "clients"
    assert "Accepted connection" not in (quickfix / "GLOBAL.event.current.log").read_text()


def test_plain_text_on_the_tls_port_is_refused_at_once(tls_gateway: Fixgate, tls_port: int) -> None:
    logon = (b"8=FIX.4.4\x019=70\x0135=A\x0134=1\x0149=TLSCLIENT\x0152=20260101-00:00:00.000\x01"
             b"56=FIXGATE\x0198=0\x01108=30\x0110=000\x01")
    with socket.create_connection(("127.0.0.1", tls_port), timeout=5) as sock:
        sock.sendall(logon)
        sock.settimeout(5)
        started = time.monotonic()
        answer = b""
        while chunk := sock.recv(4096):  # a TLS alert at most, then the end: no FIX, no hang
            answer += chunk
        assert time.monotonic() - started < 5
    assert b"8=FIX" not in answer
    _refused_before_quickfix(tls_gateway, "wrong version number")


def test_a_tls_session_cannot_log_on_in_plain_text(tls_gateway: Fixgate) -> None:
    client = FixClient.connect("127.0.0.1", tls_gateway.settings.client_port, sender_comp_id="TLSCLIENT",
                               target_comp_id="FIXGATE")
    with client, pytest.raises((FixSessionError, ConnectionError, OSError, TimeoutError)):
        client.logon(timeout=3)


def _non_loopback_address() -> str | None:
    """This machine's address on its default route (no packet is sent), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def test_a_tls_session_cannot_log_on_on_its_internal_port_from_elsewhere(
    tmp_path: Path, database_url: str, simulator: Simulator, pki: Pki, tls_port: int,
) -> None:
    """Even with plain sessions open to every address, a TLS session's only peer is the terminator."""
    address = _non_loopback_address()
    if address is None:
        pytest.skip("no address but loopback on this machine")
    config = _config_dir(tmp_path, pki, tls_port)
    clients = config / "fix_sessions" / "clients.cfg"
    clients.write_text(clients.read_text().replace("AllowedRemoteAddresses=127.0.0.1\n", ""))
    app = _start(tmp_path, database_url, config, simulator.port)
    try:
        assert app.gateway is not None
        [internal] = app.gateway.tls.relayed_ports

        def from_elsewhere(port: int, comp_id: str) -> FixClient:
            sock = socket.create_connection((address, port), timeout=5, source_address=(address, 0))
            return FixClient(sock, sender_comp_id=comp_id, target_comp_id="FIXGATE")

        with from_elsewhere(app.settings.client_port, "CLIENT1") as plain:  # open to all, as configured
            plain.logon()
        bypass = from_elsewhere(internal, "TLSCLIENT")
        with bypass, pytest.raises((FixSessionError, ConnectionError, OSError)):
            bypass.logon(timeout=5)
        events = app.settings.data_dir / "log" / "clients" / "FIX.4.4-FIXGATE-TLSCLIENT.event.current.log"
        assert "Responding to logon request" not in events.read_text()
    finally:
        app.stop()


def test_the_cap_per_address_and_the_handshake_timeout_hold_behind_the_terminator(
    tmp_path: Path, database_url: str, simulator: Simulator, pki: Pki, tls_port: int,
) -> None:
    guard = "ConnectionLogonTimeout=3\nMaxConnectionsPerAddress=2\n"
    # Without the CompID check, which would end a client that never logs on in the terminator: here
    # the gateway's own guard must end it.
    config = _config_dir(tmp_path, pki, tls_port, guard, comp_id_in_certificate=False)
    app = _start(tmp_path, database_url, config, simulator.port)
    log = app.settings.data_dir / "logs" / "tls-terminator.log"
    try:
        assert app.gateway is not None
        guard_of_the_plain_port = app.gateway.connection_guard
        # QuickFIX sees three connections from 127.0.0.1 (one through the terminator), over its cap
        # of 2: the relayed one is the terminator's to count, by its real address.
        with contextlib.ExitStack() as stack:
            stack.enter_context(_tls_client(tls_port, pki.client_context(pki.client))).logon()
            plain = [stack.enter_context(FixClient.connect("127.0.0.1", app.settings.client_port,
                                                           sender_comp_id=comp_id, target_comp_id="FIXGATE"))
                     for comp_id in ("CLIENT1", "CLIENT2")]
            for client in plain:
                client.logon()
            time.sleep(1)  # five passes of the guard
            assert guard_of_the_plain_port.closed_for_cap == 0
            assert all(client.connected for client in plain)
        eventually(log.read_text, lambda text: "127.0.0.1 disconnected" in text)

        silent = [socket.create_connection(("127.0.0.1", tls_port), timeout=10) for _ in range(2)]
        with socket.create_connection(("127.0.0.1", tls_port), timeout=10) as third:
            assert third.recv(1) == b"", "a third connection from one address was let in"
        for sock in silent:  # no handshake within ConnectionLogonTimeout: closed
            with sock:
                assert sock.recv(1) == b""
        # (asyncio closes the connection before the terminator logs why: the log may come a moment later)
        eventually(log.read_text, lambda text: "over 2 connections from that address" in text
                   and text.count("no handshake in time") == 2)

        # A handshake, then no logon: the gateway's guard closes the relayed connection, and the
        # terminator the client's.
        with _tls_client(tls_port, pki.client_context(pki.client)) as client:
            assert client.wait_closed(10), "a TLS client that never logged on was left connected"
        # The guard counts the close after shutting the socket: the client may see it first.
        eventually(lambda: guard_of_the_plain_port.closed_for_timeout, lambda closed: closed == 1)
    finally:
        app.stop()


def test_the_terminator_restarts_and_the_client_reconnects(tls_gateway: Fixgate, pki: Pki, tls_port: int) -> None:
    assert tls_gateway.supervisor is not None
    child = tls_gateway.supervisor.children["tls-terminator"]
    first = child.pid
    with _tls_client(tls_port, pki.client_context(pki.client)) as client:
        _trade(client, "tls-before")
        assert child.process is not None
        child.process.kill()
        child.process.wait()
        # Restarted 0.2 s after its end at the earliest: /health says so meanwhile.
        assert tls_gateway.health_parts()["tls_terminator"].state.startswith("down")
        assert client.wait_closed(10), "the client's connection outlived its terminator"
    eventually(lambda: child.pid if child.running else None, lambda pid: pid is not None and pid != first)
    assert tls_gateway.health_parts()["tls_terminator"].state == "ok"
    deadline = time.monotonic() + 10
    while True:  # the restarted terminator binds its port again within a second
        try:
            client = _tls_client(tls_port, pki.client_context(pki.client))
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    with client:
        client.next_seq_out = 1
        client.logon(reset_seq_num=True)
        client.send("D", order_fields("tls-after", 100, "190.05", t1="CLIENT1"))
        assert client.expect("8", where={11: "tls-after", 39: "2"}, timeout=10).decimal(14) == 100


def _refused_before_quickfix(app: Fixgate, reason: str) -> None:
    """The terminator refused the handshake for ``reason``, and QuickFIX never saw a connection (its
    acceptor logs each one it accepts) nor a logon of the TLS session."""
    logs = app.settings.data_dir / "logs" / "tls-terminator.log"
    eventually(logs.read_text, lambda text: "TLS handshake with 127.0.0.1 failed: " in text and reason in text)
    assert "relayed" not in logs.read_text()
    quickfix = app.settings.data_dir / "log" / "clients"
    assert "Accepted connection" not in (quickfix / "GLOBAL.event.current.log").read_text()
    assert "logon" not in (quickfix / "FIX.4.4-FIXGATE-TLSCLIENT.event.current.log").read_text()


# -- THE VENUE OVER TLS --------------------------------------------------------------------------------

@pytest.fixture
def tls_simulator(tmp_path: Path, simulator: Simulator, pki: Pki) -> Iterator[int]:
    """The simulator behind a TLS listener that wants fixgate's client certificate: its TLS port."""
    port = free_port()
    venue_side = pki.trusted.issue("SIM", server=True)
    plan = TlsPlan((TlsRoute(
        side="accept", name="SIM venue", listen_host="127.0.0.1", listen_port=port, target_host="127.0.0.1",
        target_port=simulator.port, certificate=str(venue_side.cert), key=str(venue_side.key),
        ca=str(pki.trusted.ca), verify_peer=True,
    ),))
    config, ready = tmp_path / "venue-tls" / "routes.json", tmp_path / "venue-tls" / "ready"
    plan.write(config)
    with (tmp_path / "venue-tls.log").open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "gateway.tlsproxy", "--config", str(config),
                                    "--ready", str(ready)], stdout=out, stderr=subprocess.STDOUT)
    try:
        eventually(ready.exists, bool)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def _venue_lines(pki: Pki, port: int, cert: CertFiles) -> str:
    return f"""TLS=Y
TLSCACertificateFile={pki.trusted.ca}
TLSCertificateFile={cert.cert}
TLSCertificateKeyFile={cert.key}
TLSServerName=localhost
"""


def _with_venue_tls(config: Path, lines: str, port: int) -> None:
    """SIM's [SESSION] in venues.cfg: connect to ``port`` over TLS."""
    venues = config / "fix_sessions" / "venues.cfg"
    text = venues.read_text().replace("SocketConnectPort=${SIM_PORT}", f"SocketConnectPort={port}\n{lines}")
    assert text != venues.read_text()
    venues.write_text(text)


def test_fixgate_trades_with_a_venue_over_tls(
    tmp_path: Path, database_url: str, simulator: Simulator, tls_simulator: int, pki: Pki, tls_port: int,
) -> None:
    config = _config_dir(tmp_path, pki, tls_port)
    _with_venue_tls(config, _venue_lines(pki, tls_simulator, pki.trusted.issue("FIXGATE")), tls_simulator)
    app = _start(tmp_path, database_url, config, simulator.port)
    try:
        assert app.wait_for_venues({"SIM"}), "SIM did not log on over TLS"
        with FixClient.connect("127.0.0.1", app.settings.client_port, sender_comp_id="CLIENT1",
                               target_comp_id="FIXGATE") as client:
            client.logon()
            client.send("D", order_fields("venue-tls-1", 100, "190.05"))
            assert client.expect("8", where={11: "venue-tls-1", 39: "2"}, timeout=10).decimal(14) == 100
            client.logout()
        log = (tmp_path / "venue-tls.log").read_text()
        assert "relayed to port" in log and "CN=FIXGATE" in log
    finally:
        app.stop()


def test_a_venue_certificate_of_another_authority_is_refused(
    tmp_path: Path, database_url: str, simulator: Simulator, tls_simulator: int, pki: Pki, tls_port: int,
) -> None:
    config = _config_dir(tmp_path, pki, tls_port)
    lines = _venue_lines(pki, tls_simulator, pki.trusted.issue("FIXGATE")).replace(
        str(pki.trusted.ca), str(pki.other.ca))
    _with_venue_tls(config, lines, tls_simulator)
    app = _start(tmp_path, database_url, config, simulator.port)
    try:
        assert not app.wait_for_venues({"SIM"}, timeout=3), "SIM logged on with a certificate fixgate does not trust"
        log = (app.settings.data_dir / "logs" / "tls-terminator.log").read_text()
        assert "certificate refused" in log
    finally:
        app.stop()
