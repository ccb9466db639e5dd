"""Table definitions of the book of record (SQLAlchemy Core).

Money and quantities are unconstrained ``NUMERIC``: exact, and it keeps every digit the OMS hands in,
so no value can be rounded silently or overflow a declared precision and wedge the writer on a batch
it can never commit. Timestamps are integer nanoseconds (the domain's unit) with a generated
``timestamptz`` beside each one for people and SQL tools.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    ForeignKey,
    Identity,
    Index,
    MetaData,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.schema import SchemaItem
from sqlalchemy.types import TIMESTAMP

from book.fields import record_fields
from domain.model import ExecutionRecord, MarkRecord, OrderRecord, PositionRecord
from tca.measures import HORIZONS_S, METRICS

# Set before the first revision so every constraint has a predictable name that later migrations
# can alter or drop by name.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# Numeric with asdecimal: values come back as Decimal, never float.
Money = Numeric(asdecimal=True)


def _in(column: str, values: list[str]) -> str:
    """SQL text of a CHECK that ``column`` holds one of ``values`` (enum names stored as text)."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def _epoch_ns_to_timestamptz(column: str) -> str:
    # to_timestamp(double precision) is IMMUTABLE, which a generated column requires; a double holds
    # today's epoch seconds to well under a microsecond, the resolution of timestamptz anyway.
    return f"to_timestamp({column}::double precision / 1e9)"


def _timestamptz(name: str, epoch_ns: str) -> Column[Any]:
    """A ``timestamptz`` column generated from an epoch-nanoseconds column, for people and SQL tools."""
    return Column(name, TIMESTAMP(timezone=True), Computed(_epoch_ns_to_timestamptz(epoch_ns), persisted=True))


def record_columns(
    record_type: type, *, primary_key: Sequence[str] = (), references: Mapping[str, str] | None = None
) -> list[SchemaItem]:
    """A column per field of a record (``book.fields``), named as the field: a Decimal as ``Money``, an
    int as ``BigInteger``, text and enums as ``Text``, nullable where the field may be ``None``; and a
    CHECK that an enum's column holds one of its values (named as the field). ``primary_key``: the key's
    fields (given by the OMS, never numbered here); ``references``: field -> the column it refers to."""
    items: list[SchemaItem] = []
    for f in record_fields(record_type):
        kind = Money if f.is_decimal else BigInteger if f.is_int else Text
        target = (references or {}).get(f.name)
        foreign = [ForeignKey(target)] if target else []
        if f.name in primary_key:
            items.append(Column(f.name, kind, *foreign, primary_key=True, autoincrement=False))
        else:
            items.append(Column(f.name, kind, *foreign, nullable=f.optional))
        if f.is_enum:
            items.append(CheckConstraint(_in(f.name, f.enum_values), name=f.name))
    return items



# Each table's columns of its record's fields come from the record (``domain.model``); what else a table
# has is spelled out: hop timestamps, generated ``*_at`` columns, numbering, keys and indexes. Fields
# added since the first revision: orders' ``pending`` and ``chained`` (0006), positions' ``cost`` (0008),
# marks' ``venue``, ``bid`` and ``offer`` (0011), orders' ``route`` (0012), executions' ``commission``
# (0013).

orders = Table(
    "orders",
    metadata,
    *record_columns(OrderRecord, primary_key=("order_id",)),
    # The gateway's hop timestamps (migration 0004): client order in, OMS/risk decided, sent to venue.
    Column("received_ns", BigInteger, nullable=True),
    Column("decided_ns", BigInteger, nullable=True),
    Column("venue_sent_ns", BigInteger, nullable=True),
    _timestamptz("created_at", "created_ns"),
    _timestamptz("updated_at", "updated_ns"),
    Index(None, "account"),
    Index(None, "symbol"),
    Index(None, "status"),
    Index(None, "venue", "venue_cl_ord_id"),
    Index(None, "parent_id"),  # migration 0014: a split order's children
)

