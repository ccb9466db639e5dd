"""The order id allocator: blocks reserved durably before any of their ids is handed out."""

from __future__ import annotations

import pytest

from oms.ids import OrderIds


def test_each_block_is_reserved_before_its_first_id_is_handed_out() -> None:
    reserved: list[int] = []
    handed: list[int] = []

    def reserve(limit: int) -> None:
        assert all(i < limit for i in handed)
        reserved.append(limit)

    ids = OrderIds(7, reserve, block=3)
    for _ in range(7):
        handed.append(ids.take())
        assert handed[-1] < reserved[-1]  # never an id above what is durable
    assert handed == [7, 8, 9, 10, 11, 12, 13]
    assert reserved == [10, 13, 16]


def test_a_restart_from_the_reserved_limit_never_repeats_an_id() -> None:
    marks: list[int] = []
    first = OrderIds(1, marks.append, block=1000)
    given = {first.take() for _ in range(5)}
    # Killed: the next start takes the larger of the book's highest id + 1 (the book may lack the
    # newest orders: 2 here) and the reserved limit.
    second = OrderIds(max(2, marks[-1]), marks.append, block=1000)
    again = {second.take() for _ in range(5)}
    assert not given & again and min(again) == 1001
    assert marks == [1001, 2001]


def test_a_failed_reservation_hands_out_nothing_and_is_tried_again() -> None:
    attempts: list[int] = []

    def reserve(limit: int) -> None:
        attempts.append(limit)
        if len(attempts) == 1:
            raise OSError("disk full")

    ids = OrderIds(1, reserve, block=10)
    with pytest.raises(OSError):
        ids.take()
    assert ids.take() == 1
    assert attempts == [11, 11]


def test_orders_restored_from_the_book_move_the_next_id_past_them() -> None:
    marks: list[int] = []
    ids = OrderIds(5, marks.append, block=10)
    ids.above(3)  # an older order: no effect
    assert ids.next == 5
    ids.above(40)
    assert (ids.take(), marks) == (41, [51])


def test_ids_start_at_one_at_least() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        OrderIds(0)


# -- SLOTS: instances sharing one book (docs/SCALING.md) ---------------------------------------------


def test_ids_in_a_slot_are_that_slot_modulo_the_slots_and_increase() -> None:
    ids = OrderIds(1, slot=1, slots=3)
    taken = [ids.take() for _ in range(5)]
    assert taken == [1, 4, 7, 10, 13]
    assert [OrderIds(1, slot=0, slots=2).take(), OrderIds(1, slot=2, slots=3).take()] == [2, 2]


def test_each_block_of_a_slot_is_reserved_before_its_first_id_is_handed_out() -> None:
    reserved: list[int] = []
    handed: list[int] = []

    def reserve(limit: int) -> None:
        assert all(i < limit for i in handed)
        reserved.append(limit)

    ids = OrderIds(1, reserve, block=3, slot=1, slots=3)
    for _ in range(7):
        handed.append(ids.take())
        assert handed[-1] < reserved[-1]  # never an id above what is durable
    # A block is 3 ids of the slot: the reservation covers them and no more.
    assert handed == [1, 4, 7, 10, 13, 16, 19]
    assert reserved == [10, 19, 28]


def test_a_restart_from_the_reserved_limit_stays_in_the_slot_and_never_repeats_an_id() -> None:
    marks: list[int] = []
    first = OrderIds(1, marks.append, block=1000, slot=2, slots=3)
    given = [first.take() for _ in range(5)]
    assert given == [2, 5, 8, 11, 14] and marks == [3002]
    # Killed: the next start takes the larger of the book's highest id + 1 and the reserved limit.
    again = OrderIds(max(15, 3002), marks.append, block=1000, slot=2, slots=3)
    assert [again.take() for _ in range(2)] == [3002, 3005] and marks[-1] == 6002
    # Or the book's highest id is another instance's, 5000, above the mark and in another slot.
    other = OrderIds(max(5001, 3002), marks.append, block=1000, slot=2, slots=3)
    assert other.take() == 5003 and marks[-1] == 5003 + 3000


def test_two_instances_in_their_slots_never_give_one_id_twice_through_restarts() -> None:
    east_mark: list[int] = []
    west_mark: list[int] = []
    east = OrderIds(1, east_mark.append, block=4, slot=0, slots=2)
    west = OrderIds(1, west_mark.append, block=4, slot=1, slots=2)
    given: list[int] = []
    for _ in range(3):
        given += [east.take(), west.take(), west.take(), east.take(), east.take()]
        # West restarts, from the book's highest id (either instance's) or its own mark.
        west = OrderIds(max(max(given) + 1, west_mark[-1]), west_mark.append, block=4, slot=1, slots=2)
    assert len(set(given)) == len(given)
    assert all(i % 2 == 0 for i in given[0::5] + given[3::5] + given[4::5])
    assert all(i % 2 == 1 for i in given[1::5] + given[2::5])


def test_orders_restored_from_the_book_move_the_next_id_past_them_into_the_slot() -> None:
    ids = OrderIds(1, slot=1, slots=3)
    ids.above(40)
    assert ids.take() == 43


def test_a_slot_must_be_one_of_the_slots() -> None:
    for slot, slots in ((2, 2), (-1, 2), (0, 0)):
        with pytest.raises(ValueError, match="order id slot"):
            OrderIds(1, slot=slot, slots=slots)
