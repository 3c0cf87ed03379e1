"""Opening a database: the engine, the tables, and a refusal of an older layout.

A database written before the compact layout (revision r0005: text in ``document.content``,
records keyed by ``doc``, checks in sets) cannot be read or written by this code; opening
one says, in one line, to run ``extractor db upgrade`` rather than failing on a query.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import (
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)
from sqlmodel import SQLModel, create_engine

from extractor.core.errors import ConfigError, StoreError
from extractor.database import (
    SQLITE_BUSY_TIMEOUT_S,
    add_missing_columns,
    compact_json,
    parse_database_url,
    serialize_sqlite_writers,
)


def old_layout(engine: Engine) -> bool:
    """Whether the database holds documents in the layout before r0005 (text in columns)."""
    inspector = inspect(engine)
    if not inspector.has_table("document"):
        return False
    return "normalized" in {c["name"] for c in inspector.get_columns("document")}


def make_engine(url: str, *, prepare: bool = True) -> Engine:
    """Engine for a URL; a SQLite file's folder is created, tables are created if missing.

    ``prepare=False`` (``extractor db upgrade``) opens the database as it is: the
    migrations, not this function, bring an older one up to date.
    """
    import extractor.store.findings
    import extractor.store.models
    import extractor.store.tables
    import extractor.store_batches  # noqa: F401  (registers every table)

    parsed = parse_database_url(url)
    shown = parsed.render_as_string(hide_password=True)
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(parsed, pool_pre_ping=True, json_serializer=compact_json,
                               connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S} if sqlite else {})
        if sqlite:
            serialize_sqlite_writers(engine)
        if not prepare:
            engine.connect().close()
            return engine
        if old_layout(engine):
            raise StoreError(f"database {shown} was written by an older version of extractor; "
                             "run `extractor db upgrade` to migrate it (data kept)")
        try:
            SQLModel.metadata.create_all(engine)
        except (OperationalError, ProgrammingError, IntegrityError):
            # Another process created the tables between our check and our CREATE.
            SQLModel.metadata.create_all(engine)
        add_missing_columns(engine, SQLModel.metadata)
    except NoSuchModuleError as exc:
        raise ConfigError(f"database URL {shown!r}: no driver installed ({exc})") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open database {shown}: "
                         f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}") from exc
    return engine
