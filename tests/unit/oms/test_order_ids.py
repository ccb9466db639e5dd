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
