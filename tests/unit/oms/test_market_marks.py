"""Marks from market data go through the OMS to risk: a falling market moves an account holding the
symbol to its daily loss state, and the breach goes to the book with the marks (for a restart)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal as D

from domain.model import (
    BookRecord,
    Breach,
    ClientMessage,
    ClientReport,
    ExecKind,
    ExecutionRecord,
    Instrument,
    MarkRecord,
    NewOrder,
    OrderRecord,
    OrderStatus,
    OrdType,
    PositionRecord,
    Routed,
    Side,
    TimeInForce,
    TradingState,
    VenueReport,
)
from oms.manager import OrderManager
from oms.router import Router
from risk import PreTradeRisk, risk_config_from_mapping

INSTRUMENTS = {"AAPL": Instrument("AAPL", "SIM", D("0.01"), D(1), D(190))}
NOW = 20_000 * 86_400 * 1_000_000_000 + 1  # just after a UTC midnight


class Book:
    def __init__(self) -> None:
        self.records: list[BookRecord | Breach] = []

    def __call__(self, records: Sequence[BookRecord | Breach], owed: Sequence[ClientMessage] = ()) -> None:
        self.records.extend(records)


def make(limits: str = "5", marks_sink: Callable[[Sequence[BookRecord]], None] | None = None,
         ) -> tuple[OrderManager, PreTradeRisk, Book]:
    router = Router(INSTRUMENTS)
    router.set_venue_up("SIM", True)
    config = risk_config_from_mapping({
        "accounts": {"ACC": {"max_daily_loss": limits, "daily_loss_action": "REDUCING"}},
        "firm": {"max_daily_loss": "1000000"},
    })
    risk = PreTradeRisk(INSTRUMENTS, config, clock_ns=lambda: 0, wall_clock_ns=lambda: NOW)
    book = Book()
    oms = OrderManager(instruments=INSTRUMENTS, risk=risk, router=router, sink=book, marks_sink=marks_sink,
                       clock_ns=lambda: NOW)
    return oms, risk, book


def buy(cl: str, qty: str = "100", price: str = "190.00", account: str = "ACC") -> NewOrder:
    return NewOrder("S1", cl, account, "AAPL", Side.BUY, OrdType.LIMIT, D(qty), D(price), TimeInForce.DAY, 1)


def filled(oms: OrderManager, cl: str, qty: str, price: str, account: str = "ACC") -> None:
    [routed] = oms.submit(buy(cl, qty, price, account))
    assert isinstance(routed, Routed)
    oms.apply(VenueReport("SIM", routed.venue_cl_ord_id, None, "V1", f"{cl}-e", ExecKind.TRADE, OrderStatus.FILLED,
                          D(qty), D(price), D(qty), D(0), "", 5))


def test_a_falling_market_makes_the_holder_reducing_and_the_breach_is_booked_with_the_marks() -> None:
    oms, risk, book = make()
    filled(oms, "b1", "100", "190.00")
    assert not [r for r in book.records if isinstance(r, Breach)]

    oms.market_marks([("AAPL", D("189.95"))])  # -5.00: at the limit
    assert risk.account_states == {}
    book.records.clear()
    oms.market_marks([("AAPL", D("189.94")), ("MSFT", D(400))])  # -6.00
    assert book.records == [
        MarkRecord("AAPL", D("189.94"), NOW), MarkRecord("MSFT", D(400), NOW),
        Breach("ACC", TradingState.REDUCING, D("6.00"), D(5), "daily loss 6.00 > max 5", NOW),
    ]
    [outcome] = oms.submit(buy("b2", "1", "189.94"))
    assert isinstance(outcome, ClientReport) and outcome.kind is ExecKind.REJECTED
    assert outcome.text == (
        "account ACC REDUCING: daily loss 6.00 > max 5; BUY 1 AAPL would not reduce the position 100"
        " (working on that side 0)")


def test_a_breach_a_fill_makes_is_booked_after_the_fill_and_its_position() -> None:
    oms, _, book = make()
    filled(oms, "h1", "100", "190.00")
    filled(oms, "o1", "1", "189.90", account="OTHER")  # another account's trade marks ACC at 189.90
    booked = book.records[-5:]
    assert [type(r) for r in booked] == [PositionRecord, MarkRecord, Breach, ExecutionRecord, OrderRecord]
    breach = booked[2]
    assert isinstance(breach, Breach) and (breach.account, breach.daily_loss) == ("ACC", D("10.00"))


def test_marks_that_do_not_move_are_booked_but_recheck_nothing() -> None:
    oms, risk, book = make(limits="0.01")
    filled(oms, "b1", "100", "190.00")
    book.records.clear()
    oms.market_marks([("AAPL", D("190.00"))])
    assert book.records == [MarkRecord("AAPL", D("190.00"), NOW)]
    assert risk.account_states == {}


def test_marks_skip_the_journal_unless_they_cause_a_breach() -> None:
    direct: list[BookRecord] = []
    oms, _, journaled = make(marks_sink=direct.extend)  # as fixgate wires it: the book writer's submit
    filled(oms, "b1", "100", "190.00")
    before = len(journaled.records)
    oms.market_marks([("AAPL", D("189.99"))])  # a loss of 1.00: under the limit of 5
    assert journaled.records[before:] == [] and direct == [MarkRecord("AAPL", D("189.99"), NOW)]
    oms.market_marks([("AAPL", D("189.90"))])  # a loss of 10.00: the account moves to REDUCING
    breach = journaled.records[before:]
    assert MarkRecord("AAPL", D("189.90"), NOW) in breach and any(isinstance(r, Breach) for r in breach)


@dataclass
class Quote:
    """A venue's top of book, as ``gateway.marketdata.Quote`` holds it."""

    bid: D | None
    offer: D | None


def test_a_venues_mark_names_the_venue_and_its_quotes_and_a_fills_mark_does_not() -> None:
    marks: list[BookRecord] = []
    oms, _, book = make(marks_sink=marks.extend)
    oms.market_marks([("AAPL", D("190.01"))], "SIM", {"AAPL": Quote(D("189.96"), D("189.99"))})
    assert marks == [MarkRecord("AAPL", D("190.01"), NOW, "SIM", D("189.96"), D("189.99"))]
    filled(oms, "f1", "10", "190.00")
    assert [r for r in book.records if isinstance(r, MarkRecord)] == [MarkRecord("AAPL", D("190.00"), NOW)]
