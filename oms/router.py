"""Routing: which venue an instrument trades on, and whether that venue's session is up."""

from __future__ import annotations

from collections.abc import Mapping

from domain.model import Instrument


class Router:
    """Maps a symbol to its venue; knows which venue sessions are logged on (thread-safe reads)."""

    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self._instruments = instruments
        self._up: set[str] = set()

    def set_venue_up(self, venue: str, up: bool) -> None:
        # set.add/discard are atomic under the GIL; readers see either state, both valid.
        if up:
            self._up.add(venue)
        else:
            self._up.discard(venue)

    def symbols_at(self, venue: str) -> list[str]:
        """The symbols routed to ``venue`` (what fixgate asks its market data for)."""
        return sorted(symbol for symbol, i in self._instruments.items() if i.venue == venue)

    def venue_is_up(self, venue: str) -> bool:
        return venue in self._up

    @property
    def venues_up(self) -> frozenset[str]:
        return frozenset(self._up)

    def route(self, symbol: str) -> tuple[str, str | None]:
        """Return ``(venue, None)`` when the order can go out now, else ``(venue, reason)``."""
        instrument = self._instruments.get(symbol)
        if instrument is None:
            return "", f"no venue for unknown symbol {symbol}"
        if instrument.venue not in self._up:
            return instrument.venue, f"venue {instrument.venue} for {symbol} is not connected"
        return instrument.venue, None
