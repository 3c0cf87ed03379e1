"""Pipeline data and the two small interfaces: :class:`Extractor` and :class:`Backend`.

Pipeline steps pass these plain dataclasses; the store persists them. Interfaces are
Protocols so backends and extractors need not inherit from anything of ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from extractor.core.records import Fact

M = TypeVar("M", bound=BaseModel)


@dataclass
class PageText:
    """One page as read: raw text, where it came from and how sure the reader was."""

    number: int
    raw: str
    source: str
    """``text-layer``, ``ocr:rapidocr``, ``ocr:tesseract`` or ``file``."""
    confidence: float | None = None


@dataclass
class NormalizedText:
    """A clean view of raw text. ``offsets[i]`` is the raw index of ``text[i]``;
    ``offsets`` has one extra entry (the raw length) so spans map with ``offsets[end]``."""

    text: str
    offsets: list[int]

    def raw_span(self, start: int, end: int) -> tuple[int, int]:
        """Raw ``[start, end)`` covering normalized ``[start, end)``."""
        if end <= start:
            return self.offsets[start], self.offsets[start]
        return self.offsets[start], self.offsets[end - 1] + 1


@dataclass
class ChunkData:
    """A piece of a document cut along its own structure.

    ``start``/``end`` index the document's normalized text (pages joined by ``\\n``).
    ``kind`` is ``text`` or ``table``; a table chunk repeats its header rows when a long
    table is split, so ``text`` may hold lines that also appear in a sibling chunk.
    """

    index: int
    heading_path: list[str]
    kind: str
    page_start: int
    page_end: int
    start: int
    end: int
    text: str
    tokens: int


@dataclass
class DocumentData:
    """Everything ingest and chunking know about one document, before it is stored."""

    doc_id: str
    path: str
    sha256: str
    media_type: str
    pages: list[PageText]
    normalized: NormalizedText
    page_starts: list[int]
    """Normalized-text offset where each page begins."""
    chunks: list[ChunkData] = field(default_factory=list)

    def page_at(self, offset: int) -> int:
        """1-based page number holding a normalized-text offset."""
        page = 1
        for i, begin in enumerate(self.page_starts):
            if offset >= begin:
                page = i + 1
        return page


@dataclass
class ExtractionResult:
    """What an extractor returns for one document."""

    facts: list[Fact]
    notes: list[str] = field(default_factory=list)
    """Human-readable remarks (not a report, calls that failed, values dropped)."""
    stats: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Extractor(Protocol):
    """Chunks in, evidence-carrying facts out. ``name`` goes into every stored run."""

    name: str

    def extract(self, doc: DocumentData) -> ExtractionResult: ...


@runtime_checkable
class Backend(Protocol):
    """A model behind one call: messages and a response model in, a validated record out.

    Capabilities are attributes, not methods, so callers can plan without probing.
    """

    name: str
    model: str
    supports_json_schema: ClassVar[bool]

    async def complete(self, messages: Sequence[dict[str, str]], response_model: type[M],
                       *, max_tokens: int) -> tuple[M, dict[str, Any]]:
        """Return the record and call metadata (tokens in/out, finish reason, latency)."""
        ...
