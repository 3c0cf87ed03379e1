"""The main job, step by step: ingest → normalize → chunk → store → extract → reconcile.

This module only sequences the steps and decides what to skip; each step lives in the
module named after it. It owns the batch semantics users rely on: one bad file never
stops the batch, every failure is recorded with its reason, and a re-run skips work
already done (same bytes → same document; same run settings → the unfinished run is
resumed, and an identical finished run is reused; model calls are cached by the model
extractor). Two processes may work on one database at once: documents are stored with
insert-or-get on their content hash and each process works on a run of its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from extractor import __version__
from extractor.core.errors import ExtractorError, IngestError
from extractor.core.records import Fact
from extractor.core.settings import Settings
from extractor.core.types import DocumentData, Extractor
from extractor.extractors.rules import RulesExtractor
from extractor.ingest import MEDIA_TYPES, sha256_of
from extractor.ocr import OcrEngine
from extractor.predictions import export_run as export_run  # noqa: PLC0414  (re-exported)
from extractor.predictions import iter_predictions as iter_predictions  # noqa: PLC0414
from extractor.predictions import predictions as predictions  # noqa: PLC0414
from extractor.progress import progress_bar
from extractor.reconcile.labels import admit
from extractor.stages import (
    Extracted,
    ExtractTask,
    Prepared,
    PrepareTask,
    extract_stage,
    prepare_document,
    prepare_pooled,
    reconcile_facts,
)
from extractor.store import Run, RunDocument, Store
from extractor.summary import FindingCounts, finding_counts
from extractor.workers import Executor, Inline


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
class IngestBatch:
    """Every input's outcome, plus what folders held that was not read (by kind)."""

    outcomes: list[IngestOutcome] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    """``.docx`` → 3, ``unreadable folder`` → 1, ``file without suffix`` → 2 …"""
    empty_folders: list[str] = field(default_factory=list)
    """Folders given on the command line that hold no readable file at all."""

    def skipped_line(self) -> str | None:
        """``skipped 3 .docx, 1 unreadable folder`` (None when nothing was skipped)."""
        if not self.skipped:
            return None
        plural = {"unreadable folder": "unreadable folders", "file without suffix": "files without suffix"}
        parts = [f"{n} {kind if n == 1 else plural.get(kind, kind)}"
                 for kind, n in sorted(self.skipped.items(), key=lambda kv: (-kv[1], kv[0]))]
        return "skipped " + ", ".join(parts)


@dataclass
class DocumentOutcome:
    doc_id: str
    sha256: str
    status: str
    """``done``, ``skipped`` (finished in an earlier attempt of this run), ``unchanged`` (an
    identical finished run was reused), ``empty`` or ``failed``."""
    facts: list[Fact] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: FindingCounts = field(default_factory=FindingCounts)
    """Contract slots by check status (kept when ``facts`` are dropped to save memory)."""
    fact_count: int = 0

    def __post_init__(self) -> None:
        if self.facts:
            self.counts, self.fact_count = finding_counts(self.facts), len(self.facts)


def collect_inputs(paths: list[Path], batch: IngestBatch) -> list[Path]:
    """The readable files under ``paths`` in order, each once; the rest counted by kind.

    A file named explicitly is always returned (ingest then says why it cannot be read);
    inside folders, files with another suffix and folders that cannot be listed are
    counted in ``batch.skipped`` rather than dropped without a word; hidden entries
    (``.git``, ``.DS_Store``) are passed over silently.
    """
    found: dict[Path, None] = {}
    for given in paths:
        if not given.is_dir():
            if not given.exists():
                batch.outcomes.append(IngestOutcome(str(given), "failed",
                                                    reason="no such file or directory"))
            else:
                found.setdefault(given, None)
            continue
        before = len(found)
        for folder, dirs, files in os.walk(given, onerror=lambda _e: batch.skipped.update(
                ["unreadable folder"])):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if name.startswith("."):
                    continue
                suffix = Path(name).suffix.lower()
                if suffix in MEDIA_TYPES:
                    found.setdefault(Path(folder) / name, None)
                else:
                    batch.skipped[suffix or "file without suffix"] += 1
        if len(found) == before:
            batch.empty_folders.append(str(given))
    return list(found)


