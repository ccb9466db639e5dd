"""The lifecycle table against one written out here by hand from FIX OrdStatus semantics (FIX 4.4
Vol. 4, Appendix D), not derived from ``oms.lifecycle.TRANSITIONS``: a change to the table that is not
also made here fails. Each row is (status now, status a venue report says) for a report that moves
the order; every pair not listed is illegal.

Two things shape the table beyond FIX itself. fixgate puts an order in PENDING_CANCEL or
PENDING_REPLACE itself when it sends the request, so the venue's pending report finds it there (a
venue report never moves an order into a pending state it was not asked for, except a cancel's ack
overtaking a fill report: back to PENDING_CANCEL). And REPLACED is never an order's status: the
order keeps its identity and a 39=5 is applied as the working status it leaves.
"""

from __future__ import annotations

import itertools

import pytest

from domain.model import OrderStatus as S
from oms.lifecycle import TRANSITIONS, IllegalTransition, check_transition

EXPECTED: dict[S, set[S]] = {
    S.PENDING_NEW: {
        S.PENDING_NEW,  # a repeat (the venue's own pending-new ack)
        S.NEW,  # acknowledged
        S.REJECTED,  # refused by the venue
        S.PARTIALLY_FILLED, S.FILLED,  # a fill overtakes the ack
        S.PENDING_CANCEL,  # a cancel of an order not yet acknowledged
        S.CANCELED,  # e.g. an IOC with nothing to match, canceled before any ack
        S.EXPIRED, S.DONE_FOR_DAY,  # the day ends before the ack
    },
    S.NEW: {
        S.NEW,  # a repeat or a restatement
        S.PARTIALLY_FILLED, S.FILLED,
        S.PENDING_CANCEL, S.PENDING_REPLACE,  # the venue's ack of a request
        S.CANCELED, S.EXPIRED, S.DONE_FOR_DAY,  # unsolicited ends
    },
    S.PARTIALLY_FILLED: {
        S.PARTIALLY_FILLED, S.FILLED,
        S.PENDING_CANCEL, S.PENDING_REPLACE,
        S.CANCELED, S.EXPIRED, S.DONE_FOR_DAY,
        # not NEW: fills never go back
    },
    S.PENDING_CANCEL: {
        S.PENDING_CANCEL,  # the venue's ack
        S.CANCELED,  # accepted
        S.NEW, S.PARTIALLY_FILLED,  # refused (what the fills say), or a fill while pending
        S.FILLED,  # filled before the cancel could act
        S.EXPIRED, S.DONE_FOR_DAY,  # the day ends first
        S.REJECTED,  # an order canceled before its ack, which the venue then refuses
    },
    S.PENDING_REPLACE: {
        S.PENDING_REPLACE,  # the venue's ack; also a fill while pending (FIX: E takes precedence)
        S.NEW, S.PARTIALLY_FILLED,  # replaced (39=5 applied as the working status) or refused
        S.FILLED,  # filled meanwhile, or replaced down to what had filled (Appendix D)
        S.CANCELED, S.EXPIRED, S.DONE_FOR_DAY,  # unsolicited ends
        S.REJECTED,  # an order replaced before its ack, which the venue then refuses
    },
    S.DONE_FOR_DAY: {
        S.DONE_FOR_DAY,
        S.NEW, S.PARTIALLY_FILLED, S.FILLED,  # a GTC order back the next day, and its fills
        S.PENDING_CANCEL,  # a cancel of it (fixgate sends those whatever the order's day)
        S.CANCELED, S.EXPIRED,
    },
    # FILLED, CANCELED, REJECTED, EXPIRED and REPLACED are final: nothing moves them.
}

ALLOWED = sorted((a, b) for a, targets in EXPECTED.items() for b in targets)
ILLEGAL = sorted((a, b) for a, b in itertools.product(S, S) if b not in EXPECTED.get(a, set()))


def test_the_hand_written_table_is_complete() -> None:
    assert len(ALLOWED) + len(ILLEGAL) == len(S) ** 2
    assert len(ALLOWED) == 47


@pytest.mark.parametrize(("current", "reported"), ALLOWED)
def test_every_allowed_transition_passes(current: S, reported: S) -> None:
    check_transition(1, current, reported)


@pytest.mark.parametrize(("current", "reported"), ILLEGAL)
def test_every_other_transition_is_illegal(current: S, reported: S) -> None:
    with pytest.raises(IllegalTransition) as info:
        check_transition(7, current, reported)
    assert (info.value.order_id, info.value.current, info.value.reported) == (7, current, reported)
    assert f"order 7: illegal transition {current} -> {reported}" in str(info.value)


@pytest.mark.parametrize(
    ("current", "reported"),
    [
        (S.PARTIALLY_FILLED, S.NEW),  # fills never go back
        (S.NEW, S.PENDING_NEW),  # nor does an acknowledgement
        (S.NEW, S.REJECTED),  # an acknowledged order is not rejected (a cancel or expiry ends it)
        (S.PENDING_CANCEL, S.PENDING_REPLACE),  # no replace of an order being canceled
        (S.FILLED, S.PARTIALLY_FILLED),
        (S.CANCELED, S.NEW),
        (S.REJECTED, S.NEW),
        (S.EXPIRED, S.NEW),
        (S.NEW, S.REPLACED),  # never an order's status
        (S.REPLACED, S.NEW),
    ],
)
def test_transitions_that_must_never_pass(current: S, reported: S) -> None:
    with pytest.raises(IllegalTransition):
        check_transition(3, current, reported)


def test_terminal_states_have_no_way_out() -> None:
    for status in (S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED, S.REPLACED):
        assert status.is_terminal
        assert status not in TRANSITIONS
        for reported in S:
            with pytest.raises(IllegalTransition):
                check_transition(1, status, reported)
