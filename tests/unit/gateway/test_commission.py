"""A venue's fee on a fill: Commission (12) with CommType (13) read as money (``gateway.translate.commission``),
exact, and passed to the client as an absolute amount. A value fixgate cannot read costs the fill its fee,
never the fill. Over real sockets: tests/acceptance/test_commission.py."""

from __future__ import annotations

import dataclasses
import logging
from decimal import Decimal as D

import pytest
import quickfix as fix

from domain.model import ExecKind, VenueReport
from gateway.translate import client_execution_report, parse_venue_report
from tests.unit.book import samples

# A fill of 40 @ 190.01 (FIX 4.4: ExecType F).
FILL = "11=FG1\x0137=V1\x0117=E7\x01150=F\x0139=1\x0132=40\x0131=190.01\x0114=40\x01151=60\x01"


def venue_report(body: str, extra: str = "") -> VenueReport:
    msg = fix.Message(f"8=FIX.4.4\x019=0\x0135=8\x01{body}{extra}10=000\x01", False)
    report = parse_venue_report(msg, "SIM", "FIX.4.4", 5)
    assert isinstance(report, VenueReport), report
    return report


@pytest.mark.parametrize(("fields", "expected"), [
    ("12=1.25\x0113=3\x01", D("1.25")),  # absolute: as it is
    ("12=1.25\x01", D("1.25")),  # no CommType: absolute (fixgate's choice; FIX leaves it to the parties)
    ("12=0.0035\x0113=1\x01", D("0.14")),  # per unit: 0.0035 x 40
    ("12=0.05\x0113=2\x01", D("3.8002")),  # percent: 40 x 190.01 x 0.05 / 100
    ("12=0.00000001\x0113=2\x01", D("0.00000076004")),  # exact, however many places it takes
    ("12=-0.20\x0113=3\x01", D("-0.20")),  # a rebate is kept
    ("12=0E-30\x0113=3\x01", D(0)),  # a zero is a zero
    ("13=3\x01", None),  # no Commission: no fee
    ("", None),
])
def test_a_fills_commission_is_money_by_its_comm_type(fields: str, expected: D | None) -> None:
    report = venue_report(FILL, fields)
    assert report.commission == expected  # exactly: a float's neighbour would not be equal
    assert expected is None or type(report.commission) is D
    assert (report.last_qty, report.last_px) == (D(40), D("190.01"))


@pytest.mark.parametrize(("fields", "why"), [
    ("12=abc\x0113=3\x01", "not a number"),
    ("12=NaN\x0113=3\x01", "not a finite number"),
    ("12=-Infinity\x0113=3\x01", "not a finite number"),
    ("12=1E+12\x0113=3\x01", "out of range"),
    ("12=0.000000001\x0113=3\x01", "out of range"),
    ("12=1E+999999999\x0113=1\x01", "out of range"),
    ("12=1.5\x0113=6\x01", "a CommType fixgate does not turn into money"),  # points per contract
    ("12=1.5\x0113=x\x01", "a CommType fixgate does not turn into money"),
])
def test_a_commission_fixgate_cannot_read_costs_the_fee_never_the_fill(
    fields: str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="gateway.translate"):
        report = venue_report(FILL, fields)
    assert report.commission is None
    assert (report.kind, report.last_qty, report.last_px, report.cum_qty) == (ExecKind.TRADE, D(40), D("190.01"),
                                                                              D(40))
    [record] = caplog.records
    raw = fields.split("\x01")[0].removeprefix("12=")
    assert record.levelno == logging.ERROR
    message = record.getMessage()
    assert message.startswith(f"venue SIM: Commission (12) '{raw}' with CommType (13) ")
    assert "on ExecID E7" in message and why in message and "the fill is applied without a commission" in message


def test_a_fill_whose_quantity_makes_no_finite_fee_keeps_its_fill(caplog: pytest.LogCaptureFixture) -> None:
    body = FILL.replace("32=40", "32=NaN")
    with caplog.at_level(logging.ERROR, logger="gateway.translate"):
        report = venue_report(body, "12=0.01\x0113=1\x01")
    assert report.commission is None and report.last_qty.is_nan()
    assert "no finite amount with LastQty (32) NaN" in caplog.records[0].getMessage()


def test_only_a_fill_carries_a_commission() -> None:
    ack = "11=FG1\x0137=V1\x0117=E6\x01150=0\x0139=0\x0114=0\x01151=100\x01"
    assert venue_report(ack, "12=1.25\x0113=3\x01").commission is None


def test_the_client_is_told_the_fee_of_a_fill_as_an_absolute_amount() -> None:
    fill = dataclasses.replace(samples.report("A"), kind=ExecKind.TRADE, last_qty=D(40), last_px=D("190.01"),
                               commission=D("3.80020"))
    msg = client_execution_report(fill, "FIX.4.4", 0)
    assert (msg.getField(12), msg.getField(13)) == ("3.8002", "3")
    for report in (dataclasses.replace(fill, commission=None), dataclasses.replace(fill, kind=ExecKind.NEW)):
        built = client_execution_report(report, "FIX.4.4", 0)
        assert not built.isSetField(12) and not built.isSetField(13)
