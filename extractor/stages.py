"""The per-document stages as pure functions: what a worker process or a Ray task runs.

A stage takes everything it needs as arguments and returns everything it produced; it never
opens the database. That is what lets the same function run inline, in a process pool or
on a Ray cluster while exactly one process (the parent) writes: the parent reads what a
stage needs (the stored document, the second reading the reconciler compares with), hands
it over, and stores the result in the order the documents were given, so the stored run,
and its export, are the same whatever ran the stage.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from extractor.chunk import chunk_document
from extractor.core.errors import ExtractorError, IngestError
from extractor.core.records import DocumentFinding, Fact
from extractor.core.settings import Settings
from extractor.core.types import DocumentData, ExtractionResult, Extractor
from extractor.extractors.rules import RulesExtractor
from extractor.ingest import MEDIA_TYPES, ReadResult, place_tables, read_document, sha256_of
from extractor.ingest_pages import PageRead, assemble, page_count, read_page
from extractor.normalize import normalize_pages
from extractor.ocr import OcrEngine
from extractor.progress import progress_bar
from extractor.reconcile.document import reconcile_document
from extractor.reconcile.labels import admit
from extractor.workers import Executor

TEXT_SUFFIXES = frozenset(s for s, media in MEDIA_TYPES.items() if media.startswith("text/"))
"""Text files: their size bounds their characters, so a huge one is refused unread."""


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
    return finish_document(path, settings, read, sha256)


def finish_document(path: Path, settings: Settings, read: ReadResult,
                    sha256: str | None = None) -> DocumentData:
    """A file's pages as read (whole, or page by page and put back together) made into a
    document: the character limit, normalized text, tables placed in it, chunks."""
    limits = settings.limits
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


@dataclass
class Prepared:
    """What ingest made of one file: the document, or the one-line reason it failed."""

    path: str
    sha256: str
    doc: DocumentData | None = None
    reason: str | None = None


@dataclass
class PrepareTask:
    """The inputs of :func:`prepare_stage`."""

    path: Path
    sha256: str
    settings: Settings


def prepare_stage(task: PrepareTask) -> Prepared:
    """Read, normalize and chunk one file (OCR included); a bad file is a reason, not a raise."""
    path, sha256, settings = task.path, task.sha256, task.settings
    try:
        return Prepared(str(path), sha256, doc=prepare_document(path, settings, None, sha256))
    except IngestError as exc:
        return Prepared(str(path), sha256, reason=exc.reason)
    except ExtractorError as exc:
        return Prepared(str(path), sha256, reason=str(exc))


@dataclass
class PageTask:
    """One page of a document whose pages are read across the pool (:func:`prepare_pooled`)."""

    task: PrepareTask
    index: int
    count: int


def unit_stage(unit: PrepareTask | PageTask) -> Prepared | PageRead:
    """What a worker runs for :func:`prepare_pooled`: a whole file, or one page of one."""
    if isinstance(unit, PageTask):
        return read_page(unit.task.path, unit.index, unit.task.settings.ocr)
    return prepare_stage(unit)


def _units(tasks: Iterable[PrepareTask], issued: deque[PrepareTask | PageTask]
           ) -> Iterator[PrepareTask | PageTask]:
    """Each file as one unit, or as one unit per page when its pages can be read apart;
    every unit is noted in ``issued`` as it goes out (results come back in that order)."""
    for task in tasks:
        limits = task.settings.limits
        small = not task.path.is_file() or task.path.stat().st_size <= limits.max_file_bytes
        count = page_count(task.path, task.settings.ocr, limits.max_pages) if small else None
        units: list[PrepareTask | PageTask] = (
            [task] if count is None else [PageTask(task, i, count) for i in range(count)])
        for unit in units:
            issued.append(unit)
            yield unit


def _from_pages(task: PrepareTask, reads: list[PageRead]) -> Prepared:
    """A document from its pages read apart: the same checks and steps as a whole read."""
    path = task.path
    try:
        doc = finish_document(path, task.settings, assemble(path, reads), task.sha256)
    except IngestError as exc:
        return Prepared(str(path), task.sha256, reason=exc.reason)
    except ExtractorError as exc:
        return Prepared(str(path), task.sha256, reason=str(exc))
    return Prepared(str(path), task.sha256, doc=doc)


def prepare_pooled(executor: Executor, tasks: Iterable[PrepareTask],
                   on_crash: Callable[[PrepareTask, str], Prepared]) -> Iterator[Prepared]:
    """:func:`prepare_stage` over ``tasks`` on ``executor``, results in task order, with the
    pages of a PDF (or of a folder of page images) read in parallel.

    OCR is seconds a page: read as one task, a long scanned report would keep one worker
    busy while the others idle. Its pages go out as separate tasks instead and are put
    back together here, in page order, with the same checks as a whole read
    (:func:`extractor.ingest_pages.assemble`), so the document is the same. A page whose
    worker dies fails its document with that reason; the batch goes on.
    """
    issued: deque[PrepareTask | PageTask] = deque()

    def crashed(unit: PrepareTask | PageTask, reason: str) -> Prepared | PageRead:
        if isinstance(unit, PageTask):
            return PageRead(unit.index + 1, reason=reason)
        return on_crash(unit, reason)

    reads: list[PageRead] = []
    for result in executor.map(unit_stage, _units(tasks, issued), crashed):
        unit = issued.popleft()
        if isinstance(unit, PrepareTask):
            assert isinstance(result, Prepared)
            yield result
            continue
        assert isinstance(result, PageRead)
        reads.append(result)
        if len(reads) == unit.count:
            yield _from_pages(unit.task, reads)
            reads = []


@dataclass
class Extracted:
    """One document's extraction (and reconciliation) result, ready for the writer."""

    doc_id: str
    sha256: str
    path: str
    status: str
    """``done``, ``empty`` or ``failed``."""
    facts: list[Fact] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    reconciled: bool = False
    checks: list[dict[str, Any]] = field(default_factory=list)
    """``rule``, ``name``, ``passed``, ``detail`` of each check (stored as they are)."""
    repairs: list[dict[str, Any]] = field(default_factory=list)
    findings: list[DocumentFinding] = field(default_factory=list)
    """Findings about the report as a whole (stored beside the checks)."""


