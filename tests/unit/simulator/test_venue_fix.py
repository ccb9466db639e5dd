"""The QuickFIX settings the venue renders and the FIX reports it builds, checked without a socket."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import pytest
import quickfix as fix

from simulator.config import VenueConfig, default_instruments
from simulator.matching import (
    SEED_OWNER,
    CancelRejected,
    CancelRejectReason,
    CancelRequest,
    ExecutionEvent,
    MatchingEngine,
    NewOrderRequest,
    OrderFilled,
    OrdType,
    ReplaceRequest,
    RequestKind,
    Side,
    TimeInForce,
)
from simulator.venue import (
    _fmt,
    cancel_reject,
    data_dictionary_path,
    execution_report,
    render_settings,
    status_report,
)
from tests.support import validate_fix50sp2


def test_settings_have_one_session_per_version_and_client_and_keep_sequence_numbers(tmp_path: Path) -> None:
    config = VenueConfig(name="XCH", port=12345, target_comp_ids=("A", "B"))
    text = render_settings(config, tmp_path)
    assert text.count("[SESSION]") == 6
    for line in ("SenderCompID=XCH", "SocketAcceptPort=12345", "ResetOnLogon=N", "ResetOnDisconnect=N",
                 "NonStopSession=Y"):  # no logout nor sequence reset at a day boundary
        assert line in text.splitlines()
    assert f"FileStorePath={tmp_path / 'store'}" in text
    assert f"DataDictionary={Path(sys.prefix) / 'share' / 'quickfix' / 'FIX42.xml'}" in text
    # FIX 5.0 SP2: the FIXT.1.1 transport dictionary, the application one, and the default version.
    for line in (f"TransportDataDictionary={Path(sys.prefix) / 'share' / 'quickfix' / 'FIXT11.xml'}",
                 f"AppDataDictionary={Path(sys.prefix) / 'share' / 'quickfix' / 'FIX50SP2.xml'}",
                 "DefaultApplVerID=FIX.5.0SP2"):
        assert text.splitlines().count(line) == 2  # one per client
    path = tmp_path / "qf.cfg"
    path.write_text(text)
    sessions = fix.SessionSettings(str(path)).getSessions()
    assert {s.toString() for s in sessions} == {
        "FIX.4.4:XCH->A",
        "FIX.4.4:XCH->B",
        "FIX.4.2:XCH->A",
        "FIX.4.2:XCH->B",
        "FIXT.1.1:XCH->A",
        "FIXT.1.1:XCH->B",
    }


def test_a_local_only_venue_tells_quickfix_to_admit_only_loopback_peers(tmp_path: Path) -> None:
    # QuickFIX 1.16 has no SocketAcceptHost; AllowedRemoteAddresses is how host = 127.0.0.1 holds.
    local = render_settings(VenueConfig(), tmp_path).splitlines()
    anywhere = render_settings(VenueConfig(host="0.0.0.0"), tmp_path).splitlines()
    assert "AllowedRemoteAddresses=127.0.0.1" in local
    assert local.index("AllowedRemoteAddresses=127.0.0.1") < local.index("[SESSION]")  # every session
    assert not any(line.startswith("AllowedRemoteAddresses") for line in anywhere)


def test_data_dictionaries_resolve_under_sys_prefix() -> None:
    assert data_dictionary_path("FIX.4.4").name == "FIX44.xml"
    assert data_dictionary_path("FIX.4.4").is_file()


def test_decimals_go_on_the_wire_without_exponent_or_trailing_zeros() -> None:
    assert _fmt(Decimal("190.01000000")) == "190.01"
    assert _fmt(Decimal("1E+2")) == "100"
    assert _fmt(Decimal("0E-8")) == "0"
    assert _fmt(Decimal("0.00005")) == "0.00005"


def test_cancel_reject_reason_codes_follow_the_fix_version() -> None:
    event = CancelRejected(
        owner="o",
        cl_ord_id="c2",
        orig_cl_ord_id="c1",
        response_to=RequestKind.REPLACE,
        reason_code=CancelRejectReason.DUPLICATE_CL_ORD_ID,
        reason="duplicate ClOrdID c2",
        order_id=None,
        status=None,
    )
    fix44 = cancel_reject(event, "FIX.4.4")
    fix42 = cancel_reject(event, "FIX.4.2")
    assert (fix44.getField(102), fix42.getField(102)) == ("6", "2")  # 4.2 has no DuplicateClOrdID
    assert cancel_reject(event, "FIXT.1.1").getField(102) == "6"  # 5.0 SP2 as 4.4
    assert (fix44.getField(434), fix44.getField(37), fix44.getField(39)) == ("2", "NONE", "8")


@pytest.mark.parametrize("begin_string", ["FIX.4.4", "FIX.4.2"])
def test_done_for_day_is_exec_type_and_ord_status_3_with_the_open_quantity(begin_string: str) -> None:
    engine = MatchingEngine(default_instruments(), id_prefix="T")
    engine.submit(NewOrderRequest("o", "g", "AAPL", Side.BUY, Decimal(10), OrdType.LIMIT, Decimal(189),
                                  TimeInForce.GTC))
    [event] = engine.expire_day_orders()
    message = execution_report(event, begin_string)
    # FIX 4.2 and 4.4 agree: ExecType 3 and OrdStatus 3; the order is still open for the next day.
    assert [message.getField(tag) for tag in (11, 150, 39, 59, 151, 14)] == ["g", "3", "3", "1", "10", "0"]
    assert message.getField(58) == "GTC order done for the day; it stays on the book"


def _engine_events() -> list[ExecutionEvent]:
    engine = MatchingEngine(default_instruments(), id_prefix="T")
    engine.seed_liquidity(SEED_OWNER, 5, Decimal(100))
    events: list[ExecutionEvent] = []
    events += engine.submit(
        NewOrderRequest("o", "a", "AAPL", Side.BUY, Decimal(1000), OrdType.LIMIT, Decimal("190.02"))
    )
    events += engine.submit(
        NewOrderRequest("o", "bad", "AAPL", Side.BUY, Decimal(1), OrdType.LIMIT, Decimal("1.001"))
    )
    events += engine.submit(NewOrderRequest("o", "m", "AAPL", Side.SELL, Decimal(10), OrdType.MARKET))
    events += engine.submit(
        NewOrderRequest("o", "i", "AAPL", Side.BUY, Decimal(5), OrdType.LIMIT, Decimal(1), TimeInForce.IOC)
    )
    events += engine.replace(ReplaceRequest("o", "a2", "a", Decimal(900), Decimal("190.02")))
    events += engine.submit(
        NewOrderRequest("o", "d", "MSFT", Side.SELL, Decimal(5), OrdType.LIMIT, Decimal(421))
    )
    events += engine.expire_day_orders()
    events += engine.cancel(CancelRequest("o", "x", "a2"))
    events += engine.cancel(CancelRequest("o", "y", "ghost"))
    events += engine.reject_new(
        owner="o", cl_ord_id="gtd", symbol="AAPL", side=Side.BUY, quantity=Decimal(1), reason="unsupported"
    )
    return events


@pytest.mark.parametrize("begin_string", ["FIX.4.4", "FIX.4.2", "FIXT.1.1"])
def test_every_report_the_venue_sends_is_valid_for_the_clients_data_dictionary(begin_string: str) -> None:
    # A client whose QuickFIX validates incoming messages (the gateway does) would reject, at the
    # session level, any report that breaks its data dictionary; check each kind against it.
    events = _engine_events()
    kinds = {type(e).__name__ for e in events}
    assert kinds >= {
        "OrderAccepted",
        "OrderFilled",
        "OrderRejected",
        "OrderCanceled",
        "OrderReplaced",
        "OrderExpired",
        "OrderDoneForDay",
        "CancelRejected",
    }
    messages = [execution_report(e, begin_string) for e in events]
    known = next(e for e in events if isinstance(e, OrderFilled)).order
    for order in (known, None):
        messages.append(
            status_report(
                order, "E9", begin_string, cl_ord_id="a", symbol="AAPL", side="1", ord_status_req_id="r1"
            )
        )
    if begin_string == "FIXT.1.1":  # FIX 5.0 SP2 over FIXT.1.1: two dictionaries
        for message in messages:
            validate_fix50sp2(message, "SIM", "CLIENT1")
        return
    dictionary = fix.DataDictionary(str(data_dictionary_path(begin_string)))
    for message in messages:
        header = message.getHeader()
        for tag, value in ((8, begin_string), (49, "SIM"), (56, "CLIENT1"), (34, "2")):
            header.setField(tag, value)
        header.setField(52, "20250101-00:00:00.000")
        wire = message.toString()
        parsed = fix.Message(wire, dictionary, True)
        dictionary.validate(parsed)  # raises on a missing required tag, a wrong value, a stray field
