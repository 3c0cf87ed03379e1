"""``extractor db upgrade``: a database in an older layout is migrated in place and scores,
exports, explains and reviews the same.

The older layouts are built the way the code of their time wrote them (the tables below
are the SQLite schema of revision r0002, copied from a database it created): the text three
times (``document.normalized``, ``page.raw``, ``chunk.text``), records keyed by the
document's hash with their quotes, one ``checkresult`` row per check with its figures in
full, one ``doccell`` row per table cell. The oldest layout (before migrations existed)
also has one JSON integer per character for offsets, check details repeating their
columns, no evidence-location or run-owner columns and no version table.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from extractor.cli import main
from extractor.database import parse_database_url
from extractor.evaluate.schema import load_dir
from extractor.evaluate.score import format_table, score_dirs
from extractor.migrations import head
from extractor.pipeline import predictions
from extractor.store import Store
from extractor.store.content import unpack
from tests.conftest import GOLD, SAMPLE_IDS, SAMPLES
from tests.test_tables import make_report


def _r0002_tables(meta: sa.MetaData) -> None:
    """The tables revision r0002 wrote that r0005 changes, as its code declared them."""
    def text(name: str) -> sa.Column[Any]:
        return sa.Column(name, sa.Text)

    def number(name: str, null: bool = False) -> sa.Column[Any]:
        return sa.Column(name, sa.Integer, nullable=null)

    def to_document() -> sa.Column[Any]:
        return sa.Column("document", sa.String, sa.ForeignKey("document.sha256"), nullable=False)

    sa.Table("document", meta, sa.Column("sha256", sa.String(64), primary_key=True),
             *(sa.Column(n, sa.String, nullable=False) for n in ("doc_id", "path", "media_type")),
             number("pages"), number("ocr_pages"), text("normalized"), sa.Column("offsets", sa.JSON),
             sa.Column("page_starts", sa.JSON), sa.Column("created", sa.DateTime, nullable=False))
    sa.Table("page", meta, sa.Column("id", sa.Integer, primary_key=True), to_document(),
             number("number"), text("raw"), sa.Column("source", sa.String, nullable=False),
             sa.Column("confidence", sa.Float), sa.UniqueConstraint("document", "number"))
    sa.Table("chunk", meta, sa.Column("id", sa.Integer, primary_key=True), to_document(),
             number("index"), sa.Column("heading_path", sa.JSON), sa.Column("kind", sa.String),
             *(number(n) for n in ("page_start", "page_end", "start", "end", "tokens")), text("text"),
             sa.UniqueConstraint("document", "index"))
    sa.Table("record", meta, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("run_id", sa.Integer, sa.ForeignKey("run.id"), nullable=False, index=True),
             sa.Column("document", sa.String, sa.ForeignKey("document.sha256"), nullable=False,
                       index=True),
             sa.Column("field", sa.String, nullable=False), sa.Column("key", sa.JSON),
             sa.Column("value", sa.JSON), sa.Column("raw", sa.String), number("decimals", True),
             text("quote"), *(number(n, True) for n in ("chunk_index", "page", "start", "end")),
             sa.Column("bbox", sa.JSON), sa.Column("row_label", sa.String),
             sa.Column("column_header", sa.String), sa.Column("extractor", sa.String, nullable=False),
             number("priority"), sa.Column("status", sa.String, nullable=False),
             sa.Column("note", sa.String))
    sa.Table("doccell", meta, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("table_id", sa.Integer, sa.ForeignKey("doctable.id"), nullable=False, index=True),
             number("row"), number("col"), number("row_span"), number("col_span"),
             sa.Column("text", sa.Text, nullable=False),
             *(sa.Column(n, sa.Float) for n in ("x0", "y0", "x1", "y1")),
             *(number(n, True) for n in ("page", "start", "end")),
             sa.Column("is_header", sa.Boolean, nullable=False), sa.Column("header_path", sa.JSON),
             sa.Column("row_label", sa.String))
    sa.Table("checkresult", meta, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("run_id", sa.Integer, sa.ForeignKey("run.id"), nullable=False, index=True),
             to_document(), sa.Column("rule", sa.String, nullable=False),
             sa.Column("name", sa.String, nullable=False), sa.Column("passed", sa.Boolean, nullable=False),
             sa.Column("detail", sa.JSON))


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if rows:  # (an empty list would insert one row of defaults)
        conn.execute(table.insert(), rows)


def _rewrite_as_old(url: str, *, stamp: str | None) -> None:
    """Rewrite a database into the layout of revision r0002, stamped ``stamp`` (r0002, or
    r0004: the same layout with the batch-job table), or of before migrations (None)."""
    unversioned = stamp is None
    from extractor.database import pack_offsets
    from extractor.store import Document, Page, Record
    from extractor.store.tables import DocTable

    store = Store.open(url)
    checks = [c for run in store.runs() for c in store.checks(run.id or 0)]
    with store.session() as s:
        stored_tables = list(s.exec(select(DocTable)))
        docs = list(s.exec(select(Document)))
        pages = list(s.exec(select(Page).order_by(col(Page.document), col(Page.number))))
        records = list(s.exec(select(Record).order_by(col(Record.id))))
    grids = [(t.id, store.tables(t.document)[t.index]) for t in stored_tables]
    engine = store.engine
    meta = sa.MetaData()
    _r0002_tables(meta)
    sa.Table("run", meta, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table("doctable", meta, sa.Column("id", sa.Integer, primary_key=True))
    t = meta.tables
    dropped = ("record", "checkset", "page", "document")
    inspector = sa.inspect(engine)
    keep = [(table, fk["constrained_columns"][0]) for table in inspector.get_table_names()
            if table not in dropped for fk in inspector.get_foreign_keys(table)
            if fk["referred_table"] == "document"]
    with engine.begin() as conn:
        for table in dropped:  # PostgreSQL drops the other tables' keys to them too: put back below
            cascade = " CASCADE" if engine.dialect.name != "sqlite" else ""
            conn.execute(sa.text(f"DROP TABLE {table}{cascade}"))
        meta.create_all(conn, tables=[t[n] for n in ("document", "page", "chunk", "record", "checkresult",
                                                     "doccell")])
        for column in ("cells", "grid"):
            conn.execute(sa.text(f'ALTER TABLE doctable DROP COLUMN "{column}"'))
        texts: dict[int, tuple[str, str]] = {}
        for d in docs:
            packed = unpack(d.content)
            texts[d.key] = (d.sha256, packed.text)
            offsets = packed.offsets if unversioned else {"runs": pack_offsets(packed.offsets)}
            conn.execute(t["document"].insert().values(
                sha256=d.sha256, doc_id=d.doc_id, path=d.path, media_type=d.media_type, pages=d.pages,
                ocr_pages=d.ocr_pages, normalized=packed.text, offsets=offsets,
                page_starts=d.page_starts, created=d.created))
            mine = [p for p in pages if p.document == d.sha256]
            _insert(conn, t["page"], [{"document": p.document, "number": p.number, "raw": raw,
                                               "source": p.source, "confidence": p.confidence}
                                              for p, raw in zip(mine, packed.pages, strict=True)])
            _insert(conn, t["chunk"], [
                {"document": d.sha256, "index": c.index, "heading_path": c.heading_path, "kind": c.kind,
                 "page_start": c.page_start, "page_end": c.page_end, "start": c.start, "end": c.end,
                 "tokens": c.tokens,
                 "text": None if c.text == packed.text[c.start:c.end] and not unversioned else c.text}
                for c in packed.chunks])
        rows = []
        for r in records:
            sha, text = texts[r.doc]
            row = r.model_dump(exclude={"doc"})
            if row["quote"] is None and r.start is not None:
                row["quote"] = text[r.start:r.end]
            rows.append({**row, "document": sha})
        _insert(conn, t["record"], rows)
        _insert(conn, t["doccell"], [
            {"table_id": table_id, "row": c.row, "col": c.col, "row_span": c.row_span,
             "col_span": c.col_span, "text": c.text, "page": c.page, "start": c.start, "end": c.end,
             "is_header": c.is_header, "header_path": list(c.header_path) or None,
             "row_label": c.row_label or None,
             **dict(zip(("x0", "y0", "x1", "y1"), c.bbox or (None, None, None, None), strict=True))}
            for table_id, grid in grids for c in grid.cells])
        _insert(conn, t["checkresult"], [
            {"run_id": c.run_id, "document": c.document, "rule": c.rule, "name": c.name,
             "passed": c.passed,
             "detail": {"rule": c.rule, "name": c.name, "passed": c.passed, **(c.detail or {})}
             if unversioned else c.detail} for c in checks])
        if engine.dialect.name != "sqlite":
            for table, column in keep:
                conn.execute(sa.text(f'ALTER TABLE "{table}" ADD FOREIGN KEY ("{column}") '
                                     "REFERENCES document (sha256)"))
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        if unversioned:
            for table, column in [("record", "bbox"), ("record", "row_label"), ("record", "column_header"),
                                  ("run", "inputs"), ("run", "owner"), ("run", "heartbeat")]:
                conn.execute(sa.text(f'ALTER TABLE "{table}" DROP COLUMN "{column}"'))
        else:
            conn.execute(sa.text("CREATE TABLE alembic_version "
                                 "(version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
            conn.execute(sa.text(f"INSERT INTO alembic_version VALUES ('{stamp}')"))
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        raw.driver_connection.execute("VACUUM")  # type: ignore[union-attr]
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        raw.close()
    engine.dispose()


def _views(url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> dict[str, Any]:
    """What users see of run 1: its score, export, checks, chunks and review pages."""
    from extractor.service.review import build

    store = Store.open(url)
    out = tmp_path / name
    assert main(["--db", url, "eval", "export", "--run", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    shown: dict[str, Any] = {
        "score": format_table(score_dirs(load_dir(GOLD), predictions(store, 1))),
        "export": {p.name: p.read_bytes() for p in out.iterdir()}}
    for argv in (["checks", "1", "--json"], ["eval", "score", "--gold", str(GOLD), "--run", "1"],
                 *(["chunks", d.doc_id, "--text"] for d in store.documents()),
                 *(["tables", d.doc_id, "--json"] for d in store.documents())):
        assert main(["--db", url, *argv]) in (0, 1)
        shown[" ".join(argv)] = capsys.readouterr().out
    for doc in store.documents():
        review = build(store, doc, 1, tmp_path / "blobs")
        shown[f"review {doc.doc_id}"] = json.dumps(review, ensure_ascii=False, default=str)
    store.engine.dispose()
    return shown


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["r0002", "r0004", "unversioned"])
def test_old_layout_database_is_upgraded_in_place_and_shows_the_same(
        store_url: str, layout: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for doc_id in SAMPLE_IDS[:2]:
        shutil.copy(SAMPLES / f"{doc_id}.txt", folder)
    make_report(folder / "tabled.pdf")  # a born-digital report with tables (cells)
    url = store_url
    assert main(["--db", url, "run", str(folder), "--extractor", "rules", "--workers", "1",
                 "--gold", str(tmp_path / "none")]) in (0, 1)
    before = _views(url, tmp_path, capsys, "before")
    assert len(before["export"]) == 3 and json.loads(before["checks 1 --json"])["checks"]
    assert json.loads(before["tables tabled --json"])["tables"][0]["cells"]
    _rewrite_as_old(url, stamp=None if layout == "unversioned" else layout)

    assert main(["--db", url, "docs"]) == 2
    assert "run `extractor db upgrade`" in capsys.readouterr().err, "an old database is refused, with the fix"
    assert main(["--db", url, "db", "upgrade"]) == 0
    origin = "an unversioned schema" if layout == "unversioned" else layout
    assert f"upgraded from {origin} to revision {head()}" in capsys.readouterr().out
    engine = sa.create_engine(parse_database_url(url))
    inspector = sa.inspect(engine)
    tables = set(inspector.get_table_names())
    document_columns = {c["name"] for c in inspector.get_columns("document")}
    record_columns = {c["name"] for c in inspector.get_columns("record")}
    with engine.connect() as conn:
        rows, quotes = conn.execute(sa.text("SELECT COUNT(*), COUNT(quote) FROM record")).one()
    engine.dispose()
    assert not {"chunk", "checkresult", "doccell"} & tables and "checkset" in tables
    assert {"content", "key"} <= document_columns and "normalized" not in document_columns
    assert {"doc", "bbox", "row_label", "column_header"} <= record_columns
    assert "document" not in record_columns
    assert rows > 100 and quotes < rows / 10, "quotes equal to the text between their offsets are not kept"

    assert _views(url, tmp_path, capsys, "after") == before
    assert main(["--db", url, "reconcile", "--run", "1"]) == 0, "the migrated database takes new checks"
    assert _views(url, tmp_path, capsys, "again") == before
    assert main(["--db", url, "db", "upgrade"]) == 0
    assert f"already at revision {head()}" in capsys.readouterr().out


@pytest.mark.slow
def test_upgrade_gives_the_space_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """On SQLite the file shrinks: the text three times becomes once, compressed."""
    folder = tmp_path / "in"
    folder.mkdir()
    for doc_id in SAMPLE_IDS[:2]:
        shutil.copy(SAMPLES / f"{doc_id}.txt", folder)
    db = tmp_path / "old.db"
    url = f"sqlite:///{db}"
    assert main(["--db", url, "run", str(folder), "--extractor", "rules", "--workers", "1",
                 "--gold", str(tmp_path / "none")]) in (0, 1)
    _rewrite_as_old(url, stamp="r0002")
    old_size = db.stat().st_size
    assert main(["--db", url, "db", "upgrade"]) == 0
    assert db.stat().st_size < old_size / 3


def test_upgrading_a_database_written_in_this_layout_changes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import text_document

    url = f"sqlite:///{tmp_path / 'new.db'}"
    store = Store.open(url)
    doc = text_document(SAMPLE_IDS[0])
    store.save_document(doc)
    assert main(["--db", url, "db", "upgrade"]) == 0
    assert f"upgraded from an unversioned schema to revision {head()}" in capsys.readouterr().out
    assert Store.open(url).load_document(doc.sha256).normalized == doc.normalized
