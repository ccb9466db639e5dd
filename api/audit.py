"""The audit trail of what identities do over REST: a ``risk_events`` row per action, after it."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request

from api.errors import APIError
from api.risk_repository import RiskEventRepository
from book.risk_events import event_row

_log = logging.getLogger(__name__)


class AuditNotRecorded(APIError):
    """The action took effect but its audit row could not be written."""

    status_code = 500


async def audit(request: Request, what: str, **row: Any) -> None:
    """Append one row (``book.risk_events.event_row``'s fields) in a transaction of its own; a failure
    is logged with its cause and answered as :class:`AuditNotRecorded` naming ``what``, without it."""
    try:
        async with request.app.state.engine.begin() as conn:
            await RiskEventRepository(conn).record(event_row(**row))
    except Exception as exc:
        _log.exception("audit row not written: %s", row)
        # The cause (SQL, driver message) is in the log only: it is no business of the caller's.
        raise AuditNotRecorded(f"{what} is in effect, but its audit row could not be written: see the"
                               " gateway's log") from exc
