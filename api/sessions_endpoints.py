"""``GET /sessions``: each configured FIX session, client and venue, as the gateway holds it now.

The states come from a provider handed to the app (``fixgate.app`` passes the gateway's
``gateway.sessions.FixSessions``); this module knows nothing of FIX.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, Protocol

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import firm_reader
from api.errors import PROTECTED_RESPONSES, ErrorBody, Unavailable
from api.params import utc_time

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {503: {"model": ErrorBody, "description": "no gateway wired to this API"}}
# Operators and viewers: sessions are the whole gateway's, not one client's.
sessions_router = APIRouter(tags=["sessions"], dependencies=[Depends(firm_reader)],
                            responses={**PROTECTED_RESPONSES, **_UNAVAILABLE})


class SessionStatusLike(Protocol):
    """One session's state (``gateway.sessions.SessionStatus`` has this shape)."""

    @property
    def session_id(self) -> str: ...
    @property
    def role(self) -> Literal["client", "venue"]: ...
    @property
    def begin_string(self) -> str: ...
    @property
    def sender_comp_id(self) -> str: ...
    @property
    def target_comp_id(self) -> str: ...
    @property
    def logged_on(self) -> bool: ...
    @property
    def since_ns(self) -> int | None: ...
    @property
    def next_sender_seq(self) -> int: ...
    @property
    def next_target_seq(self) -> int: ...
    @property
    def messages_in(self) -> int: ...
    @property
    def messages_out(self) -> int: ...
    @property
    def last_error(self) -> str | None: ...


class SessionsProvider(Protocol):
    """What serves ``GET /sessions``: every configured session, in a stable order."""

    def statuses(self) -> Sequence[SessionStatusLike]: ...


class FixSession(BaseModel):
    """One FIX session of the gateway."""

    model_config = ConfigDict(frozen=True)

    session_id: str = Field(description="QuickFIX's session id, e.g. FIX.4.4:FIXGATE->CLIENT1",
                            examples=["FIX.4.4:FIXGATE->CLIENT1"])
    role: Literal["client", "venue"] = Field(description="client: fixgate accepts it; venue: fixgate connects")
    begin_string: str = Field(examples=["FIX.4.4"])
    sender_comp_id: str = Field(description="fixgate's CompID on the session", examples=["FIXGATE"])
    target_comp_id: str = Field(description="the counterparty's CompID (a venue's is its name)", examples=["CLIENT1"])
    logged_on: bool
    since: datetime | None = Field(description="the last logon or logout in this process (UTC); null before either")
    next_sender_seq: int = Field(description="MsgSeqNum of the next message fixgate sends")
    next_target_seq: int = Field(description="MsgSeqNum fixgate expects next from the counterparty")
    messages_in: int = Field(description="messages received since the gateway started (admin ones included)")
    messages_out: int = Field(description="messages sent since the gateway started (admin ones and resends included)")
    last_error: str | None = Field(
        description="the latest Reject or BusinessMessageReject sent or received, Logout with a Text, or refused "
        "logon; null if none since start"
    )


@sessions_router.get("/sessions", response_model=list[FixSession])
def sessions(request: Request) -> list[FixSession]:
    """Every configured FIX session, clients first: logged on or not and since when, sequence numbers,
    message counts, the last error."""
    provider: SessionsProvider | None = getattr(request.app.state, "sessions", None)
    if provider is None:
        raise Unavailable("FIX sessions are not available: this API runs without a gateway")
    return [
        FixSession(
            session_id=s.session_id, role=s.role, begin_string=s.begin_string, sender_comp_id=s.sender_comp_id,
            target_comp_id=s.target_comp_id, logged_on=s.logged_on,
            since=None if s.since_ns is None else utc_time(s.since_ns), next_sender_seq=s.next_sender_seq,
            next_target_seq=s.next_target_seq, messages_in=s.messages_in, messages_out=s.messages_out,
            last_error=s.last_error,
        )
        for s in provider.statuses()
    ]
