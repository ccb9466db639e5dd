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
    for policy in ("best_price", "split", "ex_destination", "only_venue"):
        assert 0 < result[policy]["p50_us"] <= result[policy]["p99_us"] <= result[policy]["max_us"]
    assert "best_price" in capsys.readouterr().out


def test_the_decisions_timed_are_the_policies_named() -> None:
    built, orders, _ = router.build(3, 7)
    assert json.loads(built.route(orders[0]).decision)["policy"] == "best_price"
    assert not built.plan(orders[0]).legs  # the best venue shows the 100 asked for: whole
    bigger = replace(orders[0], quantity=Decimal(250))
    assert len(built.plan(bigger).legs) >= 2  # 100 shown at each venue: split
