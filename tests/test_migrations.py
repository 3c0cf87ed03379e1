"""``extractor db upgrade``: a database in an older layout is migrated in place and scores,
exports, explains and reviews the same.

The older layouts are built the way the code of their time wrote them (the tables below
are the SQLite schema of revision r0002, copied from a database it created): the text three
times (``document.normalized``, ``page.raw``, ``chunk.text``), records keyed by the
document's hash with their quotes, one ``checkresult`` row per check with its figures in
full. The oldest layout (before migrations existed) also has one JSON integer per
character for offsets, check details repeating their columns, no evidence-location or
run-owner columns and no version table.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from extractor.cli import main
from extractor.evaluate.schema import load_dir
from extractor.evaluate.score import format_table, score_dirs
from extractor.migrations import head
from extractor.pipeline import predictions
from extractor.store import Store
from extractor.store.content import unpack
from tests.conftest import GOLD, SAMPLE_IDS, SAMPLES

R0002_TABLES = """
CREATE TABLE document (
    sha256 VARCHAR(64) NOT NULL, doc_id VARCHAR NOT NULL, path VARCHAR NOT NULL,
    media_type VARCHAR NOT NULL, pages INTEGER NOT NULL, ocr_pages INTEGER NOT NULL,
    normalized TEXT, offsets JSON, page_starts JSON, created DATETIME NOT NULL,
    PRIMARY KEY (sha256));
CREATE INDEX ix_document_doc_id ON document (doc_id);
CREATE TABLE page (
    id INTEGER NOT NULL, document VARCHAR NOT NULL, number INTEGER NOT NULL, raw TEXT,
    source VARCHAR NOT NULL, confidence FLOAT, PRIMARY KEY (id), UNIQUE (document, number),
    FOREIGN KEY(document) REFERENCES document (sha256));
CREATE INDEX ix_page_document ON page (document);
CREATE TABLE chunk (
    id INTEGER NOT NULL, document VARCHAR NOT NULL, "index" INTEGER NOT NULL, heading_path JSON,
    kind VARCHAR NOT NULL, page_start INTEGER NOT NULL, page_end INTEGER NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, tokens INTEGER NOT NULL, text TEXT,
    PRIMARY KEY (id), UNIQUE (document, "index"), FOREIGN KEY(document) REFERENCES document (sha256));
CREATE INDEX ix_chunk_document ON chunk (document);
CREATE TABLE record (
    id INTEGER NOT NULL, run_id INTEGER NOT NULL, document VARCHAR NOT NULL, field VARCHAR NOT NULL,
    "key" JSON, value JSON, raw VARCHAR, decimals INTEGER, quote TEXT, chunk_index INTEGER,
    page INTEGER, start INTEGER, "end" INTEGER, bbox JSON, row_label VARCHAR, column_header VARCHAR,
    extractor VARCHAR NOT NULL, priority INTEGER NOT NULL, status VARCHAR NOT NULL, note VARCHAR,
    PRIMARY KEY (id), FOREIGN KEY(run_id) REFERENCES run (id),
    FOREIGN KEY(document) REFERENCES document (sha256));
CREATE INDEX ix_record_run_id ON record (run_id);
CREATE INDEX ix_record_document ON record (document);
CREATE TABLE checkresult (
    id INTEGER NOT NULL, run_id INTEGER NOT NULL, document VARCHAR NOT NULL, rule VARCHAR NOT NULL,
    name VARCHAR NOT NULL, passed BOOLEAN NOT NULL, detail JSON, PRIMARY KEY (id),
    FOREIGN KEY(run_id) REFERENCES run (id), FOREIGN KEY(document) REFERENCES document (sha256));
