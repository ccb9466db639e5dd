"""The README's instructions for pointing fixgate at another venue name config keys that really load."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from risk.limits import RiskConfigError, risk_config_from_mapping

README = Path(__file__).resolve().parents[3] / "README.md"

# Values tried in turn for a key: the first that loads is a valid value of that key's type.
_SAMPLES: tuple[object, ...] = ("1", 1, True, "HALTED", [])


def _risk_step() -> str:
    text = README.read_text()
    section = text.split("## Pointing fixgate at another venue", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"^3\. (.*?)(?=^\S|\Z)", section, re.DOTALL | re.MULTILINE)
    assert match is not None, "step 3 (risk limits) is gone from the README section"
    return match.group(1)


def _clauses() -> list[tuple[list[str], list[str]]]:
    """(keys, tables) of each ';'-separated clause of step 3; tables like 'accounts.ACCOUNT'."""
    clauses = []
    for clause in _risk_step().split(";"):
        keys = re.findall(r"`([a-z][a-z0-9_]*)`", clause)
        tables = re.findall(r"`\[([A-Za-z_.]+)\]`", clause)
        if keys or tables:
            clauses.append((keys, tables))
    return clauses


def _loads(table: str | None, key: str | None) -> str | None:
    """None if ``key`` (None: nothing) loads under ``table`` (None: top level) with some sample value,
    else the last refusal."""
    refusal = "no sample tried"
    for sample in _SAMPLES:
        content: dict[str, Any] = {} if key is None else {key: sample}
        try:
            risk_config_from_mapping(content if table is None else _nest(table, content), "README")
        except (RiskConfigError, TypeError) as exc:
            refusal = str(exc)
        else:
            return None
    return refusal


def _nest(table: str, content: dict[str, Any]) -> dict[str, Any]:
    # "accounts.ACCOUNT" -> {"accounts": {"ACCOUNT": content}}; "firm" -> {"firm": content}
    mapping = content
    for part in reversed(table.split(".")):
        mapping = {part: mapping}
    return mapping


def test_step_three_names_keys_and_tables() -> None:
    clauses = _clauses()
    assert sum(len(keys) for keys, _ in clauses) >= 5, clauses
    assert any(tables for _, tables in clauses), clauses


@pytest.mark.parametrize(
    ("keys", "tables"), _clauses(), ids=lambda v: ",".join(v) if isinstance(v, list) else str(v)
)
def test_every_key_loads_in_every_table_the_readme_puts_it(keys: list[str], tables: list[str]) -> None:
    for table in tables:
        refusal = _loads(table, None)
        assert refusal is None, f"README puts limits under [{table}], which the risk config refuses: {refusal}"
        for key in keys:
            refusal = _loads(table, key)
            assert refusal is None, f"README: `{key}` under [{table}] is refused: {refusal}"
    if not tables:
        for key in keys:
            refusal = _loads(None, key)
            assert refusal is None, f"README: top-level `{key}` is refused: {refusal}"


def test_the_old_default_table_is_refused() -> None:
    # What the README used to say; guards the test above against accepting anything.
    assert _loads("default", None) is not None
