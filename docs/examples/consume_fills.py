"""A fixgate event consumer: every fill of one gateway instance, once each, from a durable consumer.

Run it next to `fixgate demo` (or `fixgate serve`), from the folder you ran that in:

    python docs/examples/consume_fills.py

It finds the bus as `fixgate events tail` does: NATS_URL, else the embedded server's URL in
<data dir>/nats/url (FIXGATE_DATA_DIR, default .fixgate). FIXGATE_INSTANCE names the instance
(default "fixgate"). Needs only nats-py (`pip install nats-py`); see docs/EVENTS.md for the schema.

The consumer is durable ("consume-fills"): stop it and start it again and it goes on after the last
fill it acknowledged. JetStream delivers at least once (a fill handled but not yet acknowledged when
the consumer stopped comes again), so what you do with a fill must be idempotent by the event's id.
"""

from __future__ import annotations

import asyncio
import json
import os
from decimal import Decimal
from pathlib import Path

import nats
import nats.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

DURABLE = "consume-fills"


def bus_url() -> str:
    if os.environ.get("NATS_URL"):
        return os.environ["NATS_URL"]
    url_file = Path(os.environ.get("FIXGATE_DATA_DIR", ".fixgate")) / "nats" / "url"
    try:
        return url_file.read_text().strip()
    except OSError:
        raise SystemExit(f"no bus: set NATS_URL, or run this beside a running fixgate ({url_file} is missing)")


async def main() -> None:
    instance = os.environ.get("FIXGATE_INSTANCE", "fixgate")
    nc = await nats.connect(bus_url())
    js = nc.jetstream()
    sub = await js.pull_subscribe(
        f"fixgate.{instance}.fills", durable=DURABLE, stream=f"FIXGATE_{instance}",
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL),
    )
    print(f"consuming fixgate.{instance}.fills as {DURABLE!r}", flush=True)
    try:
        while True:
            try:
                messages = await sub.fetch(100, timeout=5)
            except nats.errors.TimeoutError:
                continue  # no fill for a while
            for msg in messages:
                event = json.loads(msg.data)
                if event["v"] != 1:
                    raise SystemExit(f"event schema version {event['v']}: this consumer knows version 1")
                fill = event["data"]
                notional = Decimal(fill["last_qty"]) * Decimal(fill["last_px"])  # money as Decimal, never float
                print(f"{event['id']}  order {event['order_id']}: {fill['last_qty']} @ {fill['last_px']}"
                      f" = {notional} ({fill['status']}, {fill['venue']} {fill['venue_exec_id']})", flush=True)
                await msg.ack()
    finally:
        await nc.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