executions = Table(
    "executions",
    metadata,
    *record_columns(ExecutionRecord, primary_key=("exec_id",), references={"order_id": "orders.order_id"}),
    # The order in which the book applied executions (numbered by PostgreSQL as the one writer
    # inserts them): positions are recomputed from the fills in this order.
    Column("seq", BigInteger, Identity(always=True), nullable=False, unique=True),
    # The gateway's hop timestamps (migration 0004): report applied by the OMS, sent to the client.
    Column("applied_ns", BigInteger, nullable=True),
    Column("client_sent_ns", BigInteger, nullable=True),
    _timestamptz("received_at", "received_ns"),
    # A venue may resend an ExecutionReport (at-least-once delivery): it must count once. Not unique
    # on the ExecID alone (migration 0007): a venue that restarts its ExecIDs reuses one for another
    # report, which is recorded too. The key is what the OMS tells a repeat by (``AppliedReport``),
    # and the CumQty the order had after it (a second fill alike in all else is a new one).
    UniqueConstraint("venue", "venue_exec_id", "order_id", "kind", "last_qty", "last_px", "cum_qty",
                     name="uq_executions_venue_report"),
    Index(None, "order_id"),
)

# ``cost`` (migration 0008) is the exact open cost (signed sum of qty x price of the open quantity);
# P&L comes from it, ``avg_price`` is cost / quantity rounded to 8 places for display.
positions = Table(
    "positions",
    metadata,
    *record_columns(PositionRecord, primary_key=("account", "symbol")),
    _timestamptz("updated_at", "updated_ns"),
)

# The price each symbol's open positions are marked at: one row per symbol, the last one written wins.
marks = Table(
    "marks",
    metadata,
    *record_columns(MarkRecord, primary_key=("symbol",)),
    _timestamptz("updated_at", "updated_ns"),
)

#: What a row of ``risk_events`` records: the one list, for the CHECK here and ``GET /risk/events``'s
#: ``action`` parameter (``risk.restore`` names the four it reads at start).
RiskAction = Literal["KILL", "RESUME", "LIMITS", "BREACH", "CANCEL"]  # BREACH: migration 0005; CANCEL: 0009
RISK_ACTIONS: list[str] = list(get_args(RiskAction))
RISK_SCOPES = ["firm", "account", "session", "symbol"]

# Audit trail of pre-trade risk (migration 0003): operators' kill switches, resumes and limit changes,
# and the states the daily loss limit set (BREACH, by "risk"). Start-up rebuilds risk from it.
risk_events = Table(
    "risk_events",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("at_ns", BigInteger, nullable=False),
    _timestamptz("at", "at_ns"),
    Column("by", Text, nullable=False),
    Column("action", Text, nullable=False),  # KILL, RESUME, LIMITS, BREACH, CANCEL (an order, over REST)
    Column("scope", Text, nullable=True),  # firm, account, session, symbol; none for LIMITS
    Column("value", Text, nullable=True),
    Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    CheckConstraint(_in("action", RISK_ACTIONS), name="action"),
    CheckConstraint(f"scope IS NULL OR {_in('scope', RISK_SCOPES)}", name="scope"),
    Index(None, "at_ns"),
)

# How far each out-of-process consumer of a journal has committed (migration 0010): the book writer's
# ``book:<instance>`` row is written in the same transaction as the rows it read up to there, so a
# restarted writer goes on from exactly that frame (``book.follower``).
book_positions = Table(
    "book_positions",
    metadata,
    Column("consumer", Text, primary_key=True),
    Column("segment", Text, nullable=False),  # the journal segment (its file's name stem)
    Column("byte_offset", BigInteger, nullable=False),  # where the next frame to read starts
    Column("updated_ns", BigInteger, nullable=False),
)

# -- TRANSACTION COST ANALYSIS (migration 0011) ----------------------------------------------------------
# Written by the TCA process (``tca.service``) from the event stream, never by the gateway or the book
# writer; what each measure means and its sign: ``tca.measures``. Every measure may be NULL: no
# consolidated mid to measure against, or (a markout) not yet due.

def _markout_columns() -> list[SchemaItem]:
    items: list[SchemaItem] = []
    for h in HORIZONS_S:  # one mid, markout and settled flag each
        items += [Column(f"mid_{h}s", Money, nullable=True), Column(f"markout_{h}s_bps", Money, nullable=True),
                  Column(f"settled_{h}s", Boolean, nullable=False)]
    return items


