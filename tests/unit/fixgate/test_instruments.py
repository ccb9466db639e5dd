"""config/instruments.toml: one venue, or several with their fees; mistakes named by file and key."""

from decimal import Decimal as D
from pathlib import Path

import pytest

from domain.model import Listing
from fixgate.config import ConfigError, load_instruments
from simulator.config import load_config


def load(tmp_path: Path, text: str) -> dict:  # type: ignore[type-arg]
    path = tmp_path / "instruments.toml"
    path.write_text(text)
    return load_instruments(path)


HEAD = '[AAPL]\ntick_size = "0.01"\nlot_size = "1"\nreference_price = "190.00"\n'


def test_one_venue(tmp_path: Path) -> None:
    aapl = load(tmp_path, HEAD + 'venue = "SIM"\n')["AAPL"]
    assert (aapl.venues, aapl.listings) == (("SIM",), (Listing("SIM"),))


def test_the_shipped_symbols_trade_on_both_simulated_venues_at_the_fees_the_simulator_charges() -> None:
    config = Path(__file__).resolve().parents[3] / "config"
    simulator = load_config(config / "simulator.toml")
    for symbol, instrument in load_instruments(config / "instruments.toml").items():
        assert instrument.venues == ("SIM", "SIM2"), symbol
        for listing in instrument.listings:
            fees = simulator.venue(listing.venue).fees
            assert (listing.fee_per_share, listing.fee_bps) == (fees.per_share, fees.bps), (symbol, listing)
            assert symbol in {i.symbol for i in simulator.venue(listing.venue).instruments}


def test_several_venues_with_their_fees_in_the_order_written(tmp_path: Path) -> None:
    aapl = load(tmp_path, HEAD + '[AAPL.venues.B]\nfee_bps = "0.2"\n[AAPL.venues.A]\nfee_per_share = "0.003"\n'
                '[AAPL.venues.C]\n')["AAPL"]
    assert aapl.listings == (Listing("B", D(0), D("0.2")), Listing("A", D("0.003"), D(0)), Listing("C"))
    assert aapl.venue == "B"
    assert aapl.listing("A") == Listing("A", D("0.003"))
    assert aapl.listing("A").fee_per_unit(D(100)) == D("0.003")  # type: ignore[union-attr]
    assert aapl.listing("B").fee_per_unit(D(100)) == D("0.002")  # type: ignore[union-attr]


@pytest.mark.parametrize(("tail", "message"), [
    ("", "AAPL: give either venue = \"NAME\" or [AAPL.venues.NAME] tables, not both or neither"),
    ('venue = "SIM"\n[AAPL.venues.B]\n', "AAPL: give either venue"),
    ('[AAPL.venues.B]\nfee_bps = 0.2\n', "AAPL.venues.B.fee_bps = 0.2: write it as a string, not a float"),
    ('[AAPL.venues.B]\nfee_bps = "-1"\n', "AAPL.venues.B.fee_bps = '-1' must be zero or more"),
    ('[AAPL.venues.B]\nfee = "1"\n', "AAPL.venues.B: unknown ['fee'] (known: ['fee_bps', 'fee_per_share'])"),
    ('venue = ""\n', "AAPL.venue = '': expected a venue name"),
])
def test_mistakes_are_named(tmp_path: Path, tail: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, HEAD + tail)
    assert message in str(raised.value)


def test_the_readmes_routing_example_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    section = readme[readme.index("\n## Routing\n"):]
    example = section[section.index("```toml\n") + len("```toml\n"):section.index("```\n", section.index("```toml"))]
    aapl = load(tmp_path, example)["AAPL"]
    assert aapl.listings == (Listing("SIM", D(0), D("0.2")), Listing("SIM2", D("0.003"), D(0)))
