"""The TCA process's wait for events: a stop ends it at once, not when the fetch expires."""

from __future__ import annotations

import asyncio
from typing import Any

import nats.errors

from tca.service import TcaService


class Subscription:
    """A pull subscription whose fetch hands out ``batches`` in turn, then finds nothing until cancelled."""

    def __init__(self, *batches: list[Any] | BaseException) -> None:
        self.batches = list(batches)
        self.cancelled = 0

    async def fetch(self, batch: int, timeout: float) -> list[Any]:
        if self.batches:
            answer = self.batches.pop(0)
            if isinstance(answer, BaseException):
                raise answer
            return answer
        try:
            await asyncio.Event().wait()  # as a fetch with nothing to deliver waits out its expiry
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        raise AssertionError("unreachable")


def service() -> TcaService:
    return TcaService("nats://127.0.0.1:4222", "postgresql://fixgate@127.0.0.1/fixgate", "fixgate")


def test_a_stop_ends_a_waiting_fetch_at_once_with_nothing_taken() -> None:
    async def scenario() -> tuple[list[Any], int]:
        tca, sub = service(), Subscription()
        waiting = asyncio.create_task(tca._fetch(sub))
        await asyncio.sleep(0.01)
        assert not waiting.done()
        tca.request_stop()
        messages = await asyncio.wait_for(waiting, 10)
        return messages, sub.cancelled

    assert asyncio.run(scenario()) == ([], 1)


def test_a_fetch_gives_its_messages_and_an_expired_one_gives_none() -> None:
    async def scenario() -> list[list[Any]]:
        tca = service()
        sub = Subscription(["m1", "m2"], nats.errors.TimeoutError(), TimeoutError())
        return [await tca._fetch(sub) for _ in range(3)]

    assert asyncio.run(scenario()) == [["m1", "m2"], [], []]


def test_messages_fetched_as_the_stop_came_are_still_handed_over() -> None:
    async def scenario() -> list[Any]:
        tca = service()
        tca.request_stop()
        return await tca._fetch(Subscription(["m1"]))

    assert asyncio.run(scenario()) == ["m1"]
