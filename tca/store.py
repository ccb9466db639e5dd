"""All SQL of the TCA process: its rows in and out (tables in ``book.tables``, migration 0011).

What an engine run changed is written in one transaction with the position of the last event it
applied (``tca_progress``), so a redelivered event is known and skipped: each event counts once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import RowMapping, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from book.tables import orders as book_orders
from book.tables import tca_fills, tca_orders, tca_progress, tca_quotes, tca_venue_scores
from domain.model import OrderStatus
from tca.engine import Changes, ChildOrder, FillCost, Markout, OrderCost
from tca.measures import METRICS, EwMean, ScoreKey, Shortfall, TopQuote, VenueScore


def consumer_name(instance: str) -> str:
    return f"tca:{instance}"


@dataclass(frozen=True, slots=True)
class Progress:
    """The last event applied: its id and its place in the journal (``bus.events.EventId``)."""

    event_id: str
    position: tuple[int, int, int]
    stream_seq: int  # its sequence in the instance's stream: where the consumer goes on from


# -- ROWS ------------------------------------------------------------------------------------------------


def fill_row(fill: FillCost) -> dict[str, Any]:
    row: dict[str, Any] = {
        "exec_id": fill.exec_id, "event_id": fill.event_id, "order_id": fill.order_id, "venue": fill.venue,
        "symbol": fill.symbol, "side": fill.side, "quantity": fill.quantity, "price": fill.price,
        "order_quantity": fill.order_quantity, "fee": fill.fee, "fill_ns": fill.fill_ns,
        "arrival_mid": fill.arrival_mid, "slippage_bps": fill.slippage_bps, "mid_at_fill": fill.mid_at_fill,
        "effective_spread": fill.effective_spread, "effective_spread_bps": fill.effective_spread_bps,
    }
    for m in fill.markouts:
        row[f"mid_{m.horizon_s}s"] = m.mid
        row[f"markout_{m.horizon_s}s_bps"] = m.bps
        row[f"settled_{m.horizon_s}s"] = m.settled
    return row


def fill_cost(row: RowMapping, horizons_s: Sequence[int]) -> FillCost:
    markouts = tuple(Markout(h, row["fill_ns"] + h * 1_000_000_000, row[f"mid_{h}s"], row[f"markout_{h}s_bps"],
                             row[f"settled_{h}s"]) for h in horizons_s)
    return FillCost(
        exec_id=row["exec_id"], order_id=row["order_id"], venue=row["venue"], symbol=row["symbol"],
        side=row["side"], quantity=row["quantity"], price=row["price"], fee=row["fee"], fill_ns=row["fill_ns"],
        event_id=row["event_id"], order_quantity=row["order_quantity"], arrival_mid=row["arrival_mid"],
        slippage_bps=row["slippage_bps"], mid_at_fill=row["mid_at_fill"], effective_spread=row["effective_spread"],
        effective_spread_bps=row["effective_spread_bps"], markouts=markouts,
    )


def order_row(order: OrderCost) -> dict[str, Any]:
    s = order.shortfall
    return {
        "order_id": order.order_id, "symbol": order.symbol, "side": order.side, "account": order.account,
        "venue": order.venue, "quantity": order.quantity, "created_ns": order.created_ns, "status": order.status,
        "arrival_mid": order.arrival_mid, "filled_qty": order.filled_qty, "fill_notional": order.fill_notional,
        "fees": order.fees, "venues": ",".join(order.venues), "last_fill_ns": order.last_fill_ns,
        "ended_ns": order.ended_ns, "end_mid": order.end_mid,
        "execution_cost": None if s is None else s.execution_cost,
        "opportunity_cost": None if s is None else s.opportunity_cost,
        "shortfall": None if s is None else s.total, "shortfall_bps": None if s is None else s.total_bps,
        "fill_rate": order.fill_rate, "time_to_complete_ns": order.time_to_complete_ns,
        "reached_venue": order.reached_venue, "venue_rejected": order.venue_rejected,
    }


def order_cost(row: RowMapping) -> OrderCost:
    shortfall = None
    if row["shortfall"] is not None:
        shortfall = Shortfall(row["execution_cost"], row["fees"], row["opportunity_cost"], row["shortfall"],
                              row["shortfall_bps"])
    return OrderCost(
        order_id=row["order_id"], symbol=row["symbol"], side=row["side"], account=row["account"],
        venue=row["venue"], quantity=row["quantity"], created_ns=row["created_ns"], status=row["status"],
        arrival_mid=row["arrival_mid"], filled_qty=row["filled_qty"], fill_notional=row["fill_notional"],
        fees=row["fees"], venues=tuple(v for v in row["venues"].split(",") if v),
        last_fill_ns=row["last_fill_ns"], ended_ns=row["ended_ns"], end_mid=row["end_mid"], shortfall=shortfall,
        fill_rate=row["fill_rate"], time_to_complete_ns=row["time_to_complete_ns"],
        reached_venue=row["reached_venue"], venue_rejected=row["venue_rejected"],
    )


def score_row(instance: str, score: VenueScore) -> dict[str, Any]:
    row: dict[str, Any] = {"instance": instance, "venue": score.key.venue, "symbol": score.key.symbol,
                           "size_bucket": score.key.size_bucket, "updated_ns": score.updated_ns}
    for metric in METRICS:
        mean = score.means.get(metric, EwMean())
        row[metric] = mean.value
        row[f"{metric}_weighted"] = mean.weighted
        row[f"{metric}_weight"] = mean.weight
        row[f"{metric}_count"] = mean.count
    return row


def venue_score(row: Mapping[Any, Any]) -> VenueScore:
    means = {m: EwMean(row[f"{m}_weighted"], row[f"{m}_weight"], row[f"{m}_count"])
             for m in METRICS if row[f"{m}_count"]}
    return VenueScore(ScoreKey(row["venue"], row["symbol"], row["size_bucket"]), means, row["updated_ns"])


# -- READ AND WRITE --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stored:
    """What a restarted TCA process takes back (``TcaEngine.restore``)."""

    progress: Progress | None
    quotes: list[tuple[str, str, TopQuote]]
    orders: list[OrderCost]
    fills: list[FillCost]
    scores: list[VenueScore]
    children: list[ChildOrder]  # the split orders' children not ended


async def load(conn: AsyncConnection, instance: str, horizons_s: Sequence[int]) -> Stored:
    """The progress of ``instance``'s TCA process and the state its engine needs: the orders not measured
    to their end, the fills with a markout to come, the instance's quotes and scores."""
    consumer = consumer_name(instance)
    row = (await conn.execute(select(tca_progress).where(tca_progress.c.consumer == consumer))).mappings().first()
    progress = None if row is None else Progress(
        row["event_id"], (int(row["segment"]), row["byte_offset"], row["idx"]), row["stream_seq"])
    quotes = [(r["symbol"], r["venue"], TopQuote(r["bid"], r["offer"]))
              for r in (await conn.execute(select(tca_quotes).where(tca_quotes.c.instance == instance))).mappings()]
    orders = [order_cost(r) for r in
              (await conn.execute(select(tca_orders).where(tca_orders.c.fill_rate.is_(None)))).mappings()]
    unsettled = [~tca_fills.c[f"settled_{h}s"] for h in horizons_s]
    fills = [fill_cost(r, horizons_s) for r in
             (await conn.execute(select(tca_fills).where(or_(*unsettled)))).mappings()] if unsettled else []
    scores = [venue_score(r) for r in (await conn.execute(
        select(tca_venue_scores).where(tca_venue_scores.c.instance == instance))).mappings()]
    ended = [s.value for s in OrderStatus if s.is_terminal]
    # A child the venue has answered is past PENDING_NEW (or rejected, and ended: not loaded).
    children = [ChildOrder(r.order_id, r.venue, r.symbol, r.quantity, r.cum_qty,
                           reached_venue=r.status != OrderStatus.PENDING_NEW.value) for r in await conn.execute(
        select(book_orders.c.order_id, book_orders.c.venue, book_orders.c.symbol, book_orders.c.quantity,
               book_orders.c.cum_qty, book_orders.c.status)
        .where(book_orders.c.parent_id.is_not(None), book_orders.c.status.not_in(ended)))]
    return Stored(progress, quotes, orders, fills, scores, children)


