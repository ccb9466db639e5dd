"""Table definitions of the book of record (SQLAlchemy Core).

Money and quantities are unconstrained ``NUMERIC``: exact, and it keeps every digit the OMS hands in,
so no value can be rounded silently or overflow a declared precision and wedge the writer on a batch
it can never commit. Timestamps are integer nanoseconds (the domain's unit) with a generated
``timestamptz`` beside each one for people and SQL tools.
"""

from __future__ import annotations

from typing import Literal, get_args

from sqlalchemy import (
    BigInteger,
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
from sqlalchemy.types import TIMESTAMP

from domain.model import ExecKind, OrderStatus, OrdType, Side, TimeInForce

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


ORDER_STATUSES = [s.value for s in OrderStatus]
EXEC_KINDS = [k.value for k in ExecKind]

orders = Table(
    "orders",
    metadata,
    Column("order_id", BigInteger, primary_key=True, autoincrement=False),
    Column("session", Text, nullable=False),
    Column("cl_ord_id", Text, nullable=False),
    Column("account", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("side", Text, nullable=False),
    Column("ord_type", Text, nullable=False),
    Column("time_in_force", Text, nullable=False),
    Column("quantity", Money, nullable=False),
    Column("price", Money, nullable=True),
    Column("venue", Text, nullable=False),
    Column("venue_cl_ord_id", Text, nullable=False),
    Column("venue_order_id", Text, nullable=True),
    Column("status", Text, nullable=False),
    Column("cum_qty", Money, nullable=False),
    Column("leaves_qty", Money, nullable=False),
    Column("avg_px", Money, nullable=False),
    Column("text", Text, nullable=False),
    Column("created_ns", BigInteger, nullable=False),
    Column("updated_ns", BigInteger, nullable=False),
    # The gateway's hop timestamps (migration 0004): client order in, OMS/risk decided, sent to venue.
    Column("received_ns", BigInteger, nullable=True),
    Column("decided_ns", BigInteger, nullable=True),
    Column("venue_sent_ns", BigInteger, nullable=True),
    # The cancel/replace outstanding and a cancel chained behind it, as the OMS encodes them
    # (migration 0006): what a restart needs to answer the client's request by its own ids.
    Column("pending", Text, nullable=True),
    Column("chained", Text, nullable=True),
    Column(
        "created_at",
        TIMESTAMP(timezone=True),
        Computed(_epoch_ns_to_timestamptz("created_ns"), persisted=True),
    ),
    Column(
        "updated_at",
        TIMESTAMP(timezone=True),
        Computed(_epoch_ns_to_timestamptz("updated_ns"), persisted=True),
    ),
    CheckConstraint(_in("side", [s.value for s in Side]), name="side"),
    CheckConstraint(_in("ord_type", [t.value for t in OrdType]), name="ord_type"),
    CheckConstraint(_in("time_in_force", [t.value for t in TimeInForce]), name="time_in_force"),
    CheckConstraint(_in("status", ORDER_STATUSES), name="status"),
    Index(None, "account"),
    Index(None, "symbol"),
    Index(None, "status"),
    Index(None, "venue", "venue_cl_ord_id"),
)

executions = Table(
    "executions",
    metadata,
    Column("exec_id", Text, primary_key=True),
    # The order in which the book applied executions (numbered by PostgreSQL as the one writer
    # inserts them): positions are recomputed from the fills in this order.
    Column("seq", BigInteger, Identity(always=True), nullable=False, unique=True),
    Column("order_id", BigInteger, ForeignKey("orders.order_id"), nullable=False),
    Column("venue", Text, nullable=False),
    Column("venue_exec_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("last_qty", Money, nullable=False),
    Column("last_px", Money, nullable=False),
    Column("cum_qty", Money, nullable=False),
    Column("leaves_qty", Money, nullable=False),
    Column("avg_px", Money, nullable=False),
    Column("text", Text, nullable=False),
    Column("received_ns", BigInteger, nullable=False),
    # The gateway's hop timestamps (migration 0004): report applied by the OMS, sent to the client.
    Column("applied_ns", BigInteger, nullable=True),
    Column("client_sent_ns", BigInteger, nullable=True),
    Column(
        "received_at",
        TIMESTAMP(timezone=True),
        Computed(_epoch_ns_to_timestamptz("received_ns"), persisted=True),
    ),
    # A venue may resend an ExecutionReport (at-least-once delivery): it must count once. Not unique
    # on the ExecID alone (migration 0007): a venue that restarts its ExecIDs reuses one for another
    # report, which is recorded too. The key is what the OMS tells a repeat by (``AppliedReport``),
    # and the CumQty the order had after it (a second fill alike in all else is a new one).
    UniqueConstraint("venue", "venue_exec_id", "order_id", "kind", "last_qty", "last_px", "cum_qty",
                     name="uq_executions_venue_report"),
    CheckConstraint(_in("kind", EXEC_KINDS), name="kind"),
    CheckConstraint(_in("status", ORDER_STATUSES), name="status"),
    Index(None, "order_id"),
)

positions = Table(
    "positions",
    metadata,
    Column("account", Text, primary_key=True),
    Column("symbol", Text, primary_key=True),
    Column("quantity", Money, nullable=False),
    Column("avg_price", Money, nullable=False),
    Column("realized_pnl", Money, nullable=False),
    Column("updated_ns", BigInteger, nullable=False),
    Column(
        "updated_at",
        TIMESTAMP(timezone=True),
        Computed(_epoch_ns_to_timestamptz("updated_ns"), persisted=True),
    ),
    # Migration 0008: the exact open cost (signed sum of qty x price of the open quantity); P&L comes
    # from it, ``avg_price`` is cost / quantity rounded to 8 places for display.
    Column("cost", Money, nullable=False),
)

# The price each symbol's open positions are marked at: one row per symbol, the last one written wins.
marks = Table(
    "marks",
    metadata,
    Column("symbol", Text, primary_key=True),
    Column("price", Money, nullable=False),
    Column("updated_ns", BigInteger, nullable=False),
    Column(
        "updated_at",
        TIMESTAMP(timezone=True),
        Computed(_epoch_ns_to_timestamptz("updated_ns"), persisted=True),
    ),
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
    Column("at", TIMESTAMP(timezone=True), Computed(_epoch_ns_to_timestamptz("at_ns"), persisted=True)),
    Column("by", Text, nullable=False),
    Column("action", Text, nullable=False),  # KILL, RESUME, LIMITS, BREACH, CANCEL (an order, over REST)
    Column("scope", Text, nullable=True),  # firm, account, session, symbol; none for LIMITS
    Column("value", Text, nullable=True),
    Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    CheckConstraint(_in("action", RISK_ACTIONS), name="action"),
    CheckConstraint(f"scope IS NULL OR {_in('scope', RISK_SCOPES)}", name="scope"),
    Index(None, "at_ns"),
)
