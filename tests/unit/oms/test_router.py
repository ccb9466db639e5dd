"""The router's choice of venue: the client's ExDestination, else the best price after fees and TCA's
venue scores, with the documented tie-breaks; and the decision recorded with its inputs."""

import json
from decimal import Decimal as D

import pytest

from domain.model import Instrument, Listing, NewOrder, OrdType, Side, TimeInForce
from oms.router import MIN_SCORED_FILLS, Router, VenueCost

AAPL = Instrument("AAPL", "SIM", D("0.01"), D(1), D("190.00"),
                  (Listing("SIM"), Listing("SIM2", fee_per_share=D("0.003")), Listing("SIM3", fee_bps=D("0.5"))))
ONE = Instrument("MSFT", "SIM", D("0.01"), D(1), D("420.00"))


def order(side: Side = Side.BUY, ex_destination: str | None = None, symbol: str = "AAPL") -> NewOrder:
    return NewOrder("S1", "c1", "ACC", symbol, side, OrdType.MARKET, D(100), None, TimeInForce.DAY, 1,
                    ex_destination=ex_destination)


def router(*up: str) -> Router:
    r = Router({"AAPL": AAPL, "MSFT": ONE})
    for venue in up:
        r.set_venue_up(venue, True)
    return r


def test_a_buy_goes_where_the_offer_plus_the_fee_is_lowest() -> None:
    r = router("SIM", "SIM2", "SIM3")
    r.quoted("SIM", "AAPL", D("190.00"), D("190.03"))
    r.quoted("SIM2", "AAPL", D("190.00"), D("190.02"))  # + 0.003 = 190.023
    r.quoted("SIM3", "AAPL", D("190.00"), D("190.01"))  # + 190.01 x 0.5 bps = 190.0195...
    route = r.route(order())
    assert (route.venue, route.reason) == ("SIM3", None)
    decision = json.loads(route.decision)
    assert decision["policy"] == "best_price" and decision["venue"] == "SIM3"
    by_venue = {v["venue"]: v for v in decision["venues"]}
    assert D(by_venue["SIM2"]["expected"]) == D("190.023")
    assert D(by_venue["SIM3"]["fee"]) == D("190.01") * D("0.5") / 10000


def test_a_sell_goes_where_the_bid_less_the_fee_is_highest() -> None:
    r = router("SIM", "SIM2", "SIM3")
    r.quoted("SIM", "AAPL", D("189.98"), D("190.05"))
    r.quoted("SIM2", "AAPL", D("189.99"), D("190.05"))  # - 0.003 = 189.987: best
    r.quoted("SIM3", "AAPL", D("189.99"), D("190.05"))  # - 0.0095 = 189.9805
    assert r.route(order(Side.SELL)).venue == "SIM2"


def test_a_fee_can_outweigh_a_better_price() -> None:
    r = router("SIM", "SIM2")
    r.quoted("SIM", "AAPL", None, D("190.025"))
    r.quoted("SIM2", "AAPL", None, D("190.0225"))  # + 0.003 = 190.0255 > 190.025
    assert r.route(order()).venue == "SIM"


def test_a_venue_with_a_quote_comes_before_one_without() -> None:
    r = router("SIM", "SIM2")
    r.quoted("SIM2", "AAPL", D("189.00"), D("199.00"))
    assert r.route(order()).venue == "SIM2"


def test_equal_prices_go_to_the_venue_with_the_better_score() -> None:
    r = router("SIM", "SIM3")
    for venue in ("SIM", "SIM3"):
        r.quoted(venue, "AAPL", D("190.00"), D("190.02"))
    # No fee difference that matters once SIM's adverse markout is scored on enough fills.
    r.set_scores({("SIM", "AAPL"): VenueCost(D("0.5"), D("3.0"), D(0), MIN_SCORED_FILLS),
                  ("SIM3", "AAPL"): VenueCost(D("0.5"), D("-1.0"), D(0), MIN_SCORED_FILLS)})
    route = r.route(order())
    assert route.venue == "SIM3"
    by_venue = {v["venue"]: v for v in json.loads(route.decision)["venues"]}
    assert D(by_venue["SIM"]["penalty_bps"]) == D("3.0")
    assert D(by_venue["SIM3"]["penalty_bps"]) == 0  # a favourable markout is not chased


def test_a_venue_filling_worse_than_the_others_costs_the_difference() -> None:
    r = router("SIM", "SIM2")
    for venue in ("SIM", "SIM2"):
        r.quoted(venue, "AAPL", D("190.00"), D("190.02"))
    # Every taker pays the half spread (0.53 bps here); SIM also fades 1.05 bps on top of it. SIM2's
    # fee (0.003 = 0.16 bps) is then the cheaper cost.
    r.set_scores({("SIM", "AAPL"): VenueCost(D("1.58"), D(0), D(0), MIN_SCORED_FILLS),
                  ("SIM2", "AAPL"): VenueCost(D("0.53"), D(0), D(0), MIN_SCORED_FILLS)})
    route = r.route(order())
    assert route.venue == "SIM2"
    by_venue = {v["venue"]: v for v in json.loads(route.decision)["venues"]}
    assert (D(by_venue["SIM"]["penalty_bps"]), D(by_venue["SIM2"]["penalty_bps"])) == (D("1.05"), D(0))


