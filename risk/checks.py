"""Pre-trade risk: every order checked before it leaves, against limits and the live exposure view.

``check`` is pure: it returns ``None`` to pass or a reason naming the limit and the values, and
counts the denial under the check's name. What an accepted order changes (flow counters, working
exposure) is recorded by ``order_opened``, which the OMS calls once the order is routed. Every
check is O(1) in the number of accounts, orders and limits. Cancels are never checked.

Daily P&L counts from the start of the UTC day (``risk.exposure``): the first fill or mark after
midnight starts the new day, so the check itself never looks at a clock for it. The daily loss limit
is re-checked on what moves P&L, never per order: a fill (``position_changed``) and a mark that moves
(``marks_changed``, for the accounts holding the symbol that have the limit, and the firm).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from domain.model import Breach, Halt, Instrument, NewOrder, OrdType, PositionRecord, Side, TradingState
from domain.positions import after_fill, position_record
from risk.exposure import ZERO, RiskView, Totals
from risk.limits import ExposureLimits, FlowLimits, OrderLimits, RiskConfig

log = logging.getLogger(__name__)

HUNDRED = Decimal(100)
CENT = Decimal("0.01")
# Enum members as module constants: in Python 3.11 reading ``TradingState.ACTIVE`` costs about 80 ns,
# a module global about 10 ns, and the check reads several per order.
_ACTIVE = TradingState.ACTIVE
_REDUCING = TradingState.REDUCING
_HALTED = TradingState.HALTED
_MARKET = OrdType.MARKET
_BUY = Side.BUY


# What a kill switch halts: the firm, or one account, client session (CompID) or symbol.
SCOPES = ("firm", "account", "session", "symbol")


_NO_BREACH: tuple[Breach, ...] = ()

# The name of every check, as ``rejections`` counts its denials (``GET /risk/status`` shows each).
CHECKS = (
    "kill_switch", "trading_state", "restricted_symbol", "unknown_symbol", "quantity", "market_orders",
    "lot_size", "tick_size", "max_order_qty", "max_order_notional", "price_collar", "order_rate",
    "duplicate_order", "throttle", "max_position", "max_gross_notional", "max_net_notional", "credit_limit",
)


class PreTradeRisk:
    """The risk interceptor: limits, the exposure view, trading states and kill switches."""

    def __init__(
        self,
        instruments: Mapping[str, Instrument],
        config: RiskConfig,
        *,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        wall_clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._instruments = instruments
        self._clock_ns = clock_ns  # flow windows: monotonic, so a clock step cannot open or close one
        self.wall_clock_ns = wall_clock_ns  # the UTC trading day: wall time (read by ``risk.status`` too)
        self.view = RiskView()
        self.view.start_day(wall_clock_ns())
        self.rejections: Counter[str] = Counter()
        self.account_states: dict[str, TradingState] = {}
        self.firm_state = TradingState.ACTIVE
        # Why the firm (key None) or an account is not ACTIVE, for the Text of every order it refuses.
        self.state_reasons: dict[str | None, str] = {}
        self.halts: dict[tuple[str, str], Halt] = {}
        # Per session, when each order of the last second was sent (SendingTime, clamped: see
        # ``_arrival``), oldest first: what ``order_rate`` counts and the fair share compares.
        self._flow: dict[str, deque[int]] = {}
        self._lags: dict[str, _Lag] = {}  # per client session: how late its orders are taken
        self._venue_lags: dict[str, _Lag] = {}  # per venue: how late its reports are taken
        self.venue_backlog_ns: dict[str, int] = {}  # per venue, as of its last report
        self._recent: dict[tuple[str, str, Side, Decimal, Decimal | None], int] = {}
        self._live = _Live(config, instruments)

    @property
    def config(self) -> RiskConfig:
        return self._live.config

    @config.setter
    def config(self, config: RiskConfig) -> None:
        """Limits can change live (``PUT /risk/limits``) from another thread than the checks': the
        config and the caches derived from it are swapped in one assignment, so a check running at
        that moment uses the old ones throughout and no cache ever holds limits of the old config."""
        self._live = _Live(config, self._instruments)

    def reference_price(self, symbol: str) -> Decimal | None:
        """Last trade seen, else the configured reference price."""
        mark = self.view.marks.get(symbol)
        if mark is not None:
            return mark
        instrument = self._instruments.get(symbol)
        return None if instrument is None else instrument.reference_price

    # -- THE CHECK -----------------------------------------------------------------------------------

    def check(self, order: NewOrder, venue: str = "") -> str | None:
        """``None`` when ``order`` may go to ``venue`` (the router's choice; "": its ExDestination, else
        its instrument's first venue), else why not (and the denial is counted)."""
        denial = self._check(order.session, order.account, order.symbol, order.side, order.ord_type,
                             order.quantity, order.price, ZERO, ZERO, None, order, venue)
        if denial is None:
            return None
        self.rejections[denial[0]] += 1
        return denial[1]

    def halted(self, session: str, account: str, symbol: str) -> str | None:
        """Why nothing more may be placed for an order of ``session``, ``account`` in ``symbol`` now (a
        kill switch over it, or the firm or account HALTED), else ``None``: what a split order's rest
        placed again must pass (it was checked once, when it came; a halt since stops it)."""
        state = self.firm_state
        account_state = self.account_states.get(account, _ACTIVE)
        if not (self.halts or state is _HALTED or account_state is _HALTED):
            return None
        denial = self._halt_checks(session, account, symbol, state, account_state)
        return None if denial is None else denial[1]

    def check_replace(self, order_id: int, session: str, account: str, symbol: str, side: Side,
                      ord_type: OrdType, quantity: Decimal, price: Decimal | None,
                      cum_qty: Decimal) -> str | None:
        """A replace is checked as an order for its new open quantity in place of what the order
        counts now (it is replaced, not added to). While it is pending the worse of the two counts
        (``order_replacing``), so that is what the limits are checked against: a replace that adds
        nothing (no larger and no dearer) is never refused by them."""
        working = self.view.working.get(order_id)
        leaves, unit = (ZERO, ZERO) if working is None else (working.leaves, working.price)
        denial = self._check(session, account, symbol, side, ord_type, quantity - cum_qty, price,
                             leaves, unit, quantity, None)
        if denial is None:
            return None
        self.rejections[denial[0]] += 1
        return denial[1]

    # The check runs on every order under the OMS lock, so it is a few phases rather than a function
    # per check (a call costs 50-100 ns in CPython 3.11): each is handed what the ones before worked
    # out instead of reading it again (the flow phase re-reading the order's fields measured 5%
    # slower), arguments are positional, and halts are looked at only when one is set.
    # ``_order_checks`` needs no state of the engine, so it is a function below, beside
    # ``_collar_reason`` and ``_exposure_denial``. A check denies with
    # ``return "<its name in CHECKS>", reason``: a test finds the names in this source that way.

    def _check(
        self,
        session: str,
        account: str,
        symbol: str,
        side: Side,
        ord_type: OrdType,
        qty: Decimal,
        price: Decimal | None,
        replaced_leaves: Decimal,
        replaced_unit: Decimal,
        total_qty: Decimal | None,
        order: NewOrder | None,
        venue: str = "",
    ) -> tuple[str, str] | None:
        """The first check ``qty`` more of an order breaks, as ``(name, reason)``; ``None`` to pass.

        A new order is ``order`` (``total_qty`` None); a replace has ``order`` None and
        ``total_qty`` its new quantity, and counts ``replaced_leaves`` at ``replaced_unit`` now.
        In phases, the first denial wins: halts and states, what the order is for, its own limits,
        flow (new orders only), then exposure.
        """
        state = self.firm_state
        account_state = self.account_states.get(account, _ACTIVE)
        if self.halts or state is _HALTED or account_state is _HALTED:
            denial = self._halt_checks(session, account, symbol, state, account_state)
            if denial is not None:
                return denial
        live = self._live
        config = live.config
        if symbol in config.restricted_symbols:
            return "restricted_symbol", f"symbol {symbol} is restricted"
        rule = live.rules.get((account, symbol))
        if rule is None:
            rule = live.rule(account, symbol)
            if rule is None:
                return "unknown_symbol", f"unknown symbol {symbol}"
        if qty <= ZERO:
            return "quantity", f"order qty {qty} must be positive"
        instrument = rule.instrument
        market = ord_type is _MARKET
        order_qty = qty if total_qty is None else total_qty
        reference = self.view.marks.get(symbol, instrument.reference_price)
        unit = reference if market or price is None else price
        notional = order_qty * unit
        denial = _order_checks(rule, symbol, market, order_qty, price, reference, unit, notional)
        if denial is not None:
            return denial
        if order is not None:
            denial = self._flow_checks(order, session, account, symbol, side, qty, price, live,
                                          venue or order.ex_destination or instrument.venue)
            if denial is not None:
                return denial
        if total_qty is None:
            added = notional
        else:
            # What the order will count while the replace is pending, over what it counts now.
            added = max(qty, replaced_leaves) * max(unit, replaced_unit) - replaced_leaves * replaced_unit
        return self._exposure_checks(account, symbol, side, qty, replaced_leaves, added,
                                     rule.limits.max_position, config, state, account_state)

    def _halt_checks(self, session: str, account: str, symbol: str, state: TradingState,
                     account_state: TradingState) -> tuple[str, str] | None:
        """A kill switch over the order, then the firm or the account HALTED."""
        halts = self.halts
        if halts:
            for scope, value in (("firm", ""), ("account", account), ("session", client_comp_id(session)),
                                 ("symbol", symbol)):
                halt = halts.get((scope, value))
                if halt is not None:
                    where = "the firm" if scope == "firm" else f"{scope} {value}"
                    return "kill_switch", f"trading halted for {where} by {halt.by}: {halt.reason}"
        if state is _HALTED or account_state is _HALTED:
            return "trading_state", self._state_text(None if state is _HALTED else account, _HALTED)
        return None

    def _flow_checks(self, order: NewOrder, session: str, account: str, symbol: str, side: Side,
                     qty: Decimal, price: Decimal | None, live: _Live, venue: str) -> tuple[str, str] | None:
        """The session's order rate and backlog (``_flow_denial``, which reads ``order``'s times),
        then a duplicate of a recent order."""
        flow_limits = live.session_flow.get(session)
        if flow_limits is None:
            flow_limits = live.session_flow[session] = live.config.session_flow(client_comp_id(session))
        if flow_limits.max_orders_per_second is not None or flow_limits.max_backlog_ms is not None:
            denial = self._flow_denial(order, flow_limits, venue)
            if denial is not None:
                return denial
        window_ms = live.config.duplicate_window_ms
        if window_ms is not None:
            seen = self._recent.get((account, symbol, side, qty, price))
            if seen is not None and self._clock_ns() - seen < window_ms * 1_000_000:
                return "duplicate_order", (
                    f"duplicate of an order for {account} {side} {qty} {symbol} @ {price or 'market'}"
                    f" within {window_ms} ms"
                )
        return None

    def _exposure_checks(self, account: str, symbol: str, side: Side, qty: Decimal, replaced_leaves: Decimal,
                         added: Decimal, max_position: Decimal | None, config: RiskConfig,
                         state: TradingState, account_state: TradingState) -> tuple[str, str] | None:
        """A REDUCING state, the worst-case position, then the notional limits of the account and
        the firm, for ``added`` more notional (``qty`` more in place of ``replaced_leaves``)."""
        view = self.view
        exposure = view.symbols.get((account, symbol))
        buy = side is _BUY
        position = ZERO if exposure is None else exposure.position
        open_same = ZERO
        if exposure is not None:
            open_same = (exposure.open_buy_qty if buy else exposure.open_sell_qty) - replaced_leaves
        if state is _REDUCING or account_state is _REDUCING:
            # Only an order that, with every working order on its side, shrinks the position.
            reducible = -position if buy else position
            if reducible <= ZERO or qty + open_same > reducible:
                return "trading_state", (
                    f"{self._state_text(None if state is _REDUCING else account, _REDUCING)}; {side} {qty}"
                    f" {symbol} would not reduce the position {position} (working on that side {open_same})"
                )
        # A replace counts the larger of its old and new open quantity while pending: only one that
        # grows can take the worst case past the limit (and one that does not is never refused).
        if max_position is not None and qty > replaced_leaves:
            worst = position + open_same + qty if buy else position - open_same - qty
            if abs(worst) > max_position:
                return "max_position", (
                    f"worst-case position {worst} in {symbol} for {account} > max {max_position}"
                    f" (position {position}, working {open_same}, order {qty})"
                )
        if added <= ZERO:
            return None
        account_limits = config.accounts.get(account)
        if account_limits is not None:
            denial = _exposure_denial(account, account_limits, view.accounts.get(account), buy, added)
            if denial is not None:
                return denial
        return _exposure_denial(None, config.firm, view.firm, buy, added)

    def _flow_denial(self, order: NewOrder, limits: FlowLimits, venue: str) -> tuple[str, str] | None:
        """The order rate and the backlog, judged by when the client sent the order: a flood that the
        gateway takes more slowly than it arrives is refused for what it sent, at once."""
        session = order.session
        arrival = _arrival(order)
        most = limits.max_orders_per_second
        if most is not None:
            window = self._flow.get(session)
            if window:
                horizon = max(arrival, window[-1]) - 1_000_000_000
                while window and window[0] <= horizon:
                    window.popleft()
                if len(window) >= most:
                    return "order_rate", (
                        f"order rate of session {client_comp_id(session)} is at its max of {most} orders"
                        " per second (counted by SendingTime)"
                    )
        cap_ms = limits.max_backlog_ms
        if cap_ms is None or not order.sent_ns:
            return None
        cap = cap_ms * 1_000_000
        lag = self._lags.get(session)
        if lag is None:
            lag = self._lags[session] = _Lag(order.received_ns - arrival, order.received_ns)
        backlog = lag.backlog(order.received_ns - arrival, order.received_ns)
        if backlog > cap:
            return "throttle", (
                f"session {client_comp_id(session)} throttled: this order waited {backlog // 1_000_000} ms"
                f" to be taken (max {cap_ms} ms): the session sends faster than the gateway takes its orders"
            )
        late = self.venue_backlog_ns.get(venue, 0)
        if late > cap:
            shares = self._shares(order.received_ns)
            mine = shares.get(session, 0)
            fair = sum(shares.values()) / max(len(shares), 1)
            if mine > fair:
                return "throttle", (
                    f"session {client_comp_id(session)} throttled: venue {venue}'s reports are taken"
                    f" {late // 1_000_000} ms late (max {cap_ms} ms) and the session sent {mine} of the last"
                    f" second's {sum(shares.values())} orders, over its fair share of {fair:.0f}"
                )
        return None

    def _shares(self, now_ns: int) -> dict[str, int]:
        """Orders of the last second per session that sent any lately (each by its own clock: a window
        holds one second before its newest order, ``order_opened`` trims it). O(sessions)."""
        horizon = now_ns - _MAX_LAG_NS - 1_000_000_000
        return {session: len(window) for session, window in self._flow.items() if window and window[-1] > horizon}

    def venue_report(self, venue: str, sent_ns: int, received_ns: int) -> None:
        """A venue's message was taken at ``received_ns``: how late that is, over its least lag of
        the last minute (the venue's clock offset and the network), feeds the fair-share throttle."""
        if not sent_ns:
            return
        lag = self._venue_lags.get(venue)
        if lag is None:
            lag = self._venue_lags[venue] = _Lag(received_ns - sent_ns, received_ns)
        self.venue_backlog_ns[venue] = lag.backlog(received_ns - sent_ns, received_ns)

    def orders_in_last_second(self) -> dict[str, int]:
        """Per session with a flow limit, the orders sent in the last second (what ``order_rate``
        checks). Safe from another thread: each window is copied in one C-level call first."""
        horizon = self.wall_clock_ns() - 1_000_000_000
        return {session: sum(t > horizon for t in tuple(window)) for session, window in dict(self._flow).items()}

    def _state_text(self, account: str | None, state: TradingState) -> str:
        """``account CLIENT1 REDUCING: daily loss 5012.50 > max 5000``: who, the state, and why."""
        who = "the firm" if account is None else f"account {account}"
        why = self.state_reasons.get(account)
        return f"{who} {state}" if why is None else f"{who} {state}: {why}"

    # -- WHAT THE OMS TELLS RISK -------------------------------------------------------------------

    def order_opened(self, order_id: int, order: NewOrder) -> None:
        """A checked order was routed: it now works, and counts for flow and duplicate checks."""
        config = self._live.config
        flow = config.session_flow(client_comp_id(order.session))
        if flow.max_orders_per_second is not None or flow.max_backlog_ms is not None:
            window = self._flow.get(order.session)
            if window is None:
                window = self._flow[order.session] = deque()
            arrival = _arrival(order)
            if window and arrival < window[-1]:
                arrival = window[-1]
            window.append(arrival)
            horizon = arrival - 1_000_000_000
            while window[0] <= horizon:
                window.popleft()
        if config.duplicate_window_ms is not None:
            now = self._clock_ns()
            self._recent[(order.account, order.symbol, order.side, order.quantity, order.price)] = now
            if len(self._recent) > 100_000:  # forget the stale ones now and then
                horizon = now - config.duplicate_window_ms * 1_000_000
                self._recent = {k: v for k, v in self._recent.items() if v > horizon}
        self.view.open_order(order_id, order.account, order.symbol, order.side, order.quantity,
                             self._unit(order.symbol, order.ord_type, order.price))

    def order_changed(self, order_id: int, symbol: str, ord_type: OrdType, leaves: Decimal, price: Decimal | None,
                      replacing: tuple[Decimal, Decimal | None] | None) -> None:
        """The order's open quantity, price or pending replace changed (0 leaves: it is done);
        ``replacing``: the open quantity and price it will have if the replace pending succeeds."""
        if replacing is None:
            self.order_working(order_id, leaves, symbol, ord_type, price)
        else:
            self.order_replacing(order_id, leaves, replacing[0], symbol, ord_type, price, replacing[1])

    def order_working(self, order_id: int, leaves: Decimal, symbol: str, ord_type: OrdType,
                      price: Decimal | None) -> None:
        """The order's open quantity or price changed; 0 leaves: it is done."""
        self.view.set_working(order_id, leaves, self._unit(symbol, ord_type, price))

    def order_replacing(self, order_id: int, leaves: Decimal, new_leaves: Decimal, symbol: str,
                        ord_type: OrdType, price: Decimal | None, new_price: Decimal | None) -> None:
        """A replace is pending: until the venue answers, the old order may still fill at its price
        and then the new one work at its own, so the larger open quantity counts at the higher price
        (a bound on every mix that a fill never raises). The answer (``order_working``) settles it."""
        unit = max(self._unit(symbol, ord_type, price), self._unit(symbol, ord_type, new_price))
        self.view.set_working(order_id, max(leaves, new_leaves), unit)

    def fill(self, account: str, symbol: str, side: Side, qty: Decimal, price: Decimal, now_ns: int
             ) -> tuple[PositionRecord, tuple[Breach, ...]]:
        """A fill: the account's position in the symbol (held here only) takes it, then the daily
        loss limits are re-checked (``position_changed``). The position as the book records it, and
        the breaches it made."""
        exposure = self.view.symbols.get((account, symbol))
        if exposure is None:
            quantity, cost, realized = after_fill(ZERO, ZERO, ZERO, side, qty, price)
        else:
            quantity, cost, realized = after_fill(exposure.position, exposure.cost, exposure.realized, side, qty,
                                                  price)
        breaches = self.position_changed(account, symbol, quantity, cost, realized, price)
        return position_record(account, symbol, quantity, cost, realized, now_ns), breaches

    def position_changed(self, account: str, symbol: str, quantity: Decimal, cost: Decimal,
                         realized: Decimal, last_px: Decimal) -> tuple[Breach, ...]:
        """After a fill: new position (``cost``: its exact open cost) and mark, then the daily loss limits of the account and the firm,
        and of the other accounts holding the symbol if the fill moved its mark. The breaches it made."""
        view = self.view
        now = self.wall_clock_ns()
        view.roll_day(now)  # the first fill of a new UTC day: earlier realized P&L is set aside first
        view.set_position(account, symbol, quantity, cost, realized)
        moved = view.marks.get(symbol) != last_px
        view.set_mark(symbol, last_px)
        limits = self._live.loss_limits.get(account)
        breach = None if limits is None else self._recheck(account, limits, now)
        # The fill changed the firm's P&L; and it is a trade on the venue, so if it moved the mark it
        # changed the P&L of every holder of the symbol too (market data reports the same trade later,
        # but by then the mark does not move, so that would re-check nobody).
        others = self._recheck_holders((symbol,) if moved else (), now, fill_account=account)
        return others if breach is None else (breach, *others)

    def marks_changed(self, marks: Iterable[tuple[str, Decimal]]) -> tuple[Breach, ...]:
        """New marks from a venue's market data: the collar's reference prices and unrealized P&L
        follow the market, so a falling market moves an account holding the symbol to REDUCING or
        HALTED without a fill of its own. The breaches it made."""
        view = self.view
        moved = []
        for symbol, price in marks:
            if view.marks.get(symbol) != price:
                view.set_mark(symbol, price)
                moved.append(symbol)
        if not moved:
            return _NO_BREACH
        return self._recheck_holders(moved, None)

    def _recheck_holders(self, symbols: Sequence[str], now: int | None, fill_account: str | None = None
                         ) -> tuple[Breach, ...]:
        """The daily loss of the accounts holding any of ``symbols`` (those with the limit only) and
        of the firm, after their marks moved; after a fill (``fill_account``, which the caller checks
        itself) the firm's always. O(min(holders, accounts with the limit)) per symbol plus the P&L of
        those to check: nothing is looked at for a symbol nobody holds."""
        view = self.view
        live = self._live
        limited = live.loss_limits
        firm = live.config.firm
        firm_exposed = False
        accounts: set[str] = set()
        for symbol in symbols:
            holders = view.holders.get(symbol)
            if not holders:
                continue
            if limited:
                if len(holders) <= len(limited):
                    accounts.update(a for a in holders if a in limited)
                else:
                    accounts.update(a for a in limited if a in holders)
            # The firm's unrealized P&L moves with the mark by its net quantity in the symbol only.
            firm_exposed = firm_exposed or view.symbol_totals[symbol][0] != ZERO
        if fill_account is not None:
            accounts.discard(fill_account)
        check_firm = firm.max_daily_loss is not None and (firm_exposed or fill_account is not None)
        if not accounts and not check_firm:
            return _NO_BREACH
        if now is None:
            now = self.wall_clock_ns()
            view.roll_day(now)  # past UTC midnight with no fill yet: yesterday's realized is not today's
        breaches = []
        for account in sorted(accounts):  # sorted: the same order of breaches, logs and rows every time
            breach = self._recheck(account, limited[account], now)
            if breach is not None:
                breaches.append(breach)
        if check_firm:
            breach = self._recheck(None, firm, now)
            if breach is not None:
                breaches.append(breach)
        return tuple(breaches)

    def restore_position(self, p: PositionRecord) -> None:
        """A position from the book at start (``RiskView.restore_position``: today's realized only)."""
        self.view.restore_position(p.account, p.symbol, p.quantity, p.cost, p.realized_pnl, p.updated_ns)

    def restore_order(self, order_id: int, account: str, symbol: str, side: Side) -> None:
        """A working order from the book at start: registered with nothing open yet (the OMS's
        ``order_changed`` right after sets what it counts)."""
        self.view.open_order(order_id, account, symbol, side, ZERO, ZERO)

    def positions(self, now_ns: int) -> list[PositionRecord]:
        """Every position held, as the book records it (stamped ``now_ns``)."""
        return [position_record(account, symbol, e.position, e.cost, e.realized, now_ns)
                for (account, symbol), e in list(self.view.symbols.items()) if e.position or e.cost or e.realized]

    def _recheck(self, account: str | None, limits: ExposureLimits, now: int) -> Breach | None:
        """Move the account (``None``: the firm) to the limit's action if its daily loss is past the
        limit; the breach, or ``None`` (no breach, or the state is already that or HALTED)."""
        limit = limits.max_daily_loss
        action = limits.daily_loss_action
        current = self.firm_state if account is None else self.account_states.get(account, _ACTIVE)
        if limit is None or current is _HALTED or current is action:
            return None  # before the P&L is summed: most re-checks end here once a state is set
        loss = -self.view.daily_pnl(account)
        if loss <= limit:
            return None
        who = "the firm" if account is None else f"account {account}"
        log.error("daily loss %s of %s is past its max %s: %s -> %s", _money(loss), who, limit, current, action)
        # Kept for the Text of every order the state refuses: the limit and the loss that broke it.
        reason = f"daily loss {_money(loss)} > max {limit}"
        self.state_reasons[account] = reason
        if account is None:
            self.firm_state = action
        else:
            self.account_states[account] = action
        return Breach(account, action, loss, limit, reason, now)

    def _unit(self, symbol: str, ord_type: OrdType, price: Decimal | None) -> Decimal:
        if ord_type is OrdType.LIMIT and price is not None:
            return price
        return self.reference_price(symbol) or ZERO

    # -- KILL SWITCH AND STATES --------------------------------------------------------------------

    def kill(self, scope: str, value: str, by: str, reason: str) -> Halt:
        """Halt new orders in a scope (the caller cancels the working ones)."""
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}: use one of {', '.join(SCOPES)}")
        halt = Halt(scope, "" if scope == "firm" else value, by, time.time_ns(), reason)
        self.halts[(halt.scope, halt.value)] = halt
        log.warning("kill switch: %s %s halted by %s: %s", scope, value, by, reason)
        return halt

    def resume(self, scope: str, value: str, by: str) -> Halt | None:
        """Lift a kill switch, and a trading state the daily loss limit set in that scope."""
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}: use one of {', '.join(SCOPES)}")
        key = (scope, "" if scope == "firm" else value)
        if scope == "firm":
            self.firm_state = TradingState.ACTIVE
            self.state_reasons.pop(None, None)
        elif scope == "account":
            self.account_states.pop(value, None)
            self.state_reasons.pop(value, None)
        halt = self.halts.pop(key, None)
        log.warning("kill switch: %s %s resumed by %s", scope, value, by)
        return halt

    def set_state(self, account: str | None, state: TradingState, reason: str = "set by an operator") -> None:
        self.state_reasons[account] = reason
        if account is None:
            self.firm_state = state
        else:
            self.account_states[account] = state


