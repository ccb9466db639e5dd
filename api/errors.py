"""The API's error type: an HTTP status and a message that names the object and the values."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


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
        name = where[-1] if where else "request"
        kind = f"{where[0]} parameter" if len(where) > 1 else "parameter"
        given = f" (got {error['input']!r})" if "input" in error and error["input"] is not None else ""
        problems.append(f"{kind} {name!r}: {error.get('msg', 'invalid')}{given}")
    return JSONResponse({"detail": "; ".join(problems)}, status_code=422)
