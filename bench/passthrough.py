"""A bare QuickFIX-Python pass-through: the floor of what Python on QuickFIX can do on this machine.

One process, two QuickFIX engines, as fixgate has: a ``ThreadedSocketAcceptor`` for the load client
(``BENCH`` -> ``PASS``) and a ``ThreadedSocketInitiator`` to the simulator (``PASS`` -> ``SIM``; the
gateway's own session there is ``FIXGATE``, so both can run against one simulator). Each
NewOrderSingle from the client goes to the venue with the same ClOrdID, each ExecutionReport from the
venue goes back to the one client session. Fields are read with integer tags and the outgoing message
is built from one body string and parsed once, the way fixgate builds its own (``gateway/translate.py``).
No risk, no OMS, no book, no journal: what is left is QuickFIX's parse, validation, store and send,
and the SWIG crossings both ways.

Session settings mirror fixgate's (``config/fix_sessions``): FileStore with PersistMessages, the
FIX 4.4 data dictionary with fixgate's strict validation on the client side and its lenient one on
the venue side, no message logs (the benchmark runs fixgate with ``--no-fix-message-log``). They are
rendered into ``--data-dir``.

Run as ``python -m bench.passthrough --listen PORT --venue-port PORT --data-dir DIR``. The client
port opens only once the venue session is logged on, so "port open" means "ready". SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import quickfix as fix

COMP_ID = "PASS"
"""This process's CompID on both sides: the load client's TargetCompID and the venue's TargetCompID."""
CLIENT_COMP_ID = "BENCH"
VENUE_COMP_ID = "SIM"
BEGIN_STRING = "FIX.4.4"

ORDER_TAGS = (11, 1, 21, 55, 54, 60, 38, 40, 44, 59)
"""NewOrderSingle fields copied to the venue when set: ClOrdID, Account, HandlInst, Symbol, Side,
TransactTime, OrderQty, OrdType, Price, TimeInForce."""
REPORT_TAGS = (37, 11, 41, 17, 150, 39, 1, 55, 54, 38, 40, 44, 32, 31, 14, 151, 6, 60, 58)
"""ExecutionReport fields copied to the client when set: the ones fixgate's own client report carries
(the load client reads only ClOrdID, OrdStatus and Text, but a real report needs the rest)."""


def copy_fields(message: fix.FieldMap, tags: tuple[int, ...]) -> str:
    """The ``tag=value<SOH>`` body text of the fields of ``tags`` that ``message`` has, in that order."""
    parts = []
    for tag in tags:
        if message.isSetField(tag):
            parts.append(f"{tag}={message.getField(tag)}\x01")
    return "".join(parts)


def build(msg_type: str, body: str) -> fix.Message:
    """A message from its body; the session fills in the header, BodyLength and CheckSum at send."""
    return fix.Message(f"8={BEGIN_STRING}\x019=0\x0135={msg_type}\x01{body}10=000\x01", False)


def _owned(session_id: fix.SessionID) -> fix.SessionID:
    # The SessionID handed to a callback belongs to the engine.
    return fix.SessionID(session_id.getBeginString().getValue(), session_id.getSenderCompID().getValue(),
                         session_id.getTargetCompID().getValue())


class _Side(fix.Application):  # type: ignore[misc]
    """One engine's application: forwards one message type to the other side's session."""

    forwarded_type = ""
    forwarded_tags: tuple[int, ...] = ()

    def __init__(self) -> None:
        super().__init__()
        self.session: fix.SessionID | None = None
        self.other: _Side | None = None
        self.logged_on = threading.Event()
        self.dropped = 0

    def onCreate(self, session_id: fix.SessionID) -> None:
        pass

    def onLogon(self, session_id: fix.SessionID) -> None:
        self.session = _owned(session_id)
        self.logged_on.set()

    def onLogout(self, session_id: fix.SessionID) -> None:
        self.logged_on.clear()

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        if message.getHeader().getField(35) != self.forwarded_type:
            raise fix.UnsupportedMessageType()
        assert self.other is not None
        target = self.other.session
        if target is None or not self.other.logged_on.is_set():
            self.dropped += 1  # the load client counts it unanswered; nothing to reject with here
            return
        fix.Session.sendToTarget(build(self.forwarded_type, copy_fields(message, self.forwarded_tags)), target)


class ClientSide(_Side):
    """The acceptor's application: NewOrderSingles to the venue."""

    forwarded_type = "D"
    forwarded_tags = ORDER_TAGS


class VenueSide(_Side):
    """The initiator's application: ExecutionReports to the client."""

    forwarded_type = "8"
    forwarded_tags = REPORT_TAGS


