"""The stored tables (SQLModel), one class per table.

What is derived is not stored twice: a document's text, raw pages, offset map and chunks
are one compressed value (:mod:`extractor.store.content`); a record's quote is left out
when it is exactly the text between its offsets; a document's checks are one compressed
set (:mod:`extractor.store.records`). Records point at their document by an integer key
(:func:`document_key`), not by the 64-character hash repeated in every row and index.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from extractor.core.records import CheckStatus


def _now() -> datetime:
    return datetime.now(UTC)


def _json() -> Any:
    return Field(default=None, sa_column=Column(JSON))


def document_key(sha256: str) -> int:
    """A document's integer key: 63 bits of a hash of its SHA-256 (deterministic, so any
    process computes it without asking the database; a collision would fail the unique
    index instead of mixing two documents)."""
    return int.from_bytes(hashlib.blake2b(sha256.encode(), digest_size=8).digest(), "big") >> 1


class Document(SQLModel, table=True):
    sha256: str = Field(primary_key=True, max_length=64)
    key: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    doc_id: str = Field(index=True)
    path: str
    media_type: str
    pages: int
    ocr_pages: int = 0
    chunks: int = 0
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    """Normalized text, offset runs, raw pages and chunks, compressed together
    (:func:`extractor.store.content.unpack`)."""
    page_starts: list[int] | None = _json()
    created: datetime = Field(default_factory=_now)

    @property
    def normalized(self) -> str:
        """The document's normalized text (decompressed on each access)."""
        from extractor.store.content import unpack

        return unpack(self.content).text


class Page(SQLModel, table=True):
    """Where a page came from; its raw text is in the document's ``content``."""

    __table_args__ = (UniqueConstraint("document", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    document: str = Field(foreign_key="document.sha256", index=True)
    number: int
    source: str
    confidence: float | None = None


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
    """One stored fact (finding or mention) of a run.

    ``quote`` is NULL when it is exactly the document's text between ``start`` and
    ``end`` (every rules quote is): it is read back from the text.
    """

    __table_args__ = (Index("ix_record_run_doc", "run_id", "doc"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id")
    doc: int = Field(sa_column=Column(BigInteger, ForeignKey("document.key"), nullable=False))
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


class CheckSet(SQLModel, table=True):
    """A document's checks in a run, compressed together (figures written once)."""

    __tablename__ = "checkset"
    __table_args__ = (UniqueConstraint("run_id", "document"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    document: str = Field(foreign_key="document.sha256")
    checks: int = 0
    failing: int = 0
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


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