# Rules worked out ahead for accounts with per-order limits of their own, at most this many; the
# rest are worked out on an account's first order in a symbol.
_PREBUILT_RULES = 100_000


_MAX_LAG_NS = 5_000_000_000
"""The most an order's SendingTime counts before its receipt: a client cannot move its orders further
into the past to look slower than it is (and a clock ahead of ours counts as sent on receipt)."""

_LAG_BUCKET_NS = 30_000_000_000


def _arrival(order: NewOrder) -> int:
    """When the client sent the order, in the gateway's wall clock: its SendingTime, kept within
    ``_MAX_LAG_NS`` before the gateway took it and never after."""
    received = order.received_ns
    sent = order.sent_ns
    if not sent or sent >= received:
        return received
    return sent if received - sent <= _MAX_LAG_NS else received - _MAX_LAG_NS


class _Lag:
    """How late a peer's messages are taken, over the least lag of the last 30-60 s: that least lag
    is the clocks' offset plus the network, so what is above it waited in the gateway's queue."""

    __slots__ = ("_bucket_end", "_current", "_previous")

    def __init__(self, lag: int, now: int) -> None:
        self._current = self._previous = lag
        self._bucket_end = now + _LAG_BUCKET_NS

    def backlog(self, lag: int, now: int) -> int:
        if now >= self._bucket_end:
            # A new bucket: the least of the one that ended, or this lag after a quiet spell.
            self._previous = self._current if now < self._bucket_end + _LAG_BUCKET_NS else lag
            self._current = lag
            self._bucket_end = now + _LAG_BUCKET_NS
        elif lag < self._current:
            self._current = lag
        return lag - min(self._current, self._previous)


