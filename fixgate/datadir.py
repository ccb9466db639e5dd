"""The data folder: one process at a time, readable by its owner only.

A second fixgate on a folder another one is running on would replay and delete the running one's
journal, share its QuickFIX stores and its embedded PostgreSQL: so every command that uses a data
folder takes an OS file lock on ``<folder>/fixgate.lock`` before anything else touches the folder,
and a second process exits at once naming the folder and the holder's pid. ``fcntl.flock`` is
released by the kernel when the holding process dies (a SIGKILL included), so a stale lock file
never blocks a restart; the pid in it is only for the message.

Files hold FIX messages, orders and fills: the folder is made (or put back to) mode 0700, and the
commands set a umask of 077 so every file created under it is 0600. Embedded PostgreSQL as root runs
as the user ``pgserver`` (see ``book.database.start_embedded``), which must traverse the folder to
reach its ``pgdata``: :func:`allow_traverse` gives others search (x) permission only, never read.
"""

from __future__ import annotations

import fcntl
import os
import stat
import threading
from pathlib import Path

LOCK_NAME = "fixgate.lock"
PRIVATE_UMASK = 0o077


class DataDirInUse(Exception):
    """Another process holds the data folder's lock."""

    def __init__(self, data_dir: Path, holder: str) -> None:
        super().__init__(
            f"data folder {data_dir} is in use by another process ({holder}); stop it first or use"
            " another --data-dir"
        )
        self.data_dir = data_dir
        self.holder = holder


class DataDirLock:
    """An exclusive lock on a data folder, held until :meth:`release` or the process ends."""

    def __init__(self, data_dir: Path, fd: int) -> None:
        self.data_dir = data_dir
        self._fd = fd
        self._count = 1

    def release(self) -> None:
        """Give the lock up once this process's last holder of it releases it."""
        with _registry_lock:
            self._count -= 1
            if self._count > 0 or self._fd < 0:
                return
            _held.pop(self.data_dir, None)
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = -1


# flock conflicts between two descriptors of one process too: a process that already holds a folder
# (the CLI took it, then ``Fixgate.start`` asks again) shares its one lock, counted.
_held: dict[Path, DataDirLock] = {}
_registry_lock = threading.Lock()


def make_private(data_dir: Path) -> Path:
    """Create ``data_dir`` (mode 0700), or take group and other permissions off an existing one."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    if mode & 0o077:
        data_dir.chmod(mode & 0o700)
    return data_dir


def allow_traverse(data_dir: Path) -> None:
    """After an embedded PostgreSQL started under ``data_dir``: as root, pgserver runs the server as
    the user ``pgserver`` and made every parent of its pgdata o+rx; put ``data_dir`` back to search
    (x) only for others: enough to reach pgdata, no listing, no file of ours readable."""
    if os.geteuid() == 0:
        data_dir.chmod(0o711)


def lock_data_dir(data_dir: Path) -> DataDirLock:
    """Make ``data_dir`` private and lock it for this process: the first thing a command does with
    it. Raises :class:`DataDirInUse` if another process holds it; writes this process's pid into the
    lock file otherwise."""
    data_dir = make_private(data_dir.resolve())
    with _registry_lock:
        held = _held.get(data_dir)
        if held is not None:
            held._count += 1
            return held
        fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
            os.close(fd)
            raise DataDirInUse(data_dir, f"pid {holder}" if holder.isdigit() else "pid unknown") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        lock = _held[data_dir] = DataDirLock(data_dir, fd)
        return lock


class NotEmptied(ValueError):
    """``fixgate demo --fresh`` refused to empty a folder: it may not be fixgate's, or is in use."""


def check_emptiable(data_dir: Path) -> bool:
    """Whether ``data_dir`` holds anything to delete; :class:`NotEmptied` if it may not be emptied:
    a folder without fixgate's lock file (fixgate never made it), the working folder, one of its
    parents, the home folder, or one whose embedded PostgreSQL still runs. Called before the folder
    is locked (locking makes the lock file)."""
    data_dir = data_dir.resolve()
    if not data_dir.exists():
        return False
    if not data_dir.is_dir():
        raise NotEmptied(f"{data_dir} is not a folder")
    if not any(data_dir.iterdir()):
        return False
    cwd = Path.cwd().resolve()
    if data_dir == cwd or data_dir in cwd.parents or data_dir == Path.home().resolve():
        raise NotEmptied(f"{data_dir} is the working folder, one of its parents or the home folder: not"
                         " emptying it (--data-dir names fixgate's own folder, .fixgate by default)")
    if not (data_dir / LOCK_NAME).is_file():
        raise NotEmptied(f"{data_dir} has no {LOCK_NAME}: it is not a folder fixgate made, not emptying it")
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    if pid_file.is_file():
        first = pid_file.read_text(errors="replace").split("\n", 1)[0].strip()
        if first.isdigit() and _alive(int(first)):
            raise NotEmptied(f"the embedded PostgreSQL of {data_dir} still runs (pid {first}): stop it first")
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def empty_locked(data_dir: Path) -> None:
    """Delete everything under ``data_dir`` but the lock files this process holds in it (so the
    folder stays locked throughout). Only for a folder :func:`check_emptiable` passed and this process
    has locked."""
    import shutil

    data_dir = data_dir.resolve()
    with _registry_lock:
        held = {path / LOCK_NAME for path in _held}
    if data_dir / LOCK_NAME not in held:
        raise NotEmptied(f"{data_dir} is not locked by this process")

    def empty(folder: Path) -> None:
        for entry in folder.iterdir():
            if entry in held:
                continue
            if entry.is_dir() and not entry.is_symlink():
                if any(lock.is_relative_to(entry) for lock in held):
                    empty(entry)
                else:
                    shutil.rmtree(entry)
            else:
                entry.unlink()

    empty(data_dir)
