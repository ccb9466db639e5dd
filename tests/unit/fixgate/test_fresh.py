"""``fixgate demo --fresh`` empties only a data folder fixgate made, and keeps it locked throughout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fixgate.datadir import LOCK_NAME, NotEmptied, check_emptiable, empty_locked, lock_data_dir


def test_a_folder_fixgate_made_is_emptied_but_its_held_locks(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "journal").mkdir(parents=True)
    (data / "journal" / "segment-1").write_text("orders")
    (data / "simulator" / "SIM").mkdir(parents=True)
    (data / "simulator" / "SIM" / "record").write_text("fills")
    (data / "order-ids").write_text("42")
    (data / LOCK_NAME).write_text("1\n")
    assert check_emptiable(data)
    locks = [lock_data_dir(data), lock_data_dir(data / "simulator")]
    try:
        empty_locked(data)
        assert sorted(str(p.relative_to(data)) for p in data.rglob("*")) == [
            LOCK_NAME, "simulator", f"simulator/{LOCK_NAME}"]
        with pytest.raises(NotEmptied, match="not locked by this process"):
            empty_locked(tmp_path)
    finally:
        for lock in locks:
            lock.release()


def test_nothing_to_empty_is_not_an_error(tmp_path: Path) -> None:
    assert not check_emptiable(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    assert not check_emptiable(tmp_path / "empty")


def test_a_folder_without_the_lock_file_or_with_a_running_database_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "pgdata").mkdir(parents=True)
    (data / "notes.txt").write_text("mine")
    with pytest.raises(NotEmptied, match=f"{data} has no {LOCK_NAME}: it is not a folder fixgate made"):
        check_emptiable(data)
    (data / LOCK_NAME).touch()
    (data / "pgdata" / "postmaster.pid").write_text(f"{os.getpid()}\n{data}/pgdata\n")  # a process that runs
    with pytest.raises(NotEmptied, match=rf"the embedded PostgreSQL of {data} still runs \(pid {os.getpid()}\)"):
        check_emptiable(data)
    assert (data / "notes.txt").read_text() == "mine"


def test_the_working_folder_and_its_parents_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / LOCK_NAME).touch()
    (work / LOCK_NAME).touch()
    monkeypatch.chdir(work)
    for folder in (work, tmp_path):
        with pytest.raises(NotEmptied, match="is the working folder, one of its parents or the home folder"):
            check_emptiable(folder)
