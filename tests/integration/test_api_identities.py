"""REST identities (issue 12.8): hashed tokens from a file, each with a role; a client sees and cancels
only its accounts' orders, a viewer changes nothing, and the audit trail names who acted.
Real PostgreSQL, uvicorn on a real socket, the token file written by ``fixgate token add``."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api import create_app
from api.identities import IdentityError, Role, hash_token, load_tokens, parse_tokens
from book.writer import BookWriter
from domain.model import OrderStatus
from fixgate.cli import build_parser, main, settings_from
from fixgate.config import ConfigError
from tests.integration.test_api import ServerThread, order
from tests.integration.test_api_input import Gateway
from tests.integration.test_risk_api import rows

LEGACY = "legacy-operator-token-0123456789"


def add(capsys: pytest.CaptureFixture[str], file: Path, *args: str) -> str:
    """``fixgate token add ...`` into ``file``: the token it printed (its last line)."""
    assert main(["token", "add", *args, "--file", str(file)]) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


@pytest.fixture
def tokens(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    file = tmp_path / "api-tokens"
    made = {
        "alice": add(capsys, file, "alice", "--role", "operator"),
        "vera": add(capsys, file, "vera", "--role", "viewer"),
        "acme": add(capsys, file, "acme", "--role", "client", "--accounts", "ACC1,ACC3"),
    }
    return {"file": file, **made}


@pytest.fixture
def book(database_url: str) -> None:
    writer = BookWriter(database_url)
    writer.start()
    writer.submit([order(1), order(2, account="ACC2"), order(3, OrderStatus.NEW, account="ACC3")])
    assert writer.flush()
    assert writer.stop()


@pytest.fixture
def gateway() -> Gateway:
    return Gateway()


@pytest.fixture
def url(database_url: str, tokens: dict[str, Any], gateway: Gateway) -> Iterator[str]:
    app = create_app(database_url, api_token=LEGACY, api_tokens=load_tokens(tokens["file"]),
                     operations=gateway, risk=gateway)
    with ServerThread(app) as server:
        yield server.url


def client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=10.0, headers={"Authorization": f"Bearer {token}"})


def test_token_add_prints_the_token_once_and_keeps_only_its_hash(tokens: dict[str, Any]) -> None:
    text = tokens["file"].read_text()
    for name in ("alice", "vera", "acme"):
        assert tokens[name] not in text
        assert hash_token(tokens[name]) in text
    assert "acme client " in text and text.rstrip().endswith("ACC1,ACC3")
    assert stat.S_IMODE(tokens["file"].stat().st_mode) == 0o600
    identities = load_tokens(tokens["file"])
    acme = identities[hash_token(tokens["acme"])]
    assert (acme.name, acme.role, acme.accounts) == ("acme", Role.CLIENT, frozenset({"ACC1", "ACC3"}))


def test_token_add_refuses_a_second_identity_of_the_same_name(
    tokens: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    before = tokens["file"].read_text()
    assert main(["token", "add", "vera", "--role", "operator", "--file", str(tokens["file"])]) == 2
    assert "already has an identity 'vera'" in capsys.readouterr().err
    assert main(["token", "add", "bob", "--role", "client", "--file", str(tokens["file"])]) == 2
    assert "a client identity needs its accounts" in capsys.readouterr().err
    assert tokens["file"].read_text() == before


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ("alice operator", "tokens:2: expected 'name role sha256hex [accounts]'"),
        (f"alice admin {'0' * 64}", "role 'admin' must be one of operator, viewer, client"),
        (f"alice operator {'0' * 63}", "is not a SHA-256"),
        (f"acme client {'0' * 64}", "a client identity needs its accounts"),
        (f"vera viewer {'0' * 64} ACC1", "only a client identity names accounts"),
        (f"al ice operator {'0' * 64}", "role 'ice'"),
        (f"a operator {'0' * 64}\nb viewer {'0' * 64}", "tokens:3: 'b' has the same token as 'a'"),
        (f"a operator {'0' * 64}\na viewer {'1' * 64}", "tokens:3: identity 'a' is named twice"),
    ],
)
def test_a_bad_tokens_file_is_refused_naming_the_line(line: str, named: str) -> None:
    with pytest.raises(IdentityError) as refused:
        parse_tokens(f"# comment\n{line}", "tokens")
    assert named in str(refused.value)


def test_the_settings_read_the_tokens_file_and_a_bad_one_stops_the_start(
    tmp_path: Path, tokens: dict[str, Any]
) -> None:
    settings = settings_from(build_parser().parse_args(["serve", "--api-tokens-file", str(tokens["file"])]))
    assert {i.name for i in settings.api_tokens.values()} == {"alice", "vera", "acme"}
    assert settings.with_api_token() == (settings, False)  # named identities: no token is made up
    assert settings.with_api_token(always=True)[1] is True  # but the demo gets one to read its own API
    bad = tmp_path / "bad"
    bad.write_text("alice operator nothex\n")
    with pytest.raises(ConfigError, match="bad:1"):
        settings_from(build_parser().parse_args(["serve", "--api-tokens-file", str(bad)]))
    tokens["file"].chmod(0o666)
    with pytest.raises(ConfigError, match="is writable by others"):
        settings_from(build_parser().parse_args(["serve", "--api-tokens-file", str(tokens["file"])]))


def test_a_viewer_reads_everything_and_changes_nothing(
    url: str, tokens: dict[str, Any], gateway: Gateway, book: None, database_url: str
) -> None:
    with client(url, tokens["vera"]) as vera:
        assert [o["order_id"] for o in vera.get("/orders").json()] == [1, 2, 3]
        for path in ("/executions", "/positions", "/pnl", "/risk/status", "/risk/limits", "/risk/events"):
            assert vera.get(path).status_code == 200, path
        for method, path, body in (
            ("POST", "/orders/1/cancel", None), ("POST", "/risk/kill", {"scope": "firm"}),
            ("POST", "/risk/resume", {"scope": "firm"}), ("PUT", "/risk/limits", {}),
            ("PATCH", "/risk/limits", {}),
        ):
            response = vera.request(method, path, json=body)
            assert response.status_code == 403, (method, path)
            assert response.json()["detail"].startswith("vera (viewer) may not ")
    assert gateway.cancels == [] and gateway.kills == [] and gateway.risk.halts == {}
    assert rows(database_url, "SELECT id FROM risk_events") == []


def test_a_client_sees_and_cancels_only_its_accounts(
    url: str, tokens: dict[str, Any], gateway: Gateway, book: None, database_url: str
) -> None:
    with client(url, tokens["acme"]) as acme:
        assert [o["order_id"] for o in acme.get("/orders").json()] == [1, 3]
        assert [o["order_id"] for o in acme.get("/orders", params={"account": "ACC3"}).json()] == [3]
        assert acme.get("/orders/1").status_code == 200
        assert {p["account"] for p in acme.get("/positions").json()} <= {"ACC1", "ACC3"}
        assert {a["account"] for a in acme.get("/pnl").json()["accounts"]} <= {"ACC1", "ACC3"}
        assert acme.get("/executions").status_code == 200
        for path, params in (("/orders", {"account": "ACC2"}), ("/executions", {"account": "ACC2"}),
                             ("/positions", {"account": "ACC2"}), ("/pnl", {"account": "ACC2"})):
            response = acme.get(path, params=params)
            assert response.status_code == 403, path
            assert "acme (client) may not see account 'ACC2'" in response.json()["detail"]
        other = acme.get("/orders/2")
        assert other.status_code == 403 and "not one of its accounts" in other.json()["detail"]
        assert acme.post("/orders/2/cancel").status_code == 403
        assert acme.post("/orders/3/cancel").status_code == 202
        assert acme.post("/orders/99/cancel").status_code == 404
        for method, path, body in (
            ("GET", "/risk/status", None), ("GET", "/risk/limits", None), ("GET", "/risk/events", None),
            ("POST", "/risk/kill", {"scope": "account", "value": "ACC1"}), ("PATCH", "/risk/limits", {}),
            ("GET", "/metrics/oms", None),
        ):
            assert acme.request(method, path, json=body).status_code == 403, (method, path)
    assert gateway.cancels == [3]
    assert gateway.kills == []


def test_the_audit_trail_names_the_authenticated_identity_not_a_header(
    url: str, tokens: dict[str, Any], gateway: Gateway, database_url: str, book: None
) -> None:
    with client(url, tokens["alice"]) as alice, client(url, LEGACY) as legacy:
        killed = alice.post("/risk/kill", json={"scope": "firm", "reason": "drill"},
                            headers={"X-Operator": "mallory"})
        assert killed.status_code == 200 and killed.json()["halt"]["by"] == "alice"
        resumed = legacy.post("/risk/resume", json={"scope": "firm"}, headers={"X-Operator": "mallory"})
        assert resumed.status_code == 200 and resumed.json()["by"] == "api"
        assert alice.patch("/risk/limits", json={"firm": {"max_order_qty": "9"}}).status_code == 200
        assert alice.post("/orders/2/cancel").status_code == 202
    with client(url, tokens["acme"]) as acme:
        assert acme.post("/orders/3/cancel").status_code == 202
    assert gateway.kills == [("firm", "", "alice", "drill")]
    audit = rows(database_url, "SELECT action, by, value FROM risk_events ORDER BY id")
    assert [(r["action"], r["by"], r["value"]) for r in audit] == [
        ("KILL", "alice", ""), ("RESUME", "api", ""), ("LIMITS", "alice", None), ("CANCEL", "alice", "2"),
        ("CANCEL", "acme", "3")]


def test_unknown_tokens_are_401_and_the_legacy_token_is_an_operator(
    url: str, tokens: dict[str, Any], book: None
) -> None:
    with client(url, hash_token(tokens["alice"])) as guess:  # the file's hash is not the token
        assert guess.get("/orders").status_code == 401
    with client(url, LEGACY) as legacy:
        assert legacy.get("/orders").status_code == 200
        assert legacy.post("/orders/2/cancel").status_code == 202
