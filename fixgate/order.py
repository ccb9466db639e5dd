"""``fixgate order``: a small FIX trading client for a running gateway, like QuickFIX's tradeclient.

Each command is one FIX session: connect to the gateway's client port, log on, send one request,
print every answer on one line (ExecutionReport, OrderCancelReject, Reject, BusinessMessageReject),
log out. ``buy``/``sell`` send a NewOrderSingle (a limit order with a price, else a market order),
``cancel`` an OrderCancelRequest, ``replace`` an OrderCancelReplaceRequest and ``status`` an
OrderStatusRequest. A cancel or replace must repeat the order's Symbol and Side: the command asks
the gateway for the order's status first and takes them (and, for a replace, whatever is not
changed) from the answer, so nothing is kept between commands.

Sequence numbers: the gateway's client sessions keep theirs across connections (``NonStopSession=Y``
in clients.cfg), so a client that forgot them would be out of step. This client keeps none: it logs
on with ResetSeqNumFlag (141=Y), which starts both sides at 1; the gateway then sends what it owed
the session (reports of earlier orders that came while nobody was logged on) with PossResend (97=Y),
and they are printed too, marked "earlier". So a session used here should not also be used by a
client that keeps its sequence numbers (its next logon would find them reset), and a session
already logged on (``fixgate demo`` keeps CLIENT1 on) cannot be used until it logs out.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from fixgate.fixclient import FieldValue, FixClient, FixSessionError, Message, utc_timestamp

ORD_STATUS = {
    "0": "New", "1": "PartiallyFilled", "2": "Filled", "3": "DoneForDay", "4": "Canceled", "5": "Replaced",
    "6": "PendingCancel", "8": "Rejected", "A": "PendingNew", "C": "Expired", "E": "PendingReplace",
}
EXEC_TYPE = {
    "0": "New", "1": "PartialFill", "2": "Fill", "3": "DoneForDay", "4": "Canceled", "5": "Replaced",
    "6": "PendingCancel", "8": "Rejected", "A": "PendingNew", "C": "Expired", "D": "Restated",
    "E": "PendingReplace", "F": "Trade", "I": "OrderStatus",
}
CXL_REJ_REASON = {"0": "too late", "1": "unknown order", "3": "already pending", "6": "duplicate ClOrdID"}
SIDES = {"buy": "1", "sell": "2"}
TIME_IN_FORCE = {"day": "0", "gtc": "1", "ioc": "3", "fok": "4"}
_DONE = {"2", "4", "8", "C", "3"}  # OrdStatus after which nothing more comes for an order unasked
_FIRST_ANSWER_S = 10.0  # the gateway answers at once; a venue's answer may take a moment


class OrderError(Exception):
    """What keeps a command from being sent or answered: printed on one line, exit status 2."""


@dataclass(frozen=True, slots=True)
class Gateway:
    """Where and as whom to log on, and how long to wait for more after the first answer."""

    host: str
    port: int
    session: str  # the SenderCompID: one of clients.cfg's TargetCompIDs
    target: str = "FIXGATE"
    username: str | None = None
    password: str | None = None
    wait: float = 2.0


def parse_quantity(raw: str) -> Decimal:
    """A positive order quantity (``100``); OrderError otherwise."""
    return _positive(raw, "quantity")


def parse_price(raw: str) -> Decimal:
    """A positive limit price, written ``@190.02`` or ``190.02``; OrderError otherwise."""
    return _positive(raw.removeprefix("@"), "price")


def _positive(raw: str, what: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise OrderError(f"{what} {raw!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise OrderError(f"{what} {raw!r} must be positive")
    return value


def new_cl_ord_id(prefix: str) -> str:
    """A ClOrdID no earlier command made: the time and a few random characters."""
    return f"{prefix}-{time.strftime('%H%M%S')}-{secrets.token_hex(2)}"


def describe(message: Message) -> str:
    """One line for an answer: status, exec type, filled qty @ avg px, leaves, text."""
    earlier = " (earlier)" if message.get(97) == "Y" else ""
    text = f": {message[58]}" if 58 in message else ""
    kind = message.msg_type
    if kind == "8":
        line = (f"ExecutionReport {message.get(11)}{earlier} order {message.get(37)}: {_named(ORD_STATUS, message, 39)},"
                f" exec {_named(EXEC_TYPE, message, 150)}")
        if message.get(37) == "NONE":  # refused before it was an order, or not known: nothing to show but why
            return line + (f", text{text}" if text else "")
        if Decimal(message.get(32) or "0") > 0:
            line += f" {message[32]} @ {message[31]}"
        line += (f", {_side_name(message.get(54) or '?')} {message.get(55, '')} filled {message.get(14)} @"
                 f" {message.get(6)}, leaves {message.get(151)}")
        return line + (f", text{text}" if text else "")
    if kind == "9":
        return (f"OrderCancelReject {message.get(11)}{earlier} of {message.get(41)} order {message.get(37)}:"
                f" {CXL_REJ_REASON.get(message.get(102) or '', 'other')}, order {_named(ORD_STATUS, message, 39)}"
                f"{text}")
    if kind == "3":
        return f"Reject of message {message.get(45)}: tag {message.get(371, '?')}{text}"
    if kind == "j":
        return f"BusinessMessageReject of {message.get(379) or message.get(45)}{text}"
    return f"{kind}: {message}"


def _named(names: dict[str, str], message: Message, tag: int) -> str:
    code = message.get(tag) or "?"
    return names.get(code, code)


def _side_name(code: str) -> str:
    return {"1": "buy", "2": "sell"}.get(code, f"side {code}")


@contextmanager
def session(gateway: Gateway) -> Iterator[FixClient]:
    """A FIX session logged on with ResetSeqNumFlag, logged out at the end."""
    where = f"{gateway.host}:{gateway.port}"
    try:
        client = FixClient.connect(gateway.host, gateway.port, sender_comp_id=gateway.session,
                                   target_comp_id=gateway.target, timeout=_FIRST_ANSWER_S, connect_timeout=2.0)
    except OSError as exc:
        raise OrderError(f"no FIX gateway answers on {where} ({exc.strerror or exc}): is `fixgate serve`"
                         " running? (--port or FIXGATE_CLIENT_PORT)") from None
    fields: list[tuple[int, FieldValue]] = []
    if gateway.username is not None:
        fields += [(553, gateway.username), (554, gateway.password or "")]
    try:
        client.logon(reset_seq_num=True, fields=fields)
    except FixSessionError as exc:
        client.close()
        raise OrderError(f"{gateway.session} on {where}: {exc}") from None
    except (ConnectionError, TimeoutError):
        client.close()
        raise OrderError(
            f"{gateway.session} on {where}: the gateway closed the connection without answering the Logon:"
            f" is {gateway.session} not a session of its clients.cfg, or logged on already (`fixgate demo`"
            " keeps CLIENT1 on)? --session names another"
        ) from None
    print(f"logged on to {where} as {gateway.session} (FIX.4.4, sequence numbers reset)", flush=True)
    try:
        yield client
    finally:
        client.logout(timeout=2.0)
        print(f"logged out of {gateway.session}", flush=True)


def _done(report: Message) -> bool:
    """Whether nothing more comes for this order unasked: it ended (filled, canceled, rejected,
    expired, done for the day)."""
    return report.get(39) in _DONE


def _replaced(report: Message) -> bool:
    return report.get(150) == "5" or _done(report)


def _answers(client: FixClient, gateway: Gateway, mine: str, done: Callable[[Message], bool]) -> int:
    """Print what comes: every application message (the owed reports of earlier orders too) until
    one about ``mine`` is ``done``, a reject comes, or nothing has come for
    ``gateway.wait`` seconds after the first answer about ``mine``. 0 when the request was taken,
    1 when it was refused (a rejected order, a cancel reject, a reject)."""
    answered = False
    outcome = 0
    while True:
        message = client.receive(timeout=gateway.wait if answered else _FIRST_ANSWER_S)
        if message is None:
            if not answered:
                raise OrderError(f"no answer to {mine} within {_FIRST_ANSWER_S:g}s")
            return outcome
        if message.msg_type in ("0", "1", "2", "4", "A"):
            continue
        print(describe(message), flush=True)
        if message.msg_type == "5":
            raise OrderError(f"the gateway logged the session out: {message.get(58, '')}")
        about_mine = message.get(11) == mine and message.get(97) != "Y"
        if message.msg_type in ("3", "j") or (message.msg_type == "9" and about_mine):
            return 1
        if not about_mine:
            continue
        answered = True
        if message.get(39) == "8":
            outcome = 1
        if done(message):
            return outcome


def send_order(gateway: Gateway, side: str, quantity: Decimal, symbol: str, price: Decimal | None, *,
               account: str | None = None, time_in_force: str = "day", cl_ord_id: str | None = None) -> int:
    """Send a NewOrderSingle (limit with a price, else market) and print its reports."""
    cl_ord_id = cl_ord_id or new_cl_ord_id(side)
    fields: list[tuple[int, FieldValue]] = [(11, cl_ord_id)]
    if account:
        fields.append((1, account))
    fields += [(21, "1"), (55, symbol), (54, SIDES[side]), (60, utc_timestamp()), (38, quantity),
               (40, "2" if price is not None else "1")]
    if price is not None:
        fields.append((44, price))
    fields.append((59, TIME_IN_FORCE[time_in_force]))
    with session(gateway) as client:
        shown = f"@ {price}" if price is not None else "at market"
        print(f"NewOrderSingle {cl_ord_id}: {side} {quantity} {symbol} {shown} ({time_in_force})", flush=True)
        client.send("D", fields)
        return _answers(client, gateway, cl_ord_id, _done)


def _status(client: FixClient, gateway: Gateway, cl_ord_id: str, account: str | None) -> Message | None:
    """The order's status report, printed; None (after printing the answer) if the gateway knows no
    such order of this session."""
    fields: list[tuple[int, FieldValue]] = [(11, cl_ord_id)]
    if account:
        fields.append((1, account))
    # fixgate finds the order by ClOrdID alone; FIX 4.4 requires a Side in the request all the same.
    fields += [(54, "1"), (790, new_cl_ord_id("status"))]
    client.send("H", fields)
    while True:
        report = client.receive(timeout=_FIRST_ANSWER_S)
        if report is None:
            raise OrderError(f"no answer to the status request of {cl_ord_id} within {_FIRST_ANSWER_S:g}s")
        if report.msg_type in ("0", "1", "2", "4", "A"):
            continue
        print(describe(report), flush=True)
        if report.msg_type in ("3", "j"):
            return None
        if report.msg_type == "8" and report.get(11) == cl_ord_id and report.get(97) != "Y":
            # An unknown order is answered OrderID NONE, OrdStatus Rejected.
            return None if report.get(37) == "NONE" else report


def order_status(gateway: Gateway, cl_ord_id: str, *, account: str | None = None) -> int:
    """Ask for an order's status and print it (1 if the gateway knows no such order)."""
    with session(gateway) as client:
        return 0 if _status(client, gateway, cl_ord_id, account) is not None else 1


