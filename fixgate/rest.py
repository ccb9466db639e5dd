"""The REST API served by uvicorn on a thread of its own, so the caller keeps the main thread."""

from __future__ import annotations

import threading
import time

import uvicorn
from fastapi import FastAPI

from api.dashboard import close_feeds


class RestServer:
    """uvicorn on a daemon thread; ``start`` returns once the port is listening or raises."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._app = app
        self._server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
        )
        self._thread = threading.Thread(target=self._server.run, name="rest", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

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
