"""REST API over the book of record (FastAPI): orders, executions, positions, health."""

from api.app import create_app

__all__ = ["create_app"]
