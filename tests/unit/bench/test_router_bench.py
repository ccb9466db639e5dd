"""``bench.router`` runs, and times the policies it says it times."""

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from bench import router


def test_a_short_run_writes_every_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert router.main(["--routes", "200"], results=tmp_path) == 0
    (written,) = tmp_path.glob("router-*.json")
    result = json.loads(written.read_text())
    for policy in ("best_price", "split", "ex_destination", "only_venue", "sized", "capped"):
        assert 0 < result[policy]["p50_us"] <= result[policy]["p99_us"] <= result[policy]["max_us"]
    assert "best_price" in capsys.readouterr().out


def test_the_decisions_timed_are_the_policies_named() -> None:
    built, orders, _ = router.build(3, 7)
    assert json.loads(built.route(orders[0]).decision)["policy"] == "best_price"
    assert not built.plan(orders[0]).legs  # the best venue shows the 100 asked for: whole
    bigger = replace(orders[0], quantity=Decimal(250))
    assert len(built.plan(bigger).legs) >= 2  # 100 shown at each venue: split


def test_the_sized_router_ranks_by_size_band_and_the_capped_one_splits_at_its_cap() -> None:
    sized, orders, _ = router.build(3, 7, "bands")
    decision = json.loads(sized.plan(orders[0]).route.decision)
    assert all(v["size_band"] == "100" and "size_cap" not in v for v in decision["venues"])  # orders of 100
    capped = router.build(3, 7, "capped")[0]
    legs = capped.plan(orders[0]).legs
    assert (legs[0].venue, legs[0].quantity, sum(leg.quantity for leg in legs)) == ("V0", 99, 100)