def ingest_batch(paths: list[Path], store: Store, settings: Settings,
                 ocr: OcrEngine | None = None, executor: Executor | None = None) -> IngestBatch:
    """Store every readable file; report the rest with their reasons and skipped kinds.

    With an ``executor`` of several workers, files are read (and OCR'd) in the workers and
    stored here, one at a time, in input order: the same rows as a sequential ingest.
    """
    batch = IngestBatch()
    files = collect_inputs(paths, batch)
    for outcome in batch.outcomes:  # one bad argument (a missing path) must not sink the others
        store.record_failure(outcome.path, "ingest", outcome.reason or "")
    with progress_bar(len(files), "ingest", "file") as bar:
        if executor is not None and executor.workers > 1 and ocr is None:
            batch.outcomes.extend(_ingest_pooled(files, store, settings, executor, bar.update))
            return batch
        for path in files:
            batch.outcomes.append(_ingest_one(path, store, settings, ocr))
            bar.update(1)
    return batch


def _ingest_pooled(files: list[Path], store: Store, settings: Settings, executor: Executor,
                   advance: Callable[[int], object]) -> list[IngestOutcome]:
    """Files read by the workers, stored by this process in input order."""
    outcomes: list[IngestOutcome | None] = [None] * len(files)
    todo: list[int] = []

    def tasks() -> Iterator[PrepareTask]:
        for i, path in enumerate(files):
            try:
                sha = sha256_of(path)
            except IngestError as exc:
                store.record_failure(str(path), "ingest", exc.reason)
                outcomes[i] = IngestOutcome(str(path), "failed", reason=exc.reason)
                advance(1)
                continue
            existing = store.find_document(sha)
            if existing is not None:
                outcomes[i] = IngestOutcome(str(path), "unchanged", existing.doc_id, sha, existing.pages,
                                            store.chunk_count(sha), existing.ocr_pages)
                advance(1)
                continue
            todo.append(i)
            yield PrepareTask(path, sha, settings)

    def crashed(task: PrepareTask, reason: str) -> Prepared:
        return Prepared(str(task.path), task.sha256, reason=reason)

    for k, prepared in enumerate(prepare_pooled(executor, tasks(), crashed)):  # pages apart
        outcomes[todo[k]] = _store_prepared(prepared, store)  # results come in task order
        advance(1)
    return [o for o in outcomes if o is not None]


def _store_prepared(prepared: Prepared, store: Store) -> IngestOutcome:
    if prepared.doc is None:
        reason = prepared.reason or "unreadable"
        store.record_failure(prepared.path, "ingest", reason)
        return IngestOutcome(prepared.path, "failed", reason=reason)
    doc = prepared.doc
    try:
        row, inserted = store.save_document(doc)
    except ExtractorError as exc:
        store.record_failure(prepared.path, "ingest", str(exc))
        return IngestOutcome(prepared.path, "failed", reason=str(exc))
    if not inserted:
        return IngestOutcome(prepared.path, "unchanged", row.doc_id, doc.sha256, row.pages,
                             store.chunk_count(doc.sha256), row.ocr_pages)
    return IngestOutcome(prepared.path, "new", doc.doc_id, doc.sha256, len(doc.pages), len(doc.chunks),
                         sum(p.source.startswith("ocr") for p in doc.pages))


def ingest(paths: list[Path], store: Store, settings: Settings,
           ocr: OcrEngine | None = None) -> list[IngestOutcome]:
    """Store every readable file; report the rest with their reasons."""
    return ingest_batch(paths, store, settings, ocr).outcomes


def _ingest_one(path: Path, store: Store, settings: Settings, ocr: OcrEngine | None) -> IngestOutcome:
    try:
        sha = sha256_of(path)
        existing = store.find_document(sha)
        if existing is not None:
            return IngestOutcome(str(path), "unchanged", existing.doc_id, sha, existing.pages,
                                 store.chunk_count(sha), existing.ocr_pages)
        doc = prepare_document(path, settings, ocr, sha)
        row, inserted = store.save_document(doc)
    except IngestError as exc:
        store.record_failure(str(path), "ingest", exc.reason)
        return IngestOutcome(str(path), "failed", reason=exc.reason)
    except ExtractorError as exc:
        store.record_failure(str(path), "ingest", str(exc))
        return IngestOutcome(str(path), "failed", reason=str(exc))
    if not inserted:  # another process stored the same bytes meanwhile
        return IngestOutcome(str(path), "unchanged", row.doc_id, sha, row.pages,
                             store.chunk_count(sha), row.ocr_pages)
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


