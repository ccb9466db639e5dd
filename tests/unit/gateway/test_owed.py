"""Which journaled client messages are owed at start: those with no mark that they went out."""

from __future__ import annotations

from dataclasses import replace
from typing import cast

from domain.model import Carried, ClientSent
from gateway.clients import ClientApplication
from oms.manager import OrderManager
from tests.unit.book import samples


def clients() -> ClientApplication:
    # owe() touches neither the OMS nor the venues.
    return ClientApplication(cast(OrderManager, object()), lambda effects: Carried())


def test_a_report_marked_as_sent_is_not_owed_whatever_quickfix_kept() -> None:
    # QuickFIX's store was emptied by a 141=Y logon after A and B went out: only the marks tell.
    a, b, c = samples.report("A"), samples.report("B"), samples.report("C")
    owed = clients().owe([a, b, c], {ClientSent.of(a), ClientSent.of(b)})
    assert owed == [c]


def test_a_mark_is_per_session() -> None:
    mine, theirs = samples.report("A"), samples.report("A", session="FIX.4.2:FIXGATE->CLIENT1")
    assert clients().owe([mine, theirs], {ClientSent.of(mine)}) == [theirs]


def test_owe_owes_a_report_journaled_twice_once() -> None:
    # Carried over into the next journal, then killed before the replayed file was removed.
    a, b = samples.report("A"), samples.report("B")
    assert clients().owe([a, b, a], set()) == [a, b]


def test_cancel_rejects_are_marked_by_session_and_their_own_identity_once_each() -> None:
    sent, unsent = samples.cancel_reject("x1"), samples.cancel_reject("x2")
    other_session = replace(sent, session="FIX.4.4:FIXGATE->CLIENT2")
    report = samples.report("x1")  # an ExecID equal to a ClOrdID is another message
    owed = clients().owe([sent, report, unsent, unsent, other_session], {ClientSent.of(sent)})
    assert owed == [report, unsent, other_session]


def test_a_cancel_reject_answering_a_clordid_already_answered_is_still_owed() -> None:
    # A sweep's reject answers the order's own ClOrdID; a client may reuse a refused cancel's ClOrdID:
    # the first reject's mark says nothing of the second, nor is the second a copy of the first.
    first, second = samples.cancel_reject("x1"), samples.cancel_reject("x1")
    assert ClientSent.of(first) != ClientSent.of(second)
    assert clients().owe([first, second], {ClientSent.of(first)}) == [second]
    assert clients().owe([first, second], set()) == [first, second]
