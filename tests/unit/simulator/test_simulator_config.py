"""Loading and validating the simulator's TOML configuration."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from simulator.config import (
    ConfigError,
    SimInstrument,
    SimulatorConfig,
    VenueConfig,
    config_from_mapping,
    load_config,
)

REPO = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sim.toml"
    path.write_text(text)
    return path


def test_shipped_config_is_the_built_in_default_venue_and_a_second_one() -> None:
    shipped = load_config(REPO / "config" / "simulator.toml")
    assert [(v.name, v.port) for v in shipped.venues] == [("SIM", 9880), ("SIM2", 9881)]
    assert shipped.only("SIM") == SimulatorConfig()
    sim2 = shipped.venue("SIM2")
    # Priced one tick above SIM, its own fee, half SIM's size shown per level: the router has a choice.
    assert {i.symbol: i.reference_price for i in sim2.instruments} == {"AAPL": Decimal("190.01"),
                                                                      "MSFT": Decimal("420.01")}
    assert (sim2.fees.per_share, sim2.fees.bps) == (Decimal("0.002"), Decimal(0))
    assert (sim2.liquidity.levels, sim2.liquidity.level_qty) == (5, Decimal(50))
    assert sim2.target_comp_ids == SimulatorConfig().venues[0].target_comp_ids


def test_decimals_are_read_exactly_from_strings(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
[[venues]]
name = "X"
port = 9999
[venues.liquidity]
levels = 2
level_qty = "3000"
[[venues.instruments]]
symbol = "EURUSD"
tick_size = "0.00005"
lot_size = "1000"
reference_price = "1.08500"
""",
        )
    )
    venue = config.venue("X")
    instrument = venue.instrument("EURUSD")
    assert instrument.tick_size == Decimal("0.00005")
    assert str(instrument.reference_price) == "1.08500"
    assert (venue.liquidity.levels, venue.liquidity.level_qty) == (2, Decimal(3000))
    # Keys left out take the defaults.
    assert venue.target_comp_ids == ("FIXGATE", "CLIENT1", "CLIENT2", "BENCH")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[[venues]]\nname = "X"\nprot = 1\n', "unknown key(s) prot"),
        ("colour = 1\n", "unknown key(s) colour"),
        (
            (
                '[[venues]]\n[[venues.instruments]]\nsymbol = "A"\ntick_size = 0.01\nlot_size = "1"\n'
                'reference_price = "1"\n'
            ),
            "write decimals as strings",
        ),
        (
            (
                '[[venues]]\n[[venues.instruments]]\nsymbol = "A"\ntick_size = "0.05"\nlot_size = "1"\n'
                'reference_price = "1.01"\n'
            ),
            "not a multiple of tick_size",
        ),
        (
            '[[venues]]\n[[venues.instruments]]\nsymbol = "A"\n',
            "missing lot_size, reference_price, tick_size",
        ),
        ('[[venues]]\nport = "9880"\n', "expected int"),
        ('[[venues]]\nbegin_strings = ["FIX.5.0"]\n', "not supported"),
        ('[[venues]]\nhost = "10.1.2.3"\n', "host must be 127.0.0.1 (local clients only) or 0.0.0.0"),
        ('[[venues]]\n[venues.liquidity]\nlevel_qty = "-1"\n', "positive"),
        ("[[venues]]\n[[venues]]\n", "duplicate venue names"),
        ("not toml ===", "sim.toml"),
    ],
)
def test_bad_configs_are_refused_with_the_key_named(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert fragment in str(caught.value)


@pytest.mark.parametrize(("host", "local_only"), [("127.0.0.1", True), ("localhost", True), ("0.0.0.0", False)])
def test_host_says_whether_only_local_clients_may_log_on(tmp_path: Path, host: str, local_only: bool) -> None:
    venue = load_config(write(tmp_path, f'[[venues]]\nhost = "{host}"\n')).venues[0]
    assert (venue.host, venue.local_only) == (host, local_only)
    assert VenueConfig().local_only  # the default


def test_level_qty_must_fit_every_lot_size() -> None:
    with pytest.raises(ConfigError, match="not a multiple of lot_size 1000"):
        VenueConfig(instruments=(SimInstrument("X", Decimal("0.01"), Decimal(1000), Decimal(1)),))


def test_with_port_overrides_one_venue() -> None:
    two = config_from_mapping({"venues": [{"name": "A", "port": 1001}, {"name": "B", "port": 1002}]})
    moved = two.with_port(2002, "B")
    assert [(v.name, v.port) for v in moved.venues] == [("A", 1001), ("B", 2002)]
    with pytest.raises(ConfigError, match="needs a venue name"):
        two.with_port(3000)
    with pytest.raises(KeyError):
        two.with_port(3000, "C")
    assert SimulatorConfig().with_port(1234).venues[0].port == 1234


def test_from_port_puts_the_venues_on_consecutive_ports_in_their_order() -> None:
    two = config_from_mapping({"venues": [{"name": "A", "port": 1001}, {"name": "B", "port": 5000}]})
    assert [(v.name, v.port) for v in two.from_port(7000).venues] == [("A", 7000), ("B", 7001)]
    with pytest.raises(ConfigError, match="need ports 65535 to 65536"):
        two.from_port(65535)
    assert SimulatorConfig().from_port(65535).venues[0].port == 65535


def test_only_keeps_the_named_venues() -> None:
    three = config_from_mapping({"venues": [{"name": n, "port": p} for n, p in (("A", 1), ("B", 2), ("C", 3))]})
    assert [v.name for v in three.only("C", "A").venues] == ["A", "C"]
    with pytest.raises(KeyError):
        three.only("D")


def test_venues_need_distinct_ports() -> None:
    with pytest.raises(ConfigError, match="distinct ports"):
        SimulatorConfig((VenueConfig(name="A"), VenueConfig(name="B")))


def test_fees_delay_and_participants_are_read_from_toml(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
[[venues]]
name = "X"
port = 9999
response_delay_ms = 25
[venues.fees]
per_share = "0.0005"
bps = "0.2"
[venues.participants]
enabled = true
seed = 42
actions_per_second = 5
maker_qty = "300"
taker_percent = 10
""",
        )
    )
    venue = config.venue("X")
    assert venue.response_delay_ms == 25
    assert venue.fees.commission(Decimal(200), Decimal(50)) == Decimal("0.3")  # 0.1 + 0.2
    assert venue.participants.enabled and venue.participants.seed == 42
    assert (venue.participants.maker_qty, venue.participants.taker_percent) == (Decimal(300), 10)
    assert not SimulatorConfig().venues[0].participants.enabled
    assert not SimulatorConfig().venues[0].fees.charges


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[[venues]]\n[venues.fees]\nbps = "-1"\n', "fees.bps must be a Decimal >= 0"),
        ("[[venues]]\n[venues.fees]\nper_share = 0.1\n", "write decimals as strings"),
        ('[[venues]]\n[venues.fees]\nmaker = "1"\n', "unknown key(s) maker"),
        ("[[venues]]\nresponse_delay_ms = -5\n", "response_delay_ms must be an integer in 0..60000"),
        ("[[venues]]\n[venues.participants]\nactions_per_second = 0\n", "actions_per_second"),
        ("[[venues]]\n[venues.participants]\ntaker_percent = 101\n", "taker_percent"),
        ("[[venues]]\n[venues.participants]\nenabled = 1\n", "expected bool"),
        (
            (
                '[[venues]]\n[venues.participants]\nenabled = true\nmaker_qty = "150"\n'
                '[[venues.instruments]]\nsymbol = "A"\ntick_size = "1"\nlot_size = "100"\n'
                'reference_price = "10"\n'
            ),
            "participants.maker_qty 150 is not a multiple of lot_size 100",
        ),
    ],
)
def test_bad_fee_delay_and_participant_settings_are_refused(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert fragment in str(caught.value)


def test_the_toxic_dialect_takes_a_whole_number_of_ticks(tmp_path: Path) -> None:
    venue = '[[venues]]\nname = "TOX"\nport = 9999\n[venues.dialect]\n'
    assert load_config(write(tmp_path, venue + "toxic_markout_ticks = 3\n")).venue("TOX").dialect.toxic_markout_ticks == 3
    for bad, says in (("-1", "0..1000 ticks, got -1"), ('"3"', "expected int, got '3'"), ("1.5", "expected int")):
        with pytest.raises(ConfigError, match="toxic_markout_ticks") as refused:
            load_config(write(tmp_path, venue + f"toxic_markout_ticks = {bad}\n"))
        assert says in str(refused.value)