class _Live:
    """The config in force and the per-order rules and session flow limits worked out from it.

    Built whole before it is swapped in, off the order path: the rules of every account with
    per-order limits of its own in every instrument (up to ``_PREBUILT_RULES``), and one rule per
    instrument shared by every other account, so a first order does not pay for working them out.
    """

    __slots__ = ("config", "instruments", "loss_limits", "rules", "session_flow", "shared")

    def __init__(self, config: RiskConfig, instruments: Mapping[str, Instrument]) -> None:
        self.config = config
        self.instruments = instruments
        self.session_flow: dict[str, FlowLimits] = {}
        # Accounts with a daily loss limit: the only ones a mark that moves re-checks.
        self.loss_limits: dict[str, ExposureLimits] = {
            account: limits for account, limits in config.accounts.items() if limits.max_daily_loss is not None
        }
        self.shared: dict[str, _Rule] = {}  # by symbol, for accounts without per-order limits
        for symbol, instrument in instruments.items():
            limits = config.firm_orders
            instrument_limits = config.instruments.get(symbol)
            if instrument_limits is not None:
                limits = limits.tightest(instrument_limits)
            self.shared[symbol] = _Rule.of(limits, instrument)
        self.rules: dict[tuple[str, str], _Rule] = {}  # by (account, symbol)
        for account in config.account_orders:
            if len(self.rules) + len(instruments) > _PREBUILT_RULES:
                break
            for symbol, instrument in instruments.items():
                self.rules[(account, symbol)] = _Rule.of(config.order_limits(account, symbol), instrument)

    def rule(self, account: str, symbol: str) -> _Rule | None:
        """The rule of an account in a symbol not looked up before; ``None`` for an unknown symbol."""
        if account in self.config.account_orders:
            instrument = self.instruments.get(symbol)
            if instrument is None:
                return None
            rule: _Rule | None = _Rule.of(self.config.order_limits(account, symbol), instrument)
        else:
            rule = self.shared.get(symbol)
        if rule is not None:
            self.rules[(account, symbol)] = rule
        return rule


