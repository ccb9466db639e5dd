"""The gateway's child processes: started, restarted when they crash, stopped when it stops.

fixgate is one gateway process (FIX, risk, OMS, journal, REST) and the processes that consume its
journal: the book writer (``book.follower``), the bus publisher (``bus.publisher``), the TCA process
(``tca.service``, with the bus only) and, when no
``NATS_URL`` is given, the embedded NATS server. Each child logs to its own file under
``<data dir>/logs/``. A child that exits while the gateway runs is started again (after 0.2 s, doubling
to 5 s while it keeps failing within a minute); each is asked to stop (SIGTERM) when the gateway
stops, and killed if it has not within its grace time. Children that do not depend on each other are
asked together and waited for together, so a stop takes as long as the slowest of them, not their
sum; one that others use (the NATS server) is asked after them (``Supervisor.stop``). A child dies
with the gateway: the kernel sends it SIGTERM when the supervisor thread that forked it ends
(``PR_SET_PDEATHSIG``, set by ``fixgate.orphan`` in the child itself); the book writer then stops at
once, and the next start waits for its lock on the segment before replaying it
(``book.follower.wait_for_writers``).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

_POLL_S = 0.1
_MIN_BACKOFF_S = 0.2
_MAX_BACKOFF_S = 5.0


@dataclass
class Child:
    """One supervised process: its command line, its log, and what became of it."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: dict[str, str] | None = None
    stop_grace_s: float = 15.0
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    last_exit: int | None = None
    started_at: float = 0.0
    backoff: float = _MIN_BACKOFF_S
    next_start: float = 0.0
    listeners: list[Callable[[Child], None]] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def _spawn(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            env = dict(os.environ if self.env is None else self.env)
            # Through fixgate.orphan, so it dies with this thread (the supervisor's, which lives as long
            # as the gateway), without running Python in the fork of a multi-threaded process.
            argv = [sys.executable, "-m", "fixgate.orphan", str(os.getpid()), *self.argv]
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, close_fds=True,
            )
        self.starts += 1
        self.started_at = time.monotonic()
        for listener in self.listeners:
            listener(self)

    def _ask_to_stop(self) -> float | None:
        """Send SIGTERM; when it must have stopped by (``time.monotonic``), None if it is not running."""
        process = self.process
        if process is None or process.poll() is not None:
            return None
        process.send_signal(signal.SIGTERM)
        return time.monotonic() + self.stop_grace_s

    def _await_stop(self, deadline: float | None) -> None:
        """Wait until it has stopped; kill it if it has not by ``deadline``."""
        process = self.process
        if process is None or deadline is None:
            return
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.error("%s (pid %d) did not stop within %.0fs: killed", self.name, process.pid, self.stop_grace_s)
            process.kill()
            process.wait(5)
        self.last_exit = process.returncode


def _terminate(children: Collection[Child]) -> None:
    """Stop ``children`` together: SIGTERM to each, then wait for each (killed at its own grace time)."""
    deadlines = [(child, child._ask_to_stop()) for child in children]
    for child, deadline in deadlines:
        child._await_stop(deadline)


class Supervisor:
    """Runs the children on one thread (which forks them all, so they die with it: see the module)."""

    def __init__(self, tick: Callable[[], None] | None = None) -> None:
        self.children: dict[str, Child] = {}
        self._tick = tick  # called on every round (0.1 s): the journal's flush of what waits
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()  # a request or the stop: act on it now, not at the next round
        self._requests: list[tuple[str, tuple[Child, ...], threading.Event]] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fixgate-supervisor", daemon=True)
        self._thread.start()

    def add(self, child: Child, *, wait: bool = True) -> Child:
        """Start ``child`` under supervision (on the supervisor's thread; ``wait``: until it is spawned)."""
        done = self._request("add", (child,))
        if wait:
            done.wait(10)
        return child

    def stop_child(self, name: str) -> None:
        """Stop one child for good (it is not restarted)."""
        self.stop_children(name)

    def stop_children(self, *names: str) -> None:
        """Stop the named children for good, together: each is sent SIGTERM, then each waited for."""
        children = tuple(c for name in names if (c := self.children.get(name)) is not None)
        if children:
            self._request("remove", children).wait(60)

    def _request(self, what: str, children: tuple[Child, ...]) -> threading.Event:
        done = threading.Event()
        with self._lock:
            self._requests.append((what, children, done))
        self._wake.set()
        return done

    def stop(self, order: Sequence[tuple[str, ...]] = ()) -> None:
        """Stop every child, then the thread: first the groups in ``order``, one after another (the
        children of a group together), then the rest together. A child that others use goes in a later
        group than they do."""
        for group in order:
            self.stop_children(*group)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(60)

    def status(self) -> dict[str, dict[str, object]]:
        """Each child: running, pid, how often it was started, its last exit code."""
        return {
            name: {"running": c.running, "pid": c.pid, "starts": c.starts, "last_exit": c.last_exit}
            for name, c in list(self.children.items())
        }

    def _handle_requests(self) -> None:
        with self._lock:
            requests, self._requests = self._requests, []
        for what, children, done in requests:
            try:
                if what == "add":
                    for child in children:
                        self.children[child.name] = child
                        child._spawn()
                else:
                    for child in children:
                        self.children.pop(child.name, None)
                    _terminate(children)
            except Exception:
                log.exception("%s: could not %s", ", ".join(c.name for c in children), what)
            finally:
                done.set()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._handle_requests()
                if self._tick is not None:
                    try:
                        self._tick()
                    except Exception:
                        log.exception("supervisor tick failed")
                now = time.monotonic()
                for child in list(self.children.values()):
                    process = child.process
                    if process is None or process.poll() is None:
                        continue
                    if child.next_start == 0.0:
                        child.last_exit = process.returncode
                        lived = now - child.started_at
                        child.backoff = _MIN_BACKOFF_S if lived > 60 else min(child.backoff * 2, _MAX_BACKOFF_S)
                        child.next_start = now + child.backoff
                        log.error("%s (pid %d) exited with %s after %.1fs: restarting in %.1fs (log: %s)",
                                  child.name, process.pid, process.returncode, lived, child.backoff, child.log_path)
                    elif now >= child.next_start:
                        child.next_start = 0.0
                        try:
                            child._spawn()
                        except Exception:
                            log.exception("%s: could not restart", child.name)
                            child.next_start = now + child.backoff
                self._wake.wait(_POLL_S)
                self._wake.clear()  # before the requests are taken: one made after is seen next round
            self._handle_requests()
            _terminate(list(self.children.values()))
        finally:
            self._stopped.set()
