"""Configuration of the venue simulator: venues, their instruments and the liquidity seeded at start.

Plain frozen dataclasses, loadable from TOML (``config/simulator.toml``). Prices and quantities are
``Decimal``; in TOML write them as strings (``"190.00"``) so that no binary float ever touches them.
Nothing here knows FIX or QuickFIX.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_BEGIN_STRINGS",
    "DEFAULT_TARGET_COMP_IDS",
    "ConfigError",
    "FeeSchedule",
    "LiquidityConfig",
    "ParticipantsConfig",
    "SimInstrument",
    "SimulatorConfig",
    "VenueConfig",
    "default_instruments",
    "load_config",
]

SUPPORTED_BEGIN_STRINGS = ("FIX.4.4", "FIX.4.2", "FIXT.1.1")
"""FIXT.1.1 is FIX 5.0 SP2 over the FIXT.1.1 session layer (DefaultApplVerID FIX.5.0SP2, the only
application version the simulator speaks there)."""
# What ``host`` may say. QuickFIX 1.16 acceptors have no SocketAcceptHost (socket_createAcceptor binds
# INADDR_ANY), so the venue cannot listen on one interface; it can only refuse peers by address
# (AllowedRemoteAddresses). Hence two choices, not an arbitrary interface address.
LOCAL_HOSTS = ("127.0.0.1", "localhost")
ANY_HOST = "0.0.0.0"
DEFAULT_BEGIN_STRINGS: tuple[str, ...] = SUPPORTED_BEGIN_STRINGS
DEFAULT_TARGET_COMP_IDS: tuple[str, ...] = ("FIXGATE", "CLIENT1", "CLIENT2", "BENCH")


class ConfigError(ValueError):
    """A simulator configuration that cannot be used; the message names the key and the value."""


@dataclass(frozen=True, slots=True)
class SimInstrument:
    """A symbol the simulated venue trades, with its price grid and the price liquidity is seeded around."""

    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    reference_price: Decimal

    def __post_init__(self) -> None:
        if not self.symbol:
            raise ConfigError("instrument symbol must not be empty")
        for name in ("tick_size", "lot_size", "reference_price"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
                raise ConfigError(f"{self.symbol}: {name} must be a positive Decimal, got {value!r}")
        if self.reference_price % self.tick_size != 0:
            raise ConfigError(
                f"{self.symbol}: reference_price {self.reference_price} is not a multiple of "
                f"tick_size {self.tick_size}"
            )


@dataclass(frozen=True, slots=True)
class LiquidityConfig:
    """Resting orders the venue's own participant places at start, ``levels`` price levels per side.

    The first ask rests at reference + 1 tick, the first bid at reference - 1 tick, each further level
    one tick further away, each ``level_qty`` in size.
    """

    levels: int = 5
    level_qty: Decimal = Decimal(100)

    def __post_init__(self) -> None:
        if isinstance(self.levels, bool) or not isinstance(self.levels, int) or self.levels < 0:
            raise ConfigError(f"liquidity.levels must be an integer >= 0, got {self.levels!r}")
        if not isinstance(self.level_qty, Decimal) or not self.level_qty.is_finite() or self.level_qty <= 0:
            raise ConfigError(f"liquidity.level_qty must be a positive Decimal, got {self.level_qty!r}")


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """What the venue charges per fill: ``per_share`` per unit of quantity plus ``bps`` of the notional.

    Reported on each fill as an absolute amount (Commission 12, CommType 13 = 3).
    """

    per_share: Decimal = Decimal(0)
    bps: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        for name in ("per_share", "bps"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise ConfigError(f"fees.{name} must be a Decimal >= 0, got {value!r}")

    @property
    def charges(self) -> bool:
        return self.per_share > 0 or self.bps > 0

    def commission(self, quantity: Decimal, price: Decimal) -> Decimal:
        """The fee of one fill, rounded to 8 decimal places."""
        amount = quantity * self.per_share + quantity * price * self.bps / 10_000
        return amount.quantize(_FEE_QUANTUM)


_FEE_QUANTUM = Decimal("0.00000001")


_REFUSABLE = {"F": "OrderCancelRequest", "G": "OrderCancelReplaceRequest", "H": "OrderStatusRequest",
              "V": "MarketDataRequest"}


_MAX_TOXIC_TICKS = 1000


@dataclass(frozen=True, slots=True)
class VenueDialect:
    """Ways real venues answer that differ from this simulator's manners; every one off by default.

    - ``session_reject_ord_types``: OrdType (40) values whose NewOrderSingle is refused at the session
      level (35=3, RefTagID 40, SessionRejectReason 5 "value is incorrect"), never reaching the book.
    - ``business_reject``: MsgTypes (F, G, H, V) the venue does not support and refuses with a
      BusinessMessageReject (35=j, BusinessRejectReason 3 "unsupported message type").
    - ``cancel_ack_original_id``: a cancel is acknowledged under the order's original ClOrdID, without
      OrigClOrdID (41).
    - ``restart_exec_ids``: ExecIDs number from 1 again in each process (the venue restarted).
    - ``forget_orders_on_restart``: a restarted venue starts with empty books and no order record, so
      it answers status and cancel of an earlier order as unknown.
    - ``toxic_markout_ticks``: after a client's order takes liquidity here (a fill with the client as
      the aggressor), the venue's own quotes in that symbol (seeded liquidity and market maker) move
      that many ticks against the client: down after a buy, up after a sell, as prices do at a venue
      whose other side is informed. 0 (the default): prices do not react.
    - ``last_look_ticks``: a venue that fades its quotes on a taker (last look): a client's market, IOC
      or FOK order is matched after the venue's own quotes in that symbol moved that many ticks against
      it (up for a buy, down for a sell), and they move back right after (the order never rests in
      their way). Its market data shows the same prices as
      before, but its fills are worse than its quotes were: transaction cost analysis sees it as
      slippage. 0 (the default): orders match the quotes shown.
    - ``last_look_min_qty``: last look only for orders of at least this quantity, so that the venue's
      cost grows with the size sent there (small orders match the quotes shown, larger ones fill
      ``last_look_ticks`` worse). 0 (the default): every taking order.
    """

    session_reject_ord_types: tuple[str, ...] = ()
    business_reject: tuple[str, ...] = ()
    cancel_ack_original_id: bool = False
    restart_exec_ids: bool = False
    forget_orders_on_restart: bool = False
    toxic_markout_ticks: int = 0
    last_look_ticks: int = 0
    last_look_min_qty: int = 0

    def __post_init__(self) -> None:
        if self.last_look_min_qty < 0:
            raise ConfigError(f"dialect.last_look_min_qty: 0 or more, got {self.last_look_min_qty}")
        for key in ("toxic_markout_ticks", "last_look_ticks"):
            ticks = getattr(self, key)
            if not 0 <= ticks <= _MAX_TOXIC_TICKS:
                raise ConfigError(f"dialect.{key}: 0..{_MAX_TOXIC_TICKS} ticks, got {ticks}")
        for value in self.session_reject_ord_types:
            if not isinstance(value, str) or len(value) != 1:
                raise ConfigError(
                    f"dialect.session_reject_ord_types: OrdType values are one character, got {value!r}"
                )
        for value in self.business_reject:
            if value not in _REFUSABLE:
                raise ConfigError(
                    f"dialect.business_reject: {value!r} is not one of "
                    + ", ".join(f"{k} ({v})" for k, v in _REFUSABLE.items())
                )


@dataclass(frozen=True, slots=True)
class ParticipantsConfig:
    """The venue's own background traders, which make a living market; off by default.

    Every action (at most ``actions_per_second``) picks an instrument and either lets a taker send an
    IOC order of up to ``taker_max_qty`` (with probability ``taker_percent``/100), or lets the market
    maker move its mid by a random walk of up to ``step_ticks`` and requote ``maker_levels`` levels of
    ``maker_qty`` each side, the best ``half_spread_ticks`` from the mid. Seeded with ``seed``: the
    same seed against the same book makes the same orders.
    """

    enabled: bool = False
    seed: int = 1
    actions_per_second: int = 20
    maker_levels: int = 3
    maker_qty: Decimal = Decimal(100)
    half_spread_ticks: int = 1
    step_ticks: int = 2
    taker_percent: int = 40
    taker_max_qty: Decimal = Decimal(200)

    def __post_init__(self) -> None:
        bounds = {
            "seed": (0, None),
            "actions_per_second": (1, 1000),
            "maker_levels": (1, 50),
            "half_spread_ticks": (1, None),
            "step_ticks": (0, None),
            "taker_percent": (0, 100),
        }
        for name, (low, high) in bounds.items():
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < low
                or (high is not None and value > high)
            ):
                span = f"{low}..{high}" if high is not None else f">= {low}"
                raise ConfigError(f"participants.{name} must be an integer {span}, got {value!r}")
        for name in ("maker_qty", "taker_max_qty"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
                raise ConfigError(f"participants.{name} must be a positive Decimal, got {value!r}")


def default_instruments() -> tuple[SimInstrument, ...]:
    """AAPL around 190.00 and MSFT around 420.00, tick 0.01, lot 1."""
    return (
        SimInstrument("AAPL", Decimal("0.01"), Decimal(1), Decimal("190.00")),
        SimInstrument("MSFT", Decimal("0.01"), Decimal(1), Decimal("420.00")),
    )


@dataclass(frozen=True, slots=True)
class VenueConfig:
    """One simulated exchange: its FIX identity, where it listens, whom it accepts, what it trades.

    ``host`` is ``127.0.0.1`` (or ``localhost``: only clients on this machine may log on) or
    ``0.0.0.0`` (clients from anywhere). QuickFIX 1.16 acceptors bind every interface whatever it
    says, so the local-only default is enforced by address: a connection from any peer but 127.0.0.1
    is dropped at its Logon, before the Logon is processed (see ``local_only``).
    """

    name: str = "SIM"
    host: str = "127.0.0.1"
    port: int = 9880
    begin_strings: tuple[str, ...] = DEFAULT_BEGIN_STRINGS
    target_comp_ids: tuple[str, ...] = DEFAULT_TARGET_COMP_IDS
    instruments: tuple[SimInstrument, ...] = field(default_factory=default_instruments)
    liquidity: LiquidityConfig = field(default_factory=LiquidityConfig)
    log_messages: bool = True
    fees: FeeSchedule = field(default_factory=FeeSchedule)
    response_delay_ms: int = 0
    participants: ParticipantsConfig = field(default_factory=ParticipantsConfig)
    dialect: VenueDialect = field(default_factory=VenueDialect)

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("venue name must not be empty")
        if self.host not in (*LOCAL_HOSTS, ANY_HOST):
            raise ConfigError(
                f"venue {self.name}: host must be 127.0.0.1 (local clients only) or 0.0.0.0 (any client), "
                f"got {self.host!r}; QuickFIX 1.16 acceptors cannot listen on one chosen interface"
            )
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ConfigError(f"venue {self.name}: port must be in 1..65535, got {self.port!r}")
        for begin_string in self.begin_strings:
            if begin_string not in SUPPORTED_BEGIN_STRINGS:
                raise ConfigError(
                    f"venue {self.name}: begin string {begin_string!r} not supported "
                    f"(supported: {', '.join(SUPPORTED_BEGIN_STRINGS)})"
                )
        if (
            isinstance(self.response_delay_ms, bool)
            or not isinstance(self.response_delay_ms, int)
            or not 0 <= self.response_delay_ms <= 60_000
        ):
            raise ConfigError(
                f"venue {self.name}: response_delay_ms must be an integer in 0..60000, "
                f"got {self.response_delay_ms!r}"
            )
        if not self.begin_strings or not self.target_comp_ids:
            raise ConfigError(f"venue {self.name}: needs at least one begin string and one target comp id")
        symbols = [instrument.symbol for instrument in self.instruments]
        if len(symbols) != len(set(symbols)):
            raise ConfigError(f"venue {self.name}: duplicate instrument symbols in {symbols}")
        quantities = {"liquidity.level_qty": self.liquidity.level_qty}
        if self.participants.enabled:
            quantities["participants.maker_qty"] = self.participants.maker_qty
            quantities["participants.taker_max_qty"] = self.participants.taker_max_qty
        for instrument in self.instruments:
            for key, quantity in quantities.items():
                if quantity % instrument.lot_size != 0:
                    raise ConfigError(
                        f"venue {self.name}: {key} {quantity} is not a multiple "
                        f"of lot_size {instrument.lot_size} for {instrument.symbol}"
                    )

    @property
    def local_only(self) -> bool:
        """Whether only clients connecting from 127.0.0.1 may log on (``host`` is loopback)."""
        return self.host in LOCAL_HOSTS

    def instrument(self, symbol: str) -> SimInstrument:
        """The instrument named ``symbol``; ``KeyError`` if the venue does not trade it."""
        for instrument in self.instruments:
            if instrument.symbol == symbol:
                return instrument
        raise KeyError(symbol)


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Every venue one simulator process runs (each on its own port, each its own order books)."""

    venues: tuple[VenueConfig, ...] = field(default_factory=lambda: (VenueConfig(),))

    def __post_init__(self) -> None:
        if not self.venues:
            raise ConfigError("simulator config needs at least one venue")
        names = [venue.name for venue in self.venues]
        if len(names) != len(set(names)):
            raise ConfigError(f"duplicate venue names in {names}")
        ports = [venue.port for venue in self.venues]
        if len(ports) != len(set(ports)):
            raise ConfigError(f"venues must listen on distinct ports, got {ports}")

    def venue(self, name: str) -> VenueConfig:
        """The venue named ``name``; ``KeyError`` if there is none."""
        for venue in self.venues:
            if venue.name == name:
                return venue
        raise KeyError(name)

    def from_port(self, port: int) -> SimulatorConfig:
        """A copy whose venues listen on ``port``, ``port + 1``, ... in their order (``--port``)."""
        if not 0 < port or port + len(self.venues) - 1 > 65535:
            raise ConfigError(f"port {port}: the {len(self.venues)} venue(s) need ports {port} to "
                              f"{port + len(self.venues) - 1}, within 1..65535")
        return SimulatorConfig(tuple(dataclasses.replace(v, port=port + i) for i, v in enumerate(self.venues)))

    def only(self, *names: str) -> SimulatorConfig:
        """A copy with the named venues only, in their order here; ``KeyError`` for an unknown name."""
        for name in names:
            self.venue(name)
        return SimulatorConfig(tuple(v for v in self.venues if v.name in names))

    def with_port(self, port: int, venue: str | None = None) -> SimulatorConfig:
        """A copy with ``venue`` (default: the only venue) listening on ``port``."""
        if venue is None:
            if len(self.venues) != 1:
                raise ConfigError(
                    f"with_port needs a venue name when the config has {len(self.venues)} venues"
                )
            venue = self.venues[0].name
        self.venue(venue)  # KeyError for an unknown venue, before building anything
        return SimulatorConfig(
            tuple(dataclasses.replace(v, port=port) if v.name == venue else v for v in self.venues)
        )