@dataclass(slots=True)
class _Rule:
    """The per-order limits of one account in one symbol, with what a check needs of them worked out
    once: the instrument, and the band of prices inside the collar around the current reference."""

    limits: OrderLimits
    instrument: Instrument
    collared: bool
    band: tuple[Decimal, Decimal, Decimal] | None = None  # (reference, lowest, highest price inside)

    @classmethod
    def of(cls, limits: OrderLimits, instrument: Instrument) -> _Rule:
        collared = limits.price_collar_pct is not None or limits.price_collar_ticks is not None
        return cls(limits, instrument, collared)

    def band_around(self, reference: Decimal) -> tuple[Decimal, Decimal, Decimal]:
        """The prices inside every collar set. Exact decimal arithmetic, so a price is outside the
        band exactly when ``_collar_reason`` names a collar it breaks."""
        lowest: Decimal | None = None
        highest: Decimal | None = None
        pct = self.limits.price_collar_pct
        if pct is not None:
            width = reference * pct / HUNDRED
            lowest, highest = reference - width, reference + width
        ticks = self.limits.price_collar_ticks
        if ticks is not None:
            width = self.instrument.tick_size * ticks
            low, high = reference - width, reference + width
            lowest = low if lowest is None else max(lowest, low)
            highest = high if highest is None else min(highest, high)
        assert lowest is not None and highest is not None  # only built for a collared rule
        return reference, lowest, highest


