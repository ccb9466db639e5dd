"""fixgate's settings: command-line flags over ``FIXGATE_*`` environment variables over defaults."""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

from bus.events import INSTANCE_PATTERN
from domain.model import Instrument, Listing

if TYPE_CHECKING:
    from api.identities import Identity

REPO_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_DIR = REPO_DIR / "config"


class ConfigError(ValueError):
    """A config file or setting is wrong: the message names the file, the key and the value."""


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None


def _env_optional_int(name: str) -> int | None:
    return None if os.environ.get(name, "") == "" else _env_int(name, 0)


_FLAG_VALUES = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False,
                "off": False}


def _env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return _FLAG_VALUES[raw.strip().lower()]
    except KeyError:
        raise ConfigError(f"{name}={raw!r}: expected 1 or 0 (true/false, yes/no, on/off)") from None


# Where each port setting comes from, for messages (the flag or the environment variable).
_PORT_SOURCES = {
    "client_port": "--client-port or FIXGATE_CLIENT_PORT",
    "sim_port": "--venue-port or FIXGATE_SIM_PORT",
    "sim2_port": "--sim2-port or FIXGATE_SIM2_PORT",
    "rest_port": "--rest-port or FIXGATE_REST_PORT",
}


@dataclass(frozen=True, slots=True)
class Settings:
    """Where fixgate listens, where it keeps its data, and where its config files are."""

    config_dir: Path = DEFAULT_CONFIG_DIR
    data_dir: Path = Path(".fixgate")
    client_port: int = 9876
    sim_host: str = "127.0.0.1"
    sim_port: int = 9880
    # The simulator's second venue SIM2 (${SIM2_PORT} of venues.cfg, on sim_host). None: the SIM port
    # + 1, where `fixgate simulator --port` puts it (``venue2_port``).
    sim2_port: int | None = None
    rest_host: str = "127.0.0.1"
    rest_port: int = 8080
    database_url: str | None = None  # None: DATABASE_URL, else an embedded PostgreSQL
    fix_message_log: bool = True  # every FIX message to <data dir>/log (off for benchmarks)
    # The REST API's bearer token (FIXGATE_API_TOKEN, else the file --api-token-file or
    # FIXGATE_API_TOKEN_FILE names). None: every REST call but /health is refused;
    # `fixgate serve` and `fixgate demo` generate one. Kept out of repr so it is never logged.
    api_token: str | None = field(default=None, repr=False)
    # Named REST identities with roles, by the SHA-256 of their token (FIXGATE_API_TOKENS_FILE or
    # --api-tokens-file: lines "name role sha256hex [accounts]"; see api.identities). With the token
    # above too, that one is an operator named "api".
    api_tokens: Mapping[str, Identity] = field(default_factory=dict, repr=False)
    # This gateway's name among those sharing a database and a bus (FIXGATE_INSTANCE): its events'
    # subjects and ids carry it, and its book writer's position is kept under it.
    instance: str = "fixgate"
    # Order ids of this instance: those equal to order_id_slot modulo order_id_slots
    # (FIXGATE_ORDER_IDS="slot/slots", e.g. 0/2 and 1/2 for two instances on one database).
    order_id_slot: int = 0
    order_id_slots: int = 1
    # The message bus: NATS_URL, else (bus on) an embedded NATS server under the data folder.
    nats_url: str | None = None
    bus: bool = True  # FIXGATE_BUS=0: no bus, no publisher (the journal is still the book's source)
    # The router weighs TCA's venue scores (FIXGATE_ROUTE_FEEDBACK=0: by price and fees only).
    route_feedback: bool = True
    # HTTPS for the REST API and the dashboard (--tls-cert/--tls-key, FIXGATE_REST_TLS_CERT/_KEY).
    rest_tls_cert: Path | None = None
    rest_tls_key: Path | None = None

    def __post_init__(self) -> None:
        for name, port in (("client_port", self.client_port), ("sim_port", self.sim_port),
                           ("sim2_port", self.sim2_port), ("rest_port", self.rest_port)):
            if port is not None and not 0 < port < 65536:
                raise ConfigError(f"{_PORT_SOURCES[name]} = {port}: a port is 1 to 65535")
        if self.sim2_port is None and self.sim_port == 65535:
            raise ConfigError(f"{_PORT_SOURCES['sim_port']} = 65535: SIM2 follows on the next port, and there is"
                              f" none ({_PORT_SOURCES['sim2_port']} places it)")
        if self.sim2_port == self.sim_port:
            raise ConfigError(f"{_PORT_SOURCES['sim2_port']} = {self.sim2_port}: the SIM venue's port too"
                              f" ({_PORT_SOURCES['sim_port']}); each venue has its own")
        if not INSTANCE_PATTERN.fullmatch(self.instance):
            raise ConfigError(f"FIXGATE_INSTANCE={self.instance!r}: 1 to 32 letters, digits or _")
        if not 0 <= self.order_id_slot < self.order_id_slots:
            raise ConfigError(
                f"FIXGATE_ORDER_IDS={self.order_id_slot}/{self.order_id_slots}: the slot must be at least 0"
                " and below the number of slots"
            )

    @classmethod
    def from_env(cls) -> Settings:
        order_id_slot, order_id_slots = _order_id_slots(os.environ.get("FIXGATE_ORDER_IDS") or "0/1")
        return cls(
            config_dir=Path(os.environ.get("FIXGATE_CONFIG_DIR", DEFAULT_CONFIG_DIR)),
            data_dir=Path(os.environ.get("FIXGATE_DATA_DIR", ".fixgate")),
            client_port=_env_int("FIXGATE_CLIENT_PORT", 9876),
            sim_host=os.environ.get("FIXGATE_SIM_HOST", "127.0.0.1"),
            sim_port=_env_int("FIXGATE_SIM_PORT", 9880),
            sim2_port=_env_optional_int("FIXGATE_SIM2_PORT"),
            rest_host=os.environ.get("FIXGATE_REST_HOST", "127.0.0.1"),
            rest_port=_env_int("FIXGATE_REST_PORT", 8080),
            database_url=os.environ.get("DATABASE_URL") or None,
            fix_message_log=_env_flag("FIXGATE_FIX_MESSAGE_LOG", True),
            api_token=_api_token(os.environ.get("FIXGATE_API_TOKEN"), "FIXGATE_API_TOKEN")
            or token_from_file(os.environ.get("FIXGATE_API_TOKEN_FILE")),
            api_tokens=tokens_from_file(os.environ.get("FIXGATE_API_TOKENS_FILE")),
            instance=os.environ.get("FIXGATE_INSTANCE") or "fixgate",
            order_id_slot=order_id_slot,
            order_id_slots=order_id_slots,
            nats_url=os.environ.get("NATS_URL") or None,
            bus=_env_flag("FIXGATE_BUS", True),
            route_feedback=_env_flag("FIXGATE_ROUTE_FEEDBACK", True),
            rest_tls_cert=Path(os.environ["FIXGATE_REST_TLS_CERT"]) if os.environ.get("FIXGATE_REST_TLS_CERT") else None,
            rest_tls_key=Path(os.environ["FIXGATE_REST_TLS_KEY"]) if os.environ.get("FIXGATE_REST_TLS_KEY") else None,
        )

    @property
    def venue2_port(self) -> int:
        """The port of the simulator's second venue SIM2: ``sim2_port``, else the SIM port + 1."""
        return self.sim_port + 1 if self.sim2_port is None else self.sim2_port

    def with_api_token(self, *, always: bool = False) -> tuple[Settings, bool]:
        """These settings with an API token: the configured one, else a new random one (True). None is
        made when a tokens file names the identities, unless ``always`` (the demo reads its own API)."""
        if self.api_token or (self.api_tokens and not always):
            return self, False
        return replace(self, api_token=secrets.token_urlsafe(32)), True


