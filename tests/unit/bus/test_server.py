"""The bus's URL as fixgate prints it: never a password or token."""

from __future__ import annotations

from bus.server import servers, shown


def test_a_printed_bus_url_keeps_no_credentials() -> None:
    url = "nats://alice:s3cret@h1:4222,nats://t0ken@h2:4222,nats://h3:4222"
    assert shown(url) == "nats://h1:4222,nats://h2:4222,nats://h3:4222"
    assert "s3cret" not in shown(url) and "t0ken" not in shown(url)
    assert len(servers(url)) == 3  # what is connected to keeps them
