"""The REST API served by uvicorn on a thread of its own, so the caller keeps the main thread."""

from __future__ import annotations

import ipaddress
import logging
import ssl
import threading
import time
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from api.dashboard import close_feeds
from fixgate.config import ConfigError

log = logging.getLogger(__name__)


def is_local(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (a loopback address, or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


class RestServer:
    """uvicorn on a daemon thread; ``start`` returns once the port is listening or raises. With
    ``certfile`` and ``keyfile`` it serves HTTPS (the REST API and the dashboard alike); without them,
    listening beyond this machine logs a warning: bearer tokens would cross the network in clear."""

    def __init__(self, app: FastAPI, host: str, port: int, *, certfile: Path | None = None,
                 keyfile: Path | None = None) -> None:
        self.host = host
        self.port = port
        if (certfile is None) != (keyfile is None):
            raise ConfigError("HTTPS needs both --tls-cert and --tls-key (FIXGATE_REST_TLS_CERT, FIXGATE_REST_TLS_KEY)")
        self.https = certfile is not None
        if certfile is not None:
            try:  # here, naming the file, rather than as a thread that dies in uvicorn's start
                ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"REST TLS certificate {certfile} or key {keyfile}: {exc}") from None
        elif not is_local(host):
            log.warning("the REST API listens on %s without TLS: its bearer tokens and the dashboard cross the"
                        " network in clear text; give --tls-cert and --tls-key to serve HTTPS", host)
        self._app = app
        self._server = uvicorn.Server(uvicorn.Config(
            app, host=host, port=port, log_level="warning", lifespan="on",
            ssl_certfile=None if certfile is None else str(certfile),
            ssl_keyfile=None if keyfile is None else str(keyfile),
        ))
        self._thread = threading.Thread(target=self._serve, name="rest", daemon=True)

    def _serve(self) -> None:
        try:
            self._server.run()
        except SystemExit:  # uvicorn's failed start, which it has logged: ``start`` raises for it
            pass

    @property
    def url(self) -> str:
        return f"{'https' if self.https else 'http'}://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"REST server could not start on {self.host}:{self.port} (port in use?)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"REST server did not start on {self.host}:{self.port} in {timeout}s")
            time.sleep(0.02)

    def stop(self) -> None:
        # uvicorn waits for every open response before it stops: the dashboard's feeds end first.
        close_feeds(self._app)
        self._server.should_exit = True
        self._thread.join(timeout=10)
