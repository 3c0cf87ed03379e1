"""The main job, step by step: ingest → normalize → chunk → store → extract → reconcile.

This module only sequences the steps and decides what to skip; each step lives in the
module named after it. It owns the batch semantics users rely on: one bad file never
stops the batch, every failure is recorded with its reason, and a re-run skips work
already done (same bytes → same document; same run settings → the unfinished run is
resumed; model calls are cached by the model extractor).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from extractor import __version__
from extractor.chunk import chunk_document
from extractor.core.errors import ExtractorError, IngestError
from extractor.core.records import Fact, FinalAccounts, assemble
from extractor.core.settings import Settings
from extractor.core.types import DocumentData, ExtractionResult, Extractor
from extractor.ingest import iter_input_files, read_pages, sha256_of
from extractor.normalize import normalize_pages
from extractor.ocr import OcrEngine
from extractor.reconcile import reconcile
from extractor.store import CheckResult as StoredCheck
from extractor.store import Repair as StoredRepair
from extractor.store import Run, RunDocument, Store


@dataclass
class IngestOutcome:
    path: str
    status: str
    """``new``, ``unchanged`` or ``failed``."""
    doc_id: str | None = None
    sha256: str | None = None
    pages: int = 0
    chunks: int = 0
    ocr_pages: int = 0
    reason: str | None = None


@dataclass
class DocumentOutcome:
    doc_id: str
    sha256: str
    status: str
    """``done``, ``skipped`` (finished in an earlier attempt of this run), ``empty`` or ``failed``."""
    facts: list[Fact] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def prepare_document(path: Path, settings: Settings, ocr: OcrEngine | None,
                     sha256: str | None = None) -> DocumentData:
    """Read, normalize and chunk one file (nothing is stored here)."""
    pages, media_type = read_pages(path, settings.ocr, ocr)
    normalized, page_starts = normalize_pages(pages)
    doc = DocumentData(doc_id=path.stem, path=str(path), sha256=sha256 or sha256_of(path),
                       media_type=media_type, pages=pages, normalized=normalized,
                       page_starts=page_starts)
    doc.chunks = chunk_document(doc, settings.chunk.token_budget)
    return doc


def ingest(paths: list[Path], store: Store, settings: Settings,
           ocr: OcrEngine | None = None) -> list[IngestOutcome]:
    """Store every readable file; report the rest with their reasons."""
    outcomes: list[IngestOutcome] = []
    for given in paths:  # one bad argument (a missing path) must not sink the others
        try:
            files = iter_input_files([given])
        except IngestError as exc:
            store.record_failure(exc.path, "ingest", exc.reason)
            outcomes.append(IngestOutcome(exc.path, "failed", reason=exc.reason))
            continue
        outcomes.extend(_ingest_one(path, store, settings, ocr) for path in files)
    return outcomes


def _ingest_one(path: Path, store: Store, settings: Settings, ocr: OcrEngine | None) -> IngestOutcome:
    try:
        sha = sha256_of(path)
        existing = store.find_document(sha)
        if existing is not None:
            return IngestOutcome(str(path), "unchanged", existing.doc_id, sha, existing.pages,
                                 store.chunk_count(sha), existing.ocr_pages)
        doc = prepare_document(path, settings, ocr, sha)
        store.save_document(doc)
    except IngestError as exc:
        store.record_failure(str(path), "ingest", exc.reason)
        return IngestOutcome(str(path), "failed", reason=exc.reason)
    except ExtractorError as exc:
        store.record_failure(str(path), "ingest", str(exc))
        return IngestOutcome(str(path), "failed", reason=str(exc))
    return IngestOutcome(str(path), "new", doc.doc_id, doc.sha256, len(doc.pages), len(doc.chunks),
                         sum(p.source.startswith("ocr") for p in doc.pages))


def code_version() -> str:
    """The git commit of the code that ran, or the package version outside a checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return __version__
    return out.stdout.strip() or __version__


@dataclass
class RunPlan:
    """What identifies a run: same plan → an interrupted run is resumed, not restarted."""

    extractor: Extractor
    settings: Settings
    prompt_hashes: dict[str, str] = field(default_factory=dict)
    reconcile: bool = True

    def fingerprint(self, shas: list[str], code: str) -> str:
        payload = {"extractor": self.extractor.name, "settings": self.settings.redacted(),
                   "prompts": self.prompt_hashes, "docs": sorted(shas), "code": code,
                   "reconcile": self.reconcile}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


Reconciler = Callable[[Store, int, DocumentData, list[Fact]], list[Fact]]