def _order_checks(rule: _Rule, symbol: str, market: bool, order_qty: Decimal, price: Decimal | None,
                  reference: Decimal, unit: Decimal, notional: Decimal) -> tuple[str, str] | None:
    """The order's own limits (``rule``): market orders, lot and tick, its quantity and notional
    (``order_qty`` at ``unit``), then the collar around ``reference``."""
    limits = rule.limits
    if market and limits.allow_market_orders is False:
        return "market_orders", f"market orders are not allowed for {symbol}"
    if limits.check_tick_lot:
        instrument = rule.instrument
        if order_qty % instrument.lot_size:
            return "lot_size", f"order qty {order_qty} is not a multiple of the lot size {instrument.lot_size} for {symbol}"
        if price is not None and price % instrument.tick_size:
            return "tick_size", f"price {price} is not a multiple of the tick size {instrument.tick_size} for {symbol}"
    if limits.max_order_qty is not None and order_qty > limits.max_order_qty:
        return "max_order_qty", f"order qty {order_qty} > max {limits.max_order_qty} for {symbol}"
    if limits.max_order_notional is not None and notional > limits.max_order_notional:
        return "max_order_notional", (
            f"order notional {notional} > max {limits.max_order_notional} for {symbol}"
            f" ({order_qty} @ {unit})"
        )
    if rule.collared and not market and price is not None:
        band = rule.band
        if band is None or band[0] is not reference:
            band = rule.band = rule.band_around(reference)
        if price < band[1] or price > band[2]:
            reason = _collar_reason(limits, rule.instrument, symbol, price, reference)
            if reason is not None:
                return "price_collar", reason
    return None


