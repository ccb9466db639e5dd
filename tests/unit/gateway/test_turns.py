"""The turns of client sessions (``gateway.dispatch.Turns``): one per session, reentrant, no turn for
an order of no session, and a venue thread's bounded wait."""

from __future__ import annotations

import logging
import threading

import pytest

from gateway import dispatch
from gateway.dispatch import Turns

A = "FIX.4.4:FIXGATE->CLIENT1"
B = "FIX.4.4:FIXGATE->CLIENT2"


def held_elsewhere(turns: Turns, session: str) -> tuple[threading.Event, threading.Event]:
    """Another thread takes ``session``'s turn and keeps it until the second event is set."""
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with turns.of(session):
            taken.set()
            release.wait(10)

    threading.Thread(target=hold, daemon=True).start()
    assert taken.wait(5)
    return taken, release


def test_one_turn_per_session_reentrant_and_none_for_no_session() -> None:
    turns = Turns()
    assert turns.of(A) is turns.of(A) and turns.of(A) is not turns.of(B)
    with turns.of(A), turns.of(A):  # QuickFIX may call back into the gateway on the sending thread
        pass
    _, release = held_elsewhere(turns, A)
    try:
        with turns.of(None), turns.of(""):  # an order the gateway does not know; a child's own session
            pass
        done = threading.Event()

        def other_session() -> None:
            with turns.of(B):
                done.set()

        threading.Thread(target=other_session, daemon=True).start()
        assert done.wait(5), "another session's turn waited for this one's"
        assert not turns.of(A).acquire(timeout=0.05)  # type: ignore[attr-defined]
    finally:
        release.set()


def test_a_venue_thread_waits_for_a_turn_at_most_its_bound_then_goes_on_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(dispatch, "VENUE_TURN_WAIT_S", 0.05)
    turns = Turns()
    _, release = held_elsewhere(turns, A)
    with caplog.at_level(logging.WARNING, logger="gateway.dispatch"), turns.waited(A):
        pass  # went on without the turn
    assert f"client session {A}: a venue report waited 0.05 s for the session's turn" in caplog.text
    release.set()
    caplog.clear()
    with turns.waited(A):
        assert turns.of(A).acquire(blocking=False)  # type: ignore[attr-defined]  # its own now: reentrant
        turns.of(A).release()  # type: ignore[attr-defined]
    assert not caplog.text
