"""Order ids (and the venue ClOrdIDs made of them) never repeat, whatever the book lost."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import asyncpg

from fixgate.app import Fixgate
from fixgate.fixclient import FixClient
from tests.support import free_port, order_fields


def execute(database_url: str, *statements: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


def order_ids(app: Fixgate, *cl_ord_ids: str) -> list[int]:
    """The OrderIDs (37) fixgate gives new orders of CLIENT1 (resting buys: they stay NEW)."""
    client = FixClient.connect("127.0.0.1", app.settings.client_port, sender_comp_id="CLIENT1",
                               target_comp_id="FIXGATE")
    try:
        client.logon(reset_seq_num=True)
        ids = []
        for cl_ord_id in cl_ord_ids:
            client.send("D", order_fields(cl_ord_id, 10, "189.00"))
            report = client.expect("8", where={11: cl_ord_id})
            # (The simulator refuses a ClOrdID it has seen: "duplicate ClOrdID FG<id>".)
            assert (report[39], report.get(58)) == ("0", None), f"order {report[37]}: {report}"
            ids.append(int(report[37]))
        return ids
    finally:
        client.logout(timeout=2)


def restarted(app: Fixgate) -> Fixgate:
    """A new gateway on ``app``'s database and data folder (new ports: the old may be in TIME_WAIT)."""
    again = Fixgate(replace(app.settings, client_port=free_port(), rest_port=free_port()))
    again.start()
    assert again.wait_for_venues({"SIM"}), "the restarted gateway's SIM session did not log on"
    return again


def test_a_restart_whose_book_lacks_the_highest_order_never_gives_its_id_again(
    gateway: Fixgate, database_url: str
) -> None:
    first, highest = order_ids(gateway, "id-1", "id-2")
    gateway.stop()
    # A restart in between replays the journal into the book and retires it: the book is all that
    # is left of those orders.
    restarted(gateway).stop()
    # The book loses the highest order (a record the writer set aside, a row deleted by hand): the
    # venue may still hold it as FG<id>, and a fill of it must never find another order by that id.
    execute(database_url, f"DELETE FROM executions WHERE order_id = {highest}",
            f"DELETE FROM orders WHERE order_id = {highest}")

    app = restarted(gateway)
    try:
        [after] = order_ids(app, "id-3")
        assert after > highest > first
    finally:
        app.stop()
