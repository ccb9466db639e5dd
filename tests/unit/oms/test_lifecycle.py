import pytest

from oms.lifecycle import TRANSITIONS, IllegalTransition, check_transition
from oms.model import OrderStatus as S

ALLOWED = [(a, b) for a, targets in TRANSITIONS.items() for b in targets]


@pytest.mark.parametrize(("current", "reported"), ALLOWED)
def test_every_allowed_transition_passes(current: S, reported: S) -> None:
    check_transition(1, current, reported)


ILLEGAL = [(a, b) for a in S for b in S if (a, b) not in set(ALLOWED)]


@pytest.mark.parametrize(("current", "reported"), ILLEGAL)
def test_every_other_transition_is_illegal(current: S, reported: S) -> None:
    with pytest.raises(IllegalTransition) as info:
        check_transition(7, current, reported)
    assert f"order 7: illegal transition {current} -> {reported}" in str(info.value)


def test_terminal_states_have_no_way_out() -> None:
    for status in (S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED, S.REPLACED):
        assert status.is_terminal
        assert status not in TRANSITIONS


def test_some_transitions_that_must_hold() -> None:
    assert S.FILLED in TRANSITIONS[S.PENDING_NEW]  # a fill may overtake the venue's ack
    assert S.NEW in TRANSITIONS[S.PENDING_CANCEL]  # a refused cancel leaves the order working
    assert S.NEW not in TRANSITIONS[S.PARTIALLY_FILLED]  # fills never go back
