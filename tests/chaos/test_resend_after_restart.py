"""A client that resets its sequence numbers (141=Y) never gets a report it had again as new after a
restart; a report whose delivery fixgate cannot vouch for comes with PossResend (97=Y).

A ResetSeqNumFlag logon empties QuickFIX's store of the client session, so what QuickFIX sent before
it is no longer there to read; fixgate keeps its own durable record of what it sent (``ClientSent``
in the journal)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from book.journal import Journal
from fixgate.app import Fixgate
from fixgate.config import Settings
from fixgate.fixclient import FixClient, Message
from simulator.venue import Simulator
from tests.chaos.test_crash_recovery import GatewayProcess
from tests.support import free_port, one_venue_config_dir, order_fields
from tests.unit.book import samples


def logon(port: int, comp_id: str = "CLIENT1", begin_string: str = "FIX.4.4") -> FixClient:
    """A client (CLIENT1) starting a new day: sequence numbers from 1, ResetSeqNumFlag (141=Y)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            client = FixClient.connect("127.0.0.1", port, sender_comp_id=comp_id, target_comp_id="FIXGATE",
                                       begin_string=begin_string)
            client.logon(reset_seq_num=True, timeout=10)
            return client
        except (OSError, ConnectionError, TimeoutError):
            assert time.monotonic() < deadline, f"{comp_id} could not log on in 30 s"
            time.sleep(0.2)


def sync(client: FixClient) -> None:
    """Wait until the gateway has answered a TestRequest: what it sent before is in."""
    test_id = f"sync-{time.monotonic_ns()}"
    client.send("1", {112: test_id})
    deadline = time.monotonic() + 30
    while not any(m.get(35) == "0" and m.get(112) == test_id for m in client.received):
        assert time.monotonic() < deadline, f"no Heartbeat answered TestRequest {test_id} in 30 s"
        time.sleep(0.02)


def reports(client: FixClient) -> list[Message]:
    return [m for m in client.received if m.get(35) in ("8", "9")]


def flagged(message: Message) -> bool:
    return message.get(43) == "Y" or message.get(97) == "Y"


def test_reports_a_resetting_client_had_never_come_again_as_new_after_a_kill(
    tmp_path: Path, database_url: str, simulator: Simulator
) -> None:
    gateway = GatewayProcess(tmp_path / "gw", database_url, simulator.port)
    gateway.data_dir.mkdir()
    gateway.start()
    had: set[str] = set()  # ExecIDs CLIENT1 received
    try:
        for day in range(4):  # each logon resets the session and empties QuickFIX's store of it
            client = logon(gateway.client_port)
            for n in range(2):
                # A sell that rests below the simulator's ask, and a buy that takes it: four reports.
                sell, buy = f"s{day}-{n}", f"b{day}-{n}"
                client.send("D", order_fields(sell, 5, "190.00", side="2"))
                client.expect("8", where={11: sell, 150: "0"})
                client.send("D", order_fields(buy, 5, "190.00"))
                client.expect("8", where={11: buy, 39: "2"})
                client.expect("8", where={11: sell, 39: "2"})
            sync(client)
            had.update(m[17] for m in reports(client))
            client.close()  # dropped without a Logout, as a client's crash would
        assert len(had) == 4 * 2 * 4
        gateway.kill()
        gateway.start()

        client = logon(gateway.client_port)
        sync(client)  # reports owed at logon are sent before the TestRequest is answered
        again = [m for m in reports(client) if m.get(17) in had]
        client.close()
    finally:
        gateway.stop()
    assert [str(m) for m in again if not flagged(m)] == []  # never again as new
    # Every report was on the wire, and marked so, long before the kill: none is even uncertain.
    assert [str(m) for m in again] == []


def test_a_report_journaled_but_never_marked_sent_goes_at_logon_with_possresend(
    tmp_path: Path, database_url: str, simulator: Simulator
) -> None:
    settings = Settings(config_dir=one_venue_config_dir(), data_dir=tmp_path / "gw", client_port=free_port(), sim_port=simulator.port,
                        rest_port=free_port(), database_url=database_url, api_token="t" * 32)
    # A run killed after journaling a fill's report and before QuickFIX had it on the wire (or before
    # fixgate recorded that it had): the journal holds the report, and no ClientSent for it.
    journal = Journal(settings.data_dir / "journal")
    journal.append([samples.order(1), samples.report("R1")])
    journal.close()

    received: list[list[Message]] = []
    for _ in range(2):  # the second start finds R1 marked as sent at the first one's logon
        app = Fixgate(replace(settings, client_port=free_port(), rest_port=free_port()))
        app.start()
        try:
            client = logon(app.settings.client_port)
            sync(client)
            received.append(reports(client))
            client.logout(timeout=2)
        finally:
            app.stop()
    [owed] = [m for m in received[0] if m[17] == "R1"]
    assert (owed[11], owed.get(97), owed.get(43)) == ("c1", "Y", None)
    # The venue does not know order 1: start-up's status check cancels it, and the client gets that
    # report: live if it is logged on by then; else QuickFIX stores it, the 141=Y logon empties the
    # store and fixgate sends it with PossResend; one handed over while the Logon is being answered
    # may come a second time by resend (PossDup). Never twice as new.
    canceled = [m for m in received[0] if m[17] != "R1"]
    assert canceled and {(m[17], m[11], m[39]) for m in canceled} == {(canceled[0][17], "c1", "4")}
    new = [str(m) for m in canceled if m.get(97) != "Y" and m.get(43) != "Y"]
    assert len(new) <= 1, new
    assert received[1] == []


