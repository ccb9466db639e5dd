"""Bearer-token authentication of the REST API, and what each identity's role allows.

A token names an identity (:mod:`api.identities`): the single operator token of FIXGATE_API_TOKEN, or
one of the tokens file. Every endpoint but ``/health`` and the docs needs one (401 without); an
endpoint that changes something, or shows every account, also needs a role that allows it (403).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import Forbidden, Unauthorized
from api.identities import Identities, Identity, Role

# auto_error=False: the scheme only reads the header (and documents it in OpenAPI, so /docs has an
# Authorize button); the answer to a missing or wrong token is ours, a 401 in the API's shape.
bearer_scheme = HTTPBearer(auto_error=False,
                           description="an API token: FIXGATE_API_TOKEN's, or one of the tokens file")

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_INVALID = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]
) -> Identity:
    """The identity whose token the request carries in ``Authorization: Bearer``; 401 for anything else."""
    identities: Identities = request.app.state.identities
    if not identities:
        # Fail closed: an API started without a token serves nobody but /health and the docs.
        raise Unauthorized("this API has no token configured: set FIXGATE_API_TOKEN or an API tokens file",
                           _CHALLENGE)
    if credentials is None:
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'", _CHALLENGE)
    identity = identities.find(credentials.credentials)
    if identity is None:
        raise Unauthorized("invalid bearer token", _INVALID)
    return identity


#: The caller, authenticated (the dependency is run once per request however often it is named).
Caller = Annotated[Identity, Depends(authenticate)]


def allow(*roles: Role, what: str) -> Callable[[Identity], Awaitable[Identity]]:
    """A dependency passing only identities with one of ``roles``; 403 naming ``what`` for the others."""

    async def check(identity: Caller) -> Identity:
        if identity.role not in roles:
            raise Forbidden(f"{identity.name} ({identity.role.value}) may not {what}: it needs the role"
                            f" {' or '.join(r.value for r in roles)}")
        return identity

    return check


#: Reads across every account (risk status, limits, audit trail, metrics): operators and viewers.
firm_reader = allow(Role.OPERATOR, Role.VIEWER, what="read firm-wide data (risk, metrics)")

#: Any change of risk settings: kill switch, resume, limits.
Operator = Annotated[Identity, Depends(allow(Role.OPERATOR, what="change risk settings"))]
#: Cancels: an operator's of any order, a client's of its accounts' orders (checked by the endpoint).
Canceller = Annotated[Identity, Depends(allow(Role.OPERATOR, Role.CLIENT, what="cancel orders"))]