@dataclass
class ExtractTask:
    """The inputs of :func:`extract_stage` (one picklable object per document)."""

    doc: DocumentData
    extractor: Extractor
    reconcile: bool
    alternates: list[Fact] | None = None


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


def extract_stage(task: ExtractTask) -> Extracted:
    """Extract one document's figures and cross-check them (no database access)."""
    doc = task.doc
    try:
        result: ExtractionResult = task.extractor.extract(doc)
        reason = every_call_failed(result)
    except ExtractorError as exc:
        result, reason = ExtractionResult(facts=[]), str(exc)
    if reason is not None:
        return Extracted(doc.doc_id, doc.sha256, doc.path, "failed", notes=[reason],
                         stats=dict(result.stats), reason=reason)
    admitted = admit(result.facts, doc)  # both extractors: evidence must name its field
    stats: dict[str, Any] = dict(result.stats)
    stats["unlabelled_values"] = len(admitted.rejected)
    if admitted.rejected:
        stats["unlabelled"] = [asdict(r) for r in admitted.rejected[:50]]
    out = Extracted(doc.doc_id, doc.sha256, doc.path, "done", admitted.facts,
                    [*result.notes, *filter(None, [admitted.note()])], stats)
    if out.facts and task.reconcile:
        alternates = task.alternates
        if not alternates and task.extractor.name != RulesExtractor.name:
            # a model run with no other run to compare with gets the rules' reading
            alternates = admit(RulesExtractor().extract(doc).facts, doc).facts
        out.facts, out.checks, out.repairs, out.findings = reconcile_facts(doc, out.facts, alternates)
        out.reconciled = True
    out.status = "done" if out.facts else "empty"
    return out


def reconcile_facts(doc: DocumentData, facts: list[Fact], alternates: list[Fact] | None
                    ) -> tuple[list[Fact], list[dict[str, Any]], list[dict[str, Any]],
                               list[DocumentFinding]]:
    """Facts with check status, plus the checks, repairs (plain rows) and findings to store.

    A check's ``detail`` leaves out the rule, name and verdict, which have columns of
    their own: stored once, not twice per check.
    """
    done = reconcile_document(doc, facts, alternates=alternates or None)
    result = done.result
    checks = [{"rule": c.rule, "name": c.name, "passed": c.passed,
               "detail": c.model_dump(mode="json", exclude={"rule", "name", "passed"},
                                        exclude_none=True)}
              for c in result.checks]
    repairs = [{"slot": r.slot, "before": r.before, "after": r.after, "rule": r.rule,
                "evidence": r.evidence} for r in result.repairs]
    return result.facts, checks, repairs, list(done.findings)
