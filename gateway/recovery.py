"""What QuickFIX has really sent on the client sessions, read from its FileStore after a crash."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

_EXEC_ID = re.compile(rb"\x0117=([^\x01]*)\x01")
_CANCEL_REJECT = re.compile(rb"\x0135=9\x01")
_FIELD = re.compile(rb"\x01(8|49|56|11)=([^\x01]*)")


def sent_exec_ids(store_dir: Path) -> set[str]:
    """Every ExecID in the messages QuickFIX counts as sent on the sessions stored in ``store_dir``."""
    sent: set[str] = set()
    for message in _sent_messages(store_dir):
        sent.update(m.decode("latin-1") for m in _EXEC_ID.findall(message))
    return sent


def sent_cancel_rejects(store_dir: Path) -> set[tuple[str, str]]:
    """(session key ``FIX.4.4:FIXGATE->CLIENT1``, ClOrdID) of every OrderCancelReject QuickFIX counts
    as sent on the sessions stored in ``store_dir`` (a 35=9 carries no ExecID to know it by)."""
    sent: set[tuple[str, str]] = set()
    for message in _sent_messages(store_dir):
        if _CANCEL_REJECT.search(message):
            fields = {tag: value.decode("latin-1") for tag, value in _FIELD.findall(b"\x01" + message)}
            sent.add((f"{fields.get(b'8')}:{fields.get(b'49')}->{fields.get(b'56')}", fields.get(b"11", "")))
    return sent


def _sent_messages(store_dir: Path) -> Iterator[bytes]:
    """The stored messages QuickFIX counts as sent.

    A FileStore keeps each sent message in ``<session>.body``, indexes it in ``<session>.header``
    (``seq,offset,size`` entries) and then moves ``<session>.seqnums`` on. A process killed between
    the two leaves a message in the body under a sequence number QuickFIX will use again: that one
    was never sent and is not counted. Only messages below the next sender number are."""
    for header in store_dir.glob("*.header"):
        seqnums = header.with_suffix(".seqnums")
        body_path = header.with_suffix(".body")
        if not seqnums.exists() or not body_path.exists():
            continue
        next_sender = int(seqnums.read_text().split(":")[0].strip() or 1)
        index: dict[int, tuple[int, int]] = {}
        for entry in header.read_text().split():
            seq, offset, size = (int(part) for part in entry.split(","))
            index[seq] = (offset, size)  # a number written twice: the later message is the one
        body = body_path.read_bytes()
        for seq, (offset, size) in index.items():
            if seq < next_sender:
                yield body[offset : offset + size]
