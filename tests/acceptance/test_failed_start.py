"""A start that fails part way stops what it had started: the venue sessions, the client port, the
child processes and the data folder's lock. Left running, they outlived the failure: the venue kept
the failed start's session logged on and refused the same session from the next start, whose
``wait_for_venues`` then failed (in CI, one failed start became the next tests' errors and a crash)."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import pytest

from fixgate.app import Fixgate
from fixgate.config import Settings
from simulator.venue import Simulator
from tests.support import free_port, one_venue_config_dir


def test_a_start_that_fails_at_the_rest_port_stops_what_it_had_started_and_the_next_start_works(
    tmp_path: Path, database_url: str, simulator: Simulator
) -> None:
    settings = Settings(data_dir=tmp_path / "gw", client_port=free_port(), sim_port=simulator.port,
                        rest_port=free_port(), database_url=database_url, config_dir=one_venue_config_dir(),
                        api_token="failed-start-token")
    with socket.socket() as taken:  # the REST server starts last: everything else is up by then
        taken.bind(("127.0.0.1", settings.rest_port))
        taken.listen()
        failed = Fixgate(settings)
        with pytest.raises(RuntimeError, match=f"REST server could not start on 127.0.0.1:{settings.rest_port}"):
            failed.start()

    assert failed.supervisor is None  # the book writer, bus publisher, NATS and TCA were stopped
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", settings.client_port)):
        pass

    again = Fixgate(replace(settings, rest_port=free_port()))  # the same data folder: its lock was let go
    again.start()
    try:
        assert again.wait_for_venues({"SIM"}), "the second start's venue session did not log on"
    finally:
        again.stop()
