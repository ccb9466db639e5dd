"""The TCA formulas, each number worked by hand in the comment beside it."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tca.measures import (
    EwMean,
    ScoreKey,
    TopQuote,
    consolidated_mid,
    decay,
    effective_spread,
    implementation_shortfall,
    markout_bps,
    score_keys,
    size_bucket,
    slippage_bps,
)


def test_consolidated_mid_is_the_mid_of_the_best_bid_and_offer_over_venues() -> None:
    # best bid 189.99 (A), best offer 190.01 (A) beats B's 190.03: mid (189.99 + 190.01) / 2 = 190.00
    quotes = [TopQuote(D("189.99"), D("190.01")), TopQuote(D("189.98"), D("190.03"))]
    assert consolidated_mid(quotes) == D("190.00")
    # bid 190.00 at B, offer 190.01 at A: 190.005
    assert consolidated_mid([TopQuote(D("189.99"), D("190.01")), TopQuote(D("190.00"), D("190.03"))]) == D("190.005")


@pytest.mark.parametrize("quotes", [
    [TopQuote(D("189.99"), None)],  # no offer anywhere
    [TopQuote(D("190.01"), D("190.02")), TopQuote(D("189.98"), D("190.01"))],  # locked: 190.01 / 190.01
    [TopQuote(D("190.02"), D("190.03")), TopQuote(D("189.98"), D("190.01"))],  # crossed
    [],
])
def test_no_mid_without_both_sides_or_with_a_locked_or_crossed_book(quotes: list[TopQuote]) -> None:
    assert consolidated_mid(quotes) is None


def test_slippage_is_positive_for_a_cost_on_either_side() -> None:
    # buy at 190.01 against 190.00: 0.01 / 190 * 10000 = 0.526315... bps
    assert slippage_bps("BUY", D("190.01"), D("190.00")) == D("0.5263")
    # sell at 189.99: received 0.01 less than the mid: the same cost
    assert slippage_bps("SELL", D("189.99"), D("190.00")) == D("0.5263")
    # buy below the mid: a gain, negative
    assert slippage_bps("BUY", D("189.99"), D("190.00")) == D("-0.5263")


def test_effective_spread_is_twice_the_signed_distance_from_the_mid() -> None:
    assert effective_spread("BUY", D("190.01"), D("190.00")) == D("0.02")
    assert effective_spread("SELL", D("190.01"), D("190.00")) == D("-0.02")  # sold above the mid: earned


def test_markout_is_positive_when_the_price_moved_against_us() -> None:
    # bought at 190.01, mid a second later 189.985: paid 0.025 more than it was worth: 250 / 190.01 bps
    assert markout_bps("BUY", D("190.01"), D("189.985")) == D("1.3157")
    # sold at 189.99, mid later 190.05: sold 0.06 too cheap: 600 / 189.99 = 3.15806... bps
    assert markout_bps("SELL", D("189.99"), D("190.05")) == D("3.1581")
    # bought and the price rose past what we paid: negative
    assert markout_bps("BUY", D("190.01"), D("190.03")) == D("-1.0526")


def test_implementation_shortfall_counts_fills_fees_and_the_unfilled_part() -> None:
    # buy 100, arrival mid 190.00; 60 filled at 190.01 (0.60), fee 0.30, 40 unfilled while the mid
    # rose to 190.02 (40 x 0.02 = 0.80): 1.70 in all, on a paper notional of 19,000: 0.8947 bps
    shortfall = implementation_shortfall("BUY", D(100), D(60), D("11400.60"), D("0.30"), D("190.00"), D("190.02"))
    assert (shortfall.execution_cost, shortfall.fees, shortfall.opportunity_cost) == (D("0.60"), D("0.30"), D("0.80"))
    assert (shortfall.total, shortfall.total_bps) == (D("1.70"), D("0.8947"))
    # a sell of 100 with nothing filled while the mid fell 0.05: the opportunity cost is 5.00
    missed = implementation_shortfall("SELL", D(100), D(0), D(0), D(0), D("190.00"), D("189.95"))
    assert (missed.total, missed.total_bps) == (D("5.00"), D("2.6316"))


def test_ew_mean_halves_an_observation_each_half_life() -> None:
    keep = decay(1)  # half-life of one observation: each new one halves the weight of the older ones
    assert keep == D("0.5")
    mean = EwMean().add(D(10), keep)
    assert mean.value == D(10)  # the first observation is the mean itself
    mean = mean.add(D(20), keep)
    # (10 x 0.5 + 20) / (0.5 + 1) = 25 / 1.5
    assert (mean.weighted, mean.weight, mean.count) == (D(25), D("1.5"), 2)
    assert mean.value == D(25) / D("1.5")
    # half-life 2: each observation keeps 0.5 ** 0.5 of its weight per newer one
    assert abs(decay(2) ** 2 - D("0.5")) < D("1e-25")


def test_size_buckets_and_score_keys() -> None:
    assert [size_bucket(D(q)) for q in (1, 99, 100, 999, 1000, 9999, 10000)] == [
        "1-99", "1-99", "100-999", "100-999", "1000-9999", "1000-9999", "10000+"]
    assert score_keys("SIM", "AAPL", D(150)) == (
        ScoreKey("SIM"), ScoreKey("SIM", "AAPL"), ScoreKey("SIM", "AAPL", "100-999"))
