"""Schema migrations (Alembic): an old database is upgraded in place, never recreated.

``extractor db upgrade`` runs :func:`upgrade`. The revisions live in ``versions/``; each is
idempotent on databases that already have part of it (a database opened by a newer
version of the code has the new columns already: :func:`extractor.database.add_missing_columns`
adds nullable ones on open), so upgrading any database written by any earlier version is
safe, and upgrading twice is a no-op.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

HERE = Path(__file__).resolve().parent


def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["engine"] = engine
    return config


def current(engine: Engine) -> str | None:
    """The revision a database is at (None: never upgraded, an old database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str:
    revision = ScriptDirectory.from_config(_config_without_engine()).get_current_head()
    assert revision is not None
    return revision


def _config_without_engine() -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    return config


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring a database to the newest revision; returns (revision before, revision after).

    SQLite files are vacuumed afterwards, so space freed by compaction is given back.
    """
    before = current(engine)
    command.upgrade(_config(engine), "head")
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()  # outside SQLAlchemy's transaction (BEGIN IMMEDIATE)
        try:
            raw.driver_connection.execute("VACUUM")  # type: ignore[union-attr]
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        finally:
            raw.close()
    return before, head()
