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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from extractor import __version__
from extractor.chunk import chunk_document
from extractor.core.errors import ExtractorError, IngestError
from extractor.core.records import Fact, FinalAccounts, assemble
from extractor.core.settings import Settings
from extractor.core.types import DocumentData, ExtractionResult, Extractor
from extractor.extractors.rules import RulesExtractor
from extractor.ingest import MEDIA_TYPES, place_tables, read_document, sha256_of
from extractor.normalize import normalize_pages
from extractor.ocr import OcrEngine
from extractor.progress import progress_bar
from extractor.reconcile.document import reconcile_document
from extractor.reconcile.labels import admit
from extractor.store import CheckResult as StoredCheck
from extractor.store import Repair as StoredRepair
from extractor.store import Run, RunDocument, Store

TEXT_SUFFIXES = frozenset(s for s, media in MEDIA_TYPES.items() if media.startswith("text/"))
"""Text files: their size bounds their characters, so a huge one is refused unread."""


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


def prepare_document(path: Path, settings: Settings, ocr: OcrEngine | None,
                     sha256: str | None = None) -> DocumentData:
    """Read, normalize and chunk one file (nothing is stored here), within the size limits."""
    limits = settings.limits
    size = path.stat().st_size if path.is_file() else 0
    if size > limits.max_file_bytes:
        raise IngestError(str(path), f"file is {size:,} bytes, over the limit of "
                                     f"{limits.max_file_bytes:,} (EXTRACTOR_LIMITS__MAX_FILE_BYTES)")
    if path.suffix.lower() in TEXT_SUFFIXES and size > 4 * limits.max_chars:  # UTF-8: ≤ 4 bytes a character
        raise IngestError(str(path), f"at least {size // 4:,} characters of text, over the limit of "
                                     f"{limits.max_chars:,} (EXTRACTOR_LIMITS__MAX_CHARS)")
    with progress_bar(0, path.name, "page") as bar:
        def progress(done: int, count: int) -> None:
            if count > limits.max_pages:  # told after the first page: stop before the rest
                raise IngestError(str(path), f"{count:,} pages, over the limit of "
                                             f"{limits.max_pages:,} (EXTRACTOR_LIMITS__MAX_PAGES)")
            bar.total = count
            bar.n = done
            bar.refresh()

        read = read_document(path, settings.ocr, ocr, progress=progress)
    chars = sum(len(p.raw) for p in read.pages)
    if chars > limits.max_chars:
        raise IngestError(str(path), f"{chars:,} characters of text, over the limit of "
                                     f"{limits.max_chars:,} (EXTRACTOR_LIMITS__MAX_CHARS)")
    normalized, page_starts = normalize_pages(read.pages)
    place_tables(read.tables, normalized, page_starts)
    doc = DocumentData(doc_id=path.stem, path=str(path), sha256=sha256 or sha256_of(path),
                       media_type=read.media_type, pages=read.pages, normalized=normalized,
                       page_starts=page_starts, tables=read.tables)
    doc.chunks = chunk_document(doc, settings.chunk.token_budget)
    return doc


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
                 ocr: OcrEngine | None = None) -> IngestBatch:
    """Store every readable file; report the rest with their reasons and skipped kinds."""
    batch = IngestBatch()
    files = collect_inputs(paths, batch)
    for outcome in batch.outcomes:  # one bad argument (a missing path) must not sink the others
        store.record_failure(outcome.path, "ingest", outcome.reason or "")
    with progress_bar(len(files), "ingest", "file") as bar:
        for path in files:
            batch.outcomes.append(_ingest_one(path, store, settings, ocr))
            bar.update(1)
    return batch


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


