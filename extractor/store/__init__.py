"""Persistence: documents, pages, runs, facts, checks, repairs and model calls.

SQLModel over any SQLAlchemy URL (SQLite file by default, PostgreSQL by URL). Documents
are keyed by the SHA-256 of their bytes, so re-ingesting the same file is a no-op and a
renamed copy is recognised. Every later stage (extraction runs, reconciliation, the
model-call cache) hangs off these rows, which is what lets a killed run resume.

The package: ``models`` (the tables), ``content`` (a document's text, stored once and
compressed), ``records`` (facts as rows, checks as compressed sets), ``tables`` and
``findings`` (the table layer's grids, document findings), ``engine`` (opening a database).
This module is the typed access everything else uses.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel, col, select

from extractor.core.errors import NotFoundError, StoreError
from extractor.core.records import DocumentFinding, Fact
from extractor.core.types import DocumentData, PageText, Table
from extractor.database import insert_ignore, owner_alive, process_owner
from extractor.store.content import normalized, pack, pack_json, unpack
from extractor.store.engine import make_engine
from extractor.store.findings import DocumentFindingRow, load_findings, save_findings
from extractor.store.models import (
    CheckSet,
    Document,
    Failure,
    ModelCall,
    Page,
    Record,
    Repair,
    Run,
    RunDocument,
    document_key,
)
from extractor.store.records import StoredCheck, fact_values, pack_checks, row_to_fact, unpack_checks
from extractor.store.tables import DocTable, load_tables, save_tables
from extractor.store_batches import BatchJob

__all__ = ["CheckSet", "Document", "Failure", "ModelCall", "Page", "Record", "Repair", "Run",
           "RunDocument", "Store", "StoredCheck", "document_key", "fact_values", "make_engine",
           "pack_json", "row_to_fact"]


def _now() -> datetime:
    return datetime.now(UTC)


class Store:
    """Typed access to the tables; sessions are short and every write commits whole."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> Store:
        return cls(make_engine(url))

    def close(self) -> None:
        """Fold SQLite's write-ahead log into the database file and close the connections.

        A process that exits with its connections open leaves every page it wrote in the
        ``-wal`` file beside the database (safe, but the file holds them until some later
        process checkpoints): the database looks empty and its folder 2-3x its size."""
        if self.engine.dialect.name == "sqlite":
            try:
                with self.engine.connect() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            except SQLAlchemyError:
                pass  # busy with another process: the log is folded in by the last one out
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except SQLAlchemyError as exc:
                session.rollback()
                raise StoreError(f"database error: {exc.__class__.__name__}: "
                                 f"{str(exc).splitlines()[0]}") from exc

    # ------------------------------------------------------------------ documents
    def find_document(self, sha256: str) -> Document | None:
        with self.session() as s:
            return s.get(Document, sha256)

    def save_document(self, doc: DocumentData) -> tuple[Document, bool]:
        """Insert-or-get on the content hash: ``(row, True)`` when this call stored it.

        Document, pages and tables go in one transaction, and the rest only when this call
        inserted the document row. Two processes ingesting the same bytes at once both
        succeed: the second one's ``INSERT … ON CONFLICT DO NOTHING`` waits for the first
        to commit, inserts nothing, and both return the same stored document.
        """
        values = {"sha256": doc.sha256, "key": document_key(doc.sha256), "doc_id": doc.doc_id,
                  "path": doc.path, "media_type": doc.media_type, "pages": len(doc.pages),
                  "ocr_pages": sum(p.source.startswith("ocr") for p in doc.pages),
                  "chunks": len(doc.chunks), "content": pack(doc),
                  "page_starts": doc.page_starts, "created": _now()}
        with self.session() as s:
            inserted = insert_ignore(s, SQLModel.metadata.tables[str(Document.__tablename__)], values,
                                      ["sha256"])
            if inserted and doc.pages:  # bulk inserts: one statement per table, no ORM objects
                s.execute(insert(Page), [{"document": doc.sha256, "number": p.number,
                                          "source": p.source, "confidence": p.confidence}
                                         for p in doc.pages])
            if inserted:
                save_tables(s, doc.sha256, doc.tables)
            row = s.get(Document, doc.sha256)
        if row is None:  # pragma: no cover - the row was just inserted or found
            raise StoreError(f"document {doc.sha256} vanished while being stored")
        return row, inserted

    def tables(self, sha256: str) -> list[Table]:
        """A stored document's tables (cells, header paths, row labels), in order."""
        with self.session() as s:
            return load_tables(s, sha256)

    def chunk_count(self, sha256: str) -> int:
        with self.session() as s:
            return int(s.exec(select(Document.chunks).where(Document.sha256 == sha256)).first() or 0)

    def documents(self) -> list[Document]:
        with self.session() as s:
            return list(s.exec(select(Document).order_by(col(Document.doc_id))))

    def resolve_document(self, ref: str) -> Document:
        """A document by doc_id, SHA-256 prefix or the path it was ingested from."""
        with self.session() as s:
            rows = list(s.exec(select(Document).where(
                (col(Document.doc_id) == ref) | (col(Document.sha256).startswith(ref))
                | (col(Document.path) == ref))))
        if not rows:
            raise NotFoundError(f"no stored document matches {ref!r} (see `extractor db info`)")
        if len(rows) > 1:
            raise NotFoundError(f"{ref!r} matches {len(rows)} documents; give a longer SHA prefix")
        return rows[0]

    def load_document(self, sha256: str) -> DocumentData:
        """Rebuild the pipeline view of a stored document (no re-reading, no re-OCR)."""
        with self.session() as s:
            row = s.get(Document, sha256)
            if row is None:
                raise NotFoundError(f"no stored document with sha256 {sha256}")
            pages = list(s.exec(select(Page).where(Page.document == sha256)
                                .order_by(col(Page.number))))
            tables = load_tables(s, sha256)
        content = unpack(row.content)
        return DocumentData(
            doc_id=row.doc_id, path=row.path, sha256=row.sha256, media_type=row.media_type,
            pages=[PageText(p.number, raw, p.source, p.confidence)
                   for p, raw in zip(pages, content.pages, strict=True)],
            normalized=normalized(content), page_starts=list(row.page_starts or [0]),
            chunks=content.chunks, tables=tables)

    def _text(self, s: Session, sha256: str) -> str:
        row = s.get(Document, sha256)
        return unpack(row.content).text if row is not None else ""

    # ------------------------------------------------------------------ runs
    def create_run(self, run: Run) -> Run:
        with self.session() as s:
            s.add(run)
            s.flush()
            s.refresh(run)
        return run

    def get_run(self, run_id: int) -> Run:
        with self.session() as s:
            run = s.get(Run, run_id)
        if run is None:
            raise NotFoundError(f"no run {run_id} (see `extractor runs list`)")
        return run

    def runs(self) -> list[Run]:
        with self.session() as s:
            return list(s.exec(select(Run).order_by(col(Run.id))))

    def latest_unfinished_run(self, fingerprint: str) -> Run | None:
        """A run with the same settings that was interrupted: resuming it repeats no work."""
        with self.session() as s:
            return s.exec(select(Run).where(Run.fingerprint == fingerprint,
                                            Run.status != "done")
                          .order_by(col(Run.id).desc())).first()

    def finished_run(self, fingerprint: str) -> Run | None:
        """The latest finished run with this fingerprint in which no document failed."""
        with self.session() as s:
            runs = s.exec(select(Run).where(Run.fingerprint == fingerprint, Run.status == "done")
                          .order_by(col(Run.id).desc())).all()
            for run in runs:
                failed = s.exec(select(func.count()).select_from(RunDocument).where(
                    RunDocument.run_id == run.id, RunDocument.status == "failed")).one()
                if not failed:
                    return run
        return None

    def claim_run(self, fingerprint: str, new: Run) -> tuple[Run, bool]:
        """Resume an interrupted run with this fingerprint whose process is gone, or start ``new``.

        Claiming is a compare-and-swap on the run's ``owner``: of two processes that find
        the same abandoned run, one takes it and the other starts its own run, so a run
        is never worked on by two processes at once (no split, no emptied run).
        Returns the run and whether it was resumed.
        """
        me = process_owner()
        with self.session() as s:
            candidates = s.exec(select(Run).where(Run.fingerprint == fingerprint,
                                                  Run.status != "done")
                                .order_by(col(Run.id).desc())).all()
        for run in candidates:
            if owner_alive(run.owner, run.heartbeat):
                continue
            with self.session() as s:
                same_owner = (col(Run.owner).is_(None) if run.owner is None
                              else col(Run.owner) == run.owner)
                taken = s.execute(update(Run).where(col(Run.id) == run.id, same_owner,
                                                    col(Run.status) != "done")
                                  .values(owner=me, heartbeat=_now()).returning(col(Run.id))).first()
                if taken is not None:
                    run.owner = me
                    return run, True
        new.owner, new.heartbeat = me, _now()
        return self.create_run(new), False

    def update_run(self, run: Run) -> None:
        with self.session() as s:
            s.merge(run)

    def run_documents(self, run_id: int) -> list[RunDocument]:
        with self.session() as s:
            return list(s.exec(select(RunDocument).where(RunDocument.run_id == run_id)))

    def save_document_result(self, run_id: int, outcome: RunDocument, facts: Sequence[Fact],
                             checked: tuple[Sequence[dict[str, Any]], Sequence[dict[str, Any]]]
                             | None = None) -> None:
        """Replace a document's facts in a run and mark it done, in one transaction.

        ``checked`` = (checks, repairs) rows replace the document's stored ones in the same
        transaction. Rows go in as one bulk insert per table, in order (ids follow it).
        """
        with self.session() as s:
            if checked is not None:
                self._replace_checks(s, run_id, outcome.document, *checked)
            s.execute(delete(Record).where(col(Record.run_id) == run_id,
                                           col(Record.doc) == document_key(outcome.document)))
            s.execute(delete(RunDocument).where(col(RunDocument.run_id) == run_id,
                                                col(RunDocument.document) == outcome.document))
            s.add(outcome)
            if facts:
                text = self._text(s, outcome.document)
                s.execute(insert(Record), [fact_values(run_id, outcome.document, f, text) for f in facts])
            s.execute(update(Run).where(col(Run.id) == run_id).values(heartbeat=_now()))

    def facts(self, run_id: int, document: str) -> list[Fact]:
        with self.session() as s:
            rows = list(s.exec(select(Record).where(Record.run_id == run_id,
                                                    Record.doc == document_key(document))
                               .order_by(col(Record.id))))
            text = self._text(s, document) if any(r.quote is None for r in rows) else ""
            return [row_to_fact(r, text) for r in rows]

    def second_source(self, document: str, extractor: str, exclude_run: int | None = None) -> int | None:
        """The latest finished run of a different extractor that has this document done."""
        with self.session() as s:
            query = (select(RunDocument).join(Run, col(Run.id) == col(RunDocument.run_id))
                     .where(RunDocument.document == document, RunDocument.status == "done",
                            Run.extractor != extractor, Run.status == "done"))
            if exclude_run is not None:
                query = query.where(col(Run.id) != exclude_run)
            row = s.exec(query.order_by(col(Run.id).desc())).first()
        return row.run_id if row is not None else None

    def other_extractor_facts(self, document: str, extractor: str, exclude_run: int) -> list[Fact]:
        """Facts of the latest finished run of a different extractor on this document."""
        run_id = self.second_source(document, extractor, exclude_run)
        return self.facts(run_id, document) if run_id is not None else []

    def save_checks(self, run_id: int, document: str, checks: Sequence[dict[str, Any]],
                    repairs: Sequence[dict[str, Any]]) -> None:
        """Replace a document's checks and repairs (rows as from ``stages.reconcile_facts``)."""
        with self.session() as s:
            self._replace_checks(s, run_id, document, checks, repairs)

    @staticmethod
    def _replace_checks(s: Session, run_id: int, document: str, checks: Sequence[dict[str, Any]],
                        repairs: Sequence[dict[str, Any]]) -> None:
        s.execute(delete(CheckSet).where(col(CheckSet.run_id) == run_id,
                                         col(CheckSet.document) == document))
        s.execute(delete(Repair).where(col(Repair.run_id) == run_id,
                                       col(Repair.document) == document))
        where = {"run_id": run_id, "document": document}
        if checks:
            s.execute(insert(CheckSet), [{**where, "checks": len(checks),
                                          "failing": sum(not c["passed"] for c in checks),
                                          "data": pack_checks(checks)}])
        if repairs:
            s.execute(insert(Repair), [{**r, **where} for r in repairs])

    def save_findings(self, run_id: int, document: str, findings: Sequence[DocumentFinding]) -> None:
        """Replace a document's findings about the report in a run (re-reconciling must not
        duplicate them)."""
        with self.session() as s:
            save_findings(s, run_id, document, findings)

    def findings(self, run_id: int, document: str | None = None) -> list[tuple[str, DocumentFinding]]:
        """(document sha256, finding) of a run, in the order stored."""
        with self.session() as s:
            return load_findings(s, run_id, document)

    def checks(self, run_id: int, document: str | None = None) -> list[StoredCheck]:
        """A run's checks (or one document's), in the order stored."""
        with self.session() as s:
            query = select(CheckSet).where(CheckSet.run_id == run_id)
            if document:
                query = query.where(CheckSet.document == document)
            sets = list(s.exec(query.order_by(col(CheckSet.id))))
        out: list[StoredCheck] = []
        for found in sets:
            out.extend(StoredCheck(id=len(out) + 1, run_id=run_id, document=found.document, **row)
                       for row in unpack_checks(found.data))
        return out

    def repairs(self, run_id: int, document: str | None = None) -> list[Repair]:
        with self.session() as s:
            query = select(Repair).where(Repair.run_id == run_id)
            if document:
                query = query.where(Repair.document == document)
            return list(s.exec(query.order_by(col(Repair.id))))

    def record_failure(self, path: str, stage: str, reason: str, run_id: int | None = None) -> None:
        with self.session() as s:
            s.add(Failure(path=path, stage=stage, reason=reason, run_id=run_id))

    # ------------------------------------------------------------------ model calls
    def cached_call(self, cache_key: str) -> ModelCall | None:
        with self.session() as s:
            return s.exec(select(ModelCall).where(ModelCall.cache_key == cache_key,
                                                  ModelCall.status == "ok")).first()

    def save_call(self, call: ModelCall) -> ModelCall:
        """Insert a call, or update it when it has an id (a delivered reply, now parsed)."""
        with self.session() as s:
            if call.id is not None:
                call = s.merge(call)
            else:
                s.add(call)
            s.flush()
        return call

    def save_delivery(self, call: ModelCall) -> ModelCall:
        """A raw reply, stored before anything parses it (its own committed transaction)."""
        return self.save_call(call)

    def delivered_calls(self, keys: Sequence[str]) -> dict[str, ModelCall]:
        """Replies delivered but never parsed (a kill came in between), newest per key."""
        found: dict[str, ModelCall] = {}
        unique = list(dict.fromkeys(keys))
        with self.session() as s:
            for start in range(0, len(unique), 500):
                rows = s.exec(select(ModelCall).where(col(ModelCall.cache_key).in_(unique[start:start + 500]),
                                                      ModelCall.status == "delivered")
                              .order_by(col(ModelCall.id)))
                found.update({r.cache_key: r for r in rows})
        return found

    def calls(self, run_id: int) -> list[ModelCall]:
        with self.session() as s:
            return list(s.exec(select(ModelCall).where(ModelCall.run_id == run_id)
                               .order_by(col(ModelCall.id))))

    def info(self) -> dict[str, int]:
        """Rows per table, for ``extractor db info``; ``chunk``, ``doccell`` and ``checkresult``
        count the chunks, cells and checks held inside documents, tables and check sets."""
        tables: tuple[type[SQLModel], ...] = (Document, Page, DocTable, Run, Record, Repair,
                                              DocumentFindingRow, ModelCall, BatchJob, Failure)
        with self.session() as s:
            counts = {str(t.__tablename__): int(s.exec(select(func.count()).select_from(t)).one())
                      for t in tables}
            counts["chunk"] = int(s.exec(select(func.coalesce(func.sum(Document.chunks), 0))).one())
            counts["doccell"] = int(s.exec(select(func.coalesce(func.sum(DocTable.cells), 0))).one())
            counts["checkresult"] = int(s.exec(select(func.coalesce(func.sum(CheckSet.checks), 0))).one())
        return counts
