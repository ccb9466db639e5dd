"""How TLS sessions in the rendered .cfg files become the terminator's routes, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import SessionConfigError
from gateway.tls import load_routes, plan_tls

CLIENTS = """[DEFAULT]
ConnectionType=acceptor
SocketAcceptPort=9876
SenderCompID=FIXGATE
AllowedRemoteAddresses=10.0.0.5,127.0.0.1
MaxConnectionsPerAddress=4
ConnectionLogonTimeout=3

[SESSION]
BeginString=FIX.4.4
TargetCompID=PLAIN

[SESSION]
BeginString=FIX.4.4
TargetCompID=A
TLSAcceptPort=9877
TLSCertificateFile=/pki/server.pem
TLSCertificateKeyFile=/pki/server.key
TLSCACertificateFile=/pki/ca.pem

[SESSION]
BeginString=FIX.4.2
TargetCompID=B
TLSAcceptPort=9877
TLSCertificateFile=/pki/server.pem
TLSCertificateKeyFile=/pki/server.key
TLSCACertificateFile=/pki/ca.pem
"""

VENUES = """[DEFAULT]
ConnectionType=initiator
SenderCompID=FIXGATE

[SESSION]
BeginString=FIX.4.4
TargetCompID=SIM
SocketConnectHost=venue.example
SocketConnectPort=9443
TLS=Y
"""


def _files(tmp_path: Path, clients: str, venues: str = "[DEFAULT]\n") -> tuple[Path, Path]:
    (tmp_path / "clients.cfg").write_text(clients)
    (tmp_path / "venues.cfg").write_text(venues)
    return tmp_path / "clients.cfg", tmp_path / "venues.cfg"


def test_sessions_on_one_tls_port_share_a_listener_and_an_internal_port(tmp_path: Path) -> None:
    ports = iter([40001, 40002])
    clients, venues = _files(tmp_path, CLIENTS, VENUES)
    plan = plan_tls(clients, venues, pick_port=lambda: next(ports))
    [listener, venue] = plan.routes
    assert (listener.side, listener.listen_port, listener.target_port) == ("accept", 9877, 40001)
    assert listener.name == "FIX.4.4:FIXGATE->A, FIX.4.2:FIXGATE->B"
    assert (listener.max_per_address, listener.handshake_timeout, listener.verify_peer) == (4, 3.0, True)
    assert plan.relayed_ports == {40001}
    text = clients.read_text()
    assert text.count("SocketAcceptPort=40001") == 2 and "SocketAcceptPort=9876" in text  # PLAIN keeps it
    # A TLS session's only peer is the terminator, whatever [DEFAULT] lets in for plain sessions.
    assert text.splitlines().count("AllowedRemoteAddresses=127.0.0.1") == 2
    assert (venue.side, venue.target_host, venue.target_port, venue.listen_port) == (
        "connect", "venue.example", 9443, 40002)
    assert venue.server_name == "venue.example" and venue.ca is None and venue.verify_peer
    assert "SocketConnectHost=127.0.0.1" in venues.read_text() and "SocketConnectPort=40002" in venues.read_text()
    plan.write(tmp_path / "routes.json")
    assert load_routes(tmp_path / "routes.json") == plan.routes


def test_without_tls_the_files_are_left_alone(tmp_path: Path) -> None:
    plain = CLIENTS.split("[SESSION]\nBeginString=FIX.4.4\nTargetCompID=A")[0]
    clients, venues = _files(tmp_path, plain)
    assert plan_tls(clients, venues).routes == ()
    assert clients.read_text() == plain


@pytest.mark.parametrize(("old", "new", "message"), [
    ("TLSCACertificateFile=/pki/ca.pem\n", "", "TLSAcceptPort needs TLSCACertificateFile"),
    ("TLSCertificateFile=/pki/server.pem\n", "TLSCertificateFile=/pki/other.pem\n", "settings differ"),
    ("TLSAcceptPort=9877", "TLSAcceptPort=nine", "expected a TCP port"),
    ("TargetCompID=A\n", "TargetCompID=A\nTLSVerifyPeer=maybe\n", "expected Y or N"),
    ("TargetCompID=A\n", "TargetCompID=A\nTLSAllowedRemoteAddresses=10.0.0.300\n", "not an IP address"),
    ("TLSCACertificateFile=", "TLSCACertificatFile=", "unknown TLS setting TLSCACertificatFile"),
    ("TargetCompID=A\n", "TargetCompID=A\nTLSCompIDInCertificate=Y\nTLSVerifyPeer=N\n", "needs TLSVerifyPeer=Y"),
])
def test_a_tls_session_that_cannot_work_is_refused_naming_it(tmp_path: Path, old: str, new: str, message: str) -> None:
    before, session_a = CLIENTS.split("[SESSION]\nBeginString=FIX.4.4\nTargetCompID=A\n")
    session_a = "TargetCompID=A\n" + session_a
    clients, venues = _files(tmp_path, before + "[SESSION]\nBeginString=FIX.4.4\n" + session_a.replace(old, new, 1))
    with pytest.raises(SessionConfigError, match=message) as refused:
        plan_tls(clients, venues, pick_port=lambda: 40001)
    assert "FIXGATE->A" in str(refused.value)


def test_a_tls_venue_needs_its_address(tmp_path: Path) -> None:
    clients, venues = _files(tmp_path, "[DEFAULT]\n", VENUES.replace("SocketConnectHost=venue.example\n", ""))
    with pytest.raises(SessionConfigError, match="FIXGATE->SIM: TLS=Y needs SocketConnectHost"):
        plan_tls(clients, venues)
