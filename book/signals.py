"""A stop that signal handlers may request: no lock is taken.

``threading.Event.set`` takes a lock. A Python signal handler runs in the main thread between two
bytecodes, so a second signal coming while the first handler is inside ``Event.set`` runs
``Event.set`` again on the same thread and waits forever for the lock it already holds. It happened:
a book writer got SIGTERM several times as its gateway was killed, deadlocked in its own handler, and
the next gateway waited for its segment lock until the test gave up. ``SignalStop`` is a flag (a
plain attribute store, atomic under the GIL) that waiters poll.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterable

_POLL_S = 0.05


class SignalStop:
    """``set`` from anywhere, a signal handler included; ``is_set`` and ``wait`` like an Event's."""

    def __init__(self) -> None:
        self._set = False
        self.signals: list[str] = []  # the names of the signals that came, in order (``install``)

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float | None = None) -> bool:
        """Until set (True) or ``timeout`` seconds have passed (False); checked every 50 ms."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._set:
            left = _POLL_S if deadline is None else min(_POLL_S, deadline - time.monotonic())
            if left <= 0:
                return False
            time.sleep(left)
        return True

    def install(self, signums: Iterable[int] = (signal.SIGTERM, signal.SIGINT)) -> SignalStop:
        """Set on each of ``signums`` (from the main thread, as ``signal.signal`` must be)."""
        for signum in signums:
            signal.signal(signum, self._on_signal)
        return self

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.signals.append(signal.Signals(signum).name)  # list.append takes no lock that can deadlock
        self._set = True
