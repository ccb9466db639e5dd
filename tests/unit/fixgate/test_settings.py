"""Where the REST API's token comes from: the environment, or a file of its own named by a flag or
the environment; flags over the environment. The simulator's second venue's port."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixgate.cli import build_parser, settings_from
from fixgate.config import ConfigError, Settings, token_from_file


@pytest.fixture(autouse=True)
def no_token_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIXGATE_API_TOKEN", raising=False)
    monkeypatch.delenv("FIXGATE_API_TOKEN_FILE", raising=False)


def test_a_token_file_is_read_without_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("  s3cret-Token_0.9~+/=\n")
    assert token_from_file(path) == "s3cret-Token_0.9~+/="


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "No such file"), ("\n", "is empty"), ("two words", "characters a bearer token cannot carry")],
)
def test_a_bad_token_file_is_an_error_naming_it(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message) as raised:
        token_from_file(path)
    assert str(path) in str(raised.value)


def test_the_environment_names_a_token_or_a_token_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "token"
    path.write_text("from-file")
    monkeypatch.setenv("FIXGATE_API_TOKEN_FILE", str(path))
    assert Settings.from_env().api_token == "from-file"
    monkeypatch.setenv("FIXGATE_API_TOKEN", "from-env")
    assert Settings.from_env().api_token == "from-env"  # the token itself before a file


def test_the_flag_overrides_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "token"
    path.write_text("from-flag")
    monkeypatch.setenv("FIXGATE_API_TOKEN", "from-env")
    args = build_parser().parse_args(["serve", "--api-token-file", str(path)])
    assert settings_from(args).api_token == "from-flag"
    assert settings_from(build_parser().parse_args(["serve"])).api_token == "from-env"


def test_sim2_follows_the_sim_port_unless_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIXGATE_SIM_PORT", raising=False)
    monkeypatch.delenv("FIXGATE_SIM2_PORT", raising=False)
    assert (Settings().sim_port, Settings().venue2_port) == (9880, 9881)  # as config/simulator.toml has them
    assert settings_from(build_parser().parse_args(["serve", "--venue-port", "7000"])).venue2_port == 7001
    assert settings_from(build_parser().parse_args(["serve", "--venue-port", "7000", "--sim2-port", "7100"])
                         ).venue2_port == 7100
    monkeypatch.setenv("FIXGATE_SIM2_PORT", "7200")
    assert Settings.from_env().venue2_port == 7200
    assert settings_from(build_parser().parse_args(["serve", "--sim2-port", "7300"])).venue2_port == 7300


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"sim2_port": 0}, "--sim2-port or FIXGATE_SIM2_PORT = 0: a port is 1 to 65535"),
    ({"sim_port": 7000, "sim2_port": 7000}, "--sim2-port or FIXGATE_SIM2_PORT = 7000: the SIM venue's port too"),
    ({"sim_port": 65535}, ("--venue-port or FIXGATE_SIM_PORT = 65535: SIM2 follows on the next port, and there is"
                          " none (--sim2-port or FIXGATE_SIM2_PORT places it)")),
])
def test_sim2_port_mistakes_are_named(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings(**kwargs)  # type: ignore[arg-type]
    assert message in str(raised.value)


def test_a_sim2_port_in_the_environment_must_be_a_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIXGATE_SIM2_PORT", "next")
    with pytest.raises(ConfigError, match="FIXGATE_SIM2_PORT='next' is not an integer"):
        Settings.from_env()
