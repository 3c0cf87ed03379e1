"""Database plumbing under the store: URLs, engines shared by processes, idempotent writes.

Kept apart from :mod:`extractor.store` (the tables and their queries) because it is about
how several processes share one database safely: SQLite writers take the lock up front
instead of deadlocking, inserts are insert-or-get on a natural key, runs name the process
working on them, and a document's offset map is stored compactly.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import MetaData, event, inspect
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError
from sqlmodel import Session

from extractor.core.errors import ConfigError


def _now() -> datetime:
    return datetime.now(UTC)


SQLITE_BUSY_TIMEOUT_S = 120
"""How long a SQLite writer waits for another process's transaction (a large document's
pages and chunks take seconds to write)."""
OWNER_STALE_AFTER = timedelta(minutes=15)
"""A run owned by a process on another host with no heartbeat for this long is resumable."""


def parse_database_url(url: str) -> URL:
    """A supported SQLAlchemy URL, or a :class:`ConfigError` saying what is wrong with it."""
    setting = "database URL (--db / EXTRACTOR_DATABASE_URL)"
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"{setting} {url!r} is not a URL; expected sqlite:///PATH or "
                          "postgresql://USER@HOST/DB") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql", "postgres"):
        raise ConfigError(f"{setting} {parsed.render_as_string(hide_password=True)!r}: "
                          f"unsupported database {backend!r}; use sqlite or postgresql")
    if backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def serialize_sqlite_writers(engine: Engine) -> None:
    """Every SQLite transaction takes the write lock up front (``BEGIN IMMEDIATE``).

    With the default deferred transactions two processes that both read and then write
    deadlock, and SQLite fails one at once ("database is locked") instead of waiting;
    taking the lock first makes the other wait its turn (busy timeout) instead.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def add_missing_columns(engine: Engine, metadata: MetaData) -> None:
    """Columns added since a database was created (all nullable), so old files keep working."""
    inspector = inspect(engine)
    for table in metadata.sorted_tables:
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in have or not column.nullable:
                continue
            kind = column.type.compile(dialect=engine.dialect)
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}')
            except (OperationalError, ProgrammingError):  # another process added it first
                if column.name not in {c["name"] for c in inspect(engine).get_columns(table.name)}:
                    raise


def process_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str | None, heartbeat: datetime | None) -> bool:
    """Whether the process named ``owner`` may still be working on its run."""
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if heartbeat is None:
        return False
    beat = heartbeat if heartbeat.tzinfo else heartbeat.replace(tzinfo=UTC)
    return _now() - beat < OWNER_STALE_AFTER


def insert_ignore(session: Session, table: Any, values: dict[str, Any], keys: list[str]) -> bool:
    """``INSERT … ON CONFLICT DO NOTHING``; True when this call inserted the row."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    # RETURNING, not rowcount: psycopg reports no rowcount for a conflict-skipping insert
    return session.execute(stmt.returning(*(table.c[k] for k in keys))).first() is not None


def pack_offsets(offsets: Sequence[int]) -> list[list[int]]:
    """Offsets as runs ``[clean start, raw start, length]`` of consecutive raw indices.

    Normalization deletes a few characters and keeps the rest in order, so a document's
    offset map is a handful of runs, not one JSON number per character (a 5-million
    character document's map would be a 40 MB JSON value).
    """
    runs: list[list[int]] = []
    for i, raw in enumerate(offsets):
        if runs and raw == runs[-1][1] + runs[-1][2] and i == runs[-1][0] + runs[-1][2]:
            runs[-1][2] += 1
        else:
            runs.append([i, raw, 1])
    return runs


def unpack_offsets(stored: Any) -> list[int]:
    """Offsets from :func:`pack_offsets` runs, or a plain list (databases written before)."""
    if isinstance(stored, dict):
        return [raw + k for _start, raw, length in stored["runs"] for k in range(length)]
    return list(stored or [])
