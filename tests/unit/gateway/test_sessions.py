"""The owner of FIX session state (``gateway.sessions.FixSessions``) fed as QuickFIX's callbacks feed
it, and the session config's refusal of QuickFIX's unauthenticated HTTP admin page."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import quickfix as fix

from gateway.sessions import MAX_ERROR_LENGTH, FixSessions
from gateway.settings import SessionConfigError, render

REPO = Path(__file__).resolve().parents[3]


def _message(msg_type: str, text: str | None = None, ref_seq: int | None = None) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(35, msg_type)
    if text is not None:
        message.setField(58, text)
    if ref_seq is not None:
        message.setField(45, str(ref_seq))
    return message


def test_callbacks_move_the_state_and_only_their_session() -> None:
    clock = iter(range(1_000, 10_000, 1_000))
    states = FixSessions(clock=lambda: next(clock))
    client = fix.SessionID("FIX.4.4", "FIXGATE", "CLIENT1")
    venue = fix.SessionID("FIX.4.4", "FIXGATE", "SIM")
    states.created("venue", venue)
    states.created("client", client)
    states.logged_on(client)
    states.admin_received(_message("A"), client, "A")
    states.received(client)
    states.sent(client)
    states.admin_sent(_message("3", "Required tag missing", 7), client, "3")
    states.logged_out(venue)
    by_id = {s.session_id: s for s in states.statuses()}
    assert list(by_id) == ["FIX.4.4:FIXGATE->CLIENT1", "FIX.4.4:FIXGATE->SIM"]  # clients first
    c = by_id["FIX.4.4:FIXGATE->CLIENT1"]
    assert (c.logged_on, c.since_ns, c.messages_in, c.messages_out) == (True, 1_000, 2, 2)
    assert c.last_error == "Reject sent (RefSeqNum 7): Required tag missing"
    assert (c.begin_string, c.sender_comp_id, c.target_comp_id, c.role) == ("FIX.4.4", "FIXGATE", "CLIENT1", "client")
    v = by_id["FIX.4.4:FIXGATE->SIM"]
    assert (v.logged_on, v.since_ns, v.messages_in, v.messages_out, v.last_error) == (False, 2_000, 0, 0, None)
    assert states.venues() == states.venues_down() == ["SIM"]


def test_a_counterpartys_text_is_escaped_and_cut() -> None:
    states = FixSessions()
    sid = fix.SessionID("FIX.4.4", "FIXGATE", "SIM")
    states.created("venue", sid)
    states.admin_received(_message("5", "bye"), sid, "5")
    assert states.statuses()[0].last_error == "Logout received: bye"
    states.admin_received(_message("5"), sid, "5")  # a plain logout is no error: the last one stays
    assert states.statuses()[0].last_error == "Logout received: bye"
    states.admin_received(_message("3", "x" * 500), sid, "3")
    error = states.statuses()[0].last_error
    assert error is not None and len(error) == MAX_ERROR_LENGTH and error.endswith("...")


def test_no_session_is_asked_after_the_engines_stop() -> None:
    states = FixSessions()
    states.created("client", fix.SessionID("FIX.4.2", "FIXGATE", "CLIENT2"))
    states.engines_stopping()
    (status,) = states.statuses()
    assert (status.next_sender_seq, status.next_target_seq) == (1, 1)  # as last read: never read here


def _template(tmp_path: Path, line: str) -> Path:
    template = tmp_path / "clients.cfg"
    template.write_text(f"[DEFAULT]\nConnectionType=acceptor\n{line}\n")
    return template


@pytest.mark.parametrize("line", ["HttpAcceptPort=8088", "  httpacceptport = 8088"])
def test_the_http_admin_page_is_refused(tmp_path: Path, line: str) -> None:
    with pytest.raises(SessionConfigError, match=r"clients\.cfg:3: HttpAcceptPort .* no authentication"):
        render(_template(tmp_path, line), tmp_path / "out", {})


def test_a_comment_about_it_is_no_setting(tmp_path: Path) -> None:
    render(_template(tmp_path, "# HttpAcceptPort=8088 stays off"), tmp_path / "out", {})


def test_serve_refuses_it_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    venues = config / "fix_sessions" / "venues.cfg"
    venues.write_text(venues.read_text().replace("[DEFAULT]\n", "[DEFAULT]\nHttpAcceptPort=8088\n", 1))
    # Refused before anything starts: no database is needed (none is named).
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "fixgate.cli", "serve", "--config-dir", str(config), "--data-dir", str(tmp_path / "gw")],
        cwd=REPO, capture_output=True, text=True, timeout=120, env=env, check=False,
    )
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"fixgate: {venues}:") and "HttpAcceptPort" in last and "no authentication" in last