def cancel_order(gateway: Gateway, orig_cl_ord_id: str, *, account: str | None = None) -> int:
    """Cancel an order (named by any ClOrdID it has carried) and print the answers."""
    with session(gateway) as client:
        order = _status(client, gateway, orig_cl_ord_id, account)
        if order is None:
            return 1
        cl_ord_id = new_cl_ord_id("cancel")
        fields: list[tuple[int, FieldValue]] = [(41, orig_cl_ord_id), (11, cl_ord_id)]
        if account:
            fields.append((1, account))
        fields += [(55, order[55]), (54, order[54]), (60, utc_timestamp()), (38, order[38])]
        print(f"OrderCancelRequest {cl_ord_id} of {orig_cl_ord_id}", flush=True)
        client.send("F", fields)
        return _answers(client, gateway, cl_ord_id, _done)


def replace_order(gateway: Gateway, orig_cl_ord_id: str, *, quantity: Decimal | None, price: Decimal | None,
                  account: str | None = None) -> int:
    """Change an order's quantity and/or limit price and print the answers."""
    if quantity is None and price is None:
        raise OrderError("replace changes --qty, --price or both: name at least one")
    with session(gateway) as client:
        order = _status(client, gateway, orig_cl_ord_id, account)
        if order is None:
            return 1
        cl_ord_id = new_cl_ord_id("replace")
        fields: list[tuple[int, FieldValue]] = [(41, orig_cl_ord_id), (11, cl_ord_id)]
        if account:
            fields.append((1, account))
        new_price = price if price is not None else order.get(44)
        fields += [(21, "1"), (55, order[55]), (54, order[54]), (60, utc_timestamp()),
                   (38, quantity if quantity is not None else order[38]), (40, order.get(40) or "2")]
        if new_price is not None:
            fields.append((44, new_price))
        print(f"OrderCancelReplaceRequest {cl_ord_id} of {orig_cl_ord_id}: qty {quantity or order[38]}"
              f"{f' @ {new_price}' if new_price is not None else ''}", flush=True)
        client.send("G", fields)
        return _answers(client, gateway, cl_ord_id, _replaced)
