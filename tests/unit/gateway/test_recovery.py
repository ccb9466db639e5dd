"""Reading QuickFIX's FileStore after a crash: what counts as sent."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import cast

from gateway.clients import ClientApplication
from gateway.recovery import sent_cancel_rejects, sent_exec_ids
from gateway.venues import VenueApplication
from oms.manager import OrderManager
from oms.model import ClientReport, ExecKind, OrderStatus, OrdType, Side
from tests.unit.book import samples


def er(seq: int, exec_id: str) -> bytes:
    return f"8=FIX.4.4\x019=50\x0135=8\x0134={seq}\x0137=1\x0111=c\x0117={exec_id}\x01150=0\x0110=000\x01".encode()


def store(tmp_path: Path, messages: list[tuple[int, bytes]], next_sender: int) -> Path:
    body, index, offset = b"", [], 0
    for seq, message in messages:
        body += message
        index.append(f"{seq},{offset},{len(message)}")
        offset += len(message)
    (tmp_path / "FIX.4.4-FIXGATE-CLIENT1.body").write_bytes(body)
    (tmp_path / "FIX.4.4-FIXGATE-CLIENT1.header").write_text(" ".join(index) + " ")
    (tmp_path / "FIX.4.4-FIXGATE-CLIENT1.seqnums").write_text(f"{next_sender:020d} : {1:020d}")
    return tmp_path


def test_messages_below_the_next_sender_number_count_as_sent(tmp_path: Path) -> None:
    path = store(tmp_path, [(1, er(1, "A")), (2, er(2, "B"))], next_sender=3)
    assert sent_exec_ids(path) == {"A", "B"}


def test_a_message_stored_but_not_numbered_was_never_sent(tmp_path: Path) -> None:
    # Killed after writing the body and index of 3 but before moving the sequence number on.
    path = store(tmp_path, [(1, er(1, "A")), (2, er(2, "B")), (3, er(3, "C"))], next_sender=3)
    assert sent_exec_ids(path) == {"A", "B"}


def test_a_number_used_again_after_a_crash_holds_the_later_message(tmp_path: Path) -> None:
    path = store(tmp_path, [(1, er(1, "A")), (2, er(2, "LOST")), (2, er(2, "B"))], next_sender=3)
    assert sent_exec_ids(path) == {"A", "B"}


def test_no_store_yet_means_nothing_sent(tmp_path: Path) -> None:
    assert sent_exec_ids(tmp_path) == set()


def clients() -> ClientApplication:
    # owe() touches neither the OMS nor the venues.
    return ClientApplication(cast(OrderManager, object()), cast(VenueApplication, object()))


def report(exec_id: str) -> ClientReport:
    return ClientReport(
        "FIX.4.4:FIXGATE->CLIENT1", 1, "c", "ACC", "AAPL", Side.BUY, OrdType.LIMIT, D(100), D("190.01"), exec_id,
        ExecKind.NEW, OrderStatus.NEW, D(0), D(0), D(0), D(100), D(0), "",
    )


def test_owe_counts_a_stored_but_unnumbered_report_as_owed(tmp_path: Path) -> None:
    # Killed between QuickFIX storing C and moving its sequence number on: C never went out.
    path = store(tmp_path, [(1, er(1, "A")), (2, er(2, "B")), (3, er(3, "C"))], next_sender=3)
    owed = clients().owe([report("A"), report("B"), report("C"), report("D")], path)
    assert [r.exec_id for r in owed] == ["C", "D"]


def test_owe_owes_a_report_journaled_twice_once(tmp_path: Path) -> None:
    # Carried over into the next journal, then killed before the replayed file was removed.
    owed = clients().owe([report("A"), report("B"), report("A")], tmp_path)
    assert [r.exec_id for r in owed] == ["A", "B"]


def cxl_rej(seq: int, cl_ord_id: str, target: str = "CLIENT1") -> bytes:
    return (f"8=FIX.4.4\x019=50\x0135=9\x0134={seq}\x0149=FIXGATE\x0156={target}\x0111={cl_ord_id}\x0141=c\x01"
            "39=2\x01434=1\x0110=000\x01").encode()


def test_cancel_rejects_count_as_sent_by_session_and_clordid(tmp_path: Path) -> None:
    path = store(tmp_path, [(1, er(1, "A")), (2, cxl_rej(2, "x1")), (3, cxl_rej(3, "x2"))], next_sender=3)
    assert sent_cancel_rejects(path) == {("FIX.4.4:FIXGATE->CLIENT1", "x1")}  # x2: stored, never numbered
    assert sent_exec_ids(path) == {"A"}


def test_owe_owes_the_cancel_rejects_never_sent_once_each(tmp_path: Path) -> None:
    path = store(tmp_path, [(1, cxl_rej(1, "x1"))], next_sender=2)
    sent, unsent = samples.cancel_reject("x1"), samples.cancel_reject("x2")
    other_session = samples.cancel_reject("x1", session="FIX.4.4:FIXGATE->CLIENT2")
    owed = clients().owe([sent, report("A"), unsent, unsent, other_session], path)
    assert owed == [report("A"), unsent, other_session]