def _order_id_slots(raw: str) -> tuple[int, int]:
    slot, _, slots = raw.partition("/")
    if not (slot.strip().isdigit() and slots.strip().isdigit()):
        raise ConfigError(f"FIXGATE_ORDER_IDS={raw!r}: expected 'slot/slots', e.g. 0/2")
    return int(slot), int(slots)


def _api_token(raw: str | None, source: str) -> str | None:
    if raw is None or raw.strip() == "":
        return None
    # RFC 6750 token68 characters only: anything else could not be sent in an Authorization header.
    if not all(c.isascii() and (c.isalnum() or c in "-._~+/=") for c in raw):
        raise ConfigError(f"{source} has characters a bearer token cannot carry (use A-Z a-z 0-9 -._~+/=)")
    return raw


def token_from_file(path: str | Path | None) -> str | None:
    """The REST API token kept in a file of its own (``--api-token-file``, ``FIXGATE_API_TOKEN_FILE``):
    its one line, surrounding whitespace ignored. A file, not a key of the config files: those are
    committed with the deployment, a secret is not. A missing or empty file is an error, not "no
    token"."""
    if path is None or str(path) == "":
        return None
    try:
        text = Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"API token file {path}: {exc.strerror or exc}") from None
    token = _api_token(text, f"API token file {path}")
    if token is None:
        raise ConfigError(f"API token file {path} is empty")
    return token


