"""The API's error type: an HTTP status and a message that names the object and the values."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from risk.limits import shown

_log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """Every error the API answers (4xx and 5xx): one message naming the parameter, object or value."""

    model_config = ConfigDict(frozen=True)

    detail: str


class APIError(Exception):
    """Root of the errors an endpoint returns on purpose; rendered as ``{"detail": message}``."""

    status_code = 500

    def __init__(self, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})


class Unauthorized(APIError):
    """No bearer token, or not the API's token."""

    status_code = 401


class Forbidden(APIError):
    """The caller's identity may not do this (its role, or an account that is not its own)."""

    status_code = 403


class NotFound(APIError):
    """The named object is not in the book."""

    status_code = 404


class Conflict(APIError):
    """The request cannot be carried out in the object's present state (an order already done)."""

    status_code = 409


class InvalidParameter(APIError):
    """A query parameter has a value the API does not know; same status as FastAPI's validation."""

    status_code = 422


class Unavailable(APIError):
    """This API instance cannot do that (no gateway wired to it)."""

    status_code = 503


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Render an :class:`APIError` as JSON with its status code."""
    assert isinstance(exc, APIError)  # registered for APIError only
    return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=exc.headers)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 in the API's shape: one message naming each bad parameter and its value."""
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = [str(part) for part in error.get("loc", ())]
        name = ".".join(where[1:]) if len(where) > 1 else (where[0] if where else "request")
        kind = f"{where[0]} parameter" if len(where) > 1 else "parameter"
        given = f" (got {shown(error['input'], 200)})" if "input" in error and error["input"] is not None else ""
        problems.append(f"{kind} {name!r}: {error.get('msg', 'invalid')}{given}")
    return JSONResponse({"detail": "; ".join(problems)}, status_code=422)


async def unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """A bug, or a failure of the database: logged in full with a reference, answered with the reference
    only. No SQL, stack or exception text reaches the client."""
    reference = uuid.uuid4().hex[:12]
    _log.error("%s %s failed (reference %s)", request.method, request.url.path, reference, exc_info=exc)
    return JSONResponse({"detail": f"internal error (reference {reference}; the details are in the gateway's"
                                   " log)"}, status_code=500)


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


#: The error answers every endpoint behind the token may give, for the OpenAPI document.
PROTECTED_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _error("no bearer token, or not a token of this API"),
    403: _error("the caller's role, or its accounts, do not allow this"),
    422: _error("a parameter or body field is not valid: the detail names it; nothing was done"),
    500: _error("an internal error, logged with the reference the detail gives"),
}
