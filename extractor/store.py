"""Persistence: documents, pages, chunks, runs, facts, checks, repairs and model calls.

SQLModel over any SQLAlchemy URL (SQLite file by default, PostgreSQL by URL). Documents
are keyed by the SHA-256 of their bytes, so re-ingesting the same file is a no-op and a
renamed copy is recognised. Every later stage (extraction runs, reconciliation, the
model-call cache) hangs off these rows, which is what lets a killed run resume.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint, delete, func, insert, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import (
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)
from sqlmodel import Field, Session, SQLModel, col, create_engine, select

from extractor.core.errors import ConfigError, NotFoundError, StoreError
from extractor.core.records import CheckStatus, DocumentFinding, Evidence, Fact
from extractor.core.types import ChunkData, DocumentData, NormalizedText, PageText, Table
from extractor.database import (
    SQLITE_BUSY_TIMEOUT_S,
    add_missing_columns,
    compact_json,
    insert_ignore,
    owner_alive,
    pack_offsets,
    parse_database_url,
    process_owner,
    serialize_sqlite_writers,
    unpack_offsets,
)
from extractor.store_batches import BatchJob
from extractor.store_findings import DocumentFindingRow, load_findings, save_findings
from extractor.store_tables import DocCell, DocTable, load_tables, save_tables


def _now() -> datetime:
    return datetime.now(UTC)


def _json() -> Any:
    return Field(default=None, sa_column=Column(JSON))


class Document(SQLModel, table=True):
    sha256: str = Field(primary_key=True, max_length=64)
    doc_id: str = Field(index=True)
    path: str
    media_type: str
    pages: int
    ocr_pages: int = 0
    normalized: str = Field(sa_column=Column(Text))
    offsets: list[int] | None = _json()
    page_starts: list[int] | None = _json()
    created: datetime = Field(default_factory=_now)


class Page(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("document", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    document: str = Field(foreign_key="document.sha256", index=True)
    number: int
    raw: str = Field(sa_column=Column(Text))
    source: str
    confidence: float | None = None


class Chunk(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("document", "index"),)
    id: int | None = Field(default=None, primary_key=True)
    document: str = Field(foreign_key="document.sha256", index=True)
    index: int
    heading_path: list[str] | None = _json()
    kind: str
    page_start: int
    page_end: int
    start: int
    end: int
    tokens: int
    text: str | None = Field(default=None, sa_column=Column(Text))
    """None when the chunk is exactly ``normalized[start:end]`` (most are): text stored once."""


class Run(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    extractor: str
    status: str = "running"
    settings: dict[str, Any] | None = _json()
    prompt_hashes: dict[str, str] | None = _json()
    code_version: str = ""
    fingerprint: str = Field(default="", index=True)
    stats: dict[str, Any] | None = _json()
    inputs: dict[str, Any] | None = _json()
    """What the run read besides its documents: ``second_sources`` = {document: run id of
    the other extractor's run the reconciler compared with} (part of the fingerprint)."""
    owner: str | None = None
    """``host:pid`` of the process working on the run; another process never resumes a run
    whose owner is alive (see :meth:`Store.claim_run`)."""
    heartbeat: datetime | None = None
    created: datetime = Field(default_factory=_now)
    finished: datetime | None = None


class RunDocument(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("run_id", "document"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    document: str = Field(foreign_key="document.sha256")
    status: str
    notes: list[str] | None = _json()
    stats: dict[str, Any] | None = _json()


class Record(SQLModel, table=True):
    """One stored fact (finding or mention) of a run."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    document: str = Field(foreign_key="document.sha256", index=True)
    field: str
    key: dict[str, Any] | None = _json()
    value: Any = _json()
    raw: str | None = None
    decimals: int | None = None
    quote: str | None = Field(default=None, sa_column=Column(Text))
    chunk_index: int | None = None
    page: int | None = None
    start: int | None = None
    end: int | None = None
    bbox: list[float] | None = _json()
    row_label: str | None = None
    column_header: str | None = None
    extractor: str
    priority: int = 0
    status: str = CheckStatus.UNCHECKED.value
    note: str | None = None


class CheckResult(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    document: str = Field(foreign_key="document.sha256")
    rule: str
    name: str
    passed: bool
    detail: dict[str, Any] | None = _json()


class Repair(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    document: str = Field(foreign_key="document.sha256")
    slot: str
    before: Any = _json()
    after: Any = _json()
    rule: str
    evidence: dict[str, Any] | None = _json()


class ModelCall(SQLModel, table=True):
    """A model call, keyed for the cache: a successful key is never sent again."""

    id: int | None = Field(default=None, primary_key=True)
    cache_key: str = Field(index=True, max_length=64)
    run_id: int | None = Field(default=None, foreign_key="run.id", index=True)
    document: str | None = Field(default=None, index=True)
    section: str
    chunk_index: int | None = None
    model: str
    endpoint: str
    prompt_hash: str
    schema_hash: str
    status: str
    """``ok``, ``failed``, ``skipped``, ``truncated``, or ``delivered``: a reply arrived and
    was stored (``raw``) but not yet parsed; a re-run parses it instead of paying again."""
    error: str | None = Field(default=None, sa_column=Column(Text))
    response: Any = _json()
    raw: Any = _json()
    """The completion exactly as delivered, written before it is parsed or validated."""
    tokens_in: int = 0
    tokens_out: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0
    attempts: int = 0
    created: datetime = Field(default_factory=_now)


class Failure(SQLModel, table=True):
    """A file or document that could not be processed, with the reason shown to the user."""

    id: int | None = Field(default=None, primary_key=True)
    path: str
    stage: str
    reason: str = Field(sa_column=Column(Text))
    run_id: int | None = None
    created: datetime = Field(default_factory=_now)


def make_engine(url: str) -> Engine:
    """Engine for a URL; a SQLite file's folder is created, tables are created if missing."""
    parsed = parse_database_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(parsed, pool_pre_ping=True, json_serializer=compact_json,
                               connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S} if sqlite else {})
        if sqlite:
            serialize_sqlite_writers(engine)
        try:
            SQLModel.metadata.create_all(engine)
        except (OperationalError, ProgrammingError, IntegrityError):
            # Another process created the tables between our check and our CREATE.
            SQLModel.metadata.create_all(engine)
        add_missing_columns(engine, SQLModel.metadata)
    except NoSuchModuleError as exc:
        raise ConfigError(f"database URL {parsed.render_as_string(hide_password=True)!r}: "
                          f"no driver installed ({exc})") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open database {parsed.render_as_string(hide_password=True)}: "
                         f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}") from exc
    return engine


class Store:
    """Typed access to the tables; sessions are short and every write commits whole."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> Store:
        return cls(make_engine(url))

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

        Document, pages, chunks and tables go in one transaction, and the rest only when
        this call inserted the document row. Two processes ingesting the same bytes at once
        both succeed: the second one's ``INSERT … ON CONFLICT DO NOTHING`` waits for the
        first to commit, inserts nothing, and both return the same stored document.
        """
        values = {"sha256": doc.sha256, "doc_id": doc.doc_id, "path": doc.path,
                  "media_type": doc.media_type, "pages": len(doc.pages),
                  "ocr_pages": sum(p.source.startswith("ocr") for p in doc.pages),
                  "normalized": doc.normalized.text,
                  "offsets": {"runs": pack_offsets(doc.normalized.offsets)},
                  "page_starts": doc.page_starts, "created": _now()}
        with self.session() as s:
            inserted = insert_ignore(s, SQLModel.metadata.tables[str(Document.__tablename__)], values,
                                      ["sha256"])
            if inserted and doc.pages:  # bulk inserts: one statement per table, no ORM objects
                s.execute(insert(Page), [{"document": doc.sha256, "number": p.number, "raw": p.raw,
                                          "source": p.source, "confidence": p.confidence}
                                         for p in doc.pages])
            text = doc.normalized.text
            if inserted and doc.chunks:
                s.execute(insert(Chunk), [{"document": doc.sha256, "index": c.index,
                                           "heading_path": c.heading_path, "kind": c.kind,
                                           "page_start": c.page_start, "page_end": c.page_end,
                                           "start": c.start, "end": c.end, "tokens": c.tokens,
                                           "text": None if c.text == text[c.start:c.end] else c.text}
                                          for c in doc.chunks])
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
            return int(s.exec(select(func.count()).select_from(Chunk)
                              .where(Chunk.document == sha256)).one())

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
            chunks = list(s.exec(select(Chunk).where(Chunk.document == sha256)
                                 .order_by(col(Chunk.index))))
            tables = load_tables(s, sha256)
        return DocumentData(
            doc_id=row.doc_id, path=row.path, sha256=row.sha256, media_type=row.media_type,
            pages=[PageText(p.number, p.raw, p.source, p.confidence) for p in pages],
            normalized=NormalizedText(row.normalized, unpack_offsets(row.offsets)),
            page_starts=list(row.page_starts or [0]),
            chunks=[ChunkData(c.index, list(c.heading_path or []), c.kind, c.page_start, c.page_end,
                              c.start, c.end, row.normalized[c.start:c.end] if c.text is None else c.text,
                              c.tokens) for c in chunks],
            tables=tables)

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
                                           col(Record.document) == outcome.document))
            s.execute(delete(RunDocument).where(col(RunDocument.run_id) == run_id,
                                                col(RunDocument.document) == outcome.document))
            s.add(outcome)
            if facts:
                s.execute(insert(Record), [fact_values(run_id, outcome.document, f) for f in facts])
            s.execute(update(Run).where(col(Run.id) == run_id).values(heartbeat=_now()))

    def facts(self, run_id: int, document: str) -> list[Fact]:
        with self.session() as s:
            rows = s.exec(select(Record).where(Record.run_id == run_id, Record.document == document)
                          .order_by(col(Record.id)))
            return [row_to_fact(r) for r in rows]

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
        s.execute(delete(CheckResult).where(col(CheckResult.run_id) == run_id,
                                            col(CheckResult.document) == document))
        s.execute(delete(Repair).where(col(Repair.run_id) == run_id,
                                       col(Repair.document) == document))
        where = {"run_id": run_id, "document": document}
        if checks:
            s.execute(insert(CheckResult), [{**c, **where} for c in checks])
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

    def checks(self, run_id: int, document: str | None = None) -> list[CheckResult]:
        with self.session() as s:
            query = select(CheckResult).where(CheckResult.run_id == run_id)
            if document:
                query = query.where(CheckResult.document == document)
            return list(s.exec(query.order_by(col(CheckResult.id))))

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
        """Rows per table, for ``extractor db info``."""
        tables: tuple[type[SQLModel], ...] = (Document, Page, Chunk, DocTable, DocCell, Run, Record,
                                              CheckResult, Repair, DocumentFindingRow, ModelCall, BatchJob,
                                              Failure)
        with self.session() as s:
            return {str(t.__tablename__): int(s.exec(select(func.count()).select_from(t)).one())
                    for t in tables}


