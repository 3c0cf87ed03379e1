"""Lean storage: a document's text once and compressed, records keyed by an integer,
checks as one compressed set per document.

Before, a document's text was stored three times, uncompressed (``document.normalized``,
``page.raw``, ``chunk.text``), every record repeated the document's 64-character hash
(and its index), a record's quote repeated the text between its offsets, and every check
repeated its figures' quotes and labels. This revision converts the data in place:

* ``document.content`` = normalized text, offsets, raw pages and chunks, compressed
  (:func:`extractor.store.content.pack_parts`); ``document.key`` = the integer key;
  ``document.normalized``/``offsets``, ``page.raw`` and the ``chunk`` table go;
* ``record.doc`` replaces ``record.document``; a quote equal to the text between its
  offsets becomes NULL (read back from the text); one index on ``(run_id, doc)``;
* ``checkresult`` rows become one ``checkset`` per run and document, keeping their order;
* ``doccell`` rows become one compressed ``doctable.grid`` per table.

Every step looks before it acts, so a database already in this layout is left alone.

Revision ID: r0005 (after r0004, the batch-job table: a database already at r0004 is still
converted)
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "r0005"
down_revision = "r0004"
branch_labels = None
depends_on = None


def _columns(bind: Any, table: str) -> set[str]:
    inspector = sa.inspect(bind)
    return {c["name"] for c in inspector.get_columns(table)} if inspector.has_table(table) else set()


def _indexes(bind: Any, table: str) -> set[str]:
    return {str(i["name"]) for i in sa.inspect(bind).get_indexes(table)}


def upgrade() -> None:
    bind = op.get_bind()
    if "normalized" in _columns(bind, "document"):
        _documents(bind)
    if "raw" in _columns(bind, "page"):
        with op.batch_alter_table("page") as batch:
            batch.drop_column("raw")
    if sa.inspect(bind).has_table("chunk"):
        op.drop_table("chunk")
    if "document" in _columns(bind, "record"):
        _records(bind)
    if sa.inspect(bind).has_table("checkresult"):
        _checks(bind)
    if sa.inspect(bind).has_table("doccell"):
        _cells(bind)


def _documents(bind: Any) -> None:
    from extractor.store.content import pack_parts
    from extractor.store.models import document_key

    have = _columns(bind, "document")
    for name, kind in (("key", sa.BigInteger()), ("content", sa.LargeBinary()), ("chunks", sa.Integer())):
        if name not in have:
            op.add_column("document", sa.Column(name, kind, nullable=True))
    meta = sa.MetaData()
    document = sa.Table("document", meta, sa.Column("sha256", sa.String, primary_key=True),
                        sa.Column("normalized", sa.Text), sa.Column("offsets", sa.JSON),
                        sa.Column("key", sa.BigInteger), sa.Column("content", sa.LargeBinary),
                        sa.Column("chunks", sa.Integer))
    page = sa.Table("page", meta, sa.Column("document", sa.String), sa.Column("number", sa.Integer),
                    sa.Column("raw", sa.Text))
    with_chunks = sa.inspect(bind).has_table("chunk")
    chunk = sa.Table("chunk", meta, *(sa.Column(n, t) for n, t in (
        ("document", sa.String), ("index", sa.Integer), ("heading_path", sa.JSON), ("kind", sa.String),
        ("page_start", sa.Integer), ("page_end", sa.Integer), ("start", sa.Integer),
        ("end", sa.Integer), ("tokens", sa.Integer), ("text", sa.Text))))
    for (sha,) in bind.execute(sa.select(document.c.sha256)).all():
        text, offsets = bind.execute(sa.select(document.c.normalized, document.c.offsets)
                                     .where(document.c.sha256 == sha)).one()
        pages = [raw for (raw,) in bind.execute(sa.select(page.c.raw).where(page.c.document == sha)
                                                .order_by(page.c.number))]
        chunks: list[list[Any]] = []
        if with_chunks:
            for row in bind.execute(sa.select(*(c for c in chunk.c if c.name != "document"))
                                    .where(chunk.c.document == sha).order_by(chunk.c["index"])):
                index, path, kind, ps, pe, start, end, tokens, own = row
                same = own is None or own == text[start:end]
                chunks.append([index, path, kind, ps, pe, start, end, tokens, None if same else own])
        bind.execute(document.update().where(document.c.sha256 == sha).values(
            key=document_key(sha), content=pack_parts(text, offsets, pages, chunks),
            chunks=len(chunks)))
    with op.batch_alter_table("document") as batch:
        batch.drop_column("normalized")
        batch.drop_column("offsets")
        batch.alter_column("key", existing_type=sa.BigInteger(), nullable=False)
        batch.alter_column("content", existing_type=sa.LargeBinary(), nullable=False)
        batch.alter_column("chunks", existing_type=sa.Integer(), nullable=False)
        batch.create_unique_constraint("uq_document_key", ["key"])


def _records(bind: Any) -> None:
    from extractor.store.content import unpack

    if "doc" not in _columns(bind, "record"):
        op.add_column("record", sa.Column("doc", sa.BigInteger(), nullable=True))
    meta = sa.MetaData()
    document = sa.Table("document", meta, sa.Column("sha256", sa.String, primary_key=True),
                        sa.Column("key", sa.BigInteger), sa.Column("content", sa.LargeBinary))
    record = sa.Table("record", meta, sa.Column("id", sa.Integer, primary_key=True),
                      sa.Column("document", sa.String), sa.Column("doc", sa.BigInteger),
                      sa.Column("quote", sa.Text), sa.Column("start", sa.Integer),
                      sa.Column("end", sa.Integer))
    bind.execute(record.update().values(doc=sa.select(document.c.key)
                                        .where(document.c.sha256 == record.c.document)
                                        .scalar_subquery()))
    for sha, content in bind.execute(sa.select(document.c.sha256, document.c.content)).all():
        text = unpack(content).text
        derived = [{"row": row_id} for row_id, quote, start, end in bind.execute(
            sa.select(record.c.id, record.c.quote, record.c.start, record.c.end).where(
                record.c.document == sha, record.c.quote.is_not(None), record.c.start.is_not(None),
                record.c.end.is_not(None)))
            if 0 <= start <= end <= len(text) and text[start:end] == quote]
        if derived:
            bind.execute(record.update().where(record.c.id == sa.bindparam("row"))
                         .values(quote=None), derived)
    have = _indexes(bind, "record")
    with op.batch_alter_table("record") as batch:
        for name in ("ix_record_document", "ix_record_run_id"):
            if name in have:
                batch.drop_index(name)
        batch.drop_column("document")
        batch.alter_column("doc", existing_type=sa.BigInteger(), nullable=False)
        batch.create_foreign_key("fk_record_doc", "document", ["doc"], ["key"])
        batch.create_index("ix_record_run_doc", ["run_id", "doc"])


def _checks(bind: Any) -> None:
    from extractor.store.records import pack_checks

    if not sa.inspect(bind).has_table("checkset"):
        op.create_table(
            "checkset", sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("run_id", sa.Integer, sa.ForeignKey("run.id"), nullable=False, index=True),
            sa.Column("document", sa.String, sa.ForeignKey("document.sha256"), nullable=False),
            sa.Column("checks", sa.Integer, nullable=False),
            sa.Column("failing", sa.Integer, nullable=False),
            sa.Column("data", sa.LargeBinary, nullable=False),
            sa.UniqueConstraint("run_id", "document"))
    meta = sa.MetaData()
    old = sa.Table("checkresult", meta, sa.Column("id", sa.Integer, primary_key=True),
                   sa.Column("run_id", sa.Integer), sa.Column("document", sa.String),
                   sa.Column("rule", sa.String), sa.Column("name", sa.String),
                   sa.Column("passed", sa.Boolean), sa.Column("detail", sa.JSON))
    sets = sa.Table("checkset", meta, sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("run_id", sa.Integer), sa.Column("document", sa.String),
                    sa.Column("checks", sa.Integer), sa.Column("failing", sa.Integer),
                    sa.Column("data", sa.LargeBinary))
    # one document's checks at a time (a run's checks may not fit in memory), found by an index
    op.create_index("ix_checkresult_run_document", "checkresult", ["run_id", "document"])
    groups = bind.execute(sa.select(old.c.run_id, old.c.document).distinct()).all()
    for run_id, document in groups:
        stored = bind.execute(sa.select(old).where(old.c.run_id == run_id, old.c.document == document)
                              .order_by(old.c.id)).all()
        checks = [{"rule": r.rule, "name": r.name, "passed": bool(r.passed), "detail": r.detail}
                  for r in stored]
        # the set takes its first check's id: a run's checks keep the order they were stored in
        bind.execute(sets.insert().values(id=stored[0].id, run_id=run_id, document=document,
                                          checks=len(checks),
                                          failing=sum(not c["passed"] for c in checks),
                                          data=pack_checks(checks)))
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text("SELECT setval(pg_get_serial_sequence('checkset', 'id'), "
                             "COALESCE((SELECT MAX(id) FROM checkset), 0) + 1, false)"))
    op.drop_table("checkresult")


def _cells(bind: Any) -> None:
    from extractor.store.tables import pack_cells

    have = _columns(bind, "doctable")
    for name, kind in (("cells", sa.Integer()), ("grid", sa.LargeBinary())):
        if name not in have:
            op.add_column("doctable", sa.Column(name, kind, nullable=True))
    meta = sa.MetaData()
    tables = sa.Table("doctable", meta, sa.Column("id", sa.Integer, primary_key=True),
                      sa.Column("cells", sa.Integer), sa.Column("grid", sa.LargeBinary))
    cell = sa.Table("doccell", meta, *(sa.Column(n, t) for n, t in (
        ("table_id", sa.Integer), ("row", sa.Integer), ("col", sa.Integer), ("row_span", sa.Integer),
        ("col_span", sa.Integer), ("text", sa.Text), ("x0", sa.Float), ("y0", sa.Float),
        ("x1", sa.Float), ("y1", sa.Float), ("page", sa.Integer), ("start", sa.Integer),
        ("end", sa.Integer), ("is_header", sa.Boolean), ("header_path", sa.JSON),
        ("row_label", sa.String))))
    for (table_id,) in bind.execute(sa.select(tables.c.id)).all():
        cells = []
        for c in bind.execute(sa.select(cell).where(cell.c.table_id == table_id)
                              .order_by(cell.c.row, cell.c.col)).mappings():
            box = [c["x0"], c["y0"], c["x1"], c["y1"]]
            cells.append({**{k: c[k] for k in ("row", "col", "row_span", "col_span", "text", "page",
                                               "start", "end", "header_path", "row_label")},
                          "is_header": bool(c["is_header"]),
                          "bbox": None if any(v is None for v in box) else box})
        bind.execute(tables.update().where(tables.c.id == table_id)
                     .values(cells=len(cells), grid=pack_cells(cells)))
    with op.batch_alter_table("doctable") as batch:
        batch.alter_column("cells", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("grid", existing_type=sa.LargeBinary(), nullable=False)
    op.drop_table("doccell")


def downgrade() -> None:
    raise NotImplementedError("the lean layout is not undone: restore a backup instead")