def run_extraction(shas: list[str], store: Store, plan: RunPlan,
                   reconciler: Reconciler | None = None) -> tuple[Run, list[DocumentOutcome]]:
    """Extract every stored document of ``shas`` into one run (resuming an interrupted one)."""
    code = code_version()
    fingerprint = plan.fingerprint(shas, code)
    run = store.latest_unfinished_run(fingerprint) or store.create_run(Run(
        extractor=plan.extractor.name, settings=plan.settings.redacted(),
        prompt_hashes=plan.prompt_hashes, code_version=code, fingerprint=fingerprint))
    assert run.id is not None
    finished = {rd.document for rd in store.run_documents(run.id) if rd.status in {"done", "empty"}}
    bind_run = getattr(plan.extractor, "bind_run", None)
    if callable(bind_run):  # capability: attribute model calls (tokens, cost) to this run
        bind_run(run.id)
    pending = {sha: store.load_document(sha) for sha in shas if sha not in finished}
    prefetch = getattr(plan.extractor, "prefetch", None)
    if callable(prefetch):  # capability: batch model calls across documents
        prefetch(list(pending.values()))
    outcomes: list[DocumentOutcome] = []
    for sha in shas:
        if sha in pending:
            outcomes.append(_extract_one(pending[sha], store, run.id, plan, reconciler))
            continue
        stored = store.find_document(sha)
        outcomes.append(DocumentOutcome(stored.doc_id if stored else sha, sha, "skipped",
                                        store.facts(run.id, sha)))
    run.status = "done"
    run.finished = datetime.now(UTC)
    run.stats = {"documents": len(outcomes),
                 "failed": sum(o.status == "failed" for o in outcomes),
                 "facts": sum(len(o.facts) for o in outcomes)}
    run_stats = getattr(plan.extractor, "run_stats", None)
    if callable(run_stats):  # capability: model-call accounting for the run
        run.stats.update(run_stats())
    store.update_run(run)
    return run, outcomes


def _extract_one(doc: DocumentData, store: Store, run_id: int, plan: RunPlan,
                 reconciler: Reconciler | None) -> DocumentOutcome:
    try:
        result: ExtractionResult = plan.extractor.extract(doc)
    except ExtractorError as exc:
        store.record_failure(doc.path, "extract", str(exc), run_id)
        store.save_document_result(run_id, RunDocument(run_id=run_id, document=doc.sha256,
                                                       status="failed", notes=[str(exc)]), [])
        return DocumentOutcome(doc.doc_id, doc.sha256, "failed", notes=[str(exc)])
    facts = result.facts
    if facts and plan.reconcile and reconciler is not None:
        facts = reconciler(store, run_id, doc, facts)
    status = "done" if facts else "empty"
    stats: dict[str, Any] = dict(result.stats)
    store.save_document_result(run_id, RunDocument(run_id=run_id, document=doc.sha256, status=status,
                                                   notes=result.notes, stats=stats), facts)
    return DocumentOutcome(doc.doc_id, doc.sha256, status, facts, result.notes)


def predictions(store: Store, run_id: int) -> dict[str, FinalAccounts]:
    """Contract records of a run's documents (failed ones left out), with check status and
    the optional ``evidence`` extension (so exported files can be checked by ``eval``)."""
    out = {}
    for rd in store.run_documents(run_id):
        doc = store.find_document(rd.document)
        if doc is None or rd.status == "failed":
            continue
        out[doc.doc_id] = assemble(doc.doc_id, store.facts(run_id, rd.document), with_evidence=True)
    return out


def export_run(store: Store, run_id: int, out_dir: Path) -> list[Path]:
    """One ``final_accounts/v1`` prediction file per document of the run, with check status."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for doc_id, record in predictions(store, run_id).items():
        path = out_dir / f"{doc_id}.json"
        path.write_text(json.dumps(record.to_json_dict(), ensure_ascii=False, indent=2) + "\n",
                        encoding="utf-8")
        written.append(path)
    return written


def reconcile_stage(store: Store, run_id: int, doc: DocumentData, facts: list[Fact]) -> list[Fact]:
    """Cross-check a document's facts, store checks and repairs, return facts with status.

    The latest finished run of *another* extractor on the same document supplies second
    readings (rules vs model): agreement can verify a value, and a differing reading is
    a repair candidate that the checks must still prove.
    """
    run = store.get_run(run_id)
    alternates = store.other_extractor_facts(doc.sha256, run.extractor, run_id)
    result = reconcile(facts, alternates=alternates or None)
    store.save_checks(
        run_id, doc.sha256,
        [StoredCheck(run_id=run_id, document=doc.sha256, rule=c.rule, name=c.name, passed=c.passed,
                     detail=c.model_dump(mode="json")) for c in result.checks],
        [StoredRepair(run_id=run_id, document=doc.sha256, slot=r.slot, before=r.before, after=r.after,
                      rule=r.rule, evidence=r.evidence) for r in result.repairs])
    return result.facts
