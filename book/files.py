"""Small files fixgate keeps beside its data, each written whole."""

from __future__ import annotations

import os
from pathlib import Path


def write_whole(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (its folder made if missing), for its owner only (0600): written to a temporary file and
    renamed over the old one, so a reader or a kill sees the old content or the new, never half; flushed
    to the OS, not fsynced (as the journal is)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(temporary, path)
