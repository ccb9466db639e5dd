"""A small JSON-over-HTTP view of the simulator's record, for tests and people comparing books.

Stdlib ``http.server`` on a thread of its own, bound to 127.0.0.1. Read-only except for one admin call:

- ``GET /venues``: each venue's name, port, symbols and logged-on sessions
- ``GET /record[?client=COMPID]``: ``{"venues": {NAME: {"orders": [...], "fills": [...]}}}``
- ``GET /venues/NAME/orders[?client=COMPID]`` and ``GET /venues/NAME/fills[?client=COMPID]``
- ``GET /venues/NAME/book/SYMBOL``: ``{"bids": [[price, qty], ...], "asks": [...]}``, best first
- ``POST /venues/NAME/expire-day-orders``: end the trading day (``Venue.end_of_day``);
  ``{"expired": n, "done_for_day": m}`` (Day orders expired, client GTC orders told DoneForDay).
  It needs the header ``X-Simulator-Action: expire-day-orders`` (403 without).

A local test tool, not a service: it has no authentication, and anyone who can open a connection to
127.0.0.1 on this machine can read the record and end the trading day. It only binds a loopback
address (another is refused), and two checks keep a web browser on this machine from being used
against it: a request whose ``Host`` is not a loopback name is refused (DNS rebinding), and the POST
needs a custom header, which a page of another origin cannot send without a CORS preflight that this
server never answers.

Orders and fills are those of ``simulator.journal``, every run of the venue: client orders and fills,
and the venue participants' side of each trade with a client (``venue_participant`` true).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from simulator.venue import Venue

__all__ = ["ACTION_HEADER", "RecordServer"]

log = logging.getLogger(__name__)

#: The header a POST must carry, with the action's name as its value.
ACTION_HEADER = "X-Simulator-Action"
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "[::1]"}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RecordServer:
    """Serves the record of ``venues`` on ``host:port`` (port 0 picks a free one; see ``port``)."""

    def __init__(self, venues: Mapping[str, Venue], host: str = "127.0.0.1", port: int = 0) -> None:
        if not _is_loopback(host):
            raise ValueError(f"the simulator's record endpoint has no authentication: it binds a loopback"
                             f" address only, not {host!r}")
        self._venues = venues
        handler = _handler_class(venues)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sim-record-http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5.0)
            self._thread = None
        self._server.server_close()


def _venue_summary(venue: Venue) -> dict[str, Any]:
    return {
        "name": venue.name,
        "port": venue.port,
        "running": venue.running,
        "symbols": [i.symbol for i in venue.config.instruments],
        "logged_on": sorted(venue.logged_on()),
        "run": venue.run_id,
    }


def _handler_class(venues: Mapping[str, Venue]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "fixgate-simulator"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("record http: " + format, *args)

        def _send(self, status: HTTPStatus, body: object) -> None:
            data = json.dumps(body, indent=1).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _not_found(self, what: str) -> None:
            self._send(HTTPStatus.NOT_FOUND, {"error": what})

        def _venue(self, name: str) -> Venue | None:
            venue = venues.get(name)
            if venue is None:
                self._not_found(f"no venue {name} (venues: {', '.join(venues)})")
            return venue

        def _trusted_host(self) -> bool:
            """The Host header names this machine's loopback: a DNS-rebound page names its own domain."""
            host = (self.headers.get("Host") or "").strip().lower()
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name in _LOOPBACK_NAMES:
                return True
            self._send(HTTPStatus.FORBIDDEN, {"error": f"Host {host!r} is not a loopback name: this"
                                                       " endpoint answers local requests only"})
            return False

        def do_GET(self) -> None:
            if not self._trusted_host():
                return
            try:
                self._get()
            except Exception as exc:  # a bug here must not kill the server thread
                log.exception("record http GET %s failed", self.path)
                self._send(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": str(exc)})

        def _get(self) -> None:
            url = urlsplit(self.path)
            client = parse_qs(url.query).get("client", [None])[0]
            parts = [p for p in url.path.split("/") if p]
            if parts == ["venues"] or parts == []:
                self._send(HTTPStatus.OK, {"venues": [_venue_summary(v) for v in venues.values()]})
            elif parts == ["record"]:
                body = {
                    name: {"orders": v.journal.orders(client), "fills": v.journal.fills(client)}
                    for name, v in venues.items()
                }
                self._send(HTTPStatus.OK, {"venues": body})
            elif len(parts) == 3 and parts[0] == "venues" and parts[2] in ("orders", "fills"):
                venue = self._venue(parts[1])
                if venue is not None:
                    journal = venue.journal
                    rows = journal.orders(client) if parts[2] == "orders" else journal.fills(client)
                    self._send(HTTPStatus.OK, {parts[2]: rows})
            elif len(parts) == 4 and parts[0] == "venues" and parts[2] == "book":
                venue = self._venue(parts[1])
                if venue is None:
                    return
                try:
                    book = venue.book(parts[3])
                except KeyError:
                    self._not_found(f"venue {venue.name} does not trade {parts[3]}")
                    return
                self._send(
                    HTTPStatus.OK,
                    {
                        "symbol": parts[3],
                        "bids": [[str(p), str(q)] for p, q in book.bids],
                        "asks": [[str(p), str(q)] for p, q in book.asks],
                    },
                )
            else:
                self._not_found(f"no such path {url.path}")

        def do_POST(self) -> None:
            if not self._trusted_host():
                return
            parts = [p for p in urlsplit(self.path).path.split("/") if p]
            if len(parts) == 3 and parts[0] == "venues" and parts[2] == "expire-day-orders":
                if self.headers.get(ACTION_HEADER) != "expire-day-orders":
                    self._send(HTTPStatus.FORBIDDEN, {"error": f"send the header '{ACTION_HEADER}:"
                                                               " expire-day-orders' to end the trading day"})
                    return
                venue = self._venue(parts[1])
                if venue is not None:
                    day = venue.end_of_day()
                    self._send(HTTPStatus.OK, {"expired": day.expired, "done_for_day": day.done_for_day})
            else:
                self._not_found(f"no such path {self.path}")

    return Handler