tca_fills = Table(
    "tca_fills",
    metadata,
    Column("exec_id", Text, primary_key=True),  # the gateway's ExecID (unique per instance)
    Column("event_id", Text, nullable=False),
    Column("order_id", BigInteger, nullable=False),
    Column("venue", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("side", Text, nullable=False),
    Column("quantity", Money, nullable=False),
    Column("price", Money, nullable=False),
    Column("order_quantity", Money, nullable=False),
    Column("fee", Money, nullable=True),
    Column("fill_ns", BigInteger, nullable=False),
    _timestamptz("fill_at", "fill_ns"),
    Column("arrival_mid", Money, nullable=True),
    Column("slippage_bps", Money, nullable=True),
    Column("mid_at_fill", Money, nullable=True),
    Column("effective_spread", Money, nullable=True),
    Column("effective_spread_bps", Money, nullable=True),
    *_markout_columns(),
    Index(None, "order_id"),
    Index(None, "fill_ns"),
    Index(None, "venue", "fill_ns"),
)

tca_orders = Table(
    "tca_orders",
    metadata,
    Column("order_id", BigInteger, primary_key=True, autoincrement=False),
    Column("symbol", Text, nullable=False),
    Column("side", Text, nullable=False),
    Column("account", Text, nullable=False),
    Column("venue", Text, nullable=False),
    Column("quantity", Money, nullable=False),
    Column("created_ns", BigInteger, nullable=False),
    _timestamptz("created_at", "created_ns"),
    Column("status", Text, nullable=False),
    Column("arrival_mid", Money, nullable=True),
    Column("filled_qty", Money, nullable=False),
    Column("fill_notional", Money, nullable=False),
    Column("fees", Money, nullable=False),
    Column("venues", Text, nullable=False),  # where it filled, comma-separated, in the order of first fill
    Column("last_fill_ns", BigInteger, nullable=True),
    Column("ended_ns", BigInteger, nullable=True),
    Column("end_mid", Money, nullable=True),
    Column("execution_cost", Money, nullable=True),
    Column("opportunity_cost", Money, nullable=True),
    Column("shortfall", Money, nullable=True),
    Column("shortfall_bps", Money, nullable=True),
    Column("fill_rate", Money, nullable=True),
    Column("time_to_complete_ns", BigInteger, nullable=True),
    Column("reached_venue", Boolean, nullable=False),
    Column("venue_rejected", Boolean, nullable=False),
    Index(None, "created_ns"),
    Index(None, "ended_ns"),
)

def _score_columns() -> list[SchemaItem]:
    items: list[SchemaItem] = []
    for m in METRICS:  # the value, and its weighted sum, weight and count (``tca.measures.EwMean``)
        items += [Column(m, Money, nullable=True), Column(f"{m}_weighted", Money, nullable=False),
                  Column(f"{m}_weight", Money, nullable=False), Column(f"{m}_count", BigInteger, nullable=False)]
    return items


# A venue's exponentially weighted scores, overall (symbol and size_bucket "*"), per symbol, per size, as
# one gateway instance's TCA process measured them (instances sharing a database each have their own).
tca_venue_scores = Table(
    "tca_venue_scores",
    metadata,
    Column("instance", Text, primary_key=True),
    Column("venue", Text, primary_key=True),
    Column("symbol", Text, primary_key=True),
    Column("size_bucket", Text, primary_key=True),
    *_score_columns(),
    Column("updated_ns", BigInteger, nullable=False),
)

# Each venue's last top of book per symbol (from the marks): the TCA process's consolidated book, kept
# so a restart goes on with it.
tca_quotes = Table(
    "tca_quotes",
    metadata,
    Column("instance", Text, primary_key=True),
    Column("symbol", Text, primary_key=True),
    Column("venue", Text, primary_key=True),
    Column("bid", Money, nullable=True),
    Column("offer", Money, nullable=True),
    Column("updated_ns", BigInteger, nullable=False),
)

# The last event the TCA process applied, per consumer (``tca:<instance>``): written in the same
# transaction as what that event changed, so a redelivered event is recognised and skipped.
tca_progress = Table(
    "tca_progress",
    metadata,
    Column("consumer", Text, primary_key=True),
    Column("event_id", Text, nullable=False),
    Column("segment", Text, nullable=False),
    Column("byte_offset", BigInteger, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("stream_seq", BigInteger, nullable=False),  # the event's sequence in the stream
    Column("updated_ns", BigInteger, nullable=False),
)
