"""Drop copy sessions: which sessions clients.cfg makes drop copies of whom, and what a restart owes them."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
import quickfix as fix

from domain.model import Carried, ClientCopy, ClientSent
from gateway.clients import ClientApplication
from gateway.dropcopy import Coverage, DropCopies, drop_copies
from gateway.settings import SessionConfigError
from oms.manager import OrderManager
from tests.unit.book import samples

CLIENT1 = "FIX.4.4:FIXGATE->CLIENT1"  # samples.report's session
DROP = "FIX.4.4:FIXGATE->DROPCOPY"
DROP42 = "FIX.4.2:FIXGATE->DROPCOPY"


def settings(tmp_path: Path, *sessions: str) -> fix.SessionSettings:
    blocks = "".join(f"\n[SESSION]\n{block.strip()}\n" for block in sessions)
    path = tmp_path / "clients.cfg"
    path.write_text(f"[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort=1\nSenderCompID=FIXGATE\n{blocks}")
    return fix.SessionSettings(str(path))


def session(comp_id: str, extra: str = "", begin_string: str = "FIX.4.4") -> str:
    return f"BeginString={begin_string}\nTargetCompID={comp_id}\n{extra}"


def test_a_drop_copy_covers_the_client_compids_it_names_in_every_fix_version(tmp_path: Path) -> None:
    copies = drop_copies(settings(
        tmp_path, session("CLIENT1"), session("CLIENT1", begin_string="FIX.4.2"), session("CLIENT2"),
        session("BENCH"), session("DROPCOPY", "DropCopy=Y\nDropCopyOf=CLIENT1, CLIENT2"),
        session("DROPCOPY", "DropCopy=Y\nDropCopyOf=CLIENT1", "FIX.4.2"),
    ))
    assert copies.sessions == {DROP, DROP42}
    assert copies.of(CLIENT1) == (DROP42, DROP)
    assert copies.of("FIX.4.2:FIXGATE->CLIENT1") == (DROP42, DROP)
    assert copies.of("FIX.4.4:FIXGATE->CLIENT2") == (DROP,)
    assert copies.of("FIX.4.4:FIXGATE->BENCH") == ()
    assert copies.of(DROP) == ()  # a copy is never copied


def test_a_star_covers_every_trading_session(tmp_path: Path) -> None:
    copies = drop_copies(settings(tmp_path, session("CLIENT1"), session("BENCH"),
                                  session("AUDIT", "DropCopy=Y\nDropCopyOf=*")))
    assert set(copies.covering) == {CLIENT1, "FIX.4.4:FIXGATE->BENCH"}


def test_without_drop_copies_nothing_is_covered(tmp_path: Path) -> None:
    copies = drop_copies(settings(tmp_path, session("CLIENT1"), session("CLIENT2", "DropCopy=N")))
    assert copies.sessions == frozenset() and copies.covering == {}


@pytest.mark.parametrize(("sessions", "error"), [
    ((session("DROPCOPY", "DropCopy=Y"),), "DropCopy=Y needs DropCopyOf="),
    ((session("CLIENT1", "DropCopyOf=CLIENT2"),), "DropCopyOf without DropCopy=Y"),
    ((session("CLIENT1"), session("DROPCOPY", "DropCopy=Y\nDropCopyOf=CLIENT9")), "DropCopyOf names CLIENT9"),
    ((session("CLIENT1"), session("A", "DropCopy=Y\nDropCopyOf=CLIENT1"), session("B", "DropCopy=Y\nDropCopyOf=A")),
     "DropCopyOf names A"),
    ((session("CLIENT1"), session("DROPCOPY", "DropCopy=Y\nDropCopyOf=CLIENT1\nAccounts=CLIENT1")),
     "trades nothing: remove Accounts="),
    ((session("CLIENT1"), session("DROPCOPY", "DropCopy=Y\nDropCopyOf=CLIENT1\nCancelOnDisconnect=Y")),
     "trades nothing: remove CancelOnDisconnect="),
    ((session("CLIENT1"), session("CLIENT1", "DropCopy=Y\nDropCopyOf=*", "FIX.4.2")),
     "CLIENT1: a drop copy in one"),
])
def test_a_drop_copy_that_cannot_mean_what_it_says_stops_the_start(
    tmp_path: Path, sessions: tuple[str, ...], error: str
) -> None:
    with pytest.raises(SessionConfigError, match=error):
        drop_copies(settings(tmp_path, *sessions))


def clients() -> ClientApplication:
    app = ClientApplication(cast(OrderManager, object()), lambda effects: Carried())  # owe() needs neither
    app.drop_copies = DropCopies(frozenset({DROP}), {CLIENT1: Coverage((DROP,))})
    return app


def test_a_restart_owes_a_drop_copy_what_it_never_had_and_keeps_the_clients_marks() -> None:
    a, b, c = samples.report("A"), samples.report("B"), samples.report("C")
    app = clients()
    # CLIENT1 had A and B; DROPCOPY had A only; nobody had C.
    sent = {ClientSent.of(a), ClientSent.of(b), ClientSent.of(ClientCopy(DROP, a))}
    carried = app.owe([a, b, c, b], sent)
    # The new journal must owe the same at the next start: B with CLIENT1's mark, C with none.
    assert carried == [b, ClientSent.of(b), c]
    assert app._owed == {DROP: [ClientCopy(DROP, b), ClientCopy(DROP, c)], CLIENT1: [c]}


def test_a_copys_mark_is_its_drop_copys_with_the_ref_of_what_it_copies() -> None:
    reject = samples.cancel_reject("x1")
    assert ClientSent.of(ClientCopy(DROP, reject)) == ClientSent(DROP, ClientSent.of(reject).ref)
    assert ClientSent.of(ClientCopy(DROP, samples.report("A"))) == ClientSent(DROP, "8:A")


def test_a_drop_copy_that_had_everything_is_owed_nothing() -> None:
    a = samples.report("A")
    app = clients()
    assert app.owe([a], {ClientSent.of(a), ClientSent(DROP, "8:A")}) == []
    assert app._owed == {}