CREATE INDEX ix_checkresult_run_id ON checkresult (run_id);
"""

RECORD_COLUMNS = ("id", "run_id", "field", "key", "value", "raw", "decimals", "quote", "chunk_index",
                  "page", "start", "end", "bbox", "row_label", "column_header", "extractor", "priority",
                  "status", "note")


def _rewrite_as_old(db: Path, url: str, *, unversioned: bool) -> None:
    """Rewrite a database into the layout of revision r0002 (or of before migrations)."""
    store = Store.open(url)
    runs = [r.id or 0 for r in store.runs()]
    checks = [c for run in runs for c in store.checks(run)]
    store.engine.dispose()
    con = sqlite3.connect(db)
    docs = con.execute("SELECT sha256, key, doc_id, path, media_type, pages, ocr_pages, content, "
                       "page_starts, created FROM document").fetchall()
    texts: dict[int, tuple[str, str]] = {}
    pages = con.execute("SELECT document, number, source, confidence FROM page ORDER BY document, number"
                        ).fetchall()
    records = con.execute(f"SELECT doc, {_quoted(RECORD_COLUMNS)} FROM record ORDER BY id").fetchall()
    for table in ("record", "checkset", "page", "document"):
        con.execute(f"DROP TABLE {table}")
    con.executescript(R0002_TABLES)
    for sha, key, doc_id, path, media, n_pages, ocr, content, starts, created in docs:
        packed = unpack(content)
        texts[key] = (sha, packed.text)
        offsets: Any = {"runs": json.loads(_runs(packed.offsets))}
        if unversioned:
            offsets = packed.offsets  # one integer per character
        con.execute("INSERT INTO document VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (sha, doc_id, path, media, n_pages, ocr, packed.text, json.dumps(offsets), starts,
                     created))
        raws = iter(packed.pages)
        for document, number, source, confidence in (p for p in pages if p[0] == sha):
            con.execute("INSERT INTO page (document, number, raw, source, confidence) VALUES (?,?,?,?,?)",
                        (document, number, next(raws), source, confidence))
        for c in packed.chunks:
            own = None if c.text == packed.text[c.start:c.end] else c.text
            con.execute('INSERT INTO chunk (document, "index", heading_path, kind, page_start, page_end, '
                        'start, "end", tokens, text) VALUES (?,?,?,?,?,?,?,?,?,?)',
                        (sha, c.index, json.dumps(c.heading_path, ensure_ascii=False), c.kind,
                         c.page_start, c.page_end, c.start, c.end, c.tokens, own if not unversioned
                         else c.text))
    for doc, *values in records:
        row = dict(zip(RECORD_COLUMNS, values, strict=True))
        sha, text = texts[doc]
        if row["quote"] is None and row["start"] is not None:
            row["quote"] = text[row["start"]:row["end"]]
        row["document"] = sha
        con.execute(f"INSERT INTO record ({_quoted(row)}) "
                    f"VALUES ({', '.join('?' for _ in row)})", list(row.values()))
    for c in checks:
        detail = {"rule": c.rule, "name": c.name, "passed": c.passed, **(c.detail or {})} \
            if unversioned else c.detail
        con.execute("INSERT INTO checkresult (run_id, document, rule, name, passed, detail) "
                    "VALUES (?,?,?,?,?,?)", (c.run_id, c.document, c.rule, c.name, c.passed,
                                             json.dumps(detail, ensure_ascii=False)))
    con.execute("DROP TABLE IF EXISTS alembic_version")
    if unversioned:
        for table, column in [("record", "bbox"), ("record", "row_label"), ("record", "column_header"),
                              ("run", "inputs"), ("run", "owner"), ("run", "heartbeat")]:
            con.execute(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    else:
        con.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        con.execute("INSERT INTO alembic_version VALUES ('r0002')")
    con.commit()
    con.execute("VACUUM")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def _quoted(columns: Any) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def _runs(offsets: list[int]) -> str:
    from extractor.database import pack_offsets

    return json.dumps(pack_offsets(offsets))


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
                 *(["chunks", d.doc_id, "--text"] for d in store.documents())):
        assert main(["--db", url, *argv]) in (0, 1)
        shown[" ".join(argv)] = capsys.readouterr().out
    for doc in store.documents():
        review = build(store, doc, 1, tmp_path / "blobs")
        shown[f"review {doc.doc_id}"] = json.dumps(review, ensure_ascii=False, default=str)
    store.engine.dispose()
    return shown


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A rules run over two sample reports, in the current layout."""
    tmp = tmp_path_factory.mktemp("run")
    folder = tmp / "in"
    folder.mkdir()
    for doc_id in SAMPLE_IDS[:2]:
        shutil.copy(SAMPLES / f"{doc_id}.txt", folder)
    db = tmp / "new.db"
    assert main(["--db", f"sqlite:///{db}", "run", str(folder), "--extractor", "rules", "--workers", "1",
                 "--gold", str(tmp / "none")]) in (0, 1)
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the file alone holds everything: copied as is
    con.close()
    return db


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["r0002", "unversioned"])
def test_old_layout_database_is_upgraded_in_place_and_shows_the_same(
        stored_run: Path, layout: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "old.db"
    shutil.copy(stored_run, db)
    url = f"sqlite:///{db}"
    before = _views(url, tmp_path, capsys, "before")
    assert len(before["export"]) == 2 and json.loads(before["checks 1 --json"])["checks"]
    _rewrite_as_old(db, url, unversioned=layout == "unversioned")
    old_size = db.stat().st_size

    assert main(["--db", url, "docs"]) == 2
    err = capsys.readouterr().err
    assert "run `extractor db upgrade`" in err, "an old database is refused with the command to run"
    assert main(["--db", url, "db", "upgrade"]) == 0
    origin = "an unversioned schema" if layout == "unversioned" else "r0002"
    assert f"upgraded from {origin} to revision {head()}" in capsys.readouterr().out
    assert db.stat().st_size < old_size / 3, "the text is stored once, compressed; space given back"
    con = sqlite3.connect(db)
    tables = {name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    document_columns = {r[1] for r in con.execute("PRAGMA table_info(document)")}
    record_columns = {r[1] for r in con.execute("PRAGMA table_info(record)")}
    quotes = con.execute("SELECT COUNT(*), COUNT(quote) FROM record").fetchone()
    con.close()
    assert not {"chunk", "checkresult"} & tables and "checkset" in tables
    assert {"content", "key"} <= document_columns and "normalized" not in document_columns
    assert {"doc", "bbox", "row_label", "column_header"} <= record_columns
    assert "document" not in record_columns
    assert quotes[0] > 100 and quotes[1] < quotes[0] / 10, "quotes equal to the text are not kept"

    assert _views(url, tmp_path, capsys, "after") == before
    assert main(["--db", url, "db", "upgrade"]) == 0
    assert f"already at revision {head()}" in capsys.readouterr().out


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
