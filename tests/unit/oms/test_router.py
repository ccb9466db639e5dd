"""The router's choice of venue: the client's ExDestination, else the best price after fees and TCA's
venue scores, with the documented tie-breaks; and the decision recorded with its inputs."""

import json
from decimal import Decimal as D

import pytest

from domain.model import Instrument, Listing, NewOrder, OrdType, Side, TimeInForce
from oms.router import MIN_OBSERVATIONS, Route, Router, VenueCost

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


def cost(slippage: str | None = None, markout: str | None = None, rejects: str | None = None,
         fills: int = MIN_OBSERVATIONS, orders: int = MIN_OBSERVATIONS) -> VenueCost:
    return VenueCost(None if slippage is None else D(slippage), fills if slippage is not None else 0,
                     None if markout is None else D(markout), fills if markout is not None else 0,
                     None if rejects is None else D(rejects), orders)


def considered(route: Route) -> dict[str, dict]:  # type: ignore[type-arg]
    return {v["venue"]: v for v in json.loads(route.decision)["venues"]}


def test_equal_prices_go_to_the_venue_whose_takers_lose_less_after_the_fill() -> None:
    r = router("SIM", "SIM3")
    for venue in ("SIM", "SIM3"):
        r.quoted(venue, "AAPL", D("190.00"), D("190.02"))
    # SIM's markout is 3 bps, SIM3's -1 (the half spread back and more): SIM costs 4 bps more than
    # SIM3, which costs nothing (a venue better than the others is not chased), past SIM3's fee.
    r.set_scores({("SIM", "AAPL"): cost("0.5", "3.0"), ("SIM3", "AAPL"): cost("0.5", "-1.0")})
    route = r.route(order())
    assert route.venue == "SIM3"
    assert (D(considered(route)["SIM"]["penalty_bps"]), D(considered(route)["SIM3"]["penalty_bps"])) == (D(4), 0)


def test_a_venue_filling_worse_than_it_quotes_costs_the_difference_once() -> None:
    r = router("SIM", "SIM2")
    for venue in ("SIM", "SIM2"):
        r.quoted(venue, "AAPL", D("190.00"), D("190.02"))
    # Every taker pays the half spread (0.53 bps here); SIM fades 1.05 bps on top of it, which shows in
    # its slippage and its markout alike: counted once. SIM2's fee (0.003 = 0.16 bps) is then cheaper.
    r.set_scores({("SIM", "AAPL"): cost("1.58", "1.58"), ("SIM2", "AAPL"): cost("0.53", "0.53")})
    route = r.route(order())
    assert route.venue == "SIM2"
    assert (D(considered(route)["SIM"]["penalty_bps"]), D(considered(route)["SIM2"]["penalty_bps"])) == (
        D("1.05"), 0)


def test_the_slippage_counts_before_the_markouts_settle() -> None:
    r = router("SIM", "SIM2")
    r.set_scores({("SIM", "AAPL"): cost("1.58"), ("SIM2", "AAPL"): cost("0.53")})
    assert D(considered(r.route(order()))["SIM"]["penalty_bps"]) == D("1.05")


def test_a_score_counts_only_once_enough_fills_are_scored() -> None:
    r = router("SIM", "SIM2")
    for venue in ("SIM", "SIM2"):
        r.quoted(venue, "AAPL", D("190.00"), D("190.02"))
    # SIM: its one scored rival's markout is 0, its own 50 bps on too few fills to count yet: no
    # penalty, and no fee: cheaper than SIM2's 0.003 a share.
    r.set_scores({("SIM", "AAPL"): cost(markout="50", fills=MIN_OBSERVATIONS - 1), ("SIM2", "AAPL"): cost(markout="0")})
    assert r.route(order()).venue == "SIM"
    r.set_scores({("SIM", "AAPL"): cost(markout="50"), ("SIM2", "AAPL"): cost(markout="0")})
    assert r.route(order()).venue == "SIM2"


