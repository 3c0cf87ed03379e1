"""Batch API jobs: the ``batch_job`` table (``extractor run --batch``).

A database written before batch runs existed has no such table; it is created empty.
Opening a database with the newer code creates it as well, so this revision is a no-op
there.

Revision ID: r0004
"""

from __future__ import annotations

from alembic import op

revision = "r0004"
down_revision = "r0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    import sqlalchemy as sa

    from extractor.store_batches import BatchJob

    bind = op.get_bind()
    if not sa.inspect(bind).has_table(BatchJob.__tablename__):
        BatchJob.__table__.create(bind)  # type: ignore[attr-defined]


def downgrade() -> None:
    op.drop_table("batch_job")