def fact_to_row(run_id: int, document: str, fact: Fact) -> Record:
    return Record(**fact_values(run_id, document, fact))


def fact_values(run_id: int, document: str, fact: Fact) -> dict[str, Any]:
    """A fact as the column values of its ``record`` row (for bulk inserts)."""
    ev = fact.evidence
    return {"run_id": run_id, "document": document, "field": fact.field, "key": fact.key,
                "value": fact.value, "raw": fact.raw, "decimals": fact.decimals,
                "quote": ev.quote if ev else None, "chunk_index": ev.chunk_index if ev else None,
                "page": ev.page if ev else None, "start": ev.start if ev else None,
                "end": ev.end if ev else None,
                "bbox": list(ev.bbox) if ev and ev.bbox else None,
                "row_label": ev.row_label if ev else None,
                "column_header": ev.column_header if ev else None,
                "extractor": fact.extractor, "priority": fact.priority,
                "status": fact.status.value, "note": fact.note}


def row_to_fact(row: Record) -> Fact:
    evidence = None
    if row.quote is not None:
        bbox = (row.bbox[0], row.bbox[1], row.bbox[2], row.bbox[3]) if row.bbox else None
        evidence = Evidence(quote=row.quote, chunk_index=row.chunk_index, page=row.page,
                            start=row.start, end=row.end, bbox=bbox, row_label=row.row_label,
                            column_header=row.column_header)
    return Fact(field=row.field, key=row.key, value=row.value, raw=row.raw,
                decimals=row.decimals, evidence=evidence, extractor=row.extractor,
                priority=row.priority, status=CheckStatus(row.status), note=row.note)

