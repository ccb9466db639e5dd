"""The whole order path on real parts: the venue simulator, fixgate, PostgreSQL, FIX over TCP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from api.identities import Identity, Role, hash_token
from fixgate.app import Fixgate
from fixgate.config import Settings
from fixgate.fixclient import FixClient
from simulator.venue import Simulator
from tests.support import free_port, one_venue_config_dir

REPO = Path(__file__).resolve().parents[2]
API_TOKEN = "acceptance-test-token-0123456789"
#: Named operators of the REST API (as in a tokens file): the audit trail records these names.
OPERATOR_TOKENS = {name: f"acceptance-{name}-token-0123456789" for name in ("alice", "carol")}
#: A viewer (reads everything, changes nothing) and a client of CLIENT1's accounts, by name.
OTHER_TOKENS = {"vera": ("acceptance-vera-token-0123456789", Identity("vera", Role.VIEWER)),
                "acme": ("acceptance-acme-token-0123456789", Identity("acme", Role.CLIENT, frozenset({"CLIENT1"})))}


def as_operator(name: str) -> dict[str, str]:
    """The headers of a REST request by the named operator."""
    return {"Authorization": f"Bearer {OPERATOR_TOKENS[name]}"}


@pytest.fixture
def gateway(tmp_path: Path, database_url: str, simulator: Simulator) -> Iterator[Fixgate]:
    settings = Settings(
        config_dir=one_venue_config_dir(), data_dir=tmp_path / "gw",
        client_port=free_port(),
        sim_port=simulator.port,
        rest_port=free_port(),
        database_url=database_url,
        api_token=API_TOKEN,
        api_tokens={**{hash_token(t): Identity(name, Role.OPERATOR) for name, t in OPERATOR_TOKENS.items()},
                    **{hash_token(t): identity for t, identity in OTHER_TOKENS.values()}},
    )
    app = Fixgate(settings)
    app.start()
    try:
        assert app.wait_for_venues({"SIM"}), "the gateway's SIM venue session did not log on"
        yield app
    finally:
        app.stop()


@pytest.fixture
def connect(gateway: Fixgate) -> Iterator[Callable[..., FixClient]]:
    """Log a FIX client on to the gateway: ``connect("CLIENT1", "FIX.4.4")``."""
    clients: list[FixClient] = []

    def _connect(comp_id: str = "CLIENT1", begin_string: str = "FIX.4.4") -> FixClient:
        client = FixClient.connect(
            "127.0.0.1", gateway.settings.client_port,
            sender_comp_id=comp_id, target_comp_id="FIXGATE", begin_string=begin_string,
        )
        clients.append(client)
        client.logon()
        return client

    yield _connect
    for client in clients:
        client.logout(timeout=2)


@pytest.fixture
def rest(gateway: Fixgate) -> Iterator[httpx.Client]:
    """An HTTP client of the gateway's REST API that sends its bearer token."""
    assert gateway.rest is not None
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    with httpx.Client(base_url=gateway.rest.url, timeout=10, headers=headers) as client:
        yield client

