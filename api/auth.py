"""Bearer-token authentication of the REST API (one shared operator token)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import Unauthorized

# auto_error=False: the scheme only reads the header (and documents it in OpenAPI, so /docs has an
# Authorize button); the answer to a missing or wrong token is ours, a 401 in the API's shape.
bearer_scheme = HTTPBearer(auto_error=False, description="the API token (FIXGATE_API_TOKEN)")

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_INVALID = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def tokens_match(given: str, expected: str) -> bool:
    """Compare in constant time, so response timing does not reveal how much of a guess was right."""
    return hmac.compare_digest(given.encode(), expected.encode())


async def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]
) -> None:
    """Pass a request carrying ``Authorization: Bearer <the API token>``; 401 for anything else."""
    expected: str | None = request.app.state.api_token
    if expected is None:
        # Fail closed: an API started without a token serves nobody but /health and the docs.
        raise Unauthorized("this API has no token configured: set FIXGATE_API_TOKEN", _CHALLENGE)
    if credentials is None:
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'", _CHALLENGE)
    if not tokens_match(credentials.credentials, expected):
        raise Unauthorized("invalid bearer token", _INVALID)