def run_extraction(shas: list[str], store: Store, plan: RunPlan,
                   reconciler: Reconciler | None = None) -> tuple[Run, list[DocumentOutcome]]:
    """Extract every stored document of ``shas`` into one run.

    An identical finished run (same fingerprint, no document failed) is reused as it is:
    nothing is extracted and nothing is written. An interrupted one whose process is gone
    is resumed; otherwise this process starts its own run, so two processes never share
    (or split) a run.
    """
    code = code_version()
    sources = ({sha: store.second_source(sha, plan.extractor.name) for sha in shas}
               if plan.reconcile and reconciler is not None else {})
    fingerprint = plan.fingerprint(shas, code, sources)
    reused = store.finished_run(fingerprint)
    if reused is not None and reused.id is not None:
        names = {d.sha256: d.doc_id for d in store.documents()}
        return reused, [DocumentOutcome(names.get(sha, sha), sha, "unchanged",
                                        store.facts(reused.id, sha)) for sha in shas]
    run, _resumed = store.claim_run(fingerprint, Run(
        extractor=plan.extractor.name, settings=plan.settings.redacted(),
        prompt_hashes=plan.prompt_hashes, code_version=code, fingerprint=fingerprint,
        inputs={"second_sources": sources}))
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
    with progress_bar(len(shas), f"extract ({plan.extractor.name})", "doc") as bar:
        for sha in shas:
            if sha in pending:
                outcomes.append(_extract_one(pending[sha], store, run.id, plan, reconciler))
            else:
                stored = store.find_document(sha)
                outcomes.append(DocumentOutcome(stored.doc_id if stored else sha, sha, "skipped",
                                                store.facts(run.id, sha)))
            bar.update(1)
    run.status = "done"
    run.finished = datetime.now(UTC)
    run.stats = {"documents": len(outcomes),
                 "failed": sum(o.status == "failed" for o in outcomes),
                 "facts": sum(len(o.facts) for o in outcomes)}
    run_stats = getattr(plan.extractor, "run_stats", None)
    if callable(run_stats):  # capability: model-call accounting for the run
        run.stats.update(run_stats())
        sent = int(run.stats.get("sent", 0) or 0)
        run.stats["every_call_failed"] = bool(sent) and not run.stats.get("cached") and (
            int(run.stats.get("failed", 0)) + int(run.stats.get("skipped", 0))
            + int(run.stats.get("truncated", 0)) >= sent)
    store.update_run(run)
    return run, outcomes


def every_call_failed(result: ExtractionResult) -> str | None:
    """The reason when an extractor made model calls and none was answered, else None.

    Such a document is ``failed`` (a dead endpoint is not a document without figures),
    with every distinct error in full.
    """
    calls = int(result.stats.get("model_calls", 0) or 0)
    answered = calls - int(result.stats.get("failed_calls", 0) or 0) \
        - int(result.stats.get("skipped_calls", 0) or 0)
    if not calls or answered > 0:
        return None
    errors = dict.fromkeys(note.split(": ", 1)[1] if " call (chunks " in note and ": " in note
                           else note for note in result.notes if not note.startswith("section "))
    return f"every model call failed ({calls} calls): " + "; ".join(errors)


def _extract_one(doc: DocumentData, store: Store, run_id: int, plan: RunPlan,
                 reconciler: Reconciler | None) -> DocumentOutcome:
    try:
        result: ExtractionResult = plan.extractor.extract(doc)
        reason = every_call_failed(result)
    except ExtractorError as exc:
        result, reason = ExtractionResult(facts=[]), str(exc)
    if reason is not None:
        store.record_failure(doc.path, "extract", reason, run_id)
        store.save_document_result(run_id, RunDocument(run_id=run_id, document=doc.sha256,
                                                       status="failed", notes=[reason],
                                                       stats=dict(result.stats)), [])
        return DocumentOutcome(doc.doc_id, doc.sha256, "failed", notes=[reason])
    admitted = admit(result.facts, doc)  # both extractors: evidence must name its field
    facts = admitted.facts
    notes = [*result.notes, *filter(None, [admitted.note()])]
    if facts and plan.reconcile and reconciler is not None:
        facts = reconciler(store, run_id, doc, facts)
    status = "done" if facts else "empty"
    stats: dict[str, Any] = dict(result.stats)
    stats["unlabelled_values"] = len(admitted.rejected)
    if admitted.rejected:
        stats["unlabelled"] = [asdict(r) for r in admitted.rejected[:50]]
    store.save_document_result(run_id, RunDocument(run_id=run_id, document=doc.sha256, status=status,
                                                   notes=notes, stats=stats), facts)
    return DocumentOutcome(doc.doc_id, doc.sha256, status, facts, notes)


def predictions(store: Store, run_id: int) -> dict[str, FinalAccounts]:
    """Contract records of a run's documents (failed ones left out), with check status,
    document findings and the ``evidence`` extension (so exported files can be checked)."""
    out = {}
    for rd in store.run_documents(run_id):
        doc = store.find_document(rd.document)
        if doc is None or rd.status == "failed":
            continue
        record = assemble(doc.doc_id, store.facts(run_id, rd.document), with_evidence=True)
        record.document_findings = [f for _, f in store.findings(run_id, rd.document)]
        out[doc.doc_id] = record
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
    done = reconcile_document(doc, facts, alternates=alternates or None)
    result = done.result
    store.save_findings(run_id, doc.sha256, done.findings)
    store.save_checks(
        run_id, doc.sha256,
        [StoredCheck(run_id=run_id, document=doc.sha256, rule=c.rule, name=c.name, passed=c.passed,
                     detail=c.model_dump(mode="json")) for c in result.checks],
        [StoredRepair(run_id=run_id, document=doc.sha256, slot=r.slot, before=r.before, after=r.after,
                      rule=r.rule, evidence=r.evidence) for r in result.repairs])
    return result.facts