@cache
def source_hash() -> str:
    """SHA-256 of the package's own source files: the code a run's results depend on, also
    when it is not committed (a reused run must come from exactly this code)."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@dataclass
class RunPlan:
    """What identifies a run: same plan → an interrupted run is resumed, not restarted."""

    extractor: Extractor
    settings: Settings
    prompt_hashes: dict[str, str] = field(default_factory=dict)
    reconcile: bool = True
    keep_facts: bool = True
    """Outcomes carry each document's facts; a large CLI batch keeps only the counts."""

    def fingerprint(self, shas: list[str], code: str,
                    second_sources: dict[str, int | None] | None = None) -> str:
        """Everything a run's results depend on: documents, extractor, its settings and
        prompts, the code, and which other run the reconciler compares each document with."""
        payload = {"extractor": self.extractor.name, "settings": self.settings.redacted(),
                   "prompts": self.prompt_hashes, "docs": sorted(shas), "code": code,
                   "reconcile": self.reconcile, "second_sources": second_sources or {},
                   "source": source_hash()}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


Reconciler = Callable[[Store, int, DocumentData, list[Fact]], list[Fact]]

LOAD_WINDOW = 16
"""Documents loaded from the database at a time (and handed to ``prefetch`` together): the
bound on a run's memory, whatever the number of documents in the batch."""


def run_extraction(shas: list[str], store: Store, plan: RunPlan,
                   reconciler: Reconciler | None = None,
                   executor: Executor | None = None) -> tuple[Run, list[DocumentOutcome]]:
    """Extract every stored document of ``shas`` into one run.

    An identical finished run (same fingerprint, no document failed) is reused as it is:
    nothing is extracted and nothing is written. An interrupted one whose process is gone
    is resumed; otherwise this process starts its own run, so two processes never share
    (or split) a run.

    Documents stream through the stages a window at a time: each is loaded when a worker
    is about to need it and its result is written (by this process only) as soon as it
    is next in input order. ``reconciler`` given means: reconcile (the stage function
    itself is :func:`extractor.stages.reconcile_facts`, run beside the extraction). An
    extractor with a ``prefetch`` capability (the model extractor: its own bounded async
    concurrency, a database-backed cache) runs in this process whatever the executor.
    """
    code = code_version()
    reconciling = plan.reconcile and reconciler is not None
    sources = {sha: store.second_source(sha, plan.extractor.name) for sha in shas} if reconciling else {}
    fingerprint = plan.fingerprint(shas, code, sources)
    reused = store.finished_run(fingerprint)
    if reused is not None and reused.id is not None:
        names = {d.sha256: d.doc_id for d in store.documents()}
        return reused, [_kept(plan, DocumentOutcome(names.get(sha, sha), sha, "unchanged",
                                                    store.facts(reused.id, sha))) for sha in shas]
    run, _resumed = store.claim_run(fingerprint, Run(
        extractor=plan.extractor.name, settings=plan.settings.redacted(),
        prompt_hashes=plan.prompt_hashes, code_version=code, fingerprint=fingerprint,
        inputs={"second_sources": sources}))
    assert run.id is not None
    finished = {rd.document for rd in store.run_documents(run.id) if rd.status in {"done", "empty"}}
    bind_run = getattr(plan.extractor, "bind_run", None)
    if callable(bind_run):  # capability: attribute model calls (tokens, cost) to this run
        bind_run(run.id)
    pending = [sha for sha in dict.fromkeys(shas) if sha not in finished]
    in_process = callable(getattr(plan.extractor, "prefetch", None))
    runner = Inline() if executor is None or in_process else executor
    def crashed(task: ExtractTask, reason: str) -> Extracted:
        doc = task.doc
        return Extracted(doc.doc_id, doc.sha256, doc.path, "failed", notes=[reason], reason=reason)

    prefetch_all = getattr(plan.extractor, "prefetch_all", None)
    if callable(prefetch_all) and pending:  # capability: one Batch API pass over the whole run
        prefetch_all(store.load_document(sha) for sha in pending)
    results = runner.map(extract_stage, _extract_tasks(pending, store, plan, sources, reconciling),
                         crashed)
    outcomes: list[DocumentOutcome] = []
    with progress_bar(len(shas), f"extract ({plan.extractor.name})", "doc") as bar:
        written: dict[str, DocumentOutcome] = {}
        for sha in shas:
            if sha in finished:
                stored = store.find_document(sha)
                outcomes.append(_kept(plan, DocumentOutcome(stored.doc_id if stored else sha, sha,
                                                            "skipped", store.facts(run.id, sha))))
            elif sha in written:  # the same document given twice
                outcomes.append(written[sha])
            else:
                written[sha] = _kept(plan, write_extracted(store, run.id, next(results)))
                outcomes.append(written[sha])
            bar.update(1)
    run.status = "done"
    run.finished = datetime.now(UTC)
    run.stats = {"documents": len(outcomes),
                 "failed": sum(o.status == "failed" for o in outcomes),
                 "facts": sum(o.fact_count for o in outcomes)}
    run_stats = getattr(plan.extractor, "run_stats", None)
    if callable(run_stats):  # capability: model-call accounting for the run
        run.stats.update(run_stats())
        sent = int(run.stats.get("sent", 0) or 0)
        run.stats["every_call_failed"] = bool(sent) and not run.stats.get("cached") and (
            int(run.stats.get("failed", 0)) + int(run.stats.get("skipped", 0))
            + int(run.stats.get("truncated", 0)) >= sent)
    store.update_run(run)
    return run, outcomes


