"""The loop closed, over real parts (the flow of ``bench.feedback``, shorter): two simulated venues
quote the same prices with the same fees, but one of them (SIM, the venue configured first: the one a price-only router's tie-break prefers) has last
look: it fills 2 ticks worse than it quoted. The same flow goes through two gateways, one whose router
weighs TCA's live venue scores and one that routes on price and fees only. With the scores, the
router moves the flow to the honest venue once both venues' fills are scored, and the flow's slippage
falls against the router without them. Each gateway runs its TCA process on its embedded NATS, as
``fixgate serve`` does."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest

from bench.feedback import MID, SCENARIOS, run_flow
from tests.support import fresh_database

pytestmark = pytest.mark.timeout(300)

ORDERS = 160
GAP_S = 0.04  # about 25 orders a second: the scores (TCA, then the router's read each second) lag ~1-2 s


@pytest.fixture
def database(pg_admin_url: str) -> Iterator[str]:
    """A second database, for the second gateway."""
    with fresh_database(pg_admin_url) as url:
        yield url


def test_the_router_learns_to_avoid_a_venue_that_fills_worse_than_it_quotes(
    tmp_path: Path, database_url: str, database: str
) -> None:
    learned = run_flow(tmp_path / "feedback", database_url, feedback=True, orders=ORDERS, gap_s=GAP_S)
    price_only = run_flow(tmp_path / "price-only", database, feedback=False, orders=ORDERS, gap_s=GAP_S)

    # Without scores the tie-break keeps the flow at the venue configured first: all of it at SIM.
    assert price_only.share("SIM", slice(None)) == 1.0
    assert price_only.last_route["venue"] == "SIM"
    # With them, the last 60 orders went to the honest venue; SIM had the flow only while unscored.
    assert learned.share("SIM", slice(-60, None)) == 0.0, learned.venues
    assert learned.share("SIM", slice(None)) < 0.75, learned.venues
    considered = {v["venue"]: v for v in learned.last_route["venues"]}
    assert learned.last_route["venue"] == "SIM2"
    assert D("1.05") <= D(considered["SIM"]["penalty_bps"]) <= D("1.06")  # it fades 2 ticks: 0.02 / 190
    assert D(considered["SIM"]["touch"]) == D(considered["SIM2"]["touch"])  # the same offer or bid...
    assert D(considered["SIM"]["expected"]) != D(considered["SIM2"]["expected"])  # ...but not the same cost

    # SIM's fills cost 3 ticks from the mid (1.58 bps), SIM2's 1 tick (0.53 bps), in both runs: the
    # learning flow's mean slippage is what its venues cost, below the price-only flow's.
    tick = {"SIM": D("0.03") / MID * 10_000, "SIM2": D("0.01") / MID * 10_000}
    for flow in (learned, price_only):
        assert flow.slippage_bps == [tick[venue] for venue in flow.venues]
    assert learned.mean_slippage_bps < price_only.mean_slippage_bps


def test_the_router_shrinks_its_children_at_a_venue_whose_cost_grows_with_size(
    tmp_path: Path, database_url: str, database: str
) -> None:
    """SIM fades only orders of 100 shares or more and charges no fee; SIM2 fills as it quotes and
    charges 0.002 a share. Orders of 50 and of 300 in turn: once TCA has scored SIM's fills in both
    size buckets, the scored router keeps SIM's children at 99 and sends the rest to SIM2, while the
    small orders stay whole at SIM, the cheaper venue for them."""
    size = SCENARIOS["size"]
    learned = run_flow(tmp_path / "feedback", database_url, feedback=True, orders=ORDERS, gap_s=GAP_S, scenario=size)
    price_only = run_flow(tmp_path / "price-only", database, feedback=False, orders=ORDERS, gap_s=GAP_S,
                          scenario=size)
    quantities = [size.quantities[n % len(size.quantities)] for n in range(ORDERS)]

    # Without scores every order goes whole to SIM, the one without a fee: its 300s fill 2 ticks worse.
    assert price_only.venues == ["SIM"] * ORDERS
    assert max(price_only.at("SIM")) == 300

    # With them, in the last 60 orders: each 300 split 99 at SIM and 201 at SIM2, each 50 whole at SIM.
    last = slice(-60, None)
    assert [(q, v, a) for q, v, a in zip(quantities[last], learned.venues[last], learned.at("SIM")[last], strict=True)
            if (v, a) != (("SIM", D(50)) if q == 50 else ("SIM+SIM2", D(99)))] == []
    assert learned.venues[:8] == ["SIM"] * 8  # unscored at first: whole at SIM like the price-only router
    considered = {v["venue"]: v for v in learned.last_route["venues"]}
    assert (considered["SIM"]["size_cap"], considered["SIM"]["size_band"]) == ("99", "0")
    assert [(leg["venue"], leg["quantity"]) for leg in learned.last_route["legs"]] == [("SIM", "99"), ("SIM2", "201")]

    # Every fill of the scored router's last 60 orders is at the quote, 1 tick from the mid; its flow's
    # slippage is below the price-only router's, whose 300s cost 3 ticks a share.
    one_tick = D("0.01") / MID * 10_000
    assert set(learned.slippage_bps[last]) == {one_tick}
    assert set(price_only.slippage_bps) == {one_tick, 3 * one_tick}
    assert learned.mean_slippage_bps < price_only.mean_slippage_bps