def test_a_score_counts_only_once_enough_fills_are_scored() -> None:
    r = router("SIM", "SIM2")
    for venue in ("SIM", "SIM2"):
        r.quoted(venue, "AAPL", D("190.00"), D("190.02"))
    r.set_scores({("SIM", "AAPL"): VenueCost(D(0), D(50), D(0), MIN_SCORED_FILLS - 1)})
    # SIM: no penalty yet, and no fee: cheaper than SIM2's 0.003 a share.
    assert r.route(order()).venue == "SIM"
    r.set_scores({("SIM", "AAPL"): VenueCost(D(0), D(50), D(0), MIN_SCORED_FILLS)})
    assert r.route(order()).venue == "SIM2"


def test_a_venue_that_rejects_costs_more() -> None:
    cost = VenueCost(D(0), D(0), D("0.5"), MIN_SCORED_FILLS)
    assert cost.penalty_bps(D(0)) == D(5)


def test_at_an_equal_cost_the_venue_scored_less_is_tried_then_the_configured_order() -> None:
    flat = Instrument("AAPL", "A", D("0.01"), D(1), D(190), (Listing("A"), Listing("B")))
    r = Router({"AAPL": flat})
    r.set_venue_up("A", True)
    r.set_venue_up("B", True)
    assert r.route(order()).venue == "A"  # no scores, no quotes: the order of the config
    r.set_scores({("A", "AAPL"): VenueCost(D(0), D(0), D(0), 3)})
    assert r.route(order()).venue == "B"  # B has never been scored: tried
    r.set_scores({("A", "AAPL"): VenueCost(D(0), D(0), D(0), 3), ("B", "AAPL"): VenueCost(D(0), D(0), D(0), 3)})
    assert r.route(order()).venue == "A"


def test_the_same_inputs_give_the_same_decision() -> None:
    r = router("SIM", "SIM2", "SIM3")
    r.quoted("SIM", "AAPL", D("190.00"), D("190.02"))
    assert len({r.route(order()) for _ in range(5)}) == 1


def test_a_venue_that_is_down_is_passed_over_and_recorded() -> None:
    r = router("SIM2")
    r.quoted("SIM", "AAPL", D("190.00"), D("190.01"))  # its last quote: the venue is gone
    r.quoted("SIM2", "AAPL", D("190.00"), D("190.05"))
    route = r.route(order())
    assert route.venue == "SIM2"
    assert {"venue": "SIM", "up": False} in json.loads(route.decision)["venues"]


def test_no_venue_up_is_refused_naming_them() -> None:
    route = router().route(order())
    assert route.reason == "no venue of AAPL is connected (SIM, SIM2, SIM3)"


def test_ex_destination_goes_there_whatever_the_prices() -> None:
    r = router("SIM", "SIM2")
    r.quoted("SIM", "AAPL", D("190.00"), D("190.01"))
    r.quoted("SIM2", "AAPL", D("190.00"), D("195.00"))
    route = r.route(order(ex_destination="SIM2"))
    assert (route.venue, route.reason) == ("SIM2", None)
    assert json.loads(route.decision) == {"policy": "ex_destination", "venue": "SIM2"}


@pytest.mark.parametrize(("destination", "reason"), [
    ("NYSE", "ExDestination (100) NYSE is not a venue of AAPL (SIM, SIM2, SIM3)"),
    ("sim", "ExDestination (100) sim is not a venue of AAPL (SIM, SIM2, SIM3)"),
    ("SIM3", "venue SIM3 for AAPL is not connected"),
])
def test_an_ex_destination_that_cannot_be_used_is_refused(destination: str, reason: str) -> None:
    assert router("SIM", "SIM2").route(order(ex_destination=destination)).reason == reason


def test_an_instrument_with_one_venue_goes_there() -> None:
    r = router("SIM")
    route = r.route(order(symbol="MSFT"))
    assert (route.venue, route.reason, json.loads(route.decision)) == ("SIM", None, {"policy": "only_venue",
                                                                                    "venue": "SIM"})
    assert router().route(order(symbol="MSFT")).reason == "venue SIM for MSFT is not connected"


def test_an_unknown_symbol_has_no_venue() -> None:
    assert router("SIM").route(order(symbol="ZZZZ")).reason == "no venue for unknown symbol ZZZZ"


def test_market_data_is_asked_of_every_venue_listing_the_symbol() -> None:
    r = router()
    assert (r.symbols_at("SIM"), r.symbols_at("SIM2"), r.symbols_at("X")) == (["AAPL", "MSFT"], ["AAPL"], [])
