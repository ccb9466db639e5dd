"""The order id high-water mark: ``<data dir>/order-ids``, written before an id of a new block is used."""

from __future__ import annotations

from pathlib import Path

from book.files import write_whole

_PREFIX = "next order id >= "


class OrderIdMark:
    """A small file holding ``next order id >= N``: every id below N may have been given to an order.

    Kept apart from the journal because journal files are retired once replayed, and apart from the
    book because the book can lack an order the venue has (a record set aside, a row deleted): the
    next start allocates from the larger of this and the book's highest id (``oms.ids.OrderIds``).
    Written to a temporary file and renamed over the old one, so a kill leaves the old mark or the
    new one, never a torn one; flushed to the OS, not fsynced, as the journal is."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> int:
        """N, or 1 when there is no file yet (a new data folder: the book alone decides)."""
        try:
            text = self.path.read_text(encoding="ascii")
        except FileNotFoundError:
            return 1
        if not text.startswith(_PREFIX) or not text[len(_PREFIX):].strip().isdigit():
            # Starting from the book alone could give an id again: refuse, and say what to fix.
            raise ValueError(
                f"{self.path}: expected '{_PREFIX}<integer>', found {text[:60]!r}; restore it, or write"
                f" '{_PREFIX}N' with N above every order id fixgate has given"
            )
        return int(text[len(_PREFIX):])

    def write(self, limit: int) -> None:
        """Record that ids below ``limit`` may be in use (before any of them is used)."""
        write_whole(self.path, f"{_PREFIX}{limit}\n")
