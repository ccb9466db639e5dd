"""`fixgate tca report`: one self-contained HTML page of transaction cost over a window, for people.

Plots (inline SVG, drawn by matplotlib: no file beside the page, no script, no network): the slippage
of every fill per venue (box plot with the fills on it), each venue's markout curve (quantity-weighted
mean markout at 1, 5, 30 and 60 s), and each venue's fill and reject rates; then the numbers, exact, in
tables. The numbers come from the TCA tables (``tca.service`` writes them); definitions and signs in
``tca.measures`` (positive is a cost).

Decimals are converted to floats for drawing only: the tables print the exact values.
"""

from __future__ import annotations

import argparse
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from book.database import async_url, run_sync
from book.tables import tca_fills, tca_orders, tca_venue_scores
from tca.measures import HORIZONS_S, METRICS, ZERO

_PLACES = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class ReportData:
    """What the report shows: the window's fills (by fill time) and orders (by arrival), and the
    venues' scores now."""

    from_ns: int
    to_ns: int
    fills: Sequence[Mapping[str, Any]]
    orders: Sequence[Mapping[str, Any]]
    scores: Sequence[Mapping[str, Any]]


async def _load(database_url: str, from_ns: int, to_ns: int) -> ReportData:
    engine = create_async_engine(async_url(database_url), poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            fills = (await conn.execute(select(tca_fills).where(
                tca_fills.c.fill_ns >= from_ns, tca_fills.c.fill_ns < to_ns).order_by(tca_fills.c.fill_ns)
            )).mappings().all()
            orders = (await conn.execute(select(tca_orders).where(
                tca_orders.c.created_ns >= from_ns, tca_orders.c.created_ns < to_ns).order_by(tca_orders.c.order_id)
            )).mappings().all()
            scores = (await conn.execute(select(tca_venue_scores).order_by(
                tca_venue_scores.c.instance, tca_venue_scores.c.venue, tca_venue_scores.c.symbol, tca_venue_scores.c.size_bucket))).mappings().all()
    finally:
        await engine.dispose()
    return ReportData(from_ns, to_ns, [dict(r) for r in fills], [dict(r) for r in orders], [dict(r) for r in scores])


def load(database_url: str, from_ns: int, to_ns: int) -> ReportData:
    """The report's rows from the database at ``database_url``."""
    return run_sync(lambda: _load(database_url, from_ns, to_ns))


# -- NUMBERS ---------------------------------------------------------------------------------------------


def _weighted(rows: Sequence[Mapping[str, Any]], column: str) -> Decimal | None:
    """The quantity-weighted mean of ``column`` over the rows that have it."""
    pairs = [(r["quantity"], r[column]) for r in rows if r[column] is not None]
    weight = sum((q for q, _ in pairs), ZERO)
    return None if not weight else sum((q * v for q, v in pairs), ZERO) / weight


@dataclass(frozen=True, slots=True)
class VenueLine:
    """One venue's line of the report."""

    venue: str
    fills: int
    quantity: Decimal
    notional: Decimal
    slippage_bps: Decimal | None
    effective_spread_bps: Decimal | None
    markouts_bps: tuple[Decimal | None, ...]  # at HORIZONS_S
    orders: int
    ordered: Decimal
    filled: Decimal
    rejected: int
    shortfall: Decimal
    shortfall_bps: Decimal | None

    @property
    def fill_rate(self) -> Decimal | None:
        return None if not self.ordered else self.filled / self.ordered

    @property
    def reject_rate(self) -> Decimal | None:
        return None if not self.orders else Decimal(self.rejected) / self.orders


def venue_lines(data: ReportData) -> list[VenueLine]:
    """Per venue: its fills' quantity-weighted costs, and its ended orders' fill rate and shortfall."""
    lines = []
    venues = sorted({str(f["venue"]) for f in data.fills} | {str(o["venue"]) for o in data.orders})
    for venue in venues:
        fills = [f for f in data.fills if f["venue"] == venue]
        # Orders that reached the venue: one refused by risk says nothing of a venue.
        orders = [o for o in data.orders if o["venue"] == venue and o["ended_ns"] is not None and o["reached_venue"]]
        measured = [o for o in orders if o["shortfall"] is not None]
        paper = sum((o["quantity"] * o["arrival_mid"] for o in measured), ZERO)
        shortfall = sum((o["shortfall"] for o in measured), ZERO)
        lines.append(VenueLine(
            venue=venue, fills=len(fills), quantity=sum((f["quantity"] for f in fills), ZERO),
            notional=sum((f["quantity"] * f["price"] for f in fills), ZERO),
            slippage_bps=_weighted(fills, "slippage_bps"), effective_spread_bps=_weighted(fills, "effective_spread_bps"),
            markouts_bps=tuple(_weighted(fills, f"markout_{h}s_bps") for h in HORIZONS_S),
            orders=len(orders), ordered=sum((o["quantity"] for o in orders if not o["venue_rejected"]), ZERO),
            filled=sum((o["filled_qty"] for o in orders), ZERO), rejected=sum(1 for o in orders if o["venue_rejected"]),
            shortfall=shortfall, shortfall_bps=None if not paper else shortfall / paper * 10_000,
        ))
    return lines


# -- PLOTS -----------------------------------------------------------------------------------------------


def _svg(figure: Any) -> str:
    import matplotlib.pyplot as plt

    out = io.StringIO()
    figure.savefig(out, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = out.getvalue()
    return text[text.index("<svg"):]  # inline: without the XML declaration and doctype


def _plots(data: ReportData, lines: Sequence[VenueLine]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "none"  # text as text: smaller, and searchable in the page
    import matplotlib.pyplot as plt

    plots = []
    venues = [line.venue for line in lines]
    series = [[float(f["slippage_bps"]) for f in data.fills if f["venue"] == v and f["slippage_bps"] is not None]
              for v in venues]
    figure, axes = plt.subplots(figsize=(7, 3.2))
    if any(series):
        axes.boxplot(series, tick_labels=venues, orientation="horizontal", showfliers=False)
        for i, points in enumerate(series, start=1):
            axes.scatter(points, [i] * len(points), s=9, alpha=0.5)
    axes.axvline(0, color="grey", linewidth=0.8)
    axes.set_xlabel("slippage against the arrival mid, bps (positive: a cost)")
    plots.append(("Slippage per venue", _svg(figure)))

    figure, axes = plt.subplots(figsize=(7, 3.2))
    for line in lines:
        curve = [(h, float(m)) for h, m in zip(HORIZONS_S, line.markouts_bps, strict=True) if m is not None]
        if curve:
            axes.plot([h for h, _ in curve], [m for _, m in curve], marker="o", label=line.venue)
    axes.axhline(0, color="grey", linewidth=0.8)
    axes.set_xscale("log")
    axes.set_xticks(list(HORIZONS_S), [f"{h} s" for h in HORIZONS_S])
    axes.set_ylabel("markout, bps (positive: against us)")
    axes.set_xlabel("time after the fill")
    if lines:
        axes.legend()
    plots.append(("Markout curves", _svg(figure)))

    figure, axes = plt.subplots(figsize=(7, 3.2))
    rates = [(float(line.fill_rate or 0), float(line.reject_rate or 0)) for line in lines]
    positions = range(len(lines))
    axes.bar([p - 0.2 for p in positions], [f for f, _ in rates], width=0.4, label="fill rate")
    axes.bar([p + 0.2 for p in positions], [r for _, r in rates], width=0.4, label="reject rate")
    axes.set_xticks(list(positions), venues)
    axes.set_ylim(0, 1.05)
    axes.legend()
    plots.append(("Fill and reject rates", _svg(figure)))
    return plots


# -- PAGE ------------------------------------------------------------------------------------------------


def _d(value: Decimal | None) -> str:
    return "–" if value is None else format(value.quantize(_PLACES), "f")


def _when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 75em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0; font-variant-numeric: tabular-nums; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.7em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; } .plots figure { margin: 0; }
.note { color: #666; font-size: 0.9em; }
svg { max-width: 100%; height: auto; }
"""


def render(data: ReportData) -> str:
    """The report as one HTML page."""
    lines = venue_lines(data)
    title = f"Transaction cost, {_when(data.from_ns)} to {_when(data.to_ns)}"
    parts = [(f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
              f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>")]
    if not data.fills and not data.orders:
        parts.append("<p>No fills and no orders in this window.</p>")
    parts.append(f"<p class=note>{len(data.fills)} fills, {len(data.orders)} orders. Every measure in bps is"
                 " signed so that <b>positive is a cost</b>: slippage against the consolidated mid when the"
                 " order arrived; markout against the mid 1 to 60 s after the fill (positive: the price moved"
                 " against us); shortfall includes fees and the unfilled part's opportunity cost.</p>")
    parts.append('<div class="plots">')
    for caption, svg in _plots(data, lines):
        parts.append(f"<figure><figcaption><b>{html.escape(caption)}</b></figcaption>{svg}</figure>")
    parts.append("</div><h2>Per venue</h2>")
    head = ["venue", "fills", "quantity", "notional", "slippage bps", "eff. spread bps",
            *(f"markout {h}s bps" for h in HORIZONS_S), "orders", "fill rate", "rejects", "shortfall",
            "shortfall bps"]
    parts.append(_table(head, [[
        line.venue, str(line.fills), format(line.quantity, "f"), _d(line.notional), _d(line.slippage_bps),
        _d(line.effective_spread_bps), *(_d(m) for m in line.markouts_bps), str(line.orders), _d(line.fill_rate),
        str(line.rejected), _d(line.shortfall), _d(line.shortfall_bps)] for line in lines]))
    parts.append("<h2>Venue scores now</h2><p class=note>Exponentially weighted (half-life in observations,"
                 " <code>tca.measures.HALF_LIFE</code>); markout at 5 s.</p>")
    parts.append(_table(["instance", "venue", "symbol", "size", *METRICS], [[
        str(s["instance"]), str(s["venue"]), str(s["symbol"]), str(s["size_bucket"]), *(_d(s[m]) for m in METRICS)]
        for s in data.scores]))
    parts.append("<h2>Orders</h2>")
    parts.append(_table(["order", "symbol", "side", "venue", "quantity", "filled", "arrival mid", "shortfall",
                         "shortfall bps", "status"], [[
        str(o["order_id"]), str(o["symbol"]), str(o["side"]), str(o["venue"]), format(o["quantity"], "f"),
        format(o["filled_qty"], "f"), _d(o["arrival_mid"]), _d(o["shortfall"]), _d(o["shortfall_bps"]),
        str(o["status"])] for o in data.orders]))
    parts.append("</body></html>")
    return "\n".join(parts)


def _time_ns(flag: str, value: str) -> int:
    from api.errors import InvalidParameter
    from api.params import parse_time_ns

    try:
        ns = parse_time_ns(flag, value)
    except InvalidParameter as exc:
        raise SystemExit(f"fixgate tca report: {exc.message}") from None
    assert ns is not None
    return ns


def add_parser(sub: Any) -> None:
    """``fixgate tca report`` on the CLI's subcommands."""
    tca = sub.add_parser("tca", help="transaction cost analysis")
    tca_sub = tca.add_subparsers(dest="tca_command", required=True)
    report = tca_sub.add_parser("report", help="an HTML report of transaction cost over a window")
    report.add_argument("--from", dest="window_from", required=True, help="ISO-8601 time with offset")
    report.add_argument("--to", dest="window_to", required=True, help="ISO-8601 time with offset")
    report.add_argument("--out", type=Path, default=Path("report.html"), help="the page to write (report.html)")
    report.add_argument("--data-dir", type=Path,
                        help="the data folder whose embedded PostgreSQL to read, without DATABASE_URL (.fixgate)")


def main(args: argparse.Namespace, database_url: str) -> int:
    """Write the report the parsed ``args`` ask for from the database at ``database_url``."""
    from_ns, to_ns = _time_ns("--from", args.window_from), _time_ns("--to", args.window_to)
    if from_ns >= to_ns:
        raise SystemExit(f"fixgate tca report: --from {args.window_from} is not before --to {args.window_to}")
    data = load(database_url, from_ns, to_ns)
    args.out.write_text(render(data), encoding="utf-8")
    print(f"{args.out}: {len(data.fills)} fills and {len(data.orders)} orders of {len(venue_lines(data))} venues")
    return 0
