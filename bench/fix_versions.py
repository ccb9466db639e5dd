"""``python -m bench.fix_versions``: what QuickFIX's reading of a client order costs in each FIX version.

Where FIX 4.2, 4.4 and 5.0 SP2 differ on the order path is in QuickFIX, not in fixgate: an inbound
message is parsed with its session's dictionaries (one for 4.x; FIXT11.xml and FIX50SP2.xml, a larger
one, for 5.0 SP2) and validated against them. This times exactly that, per NewOrderSingle, in one
process (best of ``--repeats`` rounds of ``--messages``), so the versions compare by ratio in one run.
The whole gateway's CPU per order in each version is ``python -m bench.gateway_cpu [--fix50]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import quickfix as fix

from bench.fixwire import NewOrderTemplate, OrderSpec, utc_timestamp

SPECS = Path(sys.prefix) / "share" / "quickfix"


def read_order(begin_string: str, messages: int, repeats: int) -> float:
    """Best µs per NewOrderSingle to parse it with the session's dictionaries and validate it."""
    wire = NewOrderTemplate(begin_string, "BENCH", "FIXGATE", OrderSpec()).encode(2, b"c-1", utc_timestamp())
    text = wire.decode()
    if begin_string == "FIXT.1.1":
        transport = fix.DataDictionary(str(SPECS / "FIXT11.xml"))
        application = fix.DataDictionary(str(SPECS / "FIX50SP2.xml"))

        def once() -> None:
            fix.DataDictionary.validate(fix.Message(text, transport, application, True), transport, application)
    else:
        dictionary = fix.DataDictionary(str(SPECS / f"{begin_string.replace('.', '')}.xml"))

        def once() -> None:
            dictionary.validate(fix.Message(text, dictionary, True))
    once()  # a message the dictionaries refuse raises here, before anything is timed
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(messages):
            once()
        best = min(best, (time.perf_counter_ns() - start) / messages / 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    base = None
    for begin_string in ("FIX.4.4", "FIX.4.2", "FIXT.1.1"):
        us = read_order(begin_string, args.messages, args.repeats)
        base = base or us
        print(f"{begin_string:9} parse + validate a NewOrderSingle: {us:.2f} us ({us / base:.2f}x FIX.4.4)")


if __name__ == "__main__":
    main()
