"""Where the book of record lives: the database URL, the embedded server, migrations, test databases.

``DATABASE_URL`` names a PostgreSQL server; without it an embedded PostgreSQL (the ``pgserver``
package, which bundles the real server binaries) is started with its data under the app's data dir.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import warnings
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

_log = logging.getLogger(__name__)

T = TypeVar("T")

#: The Alembic script directory: ``migrations/`` at the repository root, beside this package.
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

_DATABASE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class EmbeddedPostgres:
    """Handle on an embedded PostgreSQL server started from the ``pgserver`` package."""

    def __init__(self, server: Any, url: str) -> None:
        self._server = server
        self.url = url

    @property
    def pgdata(self) -> Path:
        """The server's data directory."""
        return Path(self._server.pgdata)

    def stop(self) -> None:
        """Stop the server (pgserver stops it only when this is the last process holding a handle)."""
        self._server.cleanup()


def start_embedded(pgdata: Path) -> EmbeddedPostgres:
    """Start (or attach to an already running) embedded PostgreSQL with its data in ``pgdata``.

    As root, pgserver cannot run postgres (which refuses to run as root): it creates a system user
    ``pgserver`` with ``useradd`` if missing, ``chown``s ``pgdata`` to it, adds o+rx to every parent
    directory of ``pgdata`` and of its bundled binaries, and runs ``initdb``/``pg_ctl`` as that user.
    Every parent of ``pgdata`` must stay traversable by that user while the server runs (pytest, for
    one, resets its ``/tmp/pytest-of-<user>`` to mode 0700 at each session start, so do not use it).
    The server listens on a Unix socket only (in ``pgdata``, or in a short runtime directory if that
    path is too long for a socket), never on a TCP port, so parallel servers cannot collide.
    """
    with warnings.catch_warnings():
        # pgserver resolves a runtime dir at import; without XDG_RUNTIME_DIR (any CI, any root
        # shell) platformdirs warns and falls back to /tmp/runtime-<uid>, which is fine here.
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server  # only needed when no DATABASE_URL is given

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode="stop")
    url: str = server.get_uri()
    _log.info("embedded PostgreSQL running, data in %s", pgdata)
    return EmbeddedPostgres(server, url)


def resolve_database_url(data_dir: Path) -> tuple[str, EmbeddedPostgres | None]:
    """Return ``DATABASE_URL`` if set, else start an embedded server under ``data_dir / "pgdata"``.

    The handle is ``None`` when the URL came from the environment; otherwise call its ``stop()``.
    """
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url, None
    embedded = start_embedded(data_dir / "pgdata")
    return embedded.url, embedded


def async_url(url: str) -> str:
    """The same database URL with the asyncpg driver (``postgresql+asyncpg://``)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    if scheme not in {"postgres", "postgresql"} and not scheme.startswith("postgresql+"):
        raise ValueError(f"not a PostgreSQL URL: scheme {scheme!r}")
    return f"postgresql+asyncpg://{rest}"


def database_url_for(url: str, name: str) -> str:
    """``url`` pointed at database ``name`` on the same server (keeps the scheme and query)."""
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def call_off_loop(fn: Callable[[], T]) -> T:
    """Call ``fn`` here, or in a short-lived thread if this thread is running an event loop.

    The synchronous helpers below run their own loop (``asyncio.run``), which refuses to nest in a
    running one (an async test, a FastAPI lifespan); a fresh thread has no loop.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn()

    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(fn())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=target, name="book-off-loop")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine made by ``factory`` to completion on a fresh event loop, from sync code."""
    return call_off_loop(lambda: asyncio.run(factory()))


def _check_database_name(name: str) -> str:
    # Names are interpolated into DDL (no bind parameters there), so only plain identifiers pass.
    if not _DATABASE_NAME.match(name):
        raise ValueError(f"database name {name!r} is not a plain identifier")
    return name


async def _admin_execute(admin_url: str, statement: str) -> None:
    # CREATE/DROP DATABASE cannot run inside a transaction block.
    engine = create_async_engine(async_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


def create_database(admin_url: str, name: str) -> str:
    """Create an empty database ``name`` on the server of ``admin_url``; return its URL."""
    _check_database_name(name)
    run_sync(lambda: _admin_execute(admin_url, f'CREATE DATABASE "{name}"'))
    return database_url_for(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    """Drop database ``name`` if it exists, disconnecting any sessions still attached to it."""
    _check_database_name(name)
    run_sync(lambda: _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def alembic_config(url: str) -> Config:
    """An Alembic config for ``migrations/`` and the database at ``url``, without an ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates '%' (as in percent-encoded passwords); hand the URL over untouched.
    config.attributes["database_url"] = async_url(url)
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Apply the Alembic migrations in ``migrations/`` to the database at ``url`` (to ``head``)."""
    # env.py runs its own event loop (asyncio.run), so keep it off any loop running here.
    call_off_loop(lambda: command.upgrade(alembic_config(url), revision))


def downgrade(url: str, revision: str = "base") -> None:
    """Revert the migrations of the database at ``url`` down to ``revision`` (all of them by default)."""
    call_off_loop(lambda: command.downgrade(alembic_config(url), revision))