def tokens_from_file(path: str | Path | None) -> dict[str, Identity]:
    """The REST identities of an API tokens file (``--api-tokens-file``, ``FIXGATE_API_TOKENS_FILE``),
    by token hash; none without a path. A missing or malformed file is an error naming the line."""
    if path is None or str(path) == "":
        return {}
    # Here, not at the top: importing the api package loads FastAPI, which `fixgate simulator` and
    # `fixgate --help` do not need.
    from api.identities import IdentityError, load_tokens

    try:
        return load_tokens(path)
    except IdentityError as exc:
        raise ConfigError(str(exc)) from None


def rest_access_help(url: str, token: str, generated: bool) -> str:
    """What to print at start so an operator can call the REST API (the token once, if generated)."""
    if generated:
        return (
            f"REST API token (generated for this run; set FIXGATE_API_TOKEN or FIXGATE_API_TOKEN_FILE to"
            f" choose one): {token}\n"
            f"  curl -H 'Authorization: Bearer {token}' {url}/positions"
        )
    return f'REST API token as configured:\n  curl -H "Authorization: Bearer $FIXGATE_API_TOKEN" {url}/positions'


_INSTRUMENT_KEYS = {"tick_size", "lot_size", "reference_price"}
_LISTING_KEYS = {"fee_per_share", "fee_bps"}


def _decimal(where: str, raw: object, *, positive: bool) -> Decimal:
    if isinstance(raw, float):
        raise ConfigError(f"{where} = {raw!r}: write it as a string, not a float")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ConfigError(f"{where} = {raw!r} is not a number") from None
    if not value.is_finite() or value < 0 or (positive and value == 0):
        raise ConfigError(f"{where} = {raw!r} must be {'positive' if positive else 'zero or more'}")
    return value


def _positive_decimal(where: str, raw: object) -> Decimal:
    return _decimal(where, raw, positive=True)


def _listings(where: str, table: dict[str, object]) -> tuple[Listing, ...]:
    """An instrument's venues: ``venue = "SIM"`` (one venue, no fees), or ``[SYMBOL.venues.NAME]``
    tables, each with its optional ``fee_per_share`` and ``fee_bps``, in the order written."""
    if ("venue" in table) == ("venues" in table):
        raise ConfigError(f"{where}: give either venue = \"NAME\" or [{where.rpartition(': ')[2]}.venues.NAME]"
                          " tables, not both or neither")
    if "venue" in table:
        venue = table["venue"]
        if not isinstance(venue, str) or not venue:
            raise ConfigError(f"{where}.venue = {venue!r}: expected a venue name")
        return (Listing(venue),)
    venues = table["venues"]
    if not isinstance(venues, dict) or not venues:
        raise ConfigError(f"{where}.venues: expected one [.venues.NAME] table per venue")
    listings = []
    for venue, fees in venues.items():
        at = f"{where}.venues.{venue}"
        if not isinstance(fees, dict):
            raise ConfigError(f"{at}: expected a table")
        unknown = set(fees) - _LISTING_KEYS
        if unknown:
            raise ConfigError(f"{at}: unknown {sorted(unknown)} (known: {sorted(_LISTING_KEYS)})")
        listings.append(Listing(venue, _decimal(f"{at}.fee_per_share", fees.get("fee_per_share", "0"), positive=False),
                                _decimal(f"{at}.fee_bps", fees.get("fee_bps", "0"), positive=False)))
    return tuple(listings)


def load_instruments(path: Path) -> dict[str, Instrument]:
    """Read ``[SYMBOL]`` tables with tick_size, lot_size, reference_price and the venues the symbol
    trades on (``_listings``)."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    instruments: dict[str, Instrument] = {}
    for symbol, table in data.items():
        where = f"{path}: {symbol}"
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: expected a table [{symbol}]")
        missing = _INSTRUMENT_KEYS - set(table)
        unknown = set(table) - _INSTRUMENT_KEYS - {"venue", "venues"}
        if missing or unknown:
            raise ConfigError(f"{where}: missing {sorted(missing)}, unknown {sorted(unknown)}")
        listings = _listings(where, table)
        instruments[symbol] = Instrument(
            symbol=symbol,
            venue=listings[0].venue,
            tick_size=_positive_decimal(f"{where}.tick_size", table["tick_size"]),
            lot_size=_positive_decimal(f"{where}.lot_size", table["lot_size"]),
            reference_price=_positive_decimal(f"{where}.reference_price", table["reference_price"]),
            listings=listings,
        )
    return instruments