async def _upsert(conn: AsyncConnection, table: Any, rows: Iterable[dict[str, Any]], keys: Sequence[str]) -> None:
    rows = list(rows)
    if not rows:
        return
    statement = insert(table)
    columns = {name: statement.excluded[name] for name in rows[0] if name not in keys}
    await conn.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=columns), rows)


async def save(conn: AsyncConnection, instance: str, changes: Changes, progress: Progress | None,
               now_ns: int) -> None:
    """Write what ``instance``'s engine changed and, with it, how far it has applied the stream."""
    await _upsert(conn, tca_orders, (order_row(o) for o in changes.orders.values()), ["order_id"])
    await _upsert(conn, tca_fills, (fill_row(f) for f in changes.fills.values()), ["exec_id"])
    await _upsert(conn, tca_venue_scores, (score_row(instance, s) for s in changes.scores.values()),
                  ["instance", "venue", "symbol", "size_bucket"])
    await _upsert(conn, tca_quotes, ({"instance": instance, "symbol": symbol, "venue": venue, "bid": q.bid,
                                      "offer": q.offer, "updated_ns": at}
                                     for (symbol, venue), (q, at) in changes.quotes.items()),
                  ["instance", "symbol", "venue"])
    if progress is not None:
        segment, offset, index = progress.position
        await _upsert(conn, tca_progress, [{
            "consumer": consumer_name(instance), "event_id": progress.event_id, "segment": f"{segment:020d}",
            "byte_offset": offset, "idx": index, "stream_seq": progress.stream_seq,
            "updated_ns": now_ns}], ["consumer"])


def decimal_text(value: Decimal | None) -> str | None:
    """A Decimal as an event carries it: exact, plain notation."""
    return None if value is None else format(value, "f")