def test_a_venue_that_rejects_costs_more_though_it_never_fills() -> None:
    r = router("SIM", "SIM2")
    for venue in ("SIM", "SIM2"):
        r.quoted(venue, "AAPL", D("190.00"), D("190.02"))
    # SIM2 rejected half of its 10 orders and filled none; SIM has been traded more.
    r.set_scores({("SIM", "AAPL"): cost("0.5", "0.5", "0", orders=40), ("SIM2", "AAPL"): cost(rejects="0.5")})
    route = r.route(order())
    assert route.venue == "SIM"
    assert D(considered(route)["SIM2"]["penalty_bps"]) == D(5)


def test_at_an_equal_cost_the_venue_seen_less_is_tried_then_the_configured_order() -> None:
    flat = Instrument("AAPL", "A", D("0.01"), D(1), D(190), (Listing("A"), Listing("B")))
    r = Router({"AAPL": flat})
    r.set_venue_up("A", True)
    r.set_venue_up("B", True)
    assert r.route(order()).venue == "A"  # no scores, no quotes: the order of the config
    r.set_scores({("A", "AAPL"): cost(orders=3)})
    assert r.route(order()).venue == "B"  # B has never been sent an order: tried
    r.set_scores({("A", "AAPL"): cost(orders=3), ("B", "AAPL"): cost(orders=3)})
    assert r.route(order()).venue == "A"


def test_routers_given_the_same_quotes_and_scores_in_any_order_decide_alike() -> None:
    quotes = [("SIM", D("190.00"), D("190.02")), ("SIM2", D("190.00"), D("190.02")), ("SIM3", D("189.99"), D("190.02"))]
    scores = {("SIM", "AAPL"): cost("0.6", "0.6"), ("SIM2", "AAPL"): cost("0.5", "0.7"),
              ("SIM3", "AAPL"): cost("0.5", "0.5")}
    one, two = router("SIM", "SIM2", "SIM3"), router("SIM3", "SIM2", "SIM")
    for venue, bid, offer in quotes:
        one.quoted(venue, "AAPL", bid, offer)
    for venue, bid, offer in reversed(quotes):
        two.quoted(venue, "AAPL", bid, offer)
    one.set_scores(scores)
    two.set_scores(dict(reversed(scores.items())))
    for side in (Side.BUY, Side.SELL):
        assert one.route(order(side)) == two.route(order(side))


def test_a_venue_name_is_escaped_in_the_decision() -> None:
    odd = Instrument("AAPL", 'A"1', D("0.01"), D(1), D(190), (Listing('A"1'), Listing("B\\2")))
    r = Router({"AAPL": odd})
    r.set_venue_up('A"1', True)
    decision = json.loads(r.route(order()).decision)
    assert decision["venue"] == 'A"1'
    assert [v["venue"] for v in decision["venues"]] == ['A"1', "B\\2"]


def test_a_venue_that_logs_out_or_refuses_market_data_loses_its_quotes() -> None:
    r = router("SIM", "SIM2")
    r.quoted("SIM", "AAPL", D("190.00"), D("190.01"))
    r.quoted("SIM2", "AAPL", D("190.00"), D("190.05"))
    r.set_venue_up("SIM", False)
    r.set_venue_up("SIM", True)  # logged on again: no snapshot yet
    assert considered(r.route(order()))["SIM"]["touch"] is None
    assert r.route(order()).venue == "SIM2"
    r.quoted("SIM", "AAPL", D("190.00"), D("190.01"))
    r.forget_quotes("SIM")
    assert r.route(order()).venue == "SIM2"


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
    ('N"Y', 'ExDestination (100) N"Y is not a venue of AAPL (SIM, SIM2, SIM3)'),
    ("sim", "ExDestination (100) sim is not a venue of AAPL (SIM, SIM2, SIM3)"),
    ("SIM3", "venue SIM3 for AAPL is not connected"),
])
def test_an_ex_destination_that_cannot_be_used_is_refused(destination: str, reason: str) -> None:
    route = router("SIM", "SIM2").route(order(ex_destination=destination))
    assert route.reason == reason
    assert json.loads(route.decision) == {"policy": "ex_destination", "venue": destination}
    # A name that is no venue of the symbol is the client's text: the order names no venue.
    assert route.venue == ("SIM3" if destination == "SIM3" else "")


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
