"""FIX 5.0 SP2 over FIXT.1.1 at the edge: every message fixgate builds for a FIXT.1.1 client or venue is
valid against FIXT11.xml + FIX50SP2.xml, the versions' differences are where they belong, a message
naming another application version is refused, and a FIXT.1.1 session configured the way QuickFIX
fails on is refused at start, naming it."""

from __future__ import annotations

import shutil
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import pytest
import quickfix as fix

from domain.model import (
    ExecKind,
    NewOrder,
    OrderStatus,
    OrdType,
    RequestKind,
    Routed,
    Side,
    TimeInForce,
    VenueChange,
)
from gateway import fixspec as t
from gateway.marketdata import subscription
from gateway.settings import SessionConfigError, dictionary_version, render, spec_dir
from gateway.translate import (
    Invalid,
    business_reject,
    client_cancel_reject,
    client_execution_report,
    foreign_appl_ver_id,
    mass_cancel_report,
    parse_cancel,
    refused_order_report,
    session_reject,
    unknown_order_status,
    venue_change,
    venue_new_order,
    venue_status_request,
)
from tests.support import validate_fix50sp2
from tests.unit.book import samples

REPO = Path(__file__).resolve().parents[3]
FIXT = t.FIXT11
SESSION = "FIXT.1.1:FIXGATE->CLIENT1"


def request(msg_type: str, **fields: str) -> fix.Message:
    """A client's request as the session hands it over (header with MsgSeqNum and MsgType)."""
    msg = fix.Message()
    msg.getHeader().setField(t.MSG_TYPE, msg_type)
    msg.getHeader().setField(t.MSG_SEQ_NUM, "7")
    for tag, value in fields.items():
        msg.setField(int(tag[1:]), value)
    return msg


def test_every_message_for_a_fix50_client_is_valid_fix50sp2() -> None:
    report = samples.report(session=SESSION)
    kinds = [(ExecKind.NEW, OrderStatus.NEW), (ExecKind.TRADE, OrderStatus.PARTIALLY_FILLED),
             (ExecKind.TRADE, OrderStatus.FILLED), (ExecKind.CANCELED, OrderStatus.CANCELED),
             (ExecKind.REPLACED, OrderStatus.NEW), (ExecKind.ORDER_STATUS, OrderStatus.NEW),
             (ExecKind.REJECTED, OrderStatus.REJECTED), (ExecKind.DONE_FOR_DAY, OrderStatus.DONE_FOR_DAY),
             (ExecKind.EXPIRED, OrderStatus.EXPIRED), (ExecKind.PENDING_CANCEL, OrderStatus.PENDING_CANCEL)]
    messages = [client_execution_report(replace(report, kind=kind, status=status, price=D("190.5"), orig_cl_ord_id="c0",
                                                text="why"), FIXT, 1)
                for kind, status in kinds]
    messages.append(client_cancel_reject(samples.cancel_reject(session=SESSION), FIXT))
    messages.append(client_cancel_reject(samples.cancel_reject("x2", order_id=None, session=SESSION), FIXT))
    order = NewOrder(SESSION, "c1", "ACC", "AAPL", Side.BUY, OrdType.LIMIT, D(10), D("190.01"), TimeInForce.DAY, 1)
    messages.append(refused_order_report(order, FIXT, "account ACC is not entitled to session CLIENT1", 1))
    status = request("H", t11="c9", t55="AAPL", t54="1")
    messages.append(unknown_order_status(status, FIXT, 1))
    mass = request("q", t11="mc-1", t530="1", t55="AAPL", t60="20250101-00:00:00.000")
    messages.append(mass_cancel_report(mass, FIXT, "1", 3, "3 orders to cancel"))
    messages.append(mass_cancel_report(mass, FIXT, "0", 0, "no", t.MASS_CANCEL_REJECT_OTHER))
    messages.append(business_reject(status, Invalid(11, "ClOrdID (11) is required"), t.CL_ORD_ID))
    for message in messages:
        validate_fix50sp2(message)
    # Outside 4.2, no ExecTransType: 5.0 SP2 has none.
    assert not any(m.isSetField(t.EXEC_TRANS_TYPE) for m in messages)


def test_a_mass_cancel_report_carries_a_mass_action_report_id_in_fix50_only() -> None:
    mass = request("q", t11="mc-1", t530="7", t60="20250101-00:00:00.000")
    fix50 = mass_cancel_report(mass, FIXT, "7", 2, "2 orders to cancel")
    fix44 = mass_cancel_report(mass, t.FIX44, "7", 2, "2 orders to cancel")
    assert fix50.getField(t.MASS_ACTION_REPORT_ID) == fix50.getField(t.ORDER_ID) == "MC-mc-1"
    assert not fix44.isSetField(t.MASS_ACTION_REPORT_ID)  # FIX 4.4 has no tag 1369


def test_every_message_for_a_fix50_venue_is_valid_fix50sp2() -> None:
    order = NewOrder(SESSION, "c1", "ACC", "AAPL", Side.BUY, OrdType.LIMIT, D(10), D("190.01"), TimeInForce.GTC, 1)
    market = replace(order, ord_type=OrdType.MARKET, price=None, time_in_force=TimeInForce.IOC)
    change = VenueChange(RequestKind.CANCEL, 1, "SIM", "FG1R1", "FG1", "V1", "ACC", "AAPL", Side.BUY, OrdType.LIMIT,
                         TimeInForce.DAY, D(10), D("190.01"))
    messages = [venue_new_order(Routed(1, "SIM", "FG1", order), 1), venue_new_order(Routed(2, "SIM", "FG2", market), 1),
                venue_change(change, 1), venue_change(replace(change, kind=RequestKind.REPLACE, quantity=D(20)), 1),
                venue_change(replace(change, venue_order_id=None), 1),
                venue_status_request(samples.order()), subscription("SIM", ["AAPL", "MSFT"])]
    for message in messages:
        validate_fix50sp2(message, "FIXGATE", "SIM")


