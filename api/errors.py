"""The API's error type: an HTTP status and a message that names the object and the values."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse


class APIError(Exception):
    """Root of the errors an endpoint returns on purpose; rendered as ``{"detail": message}``."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(APIError):
    """The named object is not in the book."""

    status_code = 404


class InvalidParameter(APIError):
    """A query parameter has a value the API does not know; same status as FastAPI's validation."""

    status_code = 422


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Render an :class:`APIError` as JSON with its status code."""
    assert isinstance(exc, APIError)  # registered for APIError only
    return JSONResponse({"detail": exc.message}, status_code=exc.status_code)
