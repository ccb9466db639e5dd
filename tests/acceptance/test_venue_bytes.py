"""A venue whose strings are not UTF-8: its bytes reach fixgate over a real socket, are escaped as
``\\xNN`` (``gateway.translate.venue_text``) and so reach the client and the book. The venue here is a
raw FIX acceptor (``fixgate.fixclient`` on the accepted socket): the simulator speaks through QuickFIX,
which cannot send a byte that is not UTF-8 from Python. Real PostgreSQL."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from fixgate.fixclient import FixClient
from tests.acceptance.test_lifecycle import book_order
from tests.support import order_fields

Connect = Callable[..., FixClient]


class RawVenue:
    """Venue SIM as a bare FIX acceptor: it answers fixgate's Logon, and the test says the rest."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.session: FixClient | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="raw-venue", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        sock, _ = self._listener.accept()
        self.session = FixClient(sock, sender_comp_id="SIM", target_comp_id="FIXGATE", timeout=20)
        self.session.expect("A")
        self.session.send("A", {98: 0, 108: 30})
        self._ready.set()

    def wait(self) -> FixClient:
        assert self._ready.wait(20), "fixgate did not log on to the raw venue"
        assert self.session is not None
        return self.session

    def close(self) -> None:
        self._listener.close()
        if self.session is not None:
            self.session.close()


@pytest.fixture
def simulator() -> Iterator[RawVenue]:
    """In place of the simulator: the ``gateway`` fixture connects its SIM session here."""
    venue = RawVenue()
    yield venue
    venue.close()


def test_a_venue_reject_whose_text_is_not_utf8_reaches_the_client_and_the_book(
    connect: Connect, rest: httpx.Client, simulator: RawVenue
) -> None:
    venue = simulator.wait()
    client = connect("CLIENT1", "FIX.4.4")
    client.send("D", order_fields("vt-1", 100, "190.00"))
    order = venue.expect("D", where={55: "AAPL"})
    venue.send("3", {45: order.seq_num, 371: 40, 372: "D", 373: 5, 58: b"OrdType \xff refused"})
    reject = client.expect("8", where={11: "vt-1", 39: "8"})
    assert reject[58] == ("venue SIM rejected the order: tag 40 value is incorrect (out of range) for this tag:"
                          " OrdType \\xff refused")
    booked = book_order(rest, reject[37], "REJECTED")  # not left PENDING_NEW: the book writer took the row
    assert booked["text"] == reject[58]


def test_a_venue_cancel_reject_whose_text_is_not_utf8_reaches_the_client(
    connect: Connect, simulator: RawVenue
) -> None:
    venue = simulator.wait()
    client = connect("CLIENT1", "FIX.4.4")
    client.send("D", order_fields("vt-2", 100, "190.00"))
    order = venue.expect("D", where={55: "AAPL"})
    venue.send("8", {37: "V1", 11: order[11], 17: "E1", 150: "0", 39: "0", 55: "AAPL", 54: "1", 38: 100,
                     151: 100, 14: 0, 6: 0})
    client.expect("8", where={11: "vt-2", 39: "0"})
    client.send("F", {11: "vt-3", 41: "vt-2", 55: "AAPL", 54: "1", 38: 100, 60: order[60]})
    cancel = venue.expect("F")
    venue.send("9", {37: "V1", 11: cancel[11], 41: cancel[41], 39: "0", 434: "1", 102: "0",
                     58: b"too late \xff"})
    refused = client.expect("9", where={11: "vt-3"})
    assert refused[58] == "venue SIM: too late \\xff"
