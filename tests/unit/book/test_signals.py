"""A stop requested by signals, many of them at once: the process still stops (``book.signals``).
A ``threading.Event`` set in the handler can deadlock when a second signal interrupts the first
handler inside ``Event.set``; a book writer did, and blocked the next gateway's start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

WAITER = """
import sys
from book.signals import SignalStop
stop = SignalStop().install()
print("ready", flush=True)
assert stop.wait(60), "no stop within a minute"
print(" ".join(sorted(set(stop.signals))), flush=True)
"""


def test_a_burst_of_signals_stops_the_waiter() -> None:
    proc = subprocess.Popen([sys.executable, "-c", WAITER], cwd=REPO, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    for n in range(500):
        os.kill(proc.pid, signal.SIGTERM if n % 2 else signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert out.strip() == "SIGINT SIGTERM"


def test_wait_times_out_and_then_sees_the_stop() -> None:
    from book.signals import SignalStop

    stop = SignalStop()
    started = time.monotonic()
    assert stop.wait(0.1) is False
    assert time.monotonic() - started >= 0.1
    stop.set()
    assert stop.wait(5) is True and stop.is_set()