def _spec_dir() -> Path:
    return Path(sys.prefix) / "share" / "quickfix"


def client_settings(data_dir: Path, port: int) -> str:
    """The acceptor's settings: fixgate's clients.cfg for the one ``BENCH`` session."""
    return "\n".join([
        "[DEFAULT]",
        "ConnectionType=acceptor",
        f"SocketAcceptPort={port}",
        "SocketReuseAddress=Y",
        "SocketNodelay=Y",
        "AllowedRemoteAddresses=127.0.0.1",
        f"SenderCompID={COMP_ID}",
        "NonStopSession=Y",
        "UseDataDictionary=Y",
        "ValidateUserDefinedFields=Y",
        "AllowUnknownMsgFields=N",
        "ValidateFieldsOutOfOrder=Y",
        "ValidateFieldsHaveValues=Y",
        f"FileStorePath={data_dir / 'store' / 'clients'}",
        "PersistMessages=Y",
        "",
        "[SESSION]",
        f"BeginString={BEGIN_STRING}",
        f"TargetCompID={CLIENT_COMP_ID}",
        f"DataDictionary={_spec_dir() / 'FIX44.xml'}",
        "",
    ])


def venue_settings(data_dir: Path, host: str, port: int) -> str:
    """The initiator's settings: fixgate's venues.cfg with ``PASS`` as SenderCompID."""
    return "\n".join([
        "[DEFAULT]",
        "ConnectionType=initiator",
        f"SenderCompID={COMP_ID}",
        "NonStopSession=Y",
        "HeartBtInt=30",
        "ReconnectInterval=1",
        "SocketNodelay=Y",
        "UseDataDictionary=Y",
        "ValidateUserDefinedFields=N",
        "AllowUnknownMsgFields=Y",
        f"FileStorePath={data_dir / 'store' / 'venues'}",
        "PersistMessages=Y",
        "",
        "[SESSION]",
        f"BeginString={BEGIN_STRING}",
        f"TargetCompID={VENUE_COMP_ID}",
        f"SocketConnectHost={host}",
        f"SocketConnectPort={port}",
        f"DataDictionary={_spec_dir() / 'FIX44.xml'}",
        "",
    ])


class PassThrough:
    """The two engines and what they point to (QuickFIX keeps raw pointers: keep it all alive)."""

    def __init__(self, data_dir: Path, listen_port: int, venue_host: str, venue_port: int) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / "clients.cfg").write_text(client_settings(data_dir, listen_port))
        (data_dir / "venues.cfg").write_text(venue_settings(data_dir, venue_host, venue_port))
        self.clients, self.venue = ClientSide(), VenueSide()
        self.clients.other, self.venue.other = self.venue, self.clients
        self._parts: list[Any] = []
        self.initiator = self._engine(fix.ThreadedSocketInitiator, self.venue, data_dir / "venues.cfg")
        self.acceptor = self._engine(fix.ThreadedSocketAcceptor, self.clients, data_dir / "clients.cfg")

    def _engine(self, kind: Any, app: fix.Application, path: Path) -> Any:
        settings = fix.SessionSettings(str(path))
        store = fix.FileStoreFactory(settings)
        self._parts += [settings, store]
        return kind(app, store, settings)

    def start(self, venue_timeout: float) -> None:
        """Log on at the venue, then open the client port."""
        self.initiator.start()
        if not self.venue.logged_on.wait(venue_timeout):
            raise TimeoutError(f"venue session not logged on after {venue_timeout:g}s")
        self.acceptor.start()

    def stop(self) -> None:
        self.acceptor.stop(True)
        self.initiator.stop(True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.passthrough", description=__doc__)
    parser.add_argument("--listen", type=int, required=True, help="client port (the load client's)")
    parser.add_argument("--venue-host", default="127.0.0.1")
    parser.add_argument("--venue-port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True, help="rendered settings and FIX stores")
    parser.add_argument("--venue-timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    passthrough = PassThrough(args.data_dir, args.listen, args.venue_host, args.venue_port)
    try:
        passthrough.start(args.venue_timeout)
        print(f"pass-through 127.0.0.1:{args.listen} -> {args.venue_host}:{args.venue_port}", flush=True)
        while not stop.wait(1.0):
            pass
    except TimeoutError as exc:
        print(f"passthrough: {exc}", file=sys.stderr)
        return 1
    finally:
        passthrough.stop()
        dropped = passthrough.clients.dropped + passthrough.venue.dropped
        if dropped:
            print(f"passthrough: {dropped} messages dropped while the other side was away", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
