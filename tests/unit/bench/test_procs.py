"""CPU accounting of the process in the middle of a path: its children and its threads."""

import subprocess
import sys
from pathlib import Path

import pytest

from bench.procs import CpuSnapshot, cpu_snapshot, cpu_used, descendants, label, python_threads
from bench.run import compare_cpu

PARENT = """
import subprocess, sys, threading, time
threading.Thread(target=time.sleep, args=(600,), name="rest", daemon=True).start()
child = subprocess.Popen([sys.executable, "-m", "timeit", "-n", "1", "-r", "1", "import time; time.sleep(600)"])
print(child.pid, flush=True)
sys.stdin.read()
child.kill()
child.wait()
"""


def test_children_count_what_they_used_including_one_that_ended_and_one_that_started() -> None:
    before = CpuSnapshot(process=5.0, children={10: ("book.follower", 1.0), 11: ("nats-server", 0.5)},
                         reaped=0.0, threads={"rest": (0.25, 40)})
    # nats-server ended at 0.7 s (its whole life lands in the parent's cutime); a new writer started.
    after = CpuSnapshot(process=6.5, children={10: ("book.follower", 1.8), 12: ("book.follower", 0.3)},
                        reaped=0.7, threads={"rest": (0.5, 50)})
    used = cpu_used(before, after)
    assert used["process_cpu_s"] == pytest.approx(1.5)
    assert used["children_cpu_s"] == pytest.approx(0.8 + 0.3 + 0.2)
    assert used["children_cpu_s_by_name"] == pytest.approx({"book.follower": 1.1})
    assert used["threads_cpu_s"] == pytest.approx({"rest": 0.25})
    assert used["threads_runs"] == {"rest": 10}


def test_the_gateway_total_is_compared_with_the_pass_through() -> None:
    row = compare_cpu([
        {"path": "direct"},
        {"path": "passthrough", "process_cpu_us_per_order": 500.0},
        {"path": "gateway", "process_cpu_us_per_order": 600.0, "children_cpu_us_per_order": 300.0,
         "total_cpu_us_per_order": 900.0},
    ])
    assert row["floor_ratio"] == pytest.approx(1.8)
    assert row["alone_floor_ratio"] == pytest.approx(1.2)
    assert row["gateway_children"] == 300.0


def test_a_live_process_has_its_child_and_its_named_thread_found() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert parent.stdin is not None and parent.stdout is not None
    try:
        child = int(parent.stdout.readline())
        assert descendants(parent.pid) == [child]
        assert label(child) == "timeit"
        snapshot = cpu_snapshot(parent.pid)
        assert list(snapshot.children) == [child]
        if (Path(sys.executable).parent / "py-spy").exists():
            tids = python_threads(parent.pid)["rest"]
            assert len(tids) == 1
            assert cpu_snapshot(parent.pid, {"rest": tids}).threads["rest"][1] >= 1  # it ran at least once
    finally:
        parent.stdin.close()
        parent.wait(30)