def _collar_reason(limits: OrderLimits, instrument: Instrument, symbol: str, price: Decimal,
                   reference: Decimal) -> str | None:
    """Which collar a limit price breaks, if any: the percentage first, then the ticks."""
    distance = abs(price - reference)
    # Multiplications, not divisions: exact.
    if limits.price_collar_pct is not None and distance * HUNDRED > reference * limits.price_collar_pct:
        return (
            f"price {price} is more than {limits.price_collar_pct}% from the reference"
            f" {reference} for {symbol}"
        )
    if limits.price_collar_ticks is not None and distance > instrument.tick_size * limits.price_collar_ticks:
        return (
            f"price {price} is {distance / instrument.tick_size} ticks from the reference {reference}"
            f" for {symbol} (max {limits.price_collar_ticks})"
        )
    return None


def _exposure_denial(account: str | None, limits: ExposureLimits, totals: Totals | None, buy: bool,
                     added: Decimal) -> tuple[str, str] | None:
    """The exposure limit of an account (``None``: the firm) that ``added`` notional would break."""
    if limits.max_gross_notional is not None:
        gross = ZERO if totals is None else (
            totals.position_gross + totals.open_buy_notional + totals.open_sell_notional
        )
        if gross + added > limits.max_gross_notional:
            return "max_gross_notional", (
                f"gross notional {gross + added} > max {limits.max_gross_notional} for {_who(account)}"
            )
    if limits.max_net_notional is not None:
        if totals is None:
            net = added if buy else -added
        elif buy:
            net = totals.position_net + totals.open_buy_notional + added
        else:
            net = totals.position_net - totals.open_sell_notional - added
        if abs(net) > limits.max_net_notional:
            return "max_net_notional", (
                f"worst-case net notional {net} > max {limits.max_net_notional} for {_who(account)}"
            )
    if limits.credit_limit is not None and buy:
        used = ZERO if totals is None else totals.long_cost + totals.open_buy_notional
        if used + added > limits.credit_limit:
            return "credit_limit", (
                f"credit used {used + added} > credit limit {limits.credit_limit} for {_who(account)}"
            )
    return None


def _money(value: Decimal) -> str:
    """An amount for people: to the cent at least, without the zeros 8-place average costs leave
    (``0.40000000`` -> ``0.40``, ``1001`` -> ``1001.00``), never rounded."""
    exact = value.normalize()
    exponent = exact.as_tuple().exponent
    return format(value.quantize(CENT) if isinstance(exponent, int) and exponent >= -2 else exact, "f")


def _who(account: str | None) -> str:
    return "the firm" if account is None else f"account {account}"


def client_comp_id(session: str) -> str:
    """A client session key (``FIX.4.4:FIXGATE->CLIENT1``) to the client's CompID."""
    return session.rpartition(">")[2]
