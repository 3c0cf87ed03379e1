"""Baseline: every table and column of the schema as of the first revision.

A database from before migrations existed may lack tables (``failure``) or columns
(``run.owner``, ``record.bbox`` …); they are created here, nullable, with the data kept.

Revision ID: r0001
"""

from __future__ import annotations

from alembic import op

revision = "r0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    import sqlalchemy as sa
    from sqlmodel import SQLModel

    import extractor.store  # noqa: F401  (registers the tables)

    bind = op.get_bind()
    SQLModel.metadata.create_all(bind)
    inspector = sa.inspect(bind)
    for table in SQLModel.metadata.sorted_tables:
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in have and column.nullable:
                op.add_column(table.name, column.copy())


def downgrade() -> None:
    raise NotImplementedError("the baseline is not undone: restore a backup instead")
