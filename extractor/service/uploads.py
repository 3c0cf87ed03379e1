"""Uploads: bounded in size and type, checked cheaply, kept as blobs keyed by SHA-256.

An upload is refused at once, with one clear reason, when it is empty, too large, of a
type ``extractor run`` cannot read, damaged, or readable text with no trace of a
final-accounts report. What needs the full pipeline (OCR of a scan) is left to the job.
The original bytes are kept under ``<blob dir>/<sha256>/<file name>``: the pipeline
names the document after the file (as ``extractor run`` does) and the review page
renders its pages from it.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pymupdf

from extractor.core.errors import ExtractorError, IngestError
from extractor.core.settings import OcrSettings, Settings
from extractor.ingest import MEDIA_TYPES, read_pages, usable_chars

_pymupdf: Any = pymupdf

MIN_TEXT_FOR_VERDICT = 200
"""Below this many usable characters an upload is not judged "not a report" (a scan's
text layer is empty or a stamp; the job's OCR decides)."""

_UNSAFE = re.compile(r"[\x00-\x1f\\/:*?\"<>|]+")


class UploadError(ExtractorError):
    """An upload refused before it became a job; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class StoredUpload:
    sha256: str
    path: Path
    filename: str
    media_type: str


def safe_filename(name: str | None) -> str:
    """The base name of a client-supplied file name, without path parts or control chars."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip(" .")
    return base[:200] or "upload"


def media_type_of(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    media_type = MEDIA_TYPES.get(suffix)
    if media_type is None:
        raise UploadError(415, f"{filename}: unsupported file type {suffix or '(no suffix)'!r}; "
                               f"readable: {', '.join(MEDIA_TYPES)}")
    return media_type


def receive(stream: BinaryIO, filename: str, config: Settings) -> StoredUpload:
    """Copy an upload into the blob store (hashing as it goes) and check it."""
    filename = safe_filename(filename)
    media_type = media_type_of(filename)
    settings = config.service
    limit, limit_name = config.upload_limit()
    blobs = settings.blobs
    blobs.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with tempfile.NamedTemporaryFile(dir=blobs, prefix=".upload-", suffix=Path(filename).suffix,
                                     delete=False) as tmp:
        tmp_path = Path(tmp.name)
        try:
            for block in iter(lambda: stream.read(1 << 20), b""):
                size += len(block)
                if size > limit:
                    raise UploadError(413, too_large(filename, limit, limit_name))
                digest.update(block)
                tmp.write(block)
        except BaseException:
            tmp.close()
            tmp_path.unlink(missing_ok=True)
            raise
    try:
        if size == 0:
            raise UploadError(400, f"{filename}: file is empty (0 bytes)")
        check_content(tmp_path, filename, media_type, settings.report_markers)
        sha = digest.hexdigest()
        folder = blobs / sha
        existing = sorted(folder.glob("*")) if folder.is_dir() else []
        if existing:  # same bytes uploaded before: one document, whatever the name
            return StoredUpload(sha, existing[0], existing[0].name, media_type)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / filename
        shutil.move(tmp_path, target)
        return StoredUpload(sha, target, filename, media_type)
    finally:
        tmp_path.unlink(missing_ok=True)


def too_large(filename: str, limit: int, setting: str) -> str:
    return f"{filename}: file is larger than the limit of {limit:,} bytes ({setting})"


def check_content(path: Path, filename: str, media_type: str, markers: list[str]) -> None:
    """Refuse what the pipeline would refuse, and readable text that is no such report."""
    if media_type == "application/pdf":
        text = _pdf_text(path, filename)
    elif media_type.startswith("text/"):
        try:
            pages, _ = read_pages(path, OcrSettings(engine="none"))
        except IngestError as exc:
            raise UploadError(422, f"{filename}: {exc.reason}") from exc
        text = "\n".join(p.raw for p in pages)
    else:
        return
    if usable_chars(text) >= MIN_TEXT_FOR_VERDICT and not any(m in text for m in markers):
        raise UploadError(422, f"{filename}: not a final-accounts report: its text never mentions "
                               f"{' / '.join(markers)} (service.report_markers)")


def _pdf_text(path: Path, filename: str) -> str:
    with path.open("rb") as handle:
        head = handle.read(1024)
    if b"%PDF-" not in head:
        raise UploadError(422, f"{filename}: not a PDF (no '%PDF-' header)")
    try:
        doc = _pymupdf.open(path, filetype="pdf")
    except RuntimeError as exc:
        raise UploadError(422, f"{filename}: damaged PDF, cannot be opened ({exc})") from exc
    with doc:
        if doc.needs_pass:
            raise UploadError(422, f"{filename}: PDF is encrypted and needs a password")
        if doc.page_count == 0:
            raise UploadError(422, f"{filename}: PDF has no pages")
        try:
            return "\n".join(page.get_text() for page in doc)
        except RuntimeError as exc:
            raise UploadError(422, f"{filename}: damaged PDF, pages cannot be read ({exc})") from exc