def _kept(plan: RunPlan, outcome: DocumentOutcome) -> DocumentOutcome:
    """The outcome, without its facts when the caller only needs counts (large batches)."""
    if not plan.keep_facts:
        outcome.facts = []
    return outcome


def _extract_tasks(pending: list[str], store: Store, plan: RunPlan,
                   sources: dict[str, int | None], reconciling: bool) -> Iterator[ExtractTask]:
    """One task per pending document, loaded a window at a time (lazily, as workers ask)."""
    prefetch = getattr(plan.extractor, "prefetch", None)
    for start in range(0, len(pending), LOAD_WINDOW):
        docs = [store.load_document(sha) for sha in pending[start:start + LOAD_WINDOW]]
        if callable(prefetch):  # capability: batch model calls across the window's documents
            prefetch(docs)
        while docs:
            doc = docs.pop(0)
            source = sources.get(doc.sha256)
            alternates = store.facts(source, doc.sha256) if reconciling and source is not None else None
            yield ExtractTask(doc, plan.extractor, reconciling, alternates)


def write_extracted(store: Store, run_id: int, result: Extracted) -> DocumentOutcome:
    """Store one document's result (the one writer): facts, checks, repairs, status."""
    if result.status == "failed":
        reason = result.reason or "failed"
        store.record_failure(result.path, "extract", reason, run_id)
        store.save_document_result(run_id, RunDocument(run_id=run_id, document=result.sha256,
                                                       status="failed", notes=[reason],
                                                       stats=result.stats), [])
        return DocumentOutcome(result.doc_id, result.sha256, "failed", notes=[reason])
    if result.reconciled:
        store.save_findings(run_id, result.sha256, result.findings)
    store.save_document_result(
        run_id, RunDocument(run_id=run_id, document=result.sha256, status=result.status,
                            notes=result.notes, stats=result.stats), result.facts,
        (result.checks, result.repairs) if result.reconciled else None)
    return DocumentOutcome(result.doc_id, result.sha256, result.status, result.facts, result.notes)


def reconcile_stage(store: Store, run_id: int, doc: DocumentData, facts: list[Fact]) -> list[Fact]:
    """Cross-check a document's facts, store checks and repairs, return facts with status.

    The latest finished run of *another* extractor on the same document supplies second
    readings (rules vs model): agreement can verify a value, and a differing reading is
    a repair candidate that the checks must still prove. A model run with no such run
    gets the rules extractor's reading (a few hundredths of a second), so a figure the
    model took from the wrong sentence is not left unchecked.
    """
    run = store.get_run(run_id)
    sources = (run.inputs or {}).get("second_sources")
    if isinstance(sources, dict):  # fixed when the run started (part of its fingerprint)
        source = sources.get(doc.sha256)
        alternates = store.facts(int(source), doc.sha256) if source is not None else []
    else:  # a run stored before second sources were recorded
        alternates = store.other_extractor_facts(doc.sha256, run.extractor, run_id)
    if not alternates and run.extractor != RulesExtractor.name:
        alternates = admit(RulesExtractor().extract(doc).facts, doc).facts
    facts, checks, repairs, findings = reconcile_facts(doc, facts, alternates or None)
    store.save_findings(run_id, doc.sha256, findings)
    store.save_checks(run_id, doc.sha256, checks, repairs)
    return facts