# -- LOADING ------------------------------------------------------------------------------------------


def load_config(path: Path | str) -> SimulatorConfig:
    """Read a simulator TOML file (see ``config/simulator.toml``); unknown keys are refused."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return config_from_mapping(raw, source=str(path))


def config_from_mapping(raw: Mapping[str, Any], source: str = "<mapping>") -> SimulatorConfig:
    """Build a ``SimulatorConfig`` from already parsed TOML-shaped data."""
    _refuse_unknown(raw, {"venues"}, source)
    venues_raw = raw.get("venues")
    if venues_raw is None:
        return SimulatorConfig()
    if not isinstance(venues_raw, list):
        raise ConfigError(f"{source}: 'venues' must be an array of tables ([[venues]])")
    venues = tuple(_venue(v, f"{source}: venues[{i}]") for i, v in enumerate(venues_raw))
    return SimulatorConfig(venues)


_VENUE_KEYS = {
    "name",
    "host",
    "port",
    "begin_strings",
    "target_comp_ids",
    "instruments",
    "liquidity",
    "log_messages",
    "fees",
    "response_delay_ms",
    "participants",
    "dialect",
}


def _venue(raw: Any, where: str) -> VenueConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    _refuse_unknown(raw, _VENUE_KEYS, where)
    kwargs: dict[str, Any] = {}
    for key in ("name", "host"):
        if key in raw:
            kwargs[key] = _typed(raw[key], str, f"{where}.{key}")
    if "port" in raw:
        kwargs["port"] = _typed(raw["port"], int, f"{where}.port")
    if "log_messages" in raw:
        kwargs["log_messages"] = _typed(raw["log_messages"], bool, f"{where}.log_messages")
    if "response_delay_ms" in raw:
        kwargs["response_delay_ms"] = _typed(raw["response_delay_ms"], int, f"{where}.response_delay_ms")
    if "fees" in raw:
        kwargs["fees"] = _fees(raw["fees"], f"{where}.fees")
    if "participants" in raw:
        kwargs["participants"] = _participants(raw["participants"], f"{where}.participants")
    if "dialect" in raw:
        kwargs["dialect"] = _dialect(raw["dialect"], f"{where}.dialect")
    for key in ("begin_strings", "target_comp_ids"):
        if key in raw:
            values = raw[key]
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise ConfigError(f"{where}.{key}: must be an array of strings, got {values!r}")
            kwargs[key] = tuple(values)
    if "instruments" in raw:
        if not isinstance(raw["instruments"], list):
            raise ConfigError(f"{where}.instruments: must be an array of tables ([[venues.instruments]])")
        kwargs["instruments"] = tuple(
            _instrument(v, f"{where}.instruments[{i}]") for i, v in enumerate(raw["instruments"])
        )
    if "liquidity" in raw:
        kwargs["liquidity"] = _liquidity(raw["liquidity"], f"{where}.liquidity")
    try:
        return VenueConfig(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _instrument(raw: Any, where: str) -> SimInstrument:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    keys = {"symbol", "tick_size", "lot_size", "reference_price"}
    _refuse_unknown(raw, keys, where)
    missing = sorted(keys - raw.keys())
    if missing:
        raise ConfigError(f"{where}: missing {', '.join(missing)}")
    return SimInstrument(
        symbol=_typed(raw["symbol"], str, f"{where}.symbol"),
        tick_size=_decimal(raw["tick_size"], f"{where}.tick_size"),
        lot_size=_decimal(raw["lot_size"], f"{where}.lot_size"),
        reference_price=_decimal(raw["reference_price"], f"{where}.reference_price"),
    )


def _liquidity(raw: Any, where: str) -> LiquidityConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    _refuse_unknown(raw, {"levels", "level_qty"}, where)
    kwargs: dict[str, Any] = {}
    if "levels" in raw:
        kwargs["levels"] = _typed(raw["levels"], int, f"{where}.levels")
    if "level_qty" in raw:
        kwargs["level_qty"] = _decimal(raw["level_qty"], f"{where}.level_qty")
    return LiquidityConfig(**kwargs)


def _fees(raw: Any, where: str) -> FeeSchedule:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    _refuse_unknown(raw, {"per_share", "bps"}, where)
    return FeeSchedule(**{key: _decimal(value, f"{where}.{key}") for key, value in raw.items()})


def _dialect(raw: Any, where: str) -> VenueDialect:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    lists = {"session_reject_ord_types", "business_reject"}
    flags = {"cancel_ack_original_id", "restart_exec_ids", "forget_orders_on_restart"}
    ints = {"toxic_markout_ticks", "last_look_ticks", "last_look_min_qty"}
    _refuse_unknown(raw, lists | flags | ints, where)
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key in flags:
            kwargs[key] = _typed(value, bool, f"{where}.{key}")
        elif key in ints:
            kwargs[key] = _typed(value, int, f"{where}.{key}")
        elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}.{key}: must be an array of strings, got {value!r}")
        else:
            kwargs[key] = tuple(value)
    try:
        return VenueDialect(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


_PARTICIPANT_INTS = {
    "seed",
    "actions_per_second",
    "maker_levels",
    "half_spread_ticks",
    "step_ticks",
    "taker_percent",
}
_PARTICIPANT_DECIMALS = {"maker_qty", "taker_max_qty"}


def _participants(raw: Any, where: str) -> ParticipantsConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    _refuse_unknown(raw, {"enabled"} | _PARTICIPANT_INTS | _PARTICIPANT_DECIMALS, where)
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "enabled":
            kwargs[key] = _typed(value, bool, f"{where}.{key}")
        elif key in _PARTICIPANT_INTS:
            kwargs[key] = _typed(value, int, f"{where}.{key}")
        else:
            kwargs[key] = _decimal(value, f"{where}.{key}")
    return ParticipantsConfig(**kwargs)


def _refuse_unknown(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})"
        )


def _typed(value: Any, kind: type, where: str) -> Any:
    # bool is an int subclass; a port of `true` is a mistake, not 1.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value


def _decimal(value: Any, where: str) -> Decimal:
    # A TOML float has already been through binary floating point; refuse it rather than guess.
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigError(f'{where}: write decimals as strings ("0.01") or integers, got {value!r}')
    try:
        result = Decimal(value)
    except InvalidOperation as exc:
        raise ConfigError(f"{where}: not a decimal number: {value!r}") from exc
    if not result.is_finite():
        raise ConfigError(f"{where}: not a finite number: {value!r}")
    return result
