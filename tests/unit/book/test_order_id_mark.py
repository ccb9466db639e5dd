"""The order id high-water mark file under the data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from book.order_ids import OrderIdMark


def test_a_new_data_folder_leaves_the_book_to_decide(tmp_path: Path) -> None:
    assert OrderIdMark(tmp_path / "order-ids").read() == 1


def test_the_last_mark_written_is_read_back_by_the_next_start(tmp_path: Path) -> None:
    mark = OrderIdMark(tmp_path / "order-ids")
    mark.write(1001)
    mark.write(2001)
    assert OrderIdMark(tmp_path / "order-ids").read() == 2001
    assert (tmp_path / "order-ids").read_text() == "next order id >= 2001\n"
    assert [p.name for p in tmp_path.iterdir()] == ["order-ids"]  # no temporary file left
    assert (tmp_path / "order-ids").stat().st_mode & 0o777 == 0o600


def test_a_kill_before_the_rename_leaves_the_previous_mark(tmp_path: Path) -> None:
    mark = OrderIdMark(tmp_path / "order-ids")
    mark.write(1001)
    (tmp_path / "order-ids.tmp").write_text("next order id >= 20")  # torn, never renamed
    assert mark.read() == 1001
    mark.write(2001)  # the next write replaces the leftover
    assert mark.read() == 2001


def test_an_unreadable_mark_stops_the_start_rather_than_risk_an_id_again(tmp_path: Path) -> None:
    (tmp_path / "order-ids").write_text("garbage")
    expected = r"order-ids: expected 'next order id >= <integer>', found 'garbage'"
    with pytest.raises(ValueError, match=expected):
        OrderIdMark(tmp_path / "order-ids").read()
