"""Run a command that dies with the process that started it: ``python -m fixgate.orphan PARENT CMD...``.

A supervised child (``fixgate.supervisor``) is started through this: it asks the kernel for SIGTERM
when the thread that forked it ends (``PR_SET_PDEATHSIG``, which survives the exec that follows), checks
the parent is still the one it was started by (it may have died before the request), then becomes the
command. Done here, in a process of one thread, not in ``subprocess``'s ``preexec_fn``: that runs in a
fork of the multi-threaded gateway, where a lock another thread held at the fork (an allocator's, the
import lock) can never be released, and a child hung there holds every descriptor of the gateway.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not argv[0].isdigit():
        print("usage: python -m fixgate.orphan PARENT_PID COMMAND [ARG...]", file=sys.stderr)
        return 2
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: the children watch for the gateway's end themselves
    if os.getppid() != int(argv[0]):
        return 1  # the parent is gone already: nothing to serve
    os.execvp(argv[1], argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
