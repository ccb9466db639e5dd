"""The simulator's restart dialects over real sockets: ExecIDs numbered again, orders forgotten."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from fixgate.fixclient import FixClient, Message, utc_timestamp
from simulator.config import SimulatorConfig, VenueConfig, VenueDialect
from simulator.venue import Simulator
from tests.support import free_port


def simulator(tmp_path: Path, port: int, *, restart_exec_ids: bool = False,
              forget_orders_on_restart: bool = False) -> Simulator:
    dialect = VenueDialect(restart_exec_ids=restart_exec_ids, forget_orders_on_restart=forget_orders_on_restart)
    config = SimulatorConfig((dataclasses.replace(VenueConfig(), dialect=dialect),))
    return Simulator(config, tmp_path / "sim", port=port)


def client_of(sim: Simulator) -> FixClient:
    client = FixClient.connect("127.0.0.1", sim.port, sender_comp_id="CLIENT1", target_comp_id="SIM")
    client.logon(reset_seq_num=True)  # a new connection per run: start the sequence afresh
    return client


def buy(client: FixClient, cl_ord_id: str, qty: int, price: str) -> list[Message]:
    """A limit buy; its reports up to the fill (all of it, or as much as the book had)."""
    client.send("D", {11: cl_ord_id, 21: "1", 55: "AAPL", 54: "1", 38: qty, 40: "2", 44: price, 59: "0",
                      60: utc_timestamp()})
    new = client.expect("8", where={11: cl_ord_id, 150: "0"})
    fill = client.expect("8", where={11: cl_ord_id, 150: "F"})
    return [new, fill]


def exec_ids_of_one_run(sim: Simulator, cl_ord_id: str) -> list[str]:
    client = client_of(sim)
    try:
        return [m[17] for m in buy(client, cl_ord_id, 100, "190.05")]
    finally:
        client.logout()


def test_restart_exec_ids_numbers_exec_ids_from_1_in_each_run(tmp_path: Path) -> None:
    port = free_port()
    first = simulator(tmp_path, port, restart_exec_ids=True)
    first.start()
    try:
        before = exec_ids_of_one_run(first, "o1")
        first.stop()
        first.start()  # the acceptor restarted in this process: the books stay, the numbering does not
        assert exec_ids_of_one_run(first, "o2")[0] == "SIM-E1"
    finally:
        first.stop(force=True)
    second = simulator(tmp_path, port, restart_exec_ids=True)  # a new process on the same files
    second.start()
    try:
        # Fresh books, the same order: the very ExecIDs of the first run's reports, for other reports.
        assert exec_ids_of_one_run(second, "o3") == before
    finally:
        second.stop(force=True)


def test_exec_ids_never_repeat_across_restarts_by_default(tmp_path: Path) -> None:
    port = free_port()
    first = simulator(tmp_path, port)
    first.start()
    try:
        before = exec_ids_of_one_run(first, "o1")
        first.stop()
        first.start()
        again = exec_ids_of_one_run(first, "o2")
    finally:
        first.stop(force=True)
    second = simulator(tmp_path, port)
    second.start()
    try:
        assert not {*before, *again} & {*exec_ids_of_one_run(second, "o3")}
        assert not set(before) & set(again)
    finally:
        second.stop(force=True)


def status_and_cancel(sim: Simulator, cl_ord_id: str) -> tuple[Message, Message | None]:
    """Ask for the order's status, then try to cancel it: the status answer and the 35=9 if refused."""
    client = client_of(sim)
    try:
        client.send("H", {11: cl_ord_id, 55: "AAPL", 54: "1"})
        status = client.expect("8", where={11: cl_ord_id, 150: "I"})
        client.send("F", {11: f"{cl_ord_id}-x", 41: cl_ord_id, 55: "AAPL", 54: "1", 60: utc_timestamp()})
        answer = client.expect(None, where={11: f"{cl_ord_id}-x"})
        return status, (answer if answer.msg_type == "9" else None)
    finally:
        client.logout()


def partly_filled(sim: Simulator, cl_ord_id: str) -> None:
    """1000 to buy at 190.01: the seeded 100 there fill, 900 rest."""
    client = client_of(sim)
    try:
        [_, fill] = buy(client, cl_ord_id, 1000, "190.01")
        assert (fill[39], fill[14], fill[151]) == ("1", "100", "900")
    finally:
        client.logout()


def test_forget_orders_on_restart_answers_earlier_orders_as_unknown(tmp_path: Path) -> None:
    sim = simulator(tmp_path, free_port(), forget_orders_on_restart=True)
    sim.start()
    try:
        partly_filled(sim, "o1")
        sim.stop()
        sim.start()
        status, refused = status_and_cancel(sim, "o1")
        assert (status[39], status[37], status[58]) == ("8", "NONE", "unknown order o1")
        assert refused is not None and (refused[102], refused[39]) == ("1", "8")
        # Fresh books: the seeded 100 at 190.01 is there again.
        partly_filled(sim, "o2")
    finally:
        sim.stop(force=True)


def test_a_restart_in_one_process_keeps_orders_by_default(tmp_path: Path) -> None:
    sim = simulator(tmp_path, free_port())
    sim.start()
    try:
        partly_filled(sim, "o1")
        sim.stop()
        sim.start()
        status, refused = status_and_cancel(sim, "o1")
        assert (status[39], status[14], status[151]) == ("1", "100", "900")
        assert refused is None
    finally:
        sim.stop(force=True)
