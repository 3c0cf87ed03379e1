"""Compact storage: offsets as runs, check details without their repeated columns.

Databases written before offsets were packed hold one JSON integer per character of the
text (about 8 bytes a character); they become ``{"runs": [[clean, raw, length], …]}``.
Check details repeated the rule, name and verdict that have columns of their own.
Both are read either way, so the upgrade changes size, not results.

Revision ID: r0002
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "r0002"
down_revision = "r0001"
branch_labels = None
depends_on = None

_REPEATED = ("rule", "name", "passed")


def upgrade() -> None:
    from extractor.database import pack_offsets

    bind = op.get_bind()
    inspector = sa.inspect(bind)
    meta = sa.MetaData()
    if "offsets" in {c["name"] for c in inspector.get_columns("document")}:
        _offsets(bind, meta, pack_offsets)
    if inspector.has_table("checkresult"):  # a database in the layout of r0005 has none
        _details(bind, meta)


def _offsets(bind: Any, meta: sa.MetaData, pack_offsets: Any) -> None:
    document = sa.Table("document", meta, sa.Column("sha256", sa.String, primary_key=True),
                        sa.Column("offsets", sa.JSON))
    for sha, offsets in bind.execute(sa.select(document.c.sha256, document.c.offsets)).all():
        if isinstance(offsets, list):
            bind.execute(document.update().where(document.c.sha256 == sha)
                         .values(offsets={"runs": pack_offsets(offsets)}))


def _details(bind: Any, meta: sa.MetaData) -> None:
    check = sa.Table("checkresult", meta, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("detail", sa.JSON))
    updates: list[dict[str, Any]] = []
    for row_id, detail in bind.execute(sa.select(check.c.id, check.c.detail)).all():
        if isinstance(detail, dict) and any(k in detail for k in _REPEATED):
            updates.append({"row": row_id, "new_detail": {k: v for k, v in detail.items()
                                                      if k not in _REPEATED}})
    if updates:
        bind.execute(check.update().where(check.c.id == sa.bindparam("row"))
                     .values(detail=sa.bindparam("new_detail")), updates)


def downgrade() -> None:
    raise NotImplementedError("compaction is not undone: both forms are read")