def test_a_message_naming_another_application_version_is_refused_naming_tag_1128() -> None:
    order = request("D", t11="c1")
    assert foreign_appl_ver_id(order) is None  # the session's default: FIX 5.0 SP2
    order.getHeader().setField(t.APPL_VER_ID, t.APPL_VER_FIX50SP2)
    assert foreign_appl_ver_id(order) is None
    order.getHeader().setField(t.APPL_VER_ID, "7")
    refusal = foreign_appl_ver_id(order)
    assert refusal == Invalid(1128, "ApplVerID (1128) 7 not supported: this session speaks 9 (FIX.5.0SP2)")
    reject = session_reject(order, refusal, t.SRR_VALUE_INCORRECT)
    assert [reject.getField(tag) for tag in (45, 371, 372, 373)] == ["7", "1128", "D", "5"]
    validate_fix50sp2(reject)
    order.getHeader().setField(t.APPL_VER_ID, "x" * 40)  # never echoed at length
    refused = foreign_appl_ver_id(order)
    assert refused is not None and refused.text.startswith("ApplVerID (1128) given not supported")


def test_a_cancel_without_orig_cl_ord_id_is_refused_naming_it() -> None:
    # FIX 5.0 SP2 leaves OrigClOrdID optional (an OrderID may name the order); fixgate needs it.
    refused = parse_cancel(request("F", t11="x1", t37="5", t55="AAPL", t54="1"), SESSION, 1)
    assert refused == Invalid(41, "OrigClOrdID (41) is required: fixgate finds the order by it",
                              t.BRR_CONDITIONALLY_REQUIRED_FIELD_MISSING)


def test_dictionaries_are_known_by_the_version_they_describe(tmp_path: Path) -> None:
    specs = spec_dir()
    assert [dictionary_version(specs / f) for f in ("FIXT11.xml", "FIX50SP2.xml", "FIX44.xml", "FIX42.xml")] == [
        "FIXT.1.1", "FIX.5.0SP2", "FIX.4.4", "FIX.4.2"]
    (tmp_path / "bad.xml").write_text("<fix type='FIX'")
    assert dictionary_version(tmp_path / "bad.xml") is None
    assert dictionary_version(tmp_path / "missing.xml") is None


VARIABLES = {"DATA_DIR": "/tmp/x", "CLIENT_PORT": 1, "SIM_HOST": "127.0.0.1", "SIM_PORT": 2, "SIM2_PORT": 3}


def test_the_shipped_configs_and_the_commented_fix50_venue_render(tmp_path: Path) -> None:
    sessions = REPO / "config" / "fix_sessions"
    clients = render(sessions / "clients.cfg", tmp_path / "out", VARIABLES)
    assert {s.toString() for s in clients.getSessions() if s.getBeginString().getValue() == FIXT} == {
        f"FIXT.1.1:FIXGATE->{c}" for c in ("CLIENT1", "CLIENT2", "BENCH")}
    # The example in venues.cfg, uncommented, is a session fixgate takes.
    text = (sessions / "venues.cfg").read_text()
    example = text[text.index("# [SESSION]\n# BeginString=FIXT.1.1"):]
    venues = tmp_path / "venues.cfg"
    venues.write_text(text + "\n" + "\n".join(line.removeprefix("# ") for line in example.splitlines()) + "\n")
    rendered = render(venues, tmp_path / "out", VARIABLES)
    assert "FIXT.1.1:FIXGATE->VENUE50" in {s.toString() for s in rendered.getSessions()}


@pytest.mark.parametrize(("old", "new", "says"), [
    ("DefaultApplVerID=FIX.5.0SP2\n", "", "DefaultApplVerID=FIX.5.0SP2 is required"),
    ("DefaultApplVerID=FIX.5.0SP2\n", "DefaultApplVerID=FIX.4.4\n", "got FIX.4.4"),
    ("TransportDataDictionary=${SPEC_DIR}/FIXT11.xml\n", "TransportDataDictionary=${SPEC_DIR}/FIX50SP2.xml\n",
     "TransportDataDictionary must be the FIXT.1.1 dictionary (${SPEC_DIR}/FIXT11.xml), got"),
    ("TransportDataDictionary=${SPEC_DIR}/FIXT11.xml\n", "DataDictionary=${SPEC_DIR}/FIX44.xml\n",
     "TransportDataDictionary must be the FIXT.1.1 dictionary (${SPEC_DIR}/FIXT11.xml), got none"),
    ("AppDataDictionary=${SPEC_DIR}/FIX50SP2.xml\n", "AppDataDictionary=${SPEC_DIR}/FIX44.xml\n",
     "AppDataDictionary must be the FIX.5.0SP2 dictionary (${SPEC_DIR}/FIX50SP2.xml), got"),
])
def test_a_fixt_session_quickfix_would_fail_on_is_refused_at_start_naming_it(
    tmp_path: Path, old: str, new: str, says: str
) -> None:
    template = tmp_path / "clients.cfg"
    shutil.copy(REPO / "config" / "fix_sessions" / "clients.cfg", template)
    text = template.read_text()
    assert old in text
    template.write_text(text.replace(old, new, 1))
    with pytest.raises(SessionConfigError) as refused:
        render(template, tmp_path / "out", VARIABLES)
    assert str(refused.value).startswith("clients.cfg FIXT.1.1:FIXGATE->CLIENT1: ")
    assert says in str(refused.value)
