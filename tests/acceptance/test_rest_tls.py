"""The REST API and dashboard over HTTPS (``--tls-cert``/``--tls-key``), and the warning when REST
listens beyond this machine without them."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from fixgate.app import Fixgate
from fixgate.config import ConfigError, Settings
from fixgate.devcerts import Authority, CertFiles
from fixgate.rest import RestServer
from simulator.venue import Simulator
from tests.acceptance.conftest import API_TOKEN
from tests.support import free_port, one_venue_config_dir

_WARNING = "without TLS"


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return Authority(tmp_path / "pki", "rest")


@pytest.fixture
def server_cert(authority: Authority) -> CertFiles:
    return authority.issue("fixgate-rest", server=True)


@pytest.fixture
def https_gateway(tmp_path: Path, database_url: str, simulator: Simulator, server_cert: CertFiles,
                  caplog: pytest.LogCaptureFixture) -> Iterator[Fixgate]:
    caplog.set_level(logging.WARNING, logger="fixgate.rest")
    app = Fixgate(Settings(
        config_dir=one_venue_config_dir(), data_dir=tmp_path / "gw", client_port=free_port(), sim_port=simulator.port, rest_port=free_port(),
        database_url=database_url, api_token=API_TOKEN, bus=False,
        rest_tls_cert=server_cert.cert, rest_tls_key=server_cert.key,
    ))
    app.start()
    try:
        yield app
    finally:
        app.stop()


def test_rest_answers_over_https_with_the_given_certificate(
    https_gateway: Fixgate, authority: Authority, server_cert: CertFiles, caplog: pytest.LogCaptureFixture,
) -> None:
    assert https_gateway.rest is not None
    url = https_gateway.rest.url
    assert url.startswith("https://127.0.0.1:")
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    with httpx.Client(base_url=url, verify=ssl.create_default_context(cafile=str(authority.ca)),
                      headers=headers, timeout=10) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/positions").status_code == 200
    served = ssl.get_server_certificate(("127.0.0.1", https_gateway.settings.rest_port))
    assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(server_cert.cert.read_text())
    # Plain HTTP to the HTTPS port gets no answer from the API.
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{https_gateway.settings.rest_port}/health", timeout=5)
    assert _WARNING not in caplog.text


@pytest.mark.parametrize(("host", "warned"), [("0.0.0.0", True), ("::", True), ("10.1.2.3", True),
                                              ("127.0.0.1", False), ("localhost", False), ("::1", False)])
def test_plain_http_beyond_localhost_is_warned_about(host: str, warned: bool, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="fixgate.rest")
    RestServer(FastAPI(), host, free_port())  # built, never started: tests bind 127.0.0.1 only
    assert (_WARNING in caplog.text) is warned


def test_https_beyond_localhost_is_not_warned_about(server_cert: CertFiles, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="fixgate.rest")
    server = RestServer(FastAPI(), "0.0.0.0", free_port(), certfile=server_cert.cert, keyfile=server_cert.key)
    assert server.url.startswith("https://")
    assert _WARNING not in caplog.text


def test_a_certificate_without_its_key_or_one_that_does_not_load_is_refused(
    tmp_path: Path, server_cert: CertFiles,
) -> None:
    with pytest.raises(ConfigError, match="both --tls-cert and --tls-key"):
        RestServer(FastAPI(), "127.0.0.1", free_port(), certfile=server_cert.cert)
    missing = tmp_path / "nowhere.pem"
    with pytest.raises(ConfigError, match="nowhere.pem"):
        RestServer(FastAPI(), "127.0.0.1", free_port(), certfile=missing, keyfile=server_cert.key)


def test_the_serve_flags_name_the_certificate_and_key() -> None:
    from fixgate.cli import build_parser, settings_from

    args = build_parser().parse_args(["serve", "--tls-cert", "rest.pem", "--tls-key", "rest.key"])
    settings = settings_from(args)
    assert (settings.rest_tls_cert, settings.rest_tls_key) == (Path("rest.pem"), Path("rest.key"))