def fill_while_away(port: int, begin_string: str = "FIX.4.4") -> FixClient:
    """CLIENT1 leaves a sell resting and logs out; BENCH's buy fills it while CLIENT1 is away. Returns
    once the gateway has handled CLIENT1's fill (and handed its report to QuickFIX, which can only
    store it): the venue session's reports are handled in order, and BENCH's next order's ack comes
    after the fill. Returns CLIENT1's closed connection (its sequence numbers)."""
    client = logon(port, begin_string=begin_string)
    client.send("D", order_fields("away", 5, "190.00", side="2"))
    client.expect("8", where={11: "away", 150: "0"})
    client.logout(timeout=10)
    bench = logon(port, "BENCH")
    bench.send("D", order_fields("take", 5, "190.00"))
    bench.expect("8", where={11: "take", 39: "2"})
    bench.send("D", order_fields("after", 1, "175.00"))
    bench.expect("8", where={11: "after", 150: "0"})
    bench.logout(timeout=10)
    return client


def fill_of_away(client: FixClient) -> list[tuple[str | None, str | None, str | None]]:
    return [(m.get(39), m.get(97), m.get(43)) for m in reports(client) if m.get(11) == "away" and m.get(150) == "F"]


@pytest.mark.parametrize("begin_string", ["FIX.4.4", "FIXT.1.1"])
def test_a_fill_made_while_the_client_was_away_reaches_it_after_a_kill_and_a_resetting_logon(
    begin_string: str, tmp_path: Path, database_url: str, simulator: Simulator
) -> None:
    # QuickFIX stores a report for a logged-out session (sendToTarget says True): no mark that it went
    # out, so after a kill it is owed; the 141=Y logon has emptied QuickFIX's store of it.
    gateway = GatewayProcess(tmp_path / "gw", database_url, simulator.port)
    gateway.data_dir.mkdir()
    gateway.start()
    try:
        fill_while_away(gateway.client_port, begin_string)
        gateway.kill()
        gateway.start()
        client = logon(gateway.client_port, begin_string=begin_string)
        sync(client)
        fills = fill_of_away(client)
        client.close()
    finally:
        gateway.stop()
    assert fills == [("2", "Y", None)]


def test_a_fill_made_while_the_client_was_away_reaches_it_at_a_resetting_logon_in_the_same_run(
    tmp_path: Path, database_url: str, simulator: Simulator
) -> None:
    # The 141=Y logon empties QuickFIX's store, the only copy QuickFIX had: fixgate sends it again.
    settings = Settings(config_dir=one_venue_config_dir(), data_dir=tmp_path / "gw", client_port=free_port(), sim_port=simulator.port,
                        rest_port=free_port(), database_url=database_url, api_token="t" * 32)
    app = Fixgate(settings)
    app.start()
    try:
        fill_while_away(settings.client_port)
        client = logon(settings.client_port)
        sync(client)
        fills = fill_of_away(client)
        client.logout(timeout=10)
    finally:
        app.stop()
    assert fills == [("2", "Y", None)]


def test_a_fill_made_while_the_client_was_away_is_resent_by_quickfix_to_a_client_keeping_its_numbers(
    tmp_path: Path, database_url: str, simulator: Simulator
) -> None:
    # No reset: QuickFIX's store still has the report, and resends it (PossDup) when the client asks
    # for the gap; fixgate sends no second copy of its own, and marks the resend as on the wire.
    gateway = GatewayProcess(tmp_path / "gw", database_url, simulator.port)
    gateway.data_dir.mkdir()
    gateway.start()
    try:
        before = fill_while_away(gateway.client_port)
        client = FixClient.connect("127.0.0.1", gateway.client_port, sender_comp_id="CLIENT1",
                                   target_comp_id="FIXGATE", next_seq_out=before.next_seq_out,
                                   next_seq_in=before.next_seq_in)
        client.logon(timeout=10)
        client.expect("8", where={11: "away", 150: "F"})
        sync(client)
        resent = fill_of_away(client)
        client.close()
        gateway.kill()
        gateway.start()
        client = logon(gateway.client_port)
        sync(client)
        after_kill = fill_of_away(client)
        client.close()
    finally:
        gateway.stop()
    assert resent == [("2", None, "Y")]
    assert after_kill == []  # marked when QuickFIX resent it: not owed
