"""The supervisor's stop: the children of a group together, a group only once the one before it has
stopped, and a child that ignores SIGTERM killed at its grace time."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from fixgate.supervisor import Child, Supervisor
from tests.support import eventually

# A child that says it is ready once its SIGTERM handler is in place. At SIGTERM it marks that it was
# asked, waits until every file in WAIT_FOR exists (the others of its group asked too), then marks
# DONE and exits 0. A file named in SAW exists at its SIGTERM or not: it writes which.
_CHILD = """
import os, signal, sys, time
from pathlib import Path
here, name = Path(sys.argv[1]), sys.argv[2]
wait_for = [here / n for n in sys.argv[3].split(",") if n]
saw = here / sys.argv[4] if sys.argv[4] else None
def stop(*_):
    if saw is not None:
        (here / f"{name}.saw").write_text(str(saw.exists()))
    (here / f"{name}.asked").touch()
    while not all(p.exists() for p in wait_for):
        time.sleep(0.01)
    time.sleep(0.2)  # a later group signalled too soon would look before this one is done
    (here / f"{name}.done").touch()
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
(here / f"{name}.ready").touch()
time.sleep(60)
"""

_DEAF = """
import signal, sys, time
from pathlib import Path
signal.signal(signal.SIGTERM, signal.SIG_IGN)
Path(sys.argv[1], "deaf.ready").touch()
time.sleep(60)
"""


def child(tmp_path: Path, name: str, wait_for: tuple[str, ...] = (), saw: str = "",
          grace: float = 10.0) -> Child:
    return Child(name, [sys.executable, "-c", _CHILD, str(tmp_path), name, ",".join(wait_for), saw],
                 tmp_path / f"{name}.log", stop_grace_s=grace)


def started(tmp_path: Path, supervisor: Supervisor, *children: Child) -> None:
    supervisor.start()
    for c in children:
        supervisor.add(c)
    names = [f"{c.name}.ready" for c in children]
    eventually(lambda: [n for n in names if (tmp_path / n).exists()], lambda ready: len(ready) == len(names),
               timeout=30)


def test_the_children_of_a_group_are_asked_together_and_a_later_group_after_them(tmp_path: Path) -> None:
    # Each of the first group stops only once the other was asked too: asked one after the other,
    # the first would be killed at its grace time. The server must find both done when it is asked.
    publisher = child(tmp_path, "publisher", wait_for=("writer.asked",))
    writer = child(tmp_path, "writer", wait_for=("publisher.asked",))
    server = child(tmp_path, "server", saw="writer.done")
    other = child(tmp_path, "other")
    supervisor = Supervisor()
    started(tmp_path, supervisor, publisher, writer, server, other)
    supervisor.stop(order=(("publisher", "writer"), ("server",)))
    assert [c.last_exit for c in (publisher, writer, server, other)] == [0, 0, 0, 0]
    assert (tmp_path / "server.saw").read_text() == "True"
    assert not any(c.running for c in (publisher, writer, server, other))


def test_a_child_that_ignores_sigterm_is_killed_at_its_grace_time_and_the_others_stop(tmp_path: Path) -> None:
    deaf = Child("deaf", [sys.executable, "-c", _DEAF, str(tmp_path)], tmp_path / "deaf.log", stop_grace_s=0.5)
    polite = child(tmp_path, "polite")
    supervisor = Supervisor()
    started(tmp_path, supervisor, deaf, polite)
    supervisor.stop(order=(("deaf", "polite"),))
    assert deaf.last_exit == -signal.SIGKILL and polite.last_exit == 0
    assert not deaf.running and not polite.running


def test_stop_child_stops_one_for_good(tmp_path: Path) -> None:
    one, two = child(tmp_path, "one"), child(tmp_path, "two")
    supervisor = Supervisor()
    started(tmp_path, supervisor, one, two)
    supervisor.stop_child("one")
    assert one.last_exit == 0 and not one.running and two.running
    assert list(supervisor.children) == ["two"]
    supervisor.stop()
    assert two.last_exit == 0
