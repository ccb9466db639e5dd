"""Shared fixtures: a fresh, migrated PostgreSQL database per test, and the venue simulator.

The server is the one named by ``DATABASE_URL``, or else one embedded PostgreSQL (pgserver) started
once per test session with its data in a fresh temporary directory.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from book.database import resolve_database_url
from simulator.venue import Simulator
from tests.support import free_port, fresh_database, one_venue_simulator

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """URL of a database on the test server that may create and drop databases."""
    # Not under pytest's tmp_path: every pytest session that starts resets /tmp/pytest-of-<user> to
    # mode 0700, and as root the embedded server runs as the user "pgserver", which would then lose
    # access to its own data directory in the middle of this run.
    data_dir = Path(tempfile.mkdtemp(prefix="fixgate-test-pg-"))
    try:
        url, embedded = resolve_database_url(data_dir)
        try:
            yield url
        finally:
            if embedded is not None:
                embedded.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def database_url(pg_admin_url: str) -> Iterator[str]:
    """URL of a new database migrated to head; dropped after (``fresh_database``)."""
    with fresh_database(pg_admin_url) as url:
        yield url


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[Simulator]:
    """The venue simulator with the shipped config's venue SIM (not SIM2: ``one_venue_simulator``) on a
    free port, its files in tmp_path/sim."""
    sim = Simulator(one_venue_simulator(), tmp_path / "sim", port=free_port())
    sim.start()
    yield sim
    sim.stop(force=True)
