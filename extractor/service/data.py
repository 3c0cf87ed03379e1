"""What the API and the pages read: a document's latest run, its contract record, its
corrections and review state, a run's documents with their counts.

The record is built exactly as ``extractor run --export`` builds a prediction file, so
the API and a file on disk never disagree about a document.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from extractor.core.errors import NotFoundError
from extractor.core.records import (
    Fact,
    FinalAccounts,
    iter_scalar_slots,
    slot_facts,
)
from extractor.pipeline import predictions
from extractor.service.models import Correction, Review
from extractor.store import Document, RunDocument, Store

FINISHED = ("done", "empty")


def document(store: Store, ref: str) -> Document:
    """A document by SHA-256 (or prefix), doc id or ingested path."""
    return store.resolve_document(ref)


def latest_run(store: Store, sha256: str, run_id: int | None = None) -> int:
    """The run to show for a document: ``run_id`` if it holds the document, else the latest."""
    with store.session() as s:
        query = select(RunDocument).where(RunDocument.document == sha256,
                                          col(RunDocument.status).in_(FINISHED))
        if run_id is not None:
            query = query.where(RunDocument.run_id == run_id)
        row = s.exec(query.order_by(col(RunDocument.run_id).desc())).first()
    if row is None:
        where = f"run {run_id}" if run_id is not None else "any finished run"
        raise NotFoundError(f"document {sha256[:12]} has no extraction in {where} yet")
    return row.run_id


def run_records(store: Store, run_id: int) -> dict[str, dict[str, Any]]:
    """doc id → the ``final_accounts/v1`` prediction of every document of a run, built by
    the very function ``eval export`` writes files with (check status, document findings)."""
    return {doc_id: record.to_json_dict() for doc_id, record in predictions(store, run_id).items()}


def record_json(store: Store, run_id: int, doc: Document) -> dict[str, Any]:
    """A document's prediction in a run, exactly as ``extractor run --export`` writes it."""
    record = run_records(store, run_id).get(doc.doc_id)
    if record is None:
        raise NotFoundError(f"run {run_id} has no record of {doc.doc_id} (its extraction failed)")
    return record


def scalar_paths(doc_id: str) -> set[str]:
    """Every scalar slot of the contract (a reviewer may fill one the extraction missed)."""
    return {s.path for s in iter_scalar_slots(FinalAccounts(doc_id=doc_id))}


def evidence_json(facts: list[Fact]) -> dict[str, dict[str, Any]]:
    """Slot path → where the value was read (quote, page, box, table row and column)."""
    out = {}
    for path, fact in slot_facts(facts).items():
        if fact.evidence is not None:
            out[path] = fact.evidence.model_dump(mode="json", exclude_none=True)
    return out


def findings_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Document findings carried by a record (an optional extension of the contract)."""
    found = record.get("document_findings")
    return list(found) if isinstance(found, list) else []


# --------------------------------------------------------------------------- review


def corrections(store: Store, sha256: str) -> list[Correction]:
    with store.session() as s:
        return list(s.exec(select(Correction).where(Correction.document == sha256)
                           .order_by(col(Correction.id))))


def add_correction(store: Store, correction: Correction) -> Correction:
    with store.session() as s:
        s.add(correction)
        s.flush()
        s.refresh(correction)
    return correction


def review_state(store: Store, sha256: str) -> Review | None:
    with store.session() as s:
        return s.exec(select(Review).where(Review.document == sha256)
                      .order_by(col(Review.id).desc())).first()


def mark_reviewed(store: Store, review: Review) -> Review:
    with store.session() as s:
        s.add(review)
        s.flush()
        s.refresh(review)
    return review


def reviewed_documents(store: Store) -> list[Review]:
    """The latest review mark of every document whose latest mark says reviewed."""
    latest: dict[str, Review] = {}
    with store.session() as s:
        for row in s.exec(select(Review).order_by(col(Review.id))):
            latest[row.document] = row
    return [r for r in latest.values() if r.reviewed]
